//! Acting under a lease: a reconcile runs only while its lease is held, and stops before the
//! lease could expire when renewals fail.
//!
//! Exists because "exactly one replica acts on a resource" needs more than taking a lease at
//! the start: an action (a start procedure, a create with retries) can outlast the lease's TTL.
//! [`hold`] renews the lease every third of its TTL while the action runs; when a renewal
//! fails (Redis unreachable) or finds the lease taken, the action is dropped (cancelled) before
//! the lease's last known expiry, so a successor never acts at the same time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::store::{Lease, LeaseStore};

/// Why an action was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseLost {
    /// Another holder has the lease now.
    Taken,
    /// Renewals failed and the lease would expire before the next try.
    Unrenewable(String),
}

impl std::fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseLost::Taken => f.write_str("the lease was taken by another replica"),
            LeaseLost::Unrenewable(why) => {
                write!(
                    f,
                    "the lease could not be renewed ({why}); stopped before it expired"
                )
            }
        }
    }
}

/// What a reconcile attempted under a lease came to.
#[derive(Debug)]
pub enum Leased<T> {
    /// The action ran to its end.
    Done(T),
    /// The action was stopped: the lease was lost or could not be renewed.
    Lost(LeaseLost),
    /// Another holder has the lease: nothing was done.
    Elsewhere,
    /// The lease store failed: nothing was done.
    Unavailable(crate::Error),
}

/// Takes (or renews) the lease of `key` for `holder` and runs `action` under it ([`hold`]).
///
/// Both controllers reach it through `ControllerBase::reconcile_leased`: a resource is acted
/// on only by its lease holder, and only while the lease holds.
pub async fn under_lease<F, Fut>(
    leases: &dyn LeaseStore,
    key: &str,
    holder: &str,
    ttl: Duration,
    action: F,
) -> Leased<Fut::Output>
where
    F: FnOnce(Lease) -> Fut,
    Fut: Future,
{
    let granted_at = Instant::now();
    match leases.acquire(key, holder, ttl).await {
        Ok(Some(lease)) => {
            let held = lease.clone();
            match hold(leases, &held, granted_at, action(lease)).await {
                Ok(out) => Leased::Done(out),
                Err(lost) => Leased::Lost(lost),
            }
        }
        Ok(None) => Leased::Elsewhere,
        Err(e) => Leased::Unavailable(e),
    }
}

/// Runs `action` while `lease` (granted at `granted_at`) is held, renewing it every third of
/// its TTL; drops the action and returns why when the lease is lost or cannot be renewed in
/// time.
pub async fn hold<F: Future>(
    leases: &dyn LeaseStore,
    lease: &Lease,
    granted_at: Instant,
    action: F,
) -> Result<F::Output, LeaseLost> {
    let every = (lease.ttl / 3).max(Duration::from_millis(10));
    let mut valid_until = granted_at + lease.ttl;
    let mut last_error = String::new();
    tokio::pin!(action);
    loop {
        let tick = tokio::time::sleep(every);
        tokio::select! {
            out = &mut action => return Ok(out),
            () = tick => {
                let asked = Instant::now();
                match tokio::time::timeout(every, leases.renew(lease)).await {
                    Ok(Ok(true)) => valid_until = asked + lease.ttl,
                    Ok(Ok(false)) => return Err(LeaseLost::Taken),
                    Ok(Err(e)) => last_error = e.to_string(),
                    Err(_) => last_error = format!("no answer within {every:?}"),
                }
                // The next renewal would come too late: stop while the lease still holds.
                if Instant::now() + every >= valid_until {
                    return Err(LeaseLost::Unrenewable(last_error));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Renewals answer by mode: 0 ok, 1 lost, 2 error.
    #[derive(Debug, Default)]
    struct Scripted(AtomicU8);

    #[async_trait::async_trait]
    impl LeaseStore for Scripted {
        async fn acquire(&self, _: &str, _: &str, _: Duration) -> Result<Option<Lease>, Error> {
            Ok(None)
        }
        async fn renew(&self, _: &Lease) -> Result<bool, Error> {
            match self.0.load(Ordering::Relaxed) {
                0 => Ok(true),
                1 => Ok(false),
                _ => Err(Error::Store {
                    what: "lease renew",
                    reason: "down".into(),
                }),
            }
        }
        async fn release(&self, _: &Lease) -> Result<(), Error> {
            Ok(())
        }
    }

    fn lease() -> Lease {
        Lease {
            key: "k".into(),
            holder: "a".into(),
            fencing_token: 1,
            ttl: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_action_is_renewed_and_finishes() {
        let s = Scripted::default();
        let out = hold(&s, &lease(), Instant::now(), async {
            tokio::time::sleep(Duration::from_secs(300)).await;
            7
        })
        .await;
        assert_eq!(out, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_taken_lease_stops_the_action() {
        let s = Scripted(AtomicU8::new(1));
        let t0 = Instant::now();
        let out = hold(
            &s,
            &lease(),
            t0,
            tokio::time::sleep(Duration::from_secs(300)),
        )
        .await;
        assert_eq!(out, Err(LeaseLost::Taken));
        assert!(t0.elapsed() <= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn failing_renewals_stop_before_expiry() {
        let s = Scripted(AtomicU8::new(2));
        let t0 = Instant::now();
        let out = hold(
            &s,
            &lease(),
            t0,
            tokio::time::sleep(Duration::from_secs(300)),
        )
        .await;
        assert!(matches!(out, Err(LeaseLost::Unrenewable(_))), "{out:?}");
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "stopped before the lease expired: {:?}",
            t0.elapsed()
        );
    }
}
