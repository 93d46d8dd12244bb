//! Instants made from an origin and an offset without overflow.
//!
//! Exists because offsets come from configuration (a watch interval, an idle timeout), and
//! `Instant + Duration` panics when the sum does not fit: a huge setting used to panic the
//! watch task, which the CLI then reported as success.

use std::time::Duration;

use tokio::time::Instant;

/// About thirty years: later than any wait this crate schedules, and small enough to add to
/// any instant a running process holds.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `origin + offset`, or [`FAR_FUTURE`] from `origin` when the sum does not fit.
pub(crate) fn at(origin: Instant, offset: Duration) -> Instant {
    origin
        .checked_add(offset)
        .or_else(|| origin.checked_add(FAR_FUTURE))
        .unwrap_or(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_offsets_do_not_panic() {
        let now = Instant::now();
        assert!(at(now, Duration::MAX) > now);
        assert_eq!(
            at(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
