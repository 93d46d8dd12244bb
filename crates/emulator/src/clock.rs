//! The emulator's clock: tokio's by default (paused-clock tests drive client and emulator
//! together), a manual one for tests that step time by hand, or a scaled one for demos that
//! want a 90 s rule to take a second and a half.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
    Adjustable(Arc<Mutex<Adjustable>>),
}

/// A clock whose speed can change and which can jump forward while it runs (the admin API).
#[derive(Debug)]
struct Adjustable {
    /// Real (tokio) time of the last change.
    real_base: tokio::time::Instant,
    /// Emulator time at the last change.
    emulated_base: Duration,
    speed: u32,
}

impl Adjustable {
    fn now(&self) -> Duration {
        let real = tokio::time::Instant::now().saturating_duration_since(self.real_base);
        self.emulated_base
            .saturating_add(real.saturating_mul(self.speed))
    }
}

/// The fastest an adjustable clock may run: a thousand times real time.
pub const MAX_SPEED: u32 = 1000;

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

    /// Runs `speed` times faster than tokio's clock, and can change speed or jump forward while
    /// it runs ([`set_speed`](Self::set_speed), [`advance`](Self::advance)): the standalone
    /// emulator's clock, driven by its admin API.
    pub fn adjustable(speed: u32) -> Self {
        EmulatorClock {
            source: Source::Adjustable(Arc::new(Mutex::new(Adjustable {
                real_base: tokio::time::Instant::now(),
                emulated_base: Duration::ZERO,
                speed: speed.clamp(1, MAX_SPEED),
            }))),
            unix_origin: unix_now(),
        }
    }

    /// Changes an adjustable clock's speed (1 to [`MAX_SPEED`]); `false` for other clocks.
    pub fn set_speed(&self, speed: u32) -> bool {
        let Source::Adjustable(a) = &self.source else {
            return false;
        };
        let mut a = a.lock().unwrap_or_else(PoisonError::into_inner);
        a.emulated_base = a.now();
        a.real_base = tokio::time::Instant::now();
        a.speed = speed.clamp(1, MAX_SPEED);
        true
    }

    /// The speed relative to tokio's clock (0 for a manual clock).
    pub fn speed(&self) -> u32 {
        match &self.source {
            Source::Tokio { .. } => 1,
            Source::Scaled { factor, .. } => *factor,
            Source::Manual(_) => 0,
            Source::Adjustable(a) => a.lock().unwrap_or_else(PoisonError::into_inner).speed,
        }
    }

    /// A clock that moves only when [`advance`](Self::advance) is called.
    pub fn manual() -> Self {
        EmulatorClock {
            source: Source::Manual(Arc::new(AtomicU64::new(0))),
            unix_origin: 1_700_000_000,
        }
    }

    /// Moves a manual or adjustable clock forward; `false` (and no effect) for the others.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.source {
            Source::Manual(n) => {
                n.fetch_add(
                    u64::try_from(by.as_nanos()).unwrap_or(u64::MAX),
                    Ordering::SeqCst,
                );
                true
            }
            Source::Adjustable(a) => {
                let mut a = a.lock().unwrap_or_else(PoisonError::into_inner);
                a.emulated_base = a.emulated_base.saturating_add(by);
                true
            }
            _ => false,
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
            Source::Adjustable(a) => a.lock().unwrap_or_else(PoisonError::into_inner).now(),
        }
    }

    /// How long real (tokio) time a span of emulator time takes.
    pub fn real(&self, emulated: Duration) -> Duration {
        match &self.source {
            Source::Scaled { factor, .. } => emulated / *factor,
            Source::Adjustable(a) => {
                emulated
                    / a.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .speed
                        .max(1)
            }
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
