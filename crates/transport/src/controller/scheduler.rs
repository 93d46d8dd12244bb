//! Which converter to look at next: one entry per key, the earliest due time wins.
//!
//! kube-runtime's scheduler, reduced to what one process needs: requests for a key that is
//! already queued merge into one (deduplicated per object), so a flood of notices for one
//! converter is one reconcile, and a notice never moves another converter's poll. Memory is one
//! entry per declared key.

use std::collections::{BTreeSet, HashMap};

use tokio::time::Instant;

/// Due times per key.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    due: HashMap<String, (Instant, u64)>,
    order: BTreeSet<(Instant, u64, String)>,
    seq: u64,
}

impl Scheduler {
    /// Asks for `key` at `at`; an earlier request already queued wins.
    pub(crate) fn schedule(&mut self, key: &str, at: Instant) {
        if let Some((t, seq)) = self.due.get(key).copied() {
            if t <= at {
                return;
            }
            self.order.remove(&(t, seq, key.to_string()));
        }
        self.seq += 1;
        self.due.insert(key.to_string(), (at, self.seq));
        self.order.insert((at, self.seq, key.to_string()));
    }

    /// Drops any request for `key`.
    #[cfg(test)]
    pub(crate) fn cancel(&mut self, key: &str) {
        if let Some((t, seq)) = self.due.remove(key) {
            self.order.remove(&(t, seq, key.to_string()));
        }
    }

    /// The earliest due time, if any.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.order.first().map(|(t, _, _)| *t)
    }

    /// Takes the keys due at `now`, at most `max` of them, earliest first.
    pub(crate) fn take_due(&mut self, now: Instant, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((t, _, _)) = self.order.first() else {
                break;
            };
            if *t > now {
                break;
            }
            let Some((_, _, key)) = self.order.pop_first() else {
                break;
            };
            self.due.remove(&key);
            out.push(key);
        }
        out
    }

    /// How many keys are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_earliest_request_per_key_wins_and_keys_do_not_move_each_other() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut s = Scheduler::default();
        s.schedule("a", at(120));
        s.schedule("b", at(60));
        s.schedule("a", at(5));
        s.schedule("a", at(300));
        assert_eq!(s.len(), 2);
        assert_eq!(s.next_due(), Some(at(5)));
        assert_eq!(s.take_due(at(10), 10), ["a"]);
        assert_eq!(s.take_due(at(59), 10), Vec::<String>::new());
        assert_eq!(s.take_due(at(60), 10), ["b"]);
        s.schedule("c", at(1));
        s.cancel("c");
        assert_eq!(s.len(), 0);
    }
}
