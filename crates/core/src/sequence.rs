//! Update sequence numbers: an allocator for clients and a "highest wins" acceptor for servers.
//!
//! Exists because both services apply the update with the highest sequence number and the docs
//! are SILENT on what a repeated or lower one gets (docs/vendor-rules.md: `sequence`, `sequenceId`).
//! A client must therefore never send a number twice or go backwards, even when several tasks
//! update the same resource at once, and must be able to resume after a restart from a value it
//! persisted. [`SequenceAllocator`] does that lock-free; [`HighestWins`] is the server side.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// The largest `sequence` / `sequenceId` accepted: 2^53 − 1, the largest integer every JSON
/// reader holds exactly. Our choice (the docs give no maximum): it leaves room for sequences
/// that start from a Unix-millisecond floor, and stops a single huge value from making a
/// resource un-updatable for ever (every later update must be higher).
pub const MAX_SEQUENCE: u64 = (1 << 53) - 1;

/// Hands out strictly increasing sequence numbers for one resource, from any number of threads.
///
/// The first number is 0 (the docs recommend 0, 1, 2, …) unless resumed. It never wraps: at
/// `u64::MAX` it refuses with [`Error::SequenceExhausted`].
#[derive(Debug)]
pub struct SequenceAllocator {
    field: &'static str,
    /// The next number to hand out; `u64::MAX` with `exhausted` means none is left.
    next: AtomicU64,
}

impl SequenceAllocator {
    /// An allocator for the Media Push `sequence` query parameter, starting at 0.
    pub fn media_push() -> Self {
        SequenceAllocator {
            field: "sequence",
            next: AtomicU64::new(0),
        }
    }

    /// An allocator for the Cloud Transcoding `sequenceId` query parameter, starting at 0.
    pub fn cloud_transcoding() -> Self {
        SequenceAllocator {
            field: "sequenceId",
            next: AtomicU64::new(0),
        }
    }

    /// Continues after `last`, a number already used (e.g. persisted before a restart, or read
    /// from a task's `sequenceId`).
    pub fn resume_after(self, last: u64) -> Self {
        self.observe(last);
        self
    }

    /// Hands out the next number.
    pub fn allocate(&self) -> Result<u64, Error> {
        self.next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1))
            .map_err(|_| Error::SequenceExhausted {
                field: self.field,
                last: u64::MAX - 1,
            })
    }

    /// Makes sure later numbers are above `seen` (a number used elsewhere, e.g. by another
    /// process). Never moves backwards.
    pub fn observe(&self, seen: u64) {
        self.next
            .fetch_max(seen.saturating_add(1), Ordering::AcqRel);
    }

    /// The number the next [`allocate`](Self::allocate) will return.
    pub fn peek(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    /// The last number handed out or observed, if any.
    pub fn last(&self) -> Option<u64> {
        self.peek().checked_sub(1)
    }
}

/// What [`HighestWins`] says about an incoming sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceVerdict {
    /// Higher than any seen: apply it.
    Accepted,
    /// Equal to the highest seen: a resend of the last applied update.
    Repeated,
    /// Lower than the highest seen: an older update that lost the race.
    Stale {
        /// The highest number seen so far.
        highest: u64,
    },
}

/// The server side of sequencing: remembers the highest number applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HighestWins {
    highest: Option<u64>,
}

impl HighestWins {
    /// Nothing applied yet.
    pub const fn new() -> Self {
        HighestWins { highest: None }
    }

    /// Judges `sequence` and remembers it when it is the new highest.
    pub fn offer(&mut self, sequence: u64) -> SequenceVerdict {
        match self.highest {
            Some(h) if sequence < h => SequenceVerdict::Stale { highest: h },
            Some(h) if sequence == h => SequenceVerdict::Repeated,
            _ => {
                self.highest = Some(sequence);
                SequenceVerdict::Accepted
            }
        }
    }

    /// The highest number applied.
    pub const fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn starts_at_zero_and_resumes() {
        let a = SequenceAllocator::media_push();
        assert_eq!(a.last(), None);
        assert_eq!(a.allocate().unwrap(), 0);
        assert_eq!(a.allocate().unwrap(), 1);
        let b = SequenceAllocator::cloud_transcoding().resume_after(41);
        assert_eq!(b.allocate().unwrap(), 42);
        b.observe(10);
        assert_eq!(b.allocate().unwrap(), 43);
        assert_eq!(b.last(), Some(43));
    }

    #[test]
    fn never_wraps() {
        let a = SequenceAllocator::media_push().resume_after(u64::MAX - 2);
        assert_eq!(a.allocate().unwrap(), u64::MAX - 1);
        let e = a.allocate().unwrap_err();
        assert_eq!(e.field(), Some("sequence"));
        assert!(a.allocate().is_err());
    }

    #[test]
    fn highest_wins() {
        let mut h = HighestWins::new();
        assert_eq!(h.offer(3), SequenceVerdict::Accepted);
        assert_eq!(h.offer(3), SequenceVerdict::Repeated);
        assert_eq!(h.offer(2), SequenceVerdict::Stale { highest: 3 });
        assert_eq!(h.offer(9), SequenceVerdict::Accepted);
        assert_eq!(h.highest(), Some(9));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn allocations_never_repeat_across_threads(
            threads in 2usize..6,
            per_thread in 1usize..300,
            start in proptest::option::of(0u64..1_000_000),
            observe in proptest::collection::vec(0u64..1_001_000, 0..5),
        ) {
            let mut a = SequenceAllocator::media_push();
            if let Some(s) = start { a = a.resume_after(s); }
            let a = Arc::new(a);
            let handles: Vec<_> = (0..threads).map(|i| {
                let a = Arc::clone(&a);
                let observe = observe.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::with_capacity(per_thread);
                    for k in 0..per_thread {
                        if k == per_thread / 2 && i < observe.len() { a.observe(observe[i]); }
                        got.push(a.allocate().unwrap());
                    }
                    got
                })
            }).collect();
            let mut all = HashSet::new();
            for h in handles {
                let got = h.join().unwrap();
                // Each thread sees a strictly increasing series.
                prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
                for g in got {
                    prop_assert!(all.insert(g), "{} handed out twice", g);
                    if let Some(s) = start { prop_assert!(g > s); }
                }
            }
            prop_assert_eq!(all.len(), threads * per_thread);
        }

        #[test]
        fn acceptor_matches_oracle(offers in proptest::collection::vec(0u64..20, 0..40)) {
            let mut h = HighestWins::new();
            let mut max: Option<u64> = None;
            for s in offers {
                let expected = match max {
                    None => SequenceVerdict::Accepted,
                    Some(m) if s > m => SequenceVerdict::Accepted,
                    Some(m) if s == m => SequenceVerdict::Repeated,
                    Some(m) => SequenceVerdict::Stale { highest: m },
                };
                prop_assert_eq!(h.offer(s), expected);
                max = Some(max.map_or(s, |m| m.max(s)));
                prop_assert_eq!(h.highest(), max);
            }
        }
    }
}
