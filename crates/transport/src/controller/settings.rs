//! What every controller is configured with, checked in one place.
//!
//! Exists because the converter controller and the task controller share these settings (the
//! poll cadence, the re-creation cap, parallelism, the lease, the event buffer) and their rules;
//! each service's config adds only what is its own.

use std::time::Duration;

/// The longest poll interval a controller accepts: a day. Longer is a mistake (the guides poll
/// every 2 minutes) and would overflow instants.
pub const MAX_POLL_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The shortest poll interval a controller accepts: 100 ms. The guides poll every 2 minutes;
/// sub-second polls are for load tests against the emulator.
pub const MIN_POLL_EVERY: Duration = Duration::from_millis(100);

/// Checks a poll interval: from [`MIN_POLL_EVERY`] to [`MAX_POLL_EVERY`], in milliseconds in
/// the error. `field` names the setting (e.g. `controller.poll_every`).
pub fn check_poll_every(
    field: &'static str,
    every: Duration,
) -> Result<(), agora_rest_core::Error> {
    if every < MIN_POLL_EVERY || every > MAX_POLL_EVERY {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Err(agora_rest_core::Error::OutOfRange {
            field: field.into(),
            min: ms(MIN_POLL_EVERY),
            max: ms(MAX_POLL_EVERY),
            actual: ms(every),
        });
    }
    Ok(())
}

/// `every` held within [[`MIN_POLL_EVERY`], [`MAX_POLL_EVERY`]]: what a controller started
/// with an unchecked setting uses, so that no interval can overflow an instant.
pub fn clamp_poll_every(every: Duration) -> Duration {
    every.clamp(MIN_POLL_EVERY, MAX_POLL_EVERY)
}

/// The lease lengths a controller accepts: 1 s to an hour.
pub const LEASE_TTL_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// Checks a lease length against [`LEASE_TTL_RANGE`].
pub fn check_lease_ttl(field: &'static str, ttl: Duration) -> Result<(), agora_rest_core::Error> {
    let (min, max) = LEASE_TTL_RANGE;
    if ttl < min || ttl > max {
        return Err(agora_rest_core::Error::OutOfRange {
            field: field.into(),
            min: i64::try_from(min.as_secs()).unwrap_or(0),
            max: i64::try_from(max.as_secs()).unwrap_or(i64::MAX),
            actual: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        });
    }
    Ok(())
}

/// `ttl` held within [`LEASE_TTL_RANGE`].
pub fn clamp_lease_ttl(ttl: Duration) -> Duration {
    ttl.clamp(LEASE_TTL_RANGE.0, LEASE_TTL_RANGE.1)
}

/// How soon a reconcile is tried again after a store (Redis) failed.
pub const STORE_RETRY: Duration = Duration::from_secs(5);

/// The settings every controller shares.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// How often a healthy resource is looked at.
    pub poll_every: Duration,
    /// Re-creations (restarts) per resource per hour.
    pub recreations_per_hour: u32,
    /// Resources reconciled at once (default 16).
    pub max_parallel: usize,
    /// This replica's name in leases (replicas sharing stores need distinct names).
    pub holder: String,
    /// How long a lease lasts before another replica may take it (default 30 s; renewed while
    /// an action runs).
    pub lease_ttl: Duration,
    /// Events kept for slow subscribers before they see `Lagged` (default 1024).
    pub event_capacity: usize,
}

impl Settings {
    /// The defaults with a poll every `poll_every` (the service's guide says how often).
    pub fn new(poll_every: Duration) -> Self {
        Settings {
            poll_every,
            recreations_per_hour: agora_rest_core::reconcile::RECREATIONS_PER_HOUR,
            max_parallel: 16,
            holder: "agora-rest".to_string(),
            lease_ttl: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }

    /// Sets the poll interval.
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    /// Sets the re-creation cap per hour.
    pub fn recreations_per_hour(mut self, cap: u32) -> Self {
        self.recreations_per_hour = cap;
        self
    }

    /// Sets how many resources are reconciled at once.
    pub fn max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = n;
        self
    }

    /// Sets this replica's name in leases.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Sets how long a lease lasts.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets how many events a slow subscriber may fall behind before it sees `Lagged`.
    pub fn event_capacity(mut self, n: usize) -> Self {
        self.event_capacity = n;
        self
    }

    /// Checks the settings, naming the one that breaks a rule: the poll interval from 100 ms
    /// to a day, a lease of 1 s to an hour, at least one resource at a time.
    pub fn validate(&self) -> Result<(), agora_rest_core::Error> {
        check_poll_every("controller.poll_every", self.poll_every)?;
        check_lease_ttl("controller.lease_ttl", self.lease_ttl)?;
        if self.max_parallel == 0 {
            return Err(agora_rest_core::Error::OutOfRange {
                field: "controller.max_parallel".into(),
                min: 1,
                max: i64::MAX,
                actual: 0,
            });
        }
        Ok(())
    }

    /// The settings held within those bounds: what a controller started with unchecked
    /// settings uses, so that no interval can overflow an instant.
    pub fn clamped(mut self) -> Self {
        self.poll_every = clamp_poll_every(self.poll_every);
        self.lease_ttl = clamp_lease_ttl(self.lease_ttl);
        self.max_parallel = self.max_parallel.max(1);
        self.event_capacity = self.event_capacity.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_clamped() {
        let s = Settings::new(Duration::from_secs(120));
        assert!(s.validate().is_ok());
        let bad = s.clone().poll_every(Duration::MAX).max_parallel(0);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("controller.poll_every")
        );
        let c = bad.clamped();
        assert_eq!((c.poll_every, c.max_parallel), (MAX_POLL_EVERY, 1));
        let e = s.max_parallel(0).validate().unwrap_err();
        assert!(e.to_string().contains("controller.max_parallel"), "{e}");
    }

    #[test]
    fn poll_and_lease_bounds() {
        assert!(check_poll_every("p", MIN_POLL_EVERY).is_ok());
        assert!(check_poll_every("p", Duration::from_millis(99)).is_err());
        assert!(check_poll_every("p", MAX_POLL_EVERY).is_ok());
        for bad in [
            Duration::ZERO,
            MAX_POLL_EVERY + Duration::from_secs(1),
            Duration::MAX,
        ] {
            let e = check_poll_every("controller.poll_every", bad).unwrap_err();
            assert!(e.to_string().contains("controller.poll_every"), "{e}");
        }
        assert_eq!(clamp_poll_every(Duration::MAX), MAX_POLL_EVERY);
        assert_eq!(clamp_poll_every(Duration::ZERO), MIN_POLL_EVERY);
        assert!(check_lease_ttl("l", Duration::from_secs(30)).is_ok());
        assert!(check_lease_ttl("l", Duration::ZERO).is_err());
        assert!(check_lease_ttl("l", Duration::from_secs(3601)).is_err());
        assert_eq!(clamp_lease_ttl(Duration::MAX), Duration::from_secs(3600));
    }
}
