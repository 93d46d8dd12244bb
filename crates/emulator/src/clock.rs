//! The emulator's clock: tokio's by default (paused-clock tests drive client and emulator
//! together), a manual one for tests that step time by hand, or a scaled one for demos that
//! want a 90 s rule to take a second and a half.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Clone)]
enum Source {
    Tokio {
        origin: tokio::time::Instant,
    },
    Scaled {
        origin: tokio::time::Instant,
        factor: u32,
    },
    Manual(Arc<AtomicU64>),
}

/// Time as the emulator sees it: a `Duration` since its start, plus the Unix time of its start
/// for `createTs`-style fields.
#[derive(Debug, Clone)]
pub struct EmulatorClock {
    source: Source,
    unix_origin: u64,
}

/// The Unix time the emulator's clocks start at, read once (the emulator's one wall-clock
/// read; everything else is relative time).
#[allow(clippy::disallowed_methods)]
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl EmulatorClock {
    /// Follows tokio's clock (paused or not). Must be created inside a tokio runtime context
    /// or under `tokio::time::pause` for paused tests.
    pub fn tokio() -> Self {
        EmulatorClock {
            source: Source::Tokio {
                origin: tokio::time::Instant::now(),
            },
            unix_origin: unix_now(),
        }
    }

    /// Runs `factor` times faster than tokio's clock (demos).
    pub fn scaled(factor: u32) -> Self {
        EmulatorClock {
            source: Source::Scaled {
                origin: tokio::time::Instant::now(),
                factor: factor.max(1),
            },
            unix_origin: unix_now(),
        }
    }

    /// A clock that moves only when [`advance`](Self::advance) is called.
    pub fn manual() -> Self {
        EmulatorClock {
            source: Source::Manual(Arc::new(AtomicU64::new(0))),
            unix_origin: 1_700_000_000,
        }
    }

    /// Moves a manual clock forward (no effect on the others).
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(n) = &self.source {
            n.fetch_add(
                u64::try_from(by.as_nanos()).unwrap_or(u64::MAX),
                Ordering::SeqCst,
            );
        }
    }

    /// Time since the emulator started.
    pub fn now(&self) -> Duration {
        match &self.source {
            Source::Tokio { origin } => {
                tokio::time::Instant::now().saturating_duration_since(*origin)
            }
            Source::Scaled { origin, factor } => {
                tokio::time::Instant::now().saturating_duration_since(*origin) * *factor
            }
            Source::Manual(n) => Duration::from_nanos(n.load(Ordering::SeqCst)),
        }
    }

    /// How long real (tokio) time a span of emulator time takes.
    pub fn real(&self, emulated: Duration) -> Duration {
        match &self.source {
            Source::Scaled { factor, .. } => emulated / *factor,
            _ => emulated,
        }
    }

    /// Unix seconds at emulator time `at`.
    pub fn unix_at(&self, at: Duration) -> u64 {
        self.unix_origin + at.as_secs()
    }

    /// Unix milliseconds at emulator time `at`.
    pub fn unix_ms_at(&self, at: Duration) -> u64 {
        self.unix_origin * 1000 + u64::try_from(at.as_millis()).unwrap_or(u64::MAX)
    }
}
