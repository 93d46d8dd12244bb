//! Media Push converter health: when is a converter failed and due for re-creation?

use std::time::Duration;

/// Consecutive 404/5xx answers that mean the task failed (docs/vendor-rules.md, the Media Push best-practices guide).
pub const FAILURES_IN_A_ROW: u32 = 3;

/// How long a high-availability migration may take; the task may answer 404 meanwhile
/// (docs/vendor-rules.md, the Media Push best-practices guide "migrated within 120 seconds").
pub const HA_MIGRATION_WINDOW: Duration = Duration::from_secs(120);

/// How often a healthy converter is looked at. Our choice: the Media Push guide names no
/// cadence, so converters are checked like Cloud Transcoding tasks (its running check, every
/// 2 minutes).
pub const CONVERTER_CHECK_INTERVAL: Duration = super::RUNNING_CHECK_INTERVAL;

/// One look at a converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConverterObservation {
    /// Get answered 200 with state `connecting` or `running` (or an unknown state).
    Alive,
    /// Get answered 200 with state `failed`, or a state-changed notification said `failed`.
    StateFailed,
    /// Get answered 404.
    NotFound,
    /// Get answered 5xx.
    ServerError,
    /// Anything that says nothing about the task (429, a timeout on our side): not counted.
    Inconclusive,
}

/// Why a converter is declared failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The service reported `state: failed`.
    StateFailed,
    /// [`FAILURES_IN_A_ROW`] 404/5xx answers in a row (and, for 404s, past the HA window).
    RepeatedErrors,
}

/// The health of a converter after an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConverterVerdict {
    /// Nothing wrong.
    Healthy,
    /// Some 404/5xx in a row, not yet enough to give up.
    Degraded {
        /// Errors in a row so far.
        consecutive: u32,
        /// When the first of them was seen.
        since: Duration,
    },
    /// Failed: check the CDN URL, then delete and re-create (the Media Push best-practices guide).
    Failed(FailReason),
}

/// Counts consecutive errors and decides when a converter has failed.
///
/// The guide says three 404/5xx in a row mean failure. It also says an HA migration takes up
/// to 120 s during which the task may be unreachable; re-creating a converter that is only
/// migrating would start a second stream once it comes back. So by default a streak that
/// contains a 404 is declared failed only once it is also at least [`HA_MIGRATION_WINDOW`] old.
/// A streak of 5xx only fails at the third. `with_ha_window(None)` gives the literal rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConverterHealth {
    ha_window: Option<Duration>,
    consecutive: u32,
    since: Duration,
    saw_not_found: bool,
}

impl Default for ConverterHealth {
    fn default() -> Self {
        ConverterHealth {
            ha_window: Some(HA_MIGRATION_WINDOW),
            consecutive: 0,
            since: Duration::ZERO,
            saw_not_found: false,
        }
    }
}

impl ConverterHealth {
    /// A healthy converter with the default HA window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the HA window (`None`: three in a row is enough).
    pub fn with_ha_window(mut self, window: Option<Duration>) -> Self {
        self.ha_window = window;
        self
    }

    /// Records an observation made at `now` and returns the verdict.
    pub fn observe(
        &mut self,
        observation: ConverterObservation,
        now: Duration,
    ) -> ConverterVerdict {
        match observation {
            ConverterObservation::Alive => {
                self.consecutive = 0;
                self.saw_not_found = false;
                ConverterVerdict::Healthy
            }
            ConverterObservation::StateFailed => ConverterVerdict::Failed(FailReason::StateFailed),
            ConverterObservation::Inconclusive => self.verdict(now),
            ConverterObservation::NotFound | ConverterObservation::ServerError => {
                if self.consecutive == 0 {
                    self.since = now;
                }
                self.consecutive = self.consecutive.saturating_add(1);
                self.saw_not_found |= observation == ConverterObservation::NotFound;
                self.verdict(now)
            }
        }
    }

    /// The verdict at `now` without a new observation.
    pub fn verdict(&self, now: Duration) -> ConverterVerdict {
        if self.consecutive == 0 {
            return ConverterVerdict::Healthy;
        }
        let waited_out = match (self.saw_not_found, self.ha_window) {
            (true, Some(w)) => now.saturating_sub(self.since) >= w,
            _ => true,
        };
        if self.consecutive >= FAILURES_IN_A_ROW && waited_out {
            ConverterVerdict::Failed(FailReason::RepeatedErrors)
        } else {
            ConverterVerdict::Degraded {
                consecutive: self.consecutive,
                since: self.since,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConverterObservation::*;
    use proptest::prelude::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn three_server_errors_fail() {
        let mut h = ConverterHealth::new();
        assert!(matches!(
            h.observe(ServerError, s(0)),
            ConverterVerdict::Degraded { consecutive: 1, .. }
        ));
        assert!(matches!(
            h.observe(ServerError, s(6)),
            ConverterVerdict::Degraded { consecutive: 2, .. }
        ));
        assert_eq!(
            h.observe(ServerError, s(17)),
            ConverterVerdict::Failed(FailReason::RepeatedErrors)
        );
    }

    #[test]
    fn not_found_waits_out_the_ha_window() {
        let mut h = ConverterHealth::new();
        h.observe(NotFound, s(0));
        h.observe(NotFound, s(6));
        assert!(matches!(
            h.observe(NotFound, s(17)),
            ConverterVerdict::Degraded { consecutive: 3, .. }
        ));
        assert!(matches!(
            h.observe(NotFound, s(119)),
            ConverterVerdict::Degraded { .. }
        ));
        assert_eq!(
            h.observe(NotFound, s(120)),
            ConverterVerdict::Failed(FailReason::RepeatedErrors)
        );
        // Literal rule without the window.
        let mut h = ConverterHealth::new().with_ha_window(None);
        h.observe(NotFound, s(0));
        h.observe(NotFound, s(6));
        assert_eq!(
            h.observe(NotFound, s(17)),
            ConverterVerdict::Failed(FailReason::RepeatedErrors)
        );
    }

    #[test]
    fn success_resets_and_state_failed_is_immediate() {
        let mut h = ConverterHealth::new();
        h.observe(ServerError, s(0));
        h.observe(ServerError, s(5));
        assert_eq!(h.observe(Alive, s(10)), ConverterVerdict::Healthy);
        assert!(matches!(
            h.observe(ServerError, s(11)),
            ConverterVerdict::Degraded { consecutive: 1, .. }
        ));
        assert_eq!(
            h.observe(StateFailed, s(12)),
            ConverterVerdict::Failed(FailReason::StateFailed)
        );
        assert!(matches!(
            h.observe(Inconclusive, s(13)),
            ConverterVerdict::Degraded { consecutive: 1, .. }
        ));
    }

    fn arb_obs() -> impl Strategy<Value = ConverterObservation> {
        prop_oneof![
            Just(Alive),
            Just(StateFailed),
            Just(NotFound),
            Just(ServerError),
            Just(Inconclusive)
        ]
    }

    proptest! {
        #[test]
        fn matches_oracle(
            steps in proptest::collection::vec((arb_obs(), 0u64..60), 0..40),
            window in proptest::option::of(0u64..200),
        ) {
            let mut h = ConverterHealth::new().with_ha_window(window.map(s));
            let mut now = 0;
            // Oracle state: the current streak of (time, observation) errors.
            let mut streak: Vec<(u64, ConverterObservation)> = Vec::new();
            for (obs, dt) in steps {
                now += dt;
                let got = h.observe(obs, s(now));
                match obs {
                    Alive => streak.clear(),
                    NotFound | ServerError => streak.push((now, obs)),
                    _ => {}
                }
                let expected = if obs == StateFailed {
                    ConverterVerdict::Failed(FailReason::StateFailed)
                } else if streak.is_empty() {
                    ConverterVerdict::Healthy
                } else {
                    let start = streak[0].0;
                    let has_404 = streak.iter().any(|(_, o)| *o == NotFound);
                    let old_enough = !has_404 || window.is_none_or(|w| now - start >= w);
                    if streak.len() >= 3 && old_enough {
                        ConverterVerdict::Failed(FailReason::RepeatedErrors)
                    } else {
                        ConverterVerdict::Degraded { consecutive: streak.len() as u32, since: s(start) }
                    }
                };
                prop_assert_eq!(got, expected);
            }
        }
    }
}
