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

/// The system's wall clock in Unix milliseconds: the one place the workspace's runtime crates
/// read wall time (core takes time as an argument; everything else counts on tokio's clock).
#[allow(clippy::disallowed_methods)]
pub fn system_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix milliseconds counted on tokio's clock from one wall-clock read, so that paused-clock
/// tests drive it: the controllers' time for stored histories and sequence floors.
#[derive(Debug, Clone, Copy)]
pub struct UnixClock {
    origin: tokio::time::Instant,
    unix_origin_ms: u64,
}

impl Default for UnixClock {
    fn default() -> Self {
        UnixClock {
            origin: tokio::time::Instant::now(),
            unix_origin_ms: system_unix_ms(),
        }
    }
}

impl UnixClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.unix_origin_ms.saturating_add(elapsed)
    }

    /// Time since the origin (monotonic).
    pub fn elapsed(&self) -> std::time::Duration {
        self.origin.elapsed()
    }

    /// `at` as time since the origin.
    pub fn since_origin(&self, at: tokio::time::Instant) -> std::time::Duration {
        at.saturating_duration_since(self.origin)
    }
}
