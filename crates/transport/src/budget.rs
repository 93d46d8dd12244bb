//! The client's retry budget: core's [`RetryQuota`] behind a lock, shared by the retry and
//! failover layers.
//!
//! Why not a bare `Mutex<RetryQuota>`: every first-try success rewards the bucket, and the
//! bucket is full nearly always. A flag read first skips the lock in that case, so calls on
//! different threads do not contend for it on every success.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use agora_rest_core::retry_quota::{RetryCause, RetryPermit, RetryQuota};

/// A shared retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    quota: Mutex<RetryQuota>,
    /// Whether the bucket was full when last changed (a hint: a stale read at worst skips
    /// one reward or takes the lock once for nothing).
    full: AtomicBool,
}

impl RetryBudget {
    /// A budget over `quota`.
    pub fn new(quota: RetryQuota) -> Self {
        RetryBudget {
            full: AtomicBool::new(quota.is_full()),
            quota: Mutex::new(quota),
        }
    }

    fn update<T>(&self, f: impl FnOnce(&mut RetryQuota) -> T) -> T {
        let mut quota: MutexGuard<'_, RetryQuota> =
            self.quota.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut quota);
        self.full.store(quota.is_full(), Ordering::Relaxed);
        crate::metrics::retry_budget(quota.available());
        out
    }

    /// Takes the tokens for one retry after `cause`, or `None`: do not retry.
    pub fn try_acquire(&self, cause: RetryCause) -> Option<RetryPermit> {
        self.update(|q| q.try_acquire(cause))
    }

    /// Gives back the tokens of retries that succeeded.
    pub fn refund(&self, permits: impl IntoIterator<Item = RetryPermit>) {
        self.update(|q| permits.into_iter().for_each(|p| q.refund(p)));
    }

    /// Rewards a first-try success; free while the bucket is full.
    pub fn reward(&self) {
        if !self.full.load(Ordering::Relaxed) {
            self.update(RetryQuota::reward);
        }
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        self.update(|q| q.available())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_refill_after_retries_and_the_flag_follows() {
        let budget = RetryBudget::new(RetryQuota::new(20));
        let permit = budget.try_acquire(RetryCause::Transport);
        assert!(permit.is_some());
        assert_eq!(budget.available(), 10);
        assert!(!budget.full.load(Ordering::Relaxed));
        for _ in 0..9 {
            budget.reward();
        }
        assert_eq!(budget.available(), 19);
        budget.reward();
        assert_eq!(budget.available(), 20);
        assert!(budget.full.load(Ordering::Relaxed));
        budget.reward();
        assert_eq!(budget.available(), 20);
        budget.refund(permit);
        assert_eq!(budget.available(), 20);
    }
}
