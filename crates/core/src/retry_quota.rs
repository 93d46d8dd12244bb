//! A retry budget: a token bucket that stops retries during a long outage.
//!
//! Exists because the vendor's schedules say *how* to retry one call, not how many calls may
//! retry at once: during an outage, thousands of calls each retrying three times turn into a
//! retry storm that the guide's QPS limits then punish with 429s. Like smithy-rs's standard
//! retry strategy, each retry takes tokens from a shared bucket; a successful retry gives them
//! back and a first-try success adds one. When the bucket is empty, calls fail fast with their
//! last error. The numbers are smithy-rs's defaults, not the vendor's (the vendor is SILENT).

/// Tokens in a full bucket (smithy-rs `DEFAULT_CAPACITY`).
pub const RETRY_QUOTA_CAPACITY: u32 = 500;
/// Tokens a retry after a server error or throttling costs (smithy-rs `RETRY_COST`).
pub const RETRY_COST: u32 = 5;
/// Tokens a retry after a timeout or network error costs (smithy-rs `RETRY_TIMEOUT_COST`).
pub const TIMEOUT_RETRY_COST: u32 = 10;
/// Tokens a first-try success adds back (smithy-rs `PERMIT_REGENERATION_AMOUNT`).
pub const SUCCESS_REWARD: u32 = 1;

/// What kind of failure a retry follows; picks its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryCause {
    /// A status the classifier said to retry (404, 429, 5xx, 206, code 65).
    Status,
    /// A timeout, connection or DNS failure.
    Transport,
}

impl RetryCause {
    /// The token cost of a retry after this cause.
    pub const fn cost(self) -> u32 {
        match self {
            RetryCause::Status => RETRY_COST,
            RetryCause::Transport => TIMEOUT_RETRY_COST,
        }
    }
}

/// Tokens taken for one retry; give them back with [`RetryQuota::refund`] when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a permit's tokens are lost unless refunded after a successful retry"]
pub struct RetryPermit {
    cost: u32,
}

impl RetryPermit {
    /// How many tokens the permit holds.
    pub const fn cost(&self) -> u32 {
        self.cost
    }
}

/// The bucket. Shared per client (the transport wraps it in a lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryQuota {
    capacity: u32,
    available: u32,
}

impl Default for RetryQuota {
    fn default() -> Self {
        RetryQuota::new(RETRY_QUOTA_CAPACITY)
    }
}

impl RetryQuota {
    /// A full bucket of `capacity` tokens.
    pub const fn new(capacity: u32) -> Self {
        RetryQuota {
            capacity,
            available: capacity,
        }
    }

    /// A bucket that never runs out (retries limited by their schedules only).
    pub const fn unlimited() -> Self {
        RetryQuota::new(u32::MAX)
    }

    /// Tokens left.
    pub const fn available(&self) -> u32 {
        self.available
    }

    /// Whether the bucket holds all its tokens (a reward would change nothing).
    pub const fn is_full(&self) -> bool {
        self.available >= self.capacity
    }

    /// Takes the tokens for one retry after `cause`, or `None` when the bucket cannot pay:
    /// then do not retry. A refusal leaves the bucket unchanged.
    pub fn try_acquire(&mut self, cause: RetryCause) -> Option<RetryPermit> {
        let cost = cause.cost();
        let left = self.available.checked_sub(cost)?;
        self.available = left;
        Some(RetryPermit { cost })
    }

    /// Returns a permit's tokens after the retry it paid for succeeded.
    pub fn refund(&mut self, permit: RetryPermit) {
        self.available = self
            .available
            .saturating_add(permit.cost)
            .min(self.capacity);
    }

    /// Adds [`SUCCESS_REWARD`] after a call that succeeded on its first attempt.
    pub fn reward(&mut self) {
        self.available = self
            .available
            .saturating_add(SUCCESS_REWARD)
            .min(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_outage_exhausts_the_bucket() {
        let mut q = RetryQuota::default();
        let retries = std::iter::from_fn(|| q.try_acquire(RetryCause::Status)).count();
        assert_eq!(retries, 100);
        assert_eq!(q.try_acquire(RetryCause::Transport), None);
        q.reward();
        assert_eq!(q.available(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Acquire(RetryCause),
        RefundLast,
        Reward,
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Acquire(RetryCause::Status)),
            Just(Op::Acquire(RetryCause::Transport)),
            Just(Op::RefundLast),
            Just(Op::Reward),
        ]
    }

    proptest! {
        #[test]
        fn bucket_matches_oracle(capacity in 0u32..60, ops in proptest::collection::vec(arb_op(), 0..100)) {
            let mut q = RetryQuota::new(capacity);
            let mut level = i64::from(capacity); // oracle
            let mut held: Vec<RetryPermit> = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire(cause) => {
                        let cost = i64::from(cause.cost());
                        let got = q.try_acquire(cause);
                        prop_assert_eq!(got.is_some(), level >= cost);
                        if let Some(p) = got { level -= cost; held.push(p); }
                    }
                    Op::RefundLast => if let Some(p) = held.pop() {
                        level = (level + i64::from(p.cost())).min(i64::from(capacity));
                        q.refund(p);
                    },
                    Op::Reward => {
                        level = (level + 1).min(i64::from(capacity));
                        q.reward();
                    }
                }
                prop_assert_eq!(i64::from(q.available()), level);
                prop_assert!(q.available() <= capacity);
                prop_assert_eq!(q.is_full(), level == i64::from(capacity));
            }
        }
    }
}
