//! The controller's stores: what is declared, what was learnt, and who acts on what.
//!
//! Exists because a controller must resume without its predecessor (a restart on every
//! deploy) and act as one with its peers (several replicas): nothing that matters may live only
//! in one process's memory. Three traits, each with an in-memory default for a single process;
//! `agora-rest-redis` implements them on Redis.
//!
//! - [`DesiredStore`]: the specs the application applied, each with a generation that rises on
//!   every change.
//! - [`StatusStore`]: per resource, what a process needs to carry on: the resource id, region,
//!   last sequence, UID in use, what was last observed, and the controller's short history.
//! - [`LeaseStore`]: per-resource ownership with a fencing token. The in-memory store always
//!   grants (one process owns everything).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The stores a controller keeps its state in (in memory by default).
#[derive(Debug, Clone)]
pub struct Stores {
    /// Declared specs.
    pub desired: std::sync::Arc<dyn DesiredStore>,
    /// What was learnt per resource.
    pub status: std::sync::Arc<dyn StatusStore>,
    /// Who acts on which resource.
    pub leases: std::sync::Arc<dyn LeaseStore>,
}

impl Default for Stores {
    fn default() -> Self {
        Stores {
            desired: std::sync::Arc::new(InMemoryDesiredStore::new()),
            status: std::sync::Arc::new(InMemoryStatusStore::new()),
            leases: std::sync::Arc::new(InMemoryLeaseStore::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A declared spec and its generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredEntry {
    /// Rises by one on every change of the spec (an unchanged re-apply keeps it).
    pub generation: u64,
    /// The spec as compact JSON text (a converter spec, or a task spec). Text, not a parsed
    /// tree: a `serde_json::Value` of a converter costs kilobytes of map nodes per key, the
    /// text a few hundred bytes, and a shared store (Redis) holds text anyway.
    pub spec: Box<str>,
}

/// The specs the application declared, by key (converter name or task instance id).
#[async_trait::async_trait]
pub trait DesiredStore: Send + Sync + Debug {
    /// Stores `spec` (JSON text, compact and with sorted keys, so equal specs are equal
    /// strings) under `key`; returns its generation (unchanged when the spec is).
    async fn apply(&self, key: &str, spec: &str) -> Result<u64, Error>;
    /// Removes `key`; `true` if it was there.
    async fn remove(&self, key: &str) -> Result<bool, Error>;
    /// The entry of `key`.
    async fn get(&self, key: &str) -> Result<Option<DesiredEntry>, Error>;
    /// Every key, sorted.
    async fn keys(&self) -> Result<Vec<String>, Error>;
}

/// In-memory [`DesiredStore`].
#[derive(Debug, Default)]
pub struct InMemoryDesiredStore {
    entries: Mutex<BTreeMap<String, DesiredEntry>>,
}

impl InMemoryDesiredStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl DesiredStore for InMemoryDesiredStore {
    async fn apply(&self, key: &str, spec: &str) -> Result<u64, Error> {
        let mut entries = lock(&self.entries);
        match entries.get_mut(key) {
            Some(e) if *e.spec == *spec => Ok(e.generation),
            Some(e) => {
                e.generation = e.generation.saturating_add(1);
                e.spec = spec.into();
                Ok(e.generation)
            }
            None => {
                entries.insert(
                    key.to_string(),
                    DesiredEntry {
                        generation: 1,
                        spec: spec.into(),
                    },
                );
                Ok(1)
            }
        }
    }

    async fn remove(&self, key: &str) -> Result<bool, Error> {
        Ok(lock(&self.entries).remove(key).is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<DesiredEntry>, Error> {
        Ok(lock(&self.entries).get(key).cloned())
    }

    async fn keys(&self) -> Result<Vec<String>, Error> {
        Ok(lock(&self.entries).keys().cloned().collect())
    }
}

/// What was last observed of a resource, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObservedState {
    /// Not looked up yet.
    #[default]
    Unknown,
    /// Looked up: not there.
    Absent,
    /// Runs and answers.
    Healthy,
    /// Some errors in a row.
    Degraded,
    /// In the HA migration window.
    Migrating,
    /// Failed (to be re-created).
    Failed,
    /// Ended by idle timeout.
    EndedIdle,
    /// Ended otherwise.
    Ended,
    /// Refused for good.
    Refused,
}

impl ObservedState {
    /// The state's name, as stored and as the `agora_rest_resources` gauge labels it.
    pub fn as_str(self) -> &'static str {
        match self {
            ObservedState::Unknown => "unknown",
            ObservedState::Absent => "absent",
            ObservedState::Healthy => "healthy",
            ObservedState::Degraded => "degraded",
            ObservedState::Migrating => "migrating",
            ObservedState::Failed => "failed",
            ObservedState::EndedIdle => "ended_idle",
            ObservedState::Ended => "ended",
            ObservedState::Refused => "refused",
        }
    }
}

/// What a process needs to carry on with one resource without its predecessor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResourceStatus {
    /// The converter id or task id, once known.
    pub resource_id: Option<String>,
    /// The region it lives in (Media Push).
    pub region: Option<String>,
    /// The last update sequence sent.
    pub last_sequence: Option<u64>,
    /// The output UID in use (Cloud Transcoding).
    pub uid_in_use: Option<u32>,
    /// UIDs of tasks that may still be in the channel (a restart must not join on them).
    pub uids_maybe_in_channel: Vec<u32>,
    /// What was last observed.
    pub observed: ObservedState,
    /// The spec generation the resource holds.
    pub applied_generation: u64,
    /// Whether a resource was ever created or adopted for this key.
    pub existed: bool,
    /// Failed actions in a row.
    pub failures: u32,
    /// When the last of them failed, Unix milliseconds.
    pub last_failure_unix_ms: u64,
    /// Re-creations in the last hour, Unix milliseconds.
    pub recreations_unix_ms: Vec<u64>,
    /// Why action stopped, when it did.
    pub refusal: Option<agora_rest_core::reconcile::Refusal>,
    /// How many resources this key has had (1 after the first create; each re-create adds
    /// one). A spec with a CDN priority field sends it as `field=incarnation`.
    #[serde(default)]
    pub incarnation: u64,
}

impl ResourceStatus {
    /// The controller's history for core's decision, with a re-creation cap of `cap` per hour.
    /// Times are Unix milliseconds as durations.
    pub fn history(&self, cap: u32) -> agora_rest_core::reconcile::History {
        agora_rest_core::reconcile::History {
            existed: self.existed,
            failures: self.failures,
            last_failure_at: Duration::from_millis(self.last_failure_unix_ms),
            recreations: agora_rest_core::reconcile::RecreateBudget::from_times(
                cap,
                self.recreations_unix_ms
                    .iter()
                    .map(|ms| Duration::from_millis(*ms))
                    .collect(),
            ),
        }
    }

    /// Records a re-creation at `now_unix_ms`, keeping at most `cap` times.
    pub fn record_recreation(&mut self, now_unix_ms: u64, cap: u32) {
        self.recreations_unix_ms.push(now_unix_ms);
        let keep = usize::try_from(cap.max(1)).unwrap_or(1);
        let len = self.recreations_unix_ms.len();
        if len > keep {
            self.recreations_unix_ms.drain(..len - keep);
        }
    }

    /// Records a failed action at `now_unix_ms`.
    pub fn record_failure(&mut self, now_unix_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure_unix_ms = now_unix_ms;
    }
}

/// Per-resource status, by key.
#[async_trait::async_trait]
pub trait StatusStore: Send + Sync + Debug {
    /// The status of `key`.
    async fn get(&self, key: &str) -> Result<Option<ResourceStatus>, Error>;
    /// Replaces the status of `key`.
    async fn put(&self, key: &str, status: &ResourceStatus) -> Result<(), Error>;
    /// Replaces the status of `key` only while `lease` is the current grant of that key;
    /// `Ok(false)`, nothing written, when it is not: a replica that lost its lease cannot
    /// overwrite its successor's status. (The default, for stores without leases of their
    /// own, writes unconditionally.)
    async fn put_fenced(
        &self,
        key: &str,
        status: &ResourceStatus,
        lease: &Lease,
    ) -> Result<bool, Error> {
        let _ = lease;
        self.put(key, status).await.map(|()| true)
    }
    /// Forgets `key`.
    async fn remove(&self, key: &str) -> Result<(), Error>;
}

/// In-memory [`StatusStore`].
#[derive(Debug, Default)]
pub struct InMemoryStatusStore {
    entries: Mutex<HashMap<String, ResourceStatus>>,
}

impl InMemoryStatusStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl StatusStore for InMemoryStatusStore {
    async fn get(&self, key: &str) -> Result<Option<ResourceStatus>, Error> {
        Ok(lock(&self.entries).get(key).cloned())
    }

    async fn put(&self, key: &str, status: &ResourceStatus) -> Result<(), Error> {
        lock(&self.entries).insert(key.to_string(), status.clone());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), Error> {
        lock(&self.entries).remove(key);
        Ok(())
    }
}

/// A held lease on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The resource key.
    pub key: String,
    /// Who holds it.
    pub holder: String,
    /// Rises with every new grant of this key: a write carrying an older token is stale.
    pub fencing_token: u64,
    /// How long the grant lasts from when it was made or renewed.
    pub ttl: Duration,
}

/// Per-resource ownership: exactly one replica acts on a resource at a time.
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync + Debug {
    /// Takes the lease of `key` for `holder` if nobody holds it (or `holder` does).
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration)
    -> Result<Option<Lease>, Error>;
    /// Extends a held lease; `false` when it was lost (expired and taken, or released).
    async fn renew(&self, lease: &Lease) -> Result<bool, Error>;
    /// Gives the lease up.
    async fn release(&self, lease: &Lease) -> Result<(), Error>;
}

/// In-memory [`LeaseStore`]: one process owns everything, so every acquire is granted.
#[derive(Debug, Default)]
pub struct InMemoryLeaseStore {
    tokens: Mutex<HashMap<String, u64>>,
}

impl InMemoryLeaseStore {
    /// A store that grants every lease.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl LeaseStore for InMemoryLeaseStore {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, Error> {
        let mut tokens = lock(&self.tokens);
        let token = tokens.entry(key.to_string()).or_insert(0);
        *token += 1;
        Ok(Some(Lease {
            key: key.to_string(),
            holder: holder.to_string(),
            fencing_token: *token,
            ttl,
        }))
    }

    async fn renew(&self, _lease: &Lease) -> Result<bool, Error> {
        Ok(true)
    }

    async fn release(&self, _lease: &Lease) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn generations_rise_only_on_change() {
        let s = InMemoryDesiredStore::new();
        let a = r#"{"rtmpUrl":"rtmp://a"}"#;
        let b = r#"{"rtmpUrl":"rtmp://b"}"#;
        assert_eq!(s.apply("k", a).await.unwrap(), 1);
        assert_eq!(
            s.apply("k", a).await.unwrap(),
            1,
            "an unchanged re-apply keeps it"
        );
        assert_eq!(s.apply("k", b).await.unwrap(), 2);
        assert_eq!(&*s.get("k").await.unwrap().unwrap().spec, b);
        assert_eq!(s.keys().await.unwrap(), ["k"]);
        assert!(s.remove("k").await.unwrap());
        assert!(s.get("k").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn statuses_round_trip_and_leases_always_grant_with_rising_tokens() {
        let s = InMemoryStatusStore::new();
        let st = ResourceStatus {
            resource_id: Some("c1".into()),
            last_sequence: Some(7),
            observed: ObservedState::Healthy,
            ..ResourceStatus::default()
        };
        s.put("k", &st).await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(st.clone()));
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(serde_json::from_str::<ResourceStatus>(&json).unwrap(), st);
        let l = InMemoryLeaseStore::new();
        let a = l
            .acquire("k", "a", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        let b = l
            .acquire("k", "b", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert!(b.fencing_token > a.fencing_token);
        assert!(l.renew(&a).await.unwrap());
    }
}
