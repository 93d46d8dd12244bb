//! The controller's decision: `(desired, observed, history, now) -> Action`, for one converter
//! or transcoding task at a time.
//!
//! Exists so that "keep this stream alive" is one pure function, tested against an oracle,
//! rather than a loop with its state in local variables (kube-runtime's level-triggered shape):
//! whatever happened before — a restart, a missed notice, another replica — the next decision
//! is taken from what is declared, what was last observed and a short history, all of which a
//! store can hold. The async driver in the service crates only carries the action out and
//! records what it saw.
//!
//! Every path is bounded: failures back off on [`FAILURE_BACKOFF`]; re-creations are capped per
//! hour ([`RecreateBudget`]); a permanent refusal stops action on the resource
//! ([`Action::Degraded`]); a resource that ended by idle timeout is left ended unless the spec
//! asks otherwise ([`Action::Finished`]).

use std::time::Duration;

use crate::backoff::{Schedule, Step};

/// Waits after consecutive failed actions on one resource (create, update, re-create): 5 s,
/// 10 s, 20 s, 40 s, 80 s, 160 s, then every 5 minutes. Our schedule: the guides give none for
/// repeated create failures, and a tight loop must never be possible.
pub const FAILURE_BACKOFF: Schedule = Schedule::new(&[
    Step::secs(5, 0),
    Step::secs(10, 0),
    Step::secs(20, 0),
    Step::secs(40, 0),
    Step::secs(80, 0),
    Step::secs(160, 0),
    Step::secs(300, 0),
])
.repeating_last();

/// Re-creations of one resource allowed per hour by default (our number): enough to ride out
/// a bad hour of migrations, too few to flood a CDN or the quota.
pub const RECREATIONS_PER_HOUR: u32 = 6;

/// The window the re-creation cap counts in.
pub const RECREATION_WINDOW: Duration = Duration::from_secs(3600);

/// What to do when a changed spec touches a field the service does not let an update change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImmutableChange {
    /// Keep the running resource as it is and report the change as refused (the default: a
    /// re-create interrupts the stream).
    #[default]
    Refuse,
    /// Delete and re-create with the new spec (within the re-creation cap).
    Recreate,
}

/// What the application declared, reduced to what the decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desired {
    /// `false` once the application removed it: delete it, then forget it.
    pub present: bool,
    /// Bumped on every change of the spec; the resource is up to date when it holds this one.
    pub generation: u64,
    /// Create again a resource that ended by idle timeout (default false: it ended because its
    /// channel emptied, and a new one would end the same way).
    pub recreate_after_idle: bool,
    /// What to do when the spec changes a field fixed at creation.
    pub immutable_change: ImmutableChange,
}

impl Desired {
    /// A present resource at `generation` with the default policies.
    pub const fn new(generation: u64) -> Self {
        Desired {
            present: true,
            generation,
            recreate_after_idle: false,
            immutable_change: ImmutableChange::Refuse,
        }
    }
}

/// How a running resource looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Answers and runs (or is connecting).
    Healthy,
    /// Some errors in a row; not yet failed.
    Degraded,
    /// Unreachable inside the HA migration window, until the given time.
    Migrating {
        /// The end of the window.
        until: Duration,
    },
    /// Failed: `state: failed`, three 404/5xx in a row past the HA window, or a confirmed exit.
    Failed,
}

/// Why action on a resource stopped for good (stored as its snake-case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// 400: the spec breaks a rule of the service.
    BadRequest,
    /// 401: the credentials are wrong.
    Unauthorized,
    /// 403: the service is not enabled.
    Forbidden,
    /// 409: the name is held by a converter that is not ours.
    NameTaken,
    /// The spec changes a field fixed at creation, and the policy is to refuse.
    ImmutableChange,
    /// The re-creation cap is spent and stays spent (a cap of zero).
    RecreationsDisabled,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::BadRequest => "the service refused the spec (400)",
            Refusal::Unauthorized => "the credentials are wrong (401)",
            Refusal::Forbidden => "the service is not enabled (403)",
            Refusal::NameTaken => "the name is held by another converter (409)",
            Refusal::ImmutableChange => "the spec changes a field fixed at creation",
            Refusal::RecreationsDisabled => "re-creations are disabled (a cap of 0)",
        })
    }
}

/// What was last observed of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Not looked up yet (start-up, or a store without it): look it up before creating, so
    /// that what runs is adopted rather than duplicated.
    Unknown,
    /// Looked up, and it does not exist.
    Absent,
    /// It exists.
    Present {
        /// How it looks.
        health: Health,
        /// The spec generation it holds.
        applied: u64,
        /// Whether the desired spec differs from it in a field fixed at creation.
        immutable_differs: bool,
    },
    /// It ended on its own (destroyed by the service, or exited).
    Ended {
        /// By idle timeout: its channel emptied.
        by_idle: bool,
    },
    /// The service refused it for good.
    Refused(Refusal),
}

/// Re-creations of one resource within the last [`RECREATION_WINDOW`], bounded in memory: it
/// keeps at most the cap's number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecreateBudget {
    cap: u32,
    times: Vec<Duration>,
}

impl Default for RecreateBudget {
    fn default() -> Self {
        RecreateBudget::new(RECREATIONS_PER_HOUR)
    }
}

impl RecreateBudget {
    /// A budget of `cap` re-creations per hour.
    pub fn new(cap: u32) -> Self {
        RecreateBudget {
            cap,
            times: Vec::new(),
        }
    }

    /// The cap.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// Re-creations counted at `now`.
    pub fn used(&self, now: Duration) -> u32 {
        let n = self
            .times
            .iter()
            .filter(|t| now.saturating_sub(**t) < RECREATION_WINDOW)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// When the next re-creation is allowed (`now` if it is).
    pub fn next_allowed(&self, now: Duration) -> Option<Duration> {
        if self.cap == 0 {
            return None;
        }
        if self.used(now) < self.cap {
            return Some(now);
        }
        self.times
            .iter()
            .filter(|t| now.saturating_sub(**t) < RECREATION_WINDOW)
            .min()
            .map(|oldest| *oldest + RECREATION_WINDOW)
    }

    /// Records a re-creation at `now` (forgetting those out of the window).
    pub fn record(&mut self, now: Duration) {
        self.times
            .retain(|t| now.saturating_sub(*t) < RECREATION_WINDOW);
        self.times.push(now);
        let keep = usize::try_from(self.cap.max(1)).unwrap_or(usize::MAX);
        if self.times.len() > keep {
            let drop = self.times.len() - keep;
            self.times.drain(..drop);
        }
    }

    /// The recorded times (for a store).
    pub fn times(&self) -> &[Duration] {
        &self.times
    }

    /// A budget from stored times.
    pub fn from_times(cap: u32, times: Vec<Duration>) -> Self {
        let mut b = RecreateBudget::new(cap);
        for t in times {
            b.times.push(t);
        }
        b
    }
}

/// What the controller remembers of its own actions on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// Whether a resource was ever created or adopted for this key (an absent one then needs
    /// a *re*-creation, which the budget counts).
    pub existed: bool,
    /// Failed actions in a row (create, update, re-create); reset by a success.
    pub failures: u32,
    /// When the last of them failed.
    pub last_failure_at: Duration,
    /// Re-creations in the last hour.
    pub recreations: RecreateBudget,
}

impl History {
    /// When the next action may be tried after the failures so far (`None` when there are
    /// none).
    pub fn retry_at(&self) -> Option<Duration> {
        if self.failures == 0 {
            return None;
        }
        let n = usize::try_from(self.failures - 1).unwrap_or(usize::MAX);
        let wait = FAILURE_BACKOFF
            .delay(n, 0.0)
            .unwrap_or(Duration::from_secs(300));
        Some(self.last_failure_at.saturating_add(wait))
    }
}

/// The controller's next step for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look it up (List by name, or Query) and adopt what runs.
    Lookup,
    /// Create it from the latest desired spec.
    Create,
    /// Send the latest desired spec as a sequenced update.
    Update,
    /// Delete what runs and create it again from the latest desired spec.
    Recreate,
    /// Nothing to do but wait for the HA migration window to end.
    WaitMigration {
        /// When the window ends.
        until: Duration,
    },
    /// Nothing may be tried before this time (failure back-off or the re-creation cap).
    Wait {
        /// When to decide again.
        until: Duration,
    },
    /// It ended by idle timeout and is left ended (until the application applies it again).
    Finished,
    /// Action stopped for good; report why.
    Degraded(Refusal),
    /// Removed by the application: delete what runs.
    Delete,
    /// Removed and gone: drop it from the stores.
    Forget,
    /// Up to date and healthy: look again at the next poll.
    Poll,
}

impl Action {
    /// A short name of the action, for metrics and logs (`create`, `update`, `poll`…).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Lookup => "lookup",
            Action::Create => "create",
            Action::Update => "update",
            Action::Recreate => "recreate",
            Action::WaitMigration { .. } => "wait_migration",
            Action::Wait { .. } => "wait",
            Action::Finished => "finished",
            Action::Degraded(_) => "degraded",
            Action::Delete => "delete",
            Action::Forget => "forget",
            Action::Poll => "poll",
        }
    }
}

/// Decides the next step. Pure: the same inputs always give the same action.
pub fn decide(desired: &Desired, observed: &Observed, history: &History, now: Duration) -> Action {
    if !desired.present {
        return match observed {
            Observed::Present { .. } | Observed::Unknown => Action::Delete,
            Observed::Absent | Observed::Ended { .. } | Observed::Refused(_) => Action::Forget,
        };
    }
    let backed_off = history.retry_at().filter(|t| *t > now);
    let recreation = |action: Action| -> Action {
        match history.recreations.next_allowed(now) {
            None => Action::Degraded(Refusal::RecreationsDisabled),
            Some(t) if t > now => Action::Wait { until: t },
            Some(_) => backed_off.map_or(action, |until| Action::Wait { until }),
        }
    };
    match *observed {
        Observed::Refused(r) => Action::Degraded(r),
        Observed::Unknown => Action::Lookup,
        Observed::Ended { by_idle: true } if !desired.recreate_after_idle => Action::Finished,
        Observed::Absent | Observed::Ended { .. } if history.existed => recreation(Action::Create),
        Observed::Absent | Observed::Ended { .. } => {
            backed_off.map_or(Action::Create, |until| Action::Wait { until })
        }
        Observed::Present {
            health,
            applied,
            immutable_differs,
        } => match health {
            Health::Failed => recreation(Action::Recreate),
            Health::Migrating { until } if until > now => Action::WaitMigration { until },
            _ if applied >= desired.generation => Action::Poll,
            _ if immutable_differs => match desired.immutable_change {
                ImmutableChange::Refuse => Action::Degraded(Refusal::ImmutableChange),
                ImmutableChange::Recreate => recreation(Action::Recreate),
            },
            _ => backed_off.map_or(Action::Update, |until| Action::Wait { until }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// An oracle written as a rule table, in a different order from `decide`: removal first,
    /// then refusals, then what each observation allows, then the two gates (the re-creation
    /// cap, then the failure back-off) applied to whatever would touch the service.
    fn oracle(d: &Desired, o: &Observed, h: &History, now: Duration) -> Action {
        if !d.present {
            return if matches!(o, Observed::Present { .. } | Observed::Unknown) {
                Action::Delete
            } else {
                Action::Forget
            };
        }
        if let Observed::Refused(r) = o {
            return Action::Degraded(*r);
        }
        // What the observation calls for, and whether it counts as a re-creation.
        let (wanted, is_recreation) = match o {
            Observed::Unknown => return Action::Lookup,
            Observed::Ended { by_idle } if *by_idle && !d.recreate_after_idle => {
                return Action::Finished;
            }
            Observed::Absent | Observed::Ended { .. } => (Action::Create, h.existed),
            Observed::Present {
                health: Health::Failed,
                ..
            } => (Action::Recreate, true),
            Observed::Present {
                health: Health::Migrating { until },
                ..
            } if *until > now => {
                return Action::WaitMigration { until: *until };
            }
            Observed::Present { applied, .. } if *applied >= d.generation => {
                return Action::Poll;
            }
            Observed::Present {
                immutable_differs: true,
                ..
            } => {
                if d.immutable_change == ImmutableChange::Refuse {
                    return Action::Degraded(Refusal::ImmutableChange);
                }
                (Action::Recreate, true)
            }
            Observed::Present { .. } => (Action::Update, false),
            Observed::Refused(_) => unreachable!(),
        };
        if is_recreation {
            if h.recreations.cap() == 0 {
                return Action::Degraded(Refusal::RecreationsDisabled);
            }
            // Brute force: the cap is spent when `cap` recorded times lie within the window.
            let in_window: Vec<Duration> = h
                .recreations
                .times()
                .iter()
                .copied()
                .filter(|t| now.saturating_sub(*t) < RECREATION_WINDOW)
                .collect();
            if in_window.len() >= h.recreations.cap() as usize {
                let oldest = in_window.iter().min().copied().unwrap_or(now);
                return Action::Wait {
                    until: oldest + RECREATION_WINDOW,
                };
            }
        }
        if h.failures > 0 {
            let waits = [5u64, 10, 20, 40, 80, 160, 300];
            let i = (h.failures as usize - 1).min(waits.len() - 1);
            let until = h.last_failure_at + s(waits[i]);
            if until > now {
                return Action::Wait { until };
            }
        }
        wanted
    }

    fn arb_observed() -> impl Strategy<Value = Observed> {
        prop_oneof![
            Just(Observed::Unknown),
            Just(Observed::Absent),
            any::<bool>().prop_map(|by_idle| Observed::Ended { by_idle }),
            prop_oneof![
                Just(Refusal::BadRequest),
                Just(Refusal::Unauthorized),
                Just(Refusal::Forbidden),
                Just(Refusal::NameTaken),
            ]
            .prop_map(Observed::Refused),
            (
                prop_oneof![
                    Just(Health::Healthy),
                    Just(Health::Degraded),
                    Just(Health::Failed),
                    (0u64..4000).prop_map(|u| Health::Migrating { until: s(u) }),
                ],
                0u64..5,
                any::<bool>()
            )
                .prop_map(|(health, applied, immutable_differs)| Observed::Present {
                    health,
                    applied,
                    immutable_differs
                }),
        ]
    }

    fn arb_history() -> impl Strategy<Value = History> {
        (
            any::<bool>(),
            0u32..10,
            0u64..4000,
            0u32..8,
            proptest::collection::vec(0u64..8000, 0..10),
        )
            .prop_map(|(existed, failures, last, cap, times)| {
                let mut recreations = RecreateBudget::new(cap);
                let mut times = times;
                times.sort_unstable();
                for t in times {
                    recreations.record(s(t));
                }
                History {
                    existed,
                    failures,
                    last_failure_at: s(last),
                    recreations,
                }
            })
    }

    proptest! {
        #[test]
        fn decide_matches_the_oracle(
            present in any::<bool>(),
            generation in 0u64..5,
            recreate_after_idle in any::<bool>(),
            recreate_on_immutable in any::<bool>(),
            observed in arb_observed(),
            history in arb_history(),
            now in 0u64..9000,
        ) {
            let desired = Desired {
                present,
                generation,
                recreate_after_idle,
                immutable_change: if recreate_on_immutable { ImmutableChange::Recreate } else { ImmutableChange::Refuse },
            };
            let now = s(now);
            prop_assert_eq!(
                decide(&desired, &observed, &history, now),
                oracle(&desired, &observed, &history, now)
            );
        }

        /// Whatever the inputs, an action that touches the service is never decided inside the
        /// failure back-off, and a re-creation never beyond the hourly cap.
        #[test]
        fn no_tight_loop_is_possible(
            observed in arb_observed(),
            history in arb_history(),
            now in 0u64..9000,
        ) {
            let now = s(now);
            let action = decide(&Desired::new(3), &observed, &history, now);
            let touches = matches!(action, Action::Create | Action::Update | Action::Recreate);
            if touches {
                prop_assert!(history.retry_at().is_none_or(|t| t <= now));
            }
            let is_recreation = action == Action::Recreate
                || (action == Action::Create && history.existed);
            if is_recreation {
                prop_assert!(history.recreations.used(now) < history.recreations.cap());
            }
            if let Action::Wait { until } = action {
                prop_assert!(until > now, "a wait always ends later");
            }
        }
    }

    #[test]
    fn the_guide_in_examples() {
        let d = Desired::new(1);
        let fresh = History::default();
        // Start-up: look before creating.
        assert_eq!(decide(&d, &Observed::Unknown, &fresh, s(0)), Action::Lookup);
        assert_eq!(decide(&d, &Observed::Absent, &fresh, s(0)), Action::Create);
        // A changed spec becomes an update; an immutable change is refused by default.
        let running = |applied, immutable_differs| Observed::Present {
            health: Health::Healthy,
            applied,
            immutable_differs,
        };
        assert_eq!(decide(&d, &running(0, false), &fresh, s(0)), Action::Update);
        assert_eq!(decide(&d, &running(1, false), &fresh, s(0)), Action::Poll);
        assert_eq!(
            decide(&d, &running(0, true), &fresh, s(0)),
            Action::Degraded(Refusal::ImmutableChange)
        );
        // Ended by idle timeout: finished, not re-created.
        let existed = History {
            existed: true,
            ..History::default()
        };
        assert_eq!(
            decide(&d, &Observed::Ended { by_idle: true }, &existed, s(0)),
            Action::Finished
        );
        // The HA window is waited out; a failure is re-created, within the cap.
        let migrating = Observed::Present {
            health: Health::Migrating { until: s(120) },
            applied: 1,
            immutable_differs: false,
        };
        assert_eq!(
            decide(&d, &migrating, &existed, s(10)),
            Action::WaitMigration { until: s(120) }
        );
        let failed = Observed::Present {
            health: Health::Failed,
            applied: 1,
            immutable_differs: false,
        };
        assert_eq!(decide(&d, &failed, &existed, s(0)), Action::Recreate);
        let mut capped = existed.clone();
        for t in 0..RECREATIONS_PER_HOUR {
            capped.recreations.record(s(u64::from(t)));
        }
        assert_eq!(
            decide(&d, &failed, &capped, s(100)),
            Action::Wait { until: s(3600) }
        );
        // Removal takes effect even while creates keep failing.
        let failing = History {
            failures: 7,
            last_failure_at: s(99),
            ..existed.clone()
        };
        let removed = Desired {
            present: false,
            ..d
        };
        assert_eq!(
            decide(&removed, &Observed::Absent, &failing, s(100)),
            Action::Forget
        );
        assert_eq!(decide(&removed, &failed, &failing, s(100)), Action::Delete);
        // A permanent refusal stops action.
        assert_eq!(
            decide(&d, &Observed::Refused(Refusal::NameTaken), &fresh, s(0)),
            Action::Degraded(Refusal::NameTaken)
        );
    }

    #[test]
    fn the_budget_is_bounded_in_memory() {
        let mut b = RecreateBudget::new(3);
        for t in 0..1000 {
            b.record(s(t));
        }
        assert!(b.times().len() <= 3);
        assert_eq!(b.used(s(1000)), 3);
        assert_eq!(b.next_allowed(s(1000)), Some(s(997) + RECREATION_WINDOW));
        assert_eq!(RecreateBudget::new(0).next_allowed(s(0)), None);
    }
}
