//! Time for the transport: tokio's clock, so that tests under a paused clock drive everything.
//!
//! Core takes time as a `Duration` since an origin; this module is the one place that reads
//! the clock, relative to the client's creation. It also adapts the clock for governor, whose
//! default clock would not see tokio's paused time.

use std::time::Duration;

/// Monotonic time since the client was built, read from `tokio::time::Instant`.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time since the origin: the `now` argument of core's policies.
    pub fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

impl governor::clock::Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        TokioClock::now(self)
    }
}
