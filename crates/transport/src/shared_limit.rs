//! A rate limiter shared by every replica of a backend (the vendor's limits are per project and
//! per account, not per process).
//!
//! Exists so that N processes act as one client: the transport's rate-limit layer asks a
//! [`SharedRateLimiter`] (the `agora-rest-redis` crate implements it on Redis) for each bucket a
//! call counts against, and sleeps for the wait it returns. governor stays the in-process
//! default. When the shared limiter cannot be reached, [`WhenUnreachable`] says what happens:
//! fall back to a local share of each rate (rate ÷ replicas), or refuse the call.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::rate::{Rate, RateScope};

use crate::Error;

/// A rate limiter whose buckets are shared across processes.
#[async_trait::async_trait]
pub trait SharedRateLimiter: Send + Sync + Debug {
    /// Takes the next permit of bucket `key`, spaced evenly at `rate` (no burst), if it comes
    /// within `max_wait`: [`Acquired::Now`], or [`Acquired::After`] (the permit is reserved;
    /// send after the wait, without asking again). A permit further off than `max_wait` is not
    /// reserved: [`Acquired::TooLong`]. `Err` when the limiter cannot be reached.
    async fn acquire(&self, key: &str, rate: Rate, max_wait: Duration) -> Result<Acquired, Error>;
}

/// What [`SharedRateLimiter::acquire`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// A permit now.
    Now,
    /// A permit reserved at this wait from now.
    After(Duration),
    /// The next permit is this far off, beyond the maximum wait: nothing was reserved.
    TooLong(Duration),
}

/// What a client does while its shared limiter is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenUnreachable {
    /// Limit locally at each rate divided by `replicas` (the replicas' fair share).
    LocalShare {
        /// How many replicas share the quota (at least 1).
        replicas: u32,
    },
    /// Refuse the call ([`Error::RateLimiterUnavailable`]).
    FailClosed,
}

/// A shared limiter and its fallback policy, as given to [`crate::Config::with_shared_limiter`].
#[derive(Debug, Clone)]
pub struct SharedLimits {
    /// The limiter.
    pub limiter: Arc<dyn SharedRateLimiter>,
    /// What happens while it cannot be reached.
    pub when_unreachable: WhenUnreachable,
}

/// The bucket name of `scope` for a call on `converter` (Update per converter); the same
/// names in every process, so replicas share buckets.
pub fn bucket_key(scope: RateScope, converter: Option<&str>) -> Option<String> {
    match scope {
        RateScope::MediaPushApi(op) => Some(format!("push:api:{op}")),
        RateScope::MediaPushConverterUpdate => converter.map(|id| format!("push:update:{id}")),
        RateScope::CloudTranscodingAccount => Some("transcoding:account".to_string()),
    }
}

/// `rate` divided among `replicas` that cannot see each other's calls (the shared limiter is
/// down), so that their sum stays within `rate` in *every* window of `rate.per`, whatever
/// their phases.
///
/// A replica paced `i` apart can make `floor(per / i) + 1` calls in one window: with the exact
/// share (50/s over 3 replicas, 60 ms apart) each makes 17 and three make 51, and CI drew a
/// 429 exactly so. Each replica therefore gets `k = floor(requests / replicas)` calls per
/// window, paced `per / (k - 1)` apart (50/s over 3: 15/s each, 48 at most in any second);
/// with fewer than two per window, one per `replicas` windows.
pub fn share_of(rate: Rate, replicas: u32) -> Rate {
    let n = replicas.max(1);
    if n == 1 {
        return rate;
    }
    match rate.requests / n {
        k if k >= 2 => Rate {
            requests: k - 1,
            per: rate.per,
        },
        _ => Rate {
            requests: 1,
            per: rate.per.saturating_mul(n),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_rest_core::operation::Operation;

    #[test]
    fn keys_and_shares() {
        assert_eq!(
            bucket_key(RateScope::MediaPushApi(Operation::PushGet), None).as_deref(),
            Some("push:api:push.get")
        );
        assert_eq!(
            bucket_key(RateScope::MediaPushConverterUpdate, Some("c1")).as_deref(),
            Some("push:update:c1")
        );
        assert_eq!(bucket_key(RateScope::MediaPushConverterUpdate, None), None);
        let third = share_of(Rate::per_second(50), 3);
        assert_eq!(third.interval(), Duration::from_secs(1) / 15);
        assert_eq!(
            share_of(Rate::per_second(50), 0).interval(),
            Duration::from_millis(20)
        );
        // Whatever their phases, the replicas' calls in any one window (closed: both ends
        // counted) never add up above the rate.
        for requests in [2, 3, 10, 49, 50, 51, 100, 500] {
            for replicas in 2..=12 {
                let rate = Rate::per_second(requests);
                let share = share_of(rate, replicas);
                let i = share.interval().as_nanos();
                let per_window = rate.per.as_nanos() / i + 1;
                assert!(
                    per_window * u128::from(replicas) <= u128::from(requests)
                        || share.per > rate.per,
                    "{requests}/s over {replicas}: {per_window} each"
                );
            }
        }
    }
}
