//! Cloud Transcoding startup confirmation: Query after 5 s, back off, give up at 90 s.

use std::time::Duration;

use crate::backoff::Schedule;

/// A task not `STARTED` or `IN_PROGRESS` this long after its task id arrived has failed to
/// start (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// What one startup Query showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartupObservation {
    /// Top-level status `STARTED` or `IN_PROGRESS`.
    Started,
    /// A status on the way (`IDLE`, `PREPARED`, `STARTING`, `CREATED`), or a Query that failed
    /// in a way that may pass (404 while the task is placed, 429, 5xx, no answer).
    NotYet,
    /// A final status (`STOPPED`, `EXIT`, `FAILURE_STOP`): the task will not start.
    Ended,
}

/// What to do next during startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupVerdict {
    /// The transcoder runs.
    Started,
    /// Query again at this time.
    QueryAt(Duration),
    /// Not started within [`STARTUP_TIMEOUT`]: consider the startup failed.
    TimedOut,
    /// The task reached a final status before starting: the startup failed now, not at 90 s.
    Ended,
}

/// Follows one task from its task id to started or timed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupCheck {
    deadline: Duration,
    schedule: Schedule,
    polls: usize,
    last_query_at: Duration,
}

impl StartupCheck {
    /// A check for a task whose id arrived at `task_id_at`, polling with the startup schedule
    /// kept below `idle_timeout` ([`Schedule::startup_poll`]).
    pub fn new(task_id_at: Duration, idle_timeout: Duration) -> Self {
        StartupCheck {
            deadline: task_id_at + STARTUP_TIMEOUT,
            schedule: Schedule::startup_poll(idle_timeout),
            polls: 0,
            last_query_at: task_id_at,
        }
    }

    /// When to send the first Query (5 s after the task id).
    pub fn first_query_at(&self) -> Duration {
        self.next_at(self.last_query_at, 0)
    }

    /// The time at which startup counts as failed.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    fn next_at(&self, from: Duration, poll: usize) -> Duration {
        let wait = self
            .schedule
            .delay(poll, 0.0)
            .unwrap_or(Duration::from_secs(1));
        (from + wait).min(self.deadline)
    }

    /// Records the result of a Query sent at `now`.
    pub fn observe(&mut self, observation: StartupObservation, now: Duration) -> StartupVerdict {
        match observation {
            StartupObservation::Started => return StartupVerdict::Started,
            StartupObservation::Ended => return StartupVerdict::Ended,
            StartupObservation::NotYet => {}
        }
        if now >= self.deadline {
            return StartupVerdict::TimedOut;
        }
        self.polls += 1;
        self.last_query_at = now;
        StartupVerdict::QueryAt(self.next_at(now, self.polls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_final_status_ends_startup_at_once() {
        let mut c = StartupCheck::new(s(0), s(300));
        assert_eq!(
            c.observe(StartupObservation::NotYet, s(5)),
            StartupVerdict::QueryAt(s(10))
        );
        assert_eq!(
            c.observe(StartupObservation::Ended, s(10)),
            StartupVerdict::Ended
        );
    }

    #[test]
    fn polls_then_times_out_at_ninety_seconds() {
        let mut c = StartupCheck::new(s(100), s(300));
        assert_eq!(c.first_query_at(), s(105));
        let mut at = c.first_query_at();
        let mut times = vec![at];
        loop {
            match c.observe(StartupObservation::NotYet, at) {
                StartupVerdict::QueryAt(next) => {
                    assert!(next > at);
                    at = next;
                    times.push(at);
                }
                StartupVerdict::TimedOut => break,
                StartupVerdict::Started | StartupVerdict::Ended => unreachable!(),
            }
        }
        let rel: Vec<u64> = times.iter().map(|t| t.as_secs() - 100).collect();
        assert_eq!(rel, [5, 10, 20, 35, 50, 65, 80, 90]);
    }

    #[test]
    fn started_ends_the_check() {
        let mut c = StartupCheck::new(s(0), s(300));
        assert_eq!(
            c.observe(StartupObservation::Started, s(5)),
            StartupVerdict::Started
        );
        assert_eq!(
            c.observe(StartupObservation::Started, s(500)),
            StartupVerdict::Started
        );
    }

    proptest! {
        #[test]
        fn polls_stay_below_idle_timeout_and_end_at_deadline(
            start in 0u64..1000,
            idle in 1u64..400,
            late in proptest::collection::vec(0u64..3, 0..40),
        ) {
            let idle = s(idle);
            let mut c = StartupCheck::new(s(start), idle);
            let mut at = c.first_query_at();
            prop_assert!(at > s(start) && at <= s(start) + s(5));
            let mut verdict = StartupVerdict::QueryAt(at);
            for extra in late.into_iter().chain(std::iter::repeat(0)).take(200) {
                let now = at + s(extra); // the caller may be late
                verdict = c.observe(StartupObservation::NotYet, now);
                match verdict {
                    StartupVerdict::QueryAt(next) => {
                        prop_assert!(next > now || next == c.deadline());
                        prop_assert!(next - now.min(next) < idle);
                        prop_assert!(next <= c.deadline());
                        at = next;
                    }
                    _ => break,
                }
            }
            prop_assert_eq!(verdict, StartupVerdict::TimedOut);
            prop_assert!(at + s(3) >= c.deadline());
        }
    }
}
