//! The controller runtime both service crates build on (kube-runtime's shape): stores, a
//! per-key scheduler and the loop that runs reconciles.
//!
//! Exists so that the converter controller and the task controller share one scheduling loop:
//! a key is reconciled by one task at a time, requests for a key merge (the earliest wins), at
//! most `max_parallel` keys run at once, and shutdown takes effect within one step. What a
//! reconcile does is the service crate's business ([`Reconcile`]).

pub mod lease;
mod runtime;
mod scheduler;
pub mod store;

pub use runtime::{MAX_RECONCILE, Reconcile, Runtime};

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

#[cfg(test)]
mod tests {
    use super::*;

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
