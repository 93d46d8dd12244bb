//! Cloud Transcoding running check: Query every 2 min; confirm a 404 before calling it an exit.

use std::time::Duration;

use crate::backoff::{NOT_FOUND_CONFIRMATION, QUERY_SERVER_ERROR, Schedule};

/// How often to Query a running transcoder when high reliability is wanted
/// (docs/vendor-rules.md, the Cloud Transcoding service-status guide "every 2 minutes").
pub const RUNNING_CHECK_INTERVAL: Duration = Duration::from_secs(120);

/// What one running-check Query showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunningObservation {
    /// 200 and the task is `STARTED` or `IN_PROGRESS` (or another non-final status).
    Running,
    /// 200 and a final status (`STOPPED`, `EXIT`, `FAILURE_STOP`): the task ended.
    Ended,
    /// 404: never started or exited early, to be confirmed.
    NotFound,
    /// 50x: a temporary error, not necessarily an exit.
    ServerError,
}

/// What to do next while a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunningVerdict {
    /// All is well; Query again at `next_at`.
    Healthy {
        /// When to Query next.
        next_at: Duration,
    },
    /// A 404 is being confirmed; Query again at `next_at`.
    ConfirmingExit {
        /// When to Query next.
        next_at: Duration,
        /// How many confirmation Queries have been scheduled so far (1-based).
        attempt: usize,
    },
    /// The service answers 50x; not an exit. Query again at `next_at`.
    Unreachable {
        /// When to Query next.
        next_at: Duration,
    },
    /// The task has exited: confirmed 404s, or a final status.
    Exited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Normal,
    Confirming(usize),
    ServerErrors(usize),
}

/// Follows one running task (time is an argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningCheck {
    interval: Duration,
    phase: Phase,
}

impl Default for RunningCheck {
    fn default() -> Self {
        RunningCheck::new(RUNNING_CHECK_INTERVAL)
    }
}

impl RunningCheck {
    /// A check that Queries every `interval` while all is well.
    pub fn new(interval: Duration) -> Self {
        RunningCheck {
            interval,
            phase: Phase::Normal,
        }
    }

    /// The normal interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn step(schedule: Schedule, retry: usize) -> Option<Duration> {
        schedule.delay(retry, 0.0)
    }

    /// Records the result of a Query made at `now`.
    pub fn observe(&mut self, observation: RunningObservation, now: Duration) -> RunningVerdict {
        match observation {
            RunningObservation::Running => {
                self.phase = Phase::Normal;
                RunningVerdict::Healthy {
                    next_at: now + self.interval,
                }
            }
            RunningObservation::Ended => RunningVerdict::Exited,
            RunningObservation::NotFound => {
                let retry = match self.phase {
                    Phase::Confirming(n) => n,
                    _ => 0,
                };
                match Self::step(NOT_FOUND_CONFIRMATION, retry) {
                    Some(wait) => {
                        self.phase = Phase::Confirming(retry + 1);
                        RunningVerdict::ConfirmingExit {
                            next_at: now + wait,
                            attempt: retry + 1,
                        }
                    }
                    None => RunningVerdict::Exited,
                }
            }
            RunningObservation::ServerError => {
                let retry = match self.phase {
                    Phase::ServerErrors(n) => n,
                    _ => 0,
                };
                // After the 5/10/15/30 s series, fall back to the normal interval: a 50x is
                // never an exit, so we keep watching rather than give up.
                let wait = Self::step(QUERY_SERVER_ERROR, retry).unwrap_or(self.interval);
                self.phase = Phase::ServerErrors(retry + 1);
                RunningVerdict::Unreachable {
                    next_at: now + wait,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunningObservation::*;
    use proptest::prelude::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn confirms_a_404_with_5_10_15_before_exit() {
        let mut c = RunningCheck::default();
        assert_eq!(
            c.observe(Running, s(0)),
            RunningVerdict::Healthy { next_at: s(120) }
        );
        assert_eq!(
            c.observe(NotFound, s(120)),
            RunningVerdict::ConfirmingExit {
                next_at: s(125),
                attempt: 1
            }
        );
        assert_eq!(
            c.observe(NotFound, s(125)),
            RunningVerdict::ConfirmingExit {
                next_at: s(135),
                attempt: 2
            }
        );
        assert_eq!(
            c.observe(NotFound, s(135)),
            RunningVerdict::ConfirmingExit {
                next_at: s(150),
                attempt: 3
            }
        );
        assert_eq!(c.observe(NotFound, s(150)), RunningVerdict::Exited);
    }

    #[test]
    fn server_errors_are_not_an_exit() {
        let mut c = RunningCheck::default();
        let waits: Vec<u64> = (0..6)
            .map(|_| match c.observe(ServerError, s(0)) {
                RunningVerdict::Unreachable { next_at } => next_at.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, [5, 10, 15, 30, 120, 120]);
        // A 404 after that starts its own confirmation series; a Running answer resets all.
        assert!(matches!(
            c.observe(NotFound, s(0)),
            RunningVerdict::ConfirmingExit { attempt: 1, .. }
        ));
        assert_eq!(
            c.observe(Running, s(1)),
            RunningVerdict::Healthy { next_at: s(121) }
        );
        assert_eq!(c.observe(Ended, s(2)), RunningVerdict::Exited);
    }

    fn arb_obs() -> impl Strategy<Value = RunningObservation> {
        prop_oneof![
            Just(Running),
            Just(Ended),
            Just(NotFound),
            Just(ServerError)
        ]
    }

    proptest! {
        #[test]
        fn exit_only_after_full_confirmation(obs in proptest::collection::vec(arb_obs(), 0..30)) {
            let mut c = RunningCheck::default();
            let mut not_found_streak = 0;
            for (i, o) in obs.into_iter().enumerate() {
                let now = s(i as u64 * 10);
                not_found_streak = if o == NotFound { not_found_streak + 1 } else { 0 };
                let v = c.observe(o, now);
                // Oracle: exit on a final status, or on the 4th 404 in a row (1 + 3 confirmations).
                let exited = o == Ended || not_found_streak >= 4;
                prop_assert_eq!(v == RunningVerdict::Exited, exited, "{:?}", v);
                if o == ServerError {
                    let unreachable = matches!(v, RunningVerdict::Unreachable { .. });
                    prop_assert!(unreachable);
                }
                match v {
                    RunningVerdict::Healthy { next_at }
                    | RunningVerdict::ConfirmingExit { next_at, .. }
                    | RunningVerdict::Unreachable { next_at } => {
                        prop_assert!(next_at > now && next_at <= now + s(120));
                    }
                    RunningVerdict::Exited => {
                        not_found_streak = 0;
                        c = RunningCheck::default();
                    }
                }
            }
        }
    }
}
