//! Cloud Transcoding builder-token freshness: Create within 2 s of Acquire.

use std::time::Duration;

/// Send Create within this long after Acquire, or acquire a new token
/// (docs/vendor-rules.md, the Cloud Transcoding service-status guide "within 2 seconds").
pub const BUILDER_TOKEN_CREATE_WINDOW: Duration = Duration::from_secs(2);

/// How long a builder token is valid "for creating" (docs/vendor-rules.md: 5 min).
pub const BUILDER_TOKEN_VALIDITY: Duration = Duration::from_secs(5 * 60);

/// Whether a token may still be used for Create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVerdict {
    /// Within the 2 s window: send Create now.
    Fresh,
    /// Older than 2 s: the guide says Create may fail; acquire again.
    AcquireAgain,
}

/// When a builder token was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuilderTokenAge {
    acquired_at: Duration,
}

impl BuilderTokenAge {
    /// A token whose Acquire *request* went out at `acquired_at`. The window counts from the
    /// request, not the answer: the guide's "within 2 seconds of each Acquire request", and an
    /// Acquire answered slowly has used part of the window already.
    pub const fn new(acquired_at: Duration) -> Self {
        BuilderTokenAge { acquired_at }
    }

    /// Whether a Create sent at `now` is within [`BUILDER_TOKEN_CREATE_WINDOW`].
    pub fn for_create(&self, now: Duration) -> TokenVerdict {
        if now.saturating_sub(self.acquired_at) <= BUILDER_TOKEN_CREATE_WINDOW {
            TokenVerdict::Fresh
        } else {
            TokenVerdict::AcquireAgain
        }
    }

    /// Whether the token is past its 5-minute validity (the emulator refuses it then).
    pub fn expired(&self, now: Duration) -> bool {
        now.saturating_sub(self.acquired_at) >= BUILDER_TOKEN_VALIDITY
    }

    /// How long is left of the Create window at `now` (zero when it has passed).
    pub fn create_window_left(&self, now: Duration) -> Duration {
        (self.acquired_at + BUILDER_TOKEN_CREATE_WINDOW).saturating_sub(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fresh_exactly_within_two_seconds(acquired in 0u64..1_000_000, age in 0u64..400_000) {
            let t = BuilderTokenAge::new(Duration::from_millis(acquired));
            let now = Duration::from_millis(acquired + age);
            let fresh = t.for_create(now) == TokenVerdict::Fresh;
            prop_assert_eq!(fresh, age <= 2_000);
            prop_assert_eq!(t.expired(now), age >= 300_000);
            prop_assert_eq!(t.create_window_left(now), Duration::from_millis(2_000u64.saturating_sub(age)));
            // Time before the acquisition (a clock step) counts as fresh, never as a panic.
            prop_assert_eq!(t.for_create(Duration::ZERO), TokenVerdict::Fresh);
        }
    }
}
