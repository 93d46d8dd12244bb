//! Back-off schedules from the vendor's guides, as data.
//!
//! Exists because the guides give *fixed tables* ("wait 5–6 s, then 10–11 s, then 15–16 s"),
//! which no exponential formula expresses. A [`Schedule`] is a list of [`Step`]s, each a base
//! delay plus a jitter bound; the caller supplies the random fraction, so nothing here draws
//! randomness and every delay can be asserted exactly in tests.

use std::time::Duration;

/// One wait of a schedule: `base + jitter × fraction`, with `fraction` in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The shortest wait.
    pub base: Duration,
    /// How much longer than `base` the wait may be.
    pub jitter: Duration,
}

impl Step {
    /// A step of `base` seconds plus up to `jitter` seconds.
    pub const fn secs(base: u64, jitter: u64) -> Step {
        Step {
            base: Duration::from_secs(base),
            jitter: Duration::from_secs(jitter),
        }
    }

    /// The wait for a random `fraction` (clamped to `[0, 1]`; NaN counts as 0).
    pub fn delay(self, fraction: f64) -> Duration {
        let f = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.base + self.jitter.mul_f64(f)
    }

    /// The longest wait this step can produce.
    pub fn max(self) -> Duration {
        self.base + self.jitter
    }
}

/// A back-off schedule: the waits before the 1st, 2nd, … retry.
///
/// A schedule with `repeat_last` keeps yielding its last step (used for polling until a
/// deadline); otherwise it ends after its steps, which is the number of retries the guide allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    steps: &'static [Step],
    repeat_last: bool,
    cap: Option<Duration>,
}

/// Media Push: retry 404, 429 and 5xx after about 5–6 s, 10–11 s, 15–16 s (docs/vendor-rules.md,
/// the Media Push best-practices guide "Retry with retreat strategy").
pub const MEDIA_PUSH_RETRY: Schedule =
    Schedule::new(&[Step::secs(5, 1), Step::secs(10, 1), Step::secs(15, 1)]);

/// Domain switch: wait 1 s, 3 s, 6 s before the 1st, 2nd, 3rd retry (docs/vendor-rules.md). The guide
/// gives it "to avoid exceeding the QPS limit with retry requests", so it is also our wait for a
/// Cloud Transcoding 429, for which the status-code table only says "wait and retry".
pub const DOMAIN_SWITCH: Schedule =
    Schedule::new(&[Step::secs(1, 0), Step::secs(3, 0), Step::secs(6, 0)]);

/// Cloud Transcoding: a 429 waits as the domain switch does (docs/vendor-rules.md).
pub const TRANSCODER_RATE_LIMITED: Schedule = DOMAIN_SWITCH;

/// Cloud Transcoding Create after 206 or 50x: 3 s, 6 s, 9 s; then a new UID and a new Acquire
/// (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const TRANSCODER_CREATE_RETRY: Schedule =
    Schedule::new(&[Step::secs(3, 0), Step::secs(6, 0), Step::secs(9, 0)]);

/// Cloud Transcoding error code 65: the same request again after 3 s, then 6 s
/// (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const CODE_65_RETRY: Schedule = Schedule::new(&[Step::secs(3, 0), Step::secs(6, 0)]);

/// Cloud Transcoding Query 404: confirm with Queries after 5 s, 10 s, 15 s before calling the
/// task exited (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const NOT_FOUND_CONFIRMATION: Schedule =
    Schedule::new(&[Step::secs(5, 0), Step::secs(10, 0), Step::secs(15, 0)]);

/// Cloud Transcoding Query 50x: 5 s, 10 s, 15 s, 30 s; a 50x is not an exit
/// (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const QUERY_SERVER_ERROR: Schedule = Schedule::new(&[
    Step::secs(5, 0),
    Step::secs(10, 0),
    Step::secs(15, 0),
    Step::secs(30, 0),
]);

/// Cloud Transcoding startup: the first Query 5 s after the task id, then back off 5 s, 10 s,
/// 15 s, 15 s, … until the 90 s deadline (docs/vendor-rules.md, the Cloud Transcoding service-status guide). The guide asks for the
/// interval to stay below `idleTimeout`: use [`Schedule::startup_poll`] to get that cap.
pub const STARTUP_POLL: Schedule = Schedule::new(&[
    Step::secs(5, 0),
    Step::secs(5, 0),
    Step::secs(10, 0),
    Step::secs(15, 0),
])
.repeating_last();

impl Schedule {
    /// A schedule of the given steps, ending after the last one.
    pub const fn new(steps: &'static [Step]) -> Schedule {
        Schedule {
            steps,
            repeat_last: false,
            cap: None,
        }
    }

    /// The same schedule, yielding its last step for ever (for polling up to a deadline).
    pub const fn repeating_last(mut self) -> Schedule {
        self.repeat_last = true;
        self
    }

    /// The same schedule with every wait capped at `cap`.
    pub const fn capped(mut self, cap: Duration) -> Schedule {
        self.cap = Some(cap);
        self
    }

    /// [`STARTUP_POLL`] with every wait kept strictly below `idle_timeout`: capped at half of it,
    /// so a poll always lands while an idle transcoder would still be alive (the Cloud Transcoding service-status guide).
    pub fn startup_poll(idle_timeout: Duration) -> Schedule {
        STARTUP_POLL.capped(idle_timeout / 2)
    }

    /// The steps as listed.
    pub const fn steps(&self) -> &'static [Step] {
        self.steps
    }

    /// How many retries the schedule allows, or `None` when it repeats for ever.
    pub const fn retries(&self) -> Option<usize> {
        if self.repeat_last {
            None
        } else {
            Some(self.steps.len())
        }
    }

    /// The step used before retry number `retry` (0 = the first retry), if there is one.
    pub fn step(&self, retry: usize) -> Option<Step> {
        match self.steps.get(retry) {
            Some(s) => Some(*s),
            None if self.repeat_last => self.steps.last().copied(),
            None => None,
        }
    }

    /// The wait before retry number `retry` for a random `fraction` in `[0, 1]`, or `None` when
    /// the schedule has no more retries.
    pub fn delay(&self, retry: usize, fraction: f64) -> Option<Duration> {
        let d = self.step(retry)?.delay(fraction);
        Some(match self.cap {
            Some(cap) => d.min(cap),
            None => d,
        })
    }

    /// The waits as an iterator, one random fraction taken from `fractions` per step (a missing
    /// fraction counts as 0, the shortest wait).
    pub fn delays<I: IntoIterator<Item = f64>>(&self, fractions: I) -> Delays<I::IntoIter> {
        Delays {
            schedule: *self,
            retry: 0,
            fractions: fractions.into_iter(),
        }
    }
}

/// The waits of a [`Schedule`], see [`Schedule::delays`].
#[derive(Debug, Clone)]
pub struct Delays<I> {
    schedule: Schedule,
    retry: usize,
    fractions: I,
}

impl<I: Iterator<Item = f64>> Iterator for Delays<I> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let fraction = self.fractions.next().unwrap_or(0.0);
        let d = self.schedule.delay(self.retry, fraction)?;
        self.retry += 1;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [(&str, Schedule); 7] = [
        ("media push", MEDIA_PUSH_RETRY),
        ("domain switch", DOMAIN_SWITCH),
        ("create", TRANSCODER_CREATE_RETRY),
        ("code 65", CODE_65_RETRY),
        ("404", NOT_FOUND_CONFIRMATION),
        ("50x", QUERY_SERVER_ERROR),
        ("startup", STARTUP_POLL),
    ];

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn documented_tables() {
        let lo: Vec<_> = MEDIA_PUSH_RETRY.delays([0.0; 3]).collect();
        let hi: Vec<_> = MEDIA_PUSH_RETRY.delays([1.0; 3]).collect();
        assert_eq!(lo, secs(&[5, 10, 15]));
        assert_eq!(hi, secs(&[6, 11, 16]));
        assert_eq!(
            DOMAIN_SWITCH.delays([]).collect::<Vec<_>>(),
            secs(&[1, 3, 6])
        );
        assert_eq!(
            TRANSCODER_CREATE_RETRY.delays([]).collect::<Vec<_>>(),
            secs(&[3, 6, 9])
        );
        assert_eq!(CODE_65_RETRY.delays([]).collect::<Vec<_>>(), secs(&[3, 6]));
        assert_eq!(
            NOT_FOUND_CONFIRMATION.delays([]).collect::<Vec<_>>(),
            secs(&[5, 10, 15])
        );
        assert_eq!(
            QUERY_SERVER_ERROR.delays([]).collect::<Vec<_>>(),
            secs(&[5, 10, 15, 30])
        );
        assert_eq!(
            STARTUP_POLL.delays([]).take(6).collect::<Vec<_>>(),
            secs(&[5, 5, 10, 15, 15, 15])
        );
        assert_eq!(STARTUP_POLL.retries(), None);
        assert_eq!(MEDIA_PUSH_RETRY.retries(), Some(3));
    }

    #[test]
    fn startup_poll_stays_below_idle_timeout() {
        let s = Schedule::startup_poll(Duration::from_secs(12));
        assert_eq!(
            s.delays([]).take(4).collect::<Vec<_>>(),
            secs(&[5, 5, 6, 6])
        );
    }

    proptest! {
        #[test]
        fn delays_are_inside_their_windows_and_monotone(
            which in 0usize..ALL.len(),
            fractions in proptest::collection::vec(proptest::num::f64::ANY, 0..8),
        ) {
            let (_, s) = ALL[which];
            let got: Vec<Duration> = s.delays(fractions.clone()).take(8).collect();
            for (i, d) in got.iter().enumerate() {
                // Oracle: the listed window of step i (or the last step when repeating).
                let step = s.steps().get(i).or(s.steps().last()).copied().unwrap();
                prop_assert!(*d >= step.base && *d <= step.base + step.jitter, "{i}: {d:?}");
            }
            // Bases never shrink, and a later wait never ends before an earlier one starts.
            for w in got.windows(2) {
                let (a, b) = (w[0], w[1]);
                prop_assert!(b + Duration::from_secs(1) >= a);
            }
            match s.retries() {
                Some(n) => prop_assert_eq!(got.len(), n.min(8)),
                None => prop_assert_eq!(got.len(), 8),
            }
        }

        #[test]
        fn jittered_steps_grow_strictly(f in proptest::collection::vec(0.0f64..=1.0, 3)) {
            let got: Vec<Duration> = MEDIA_PUSH_RETRY.delays(f).collect();
            prop_assert!(got[0] < got[1] && got[1] < got[2]);
        }

        #[test]
        fn cap_is_respected(cap_ms in 1u64..40_000, f in 0.0f64..=1.0) {
            let cap = Duration::from_millis(cap_ms);
            let s = Schedule::startup_poll(cap * 2);
            for d in s.delays(std::iter::repeat(f)).take(10) {
                prop_assert!(d <= cap && d < cap * 2);
            }
        }
    }
}
