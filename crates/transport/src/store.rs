//! Pluggable state stores for the service crates: sequence numbers and the quota ledger.
//!
//! Exists so that several processes can share state later (a database, Redis) without
//! changing the clients: the traits are async; the in-memory defaults are what a single
//! process needs.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use agora_rest_core::quota::{QuotaLedger, QuotaTable, Tier};
use agora_rest_core::region::Area;
use agora_rest_core::sequence::SequenceAllocator;

use crate::Error;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sequence numbers per resource (a converter id, a task id).
#[async_trait::async_trait]
pub trait SequenceStore: Send + Sync + Debug {
    /// The next number for `resource`, never handed out before.
    async fn next(&self, resource: &str) -> Result<u64, Error>;
    /// Makes later numbers for `resource` exceed `seen` (a value persisted or read elsewhere).
    async fn observe(&self, resource: &str, seen: u64) -> Result<(), Error>;
    /// The last number handed out or observed for `resource`.
    async fn last(&self, resource: &str) -> Result<Option<u64>, Error>;
}

/// Which sequence a store hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceKind {
    /// Media Push `sequence`.
    MediaPush,
    /// Cloud Transcoding `sequenceId`.
    CloudTranscoding,
}

/// In-memory [`SequenceStore`]: one lock-free core allocator per resource.
#[derive(Debug)]
pub struct InMemorySequenceStore {
    kind: SequenceKind,
    allocators: Mutex<HashMap<String, Arc<SequenceAllocator>>>,
}

impl InMemorySequenceStore {
    /// An empty store of `kind` numbers.
    pub fn new(kind: SequenceKind) -> Self {
        InMemorySequenceStore {
            kind,
            allocators: Mutex::new(HashMap::new()),
        }
    }

    fn allocator(&self, resource: &str) -> Arc<SequenceAllocator> {
        let mut map = lock(&self.allocators);
        let kind = self.kind;
        Arc::clone(map.entry(resource.to_string()).or_insert_with(|| {
            Arc::new(match kind {
                SequenceKind::MediaPush => SequenceAllocator::media_push(),
                SequenceKind::CloudTranscoding => SequenceAllocator::cloud_transcoding(),
            })
        }))
    }
}

#[async_trait::async_trait]
impl SequenceStore for InMemorySequenceStore {
    async fn next(&self, resource: &str) -> Result<u64, Error> {
        Ok(self.allocator(resource).allocate()?)
    }

    async fn observe(&self, resource: &str, seen: u64) -> Result<(), Error> {
        self.allocator(resource).observe(seen);
        Ok(())
    }

    async fn last(&self, resource: &str) -> Result<Option<u64>, Error> {
        Ok(self.allocator(resource).last())
    }
}

/// Concurrent streams per area and tier (core's [`QuotaLedger`]).
#[async_trait::async_trait]
pub trait LedgerStore: Send + Sync + Debug {
    /// Counts one more stream if the caps allow it; the broken cap otherwise.
    async fn admit(&self, area: Area, tier: Tier) -> Result<(), Error>;
    /// Forgets one stream.
    async fn release(&self, area: Area, tier: Tier) -> Result<(), Error>;
    /// Counts a stream that already runs (found by List at start-up).
    async fn record_existing(&self, area: Area, tier: Tier) -> Result<(), Error>;
    /// Streams counted now.
    async fn count(&self, area: Area, tier: Tier) -> Result<u32, Error>;
}

/// In-memory [`LedgerStore`].
#[derive(Debug)]
pub struct InMemoryLedgerStore(Mutex<QuotaLedger>);

impl InMemoryLedgerStore {
    /// An empty ledger enforcing `table`.
    pub fn new(table: QuotaTable) -> Self {
        InMemoryLedgerStore(Mutex::new(QuotaLedger::new(table)))
    }
}

#[async_trait::async_trait]
impl LedgerStore for InMemoryLedgerStore {
    async fn admit(&self, area: Area, tier: Tier) -> Result<(), Error> {
        Ok(lock(&self.0).admit(area, tier)?)
    }

    async fn release(&self, area: Area, tier: Tier) -> Result<(), Error> {
        lock(&self.0).release(area, tier);
        Ok(())
    }

    async fn record_existing(&self, area: Area, tier: Tier) -> Result<(), Error> {
        lock(&self.0).record_existing(area, tier);
        Ok(())
    }

    async fn count(&self, area: Area, tier: Tier) -> Result<u32, Error> {
        Ok(lock(&self.0).count(area, tier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_never_share_a_sequence() {
        let store = Arc::new(InMemorySequenceStore::new(SequenceKind::MediaPush));
        store.observe("conv", 9).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..100 {
                        got.push(store.next("conv").await.unwrap());
                    }
                    got
                })
            })
            .collect();
        let mut all = HashSet::new();
        for t in tasks {
            for n in t.await.unwrap() {
                assert!(n >= 10 && all.insert(n), "{n}");
            }
        }
        assert_eq!(all.len(), 800);
        assert_eq!(store.last("conv").await.unwrap(), Some(809));
    }

    #[tokio::test]
    async fn ledger_store_refuses_over_cap() {
        let store = InMemoryLedgerStore::new(QuotaTable::media_push());
        for _ in 0..5 {
            store.admit(Area::Eu, Tier::Hd).await.unwrap();
        }
        assert!(matches!(
            store.admit(Area::Eu, Tier::Hd).await,
            Err(Error::Policy(_))
        ));
        store.release(Area::Eu, Tier::Hd).await.unwrap();
        assert_eq!(store.count(Area::Eu, Tier::Hd).await.unwrap(), 4);
    }
}
