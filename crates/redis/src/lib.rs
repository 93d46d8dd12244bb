//! Shared state on Redis, so that N replicas of a backend act as one Agora client.
//!
//! The vendor's limits are per project and per account (50 requests/s per Media Push API,
//! 10/s per Cloud Transcoding account, concurrent streams per region and tier), and backends run
//! several replicas. This crate implements the transport's shared traits on Redis (via
//! redis-rs, a connection manager that reconnects, scripts run by `EVALSHA`):
//!
//! - [`RedisRateLimiter`]: GCRA in one Lua script, timed by Redis's own `TIME` so replica
//!   clocks cannot skew it; it returns the wait and the transport sleeps for it.
//! - [`RedisSequenceStore`]: `next` and `observe` are atomic; `observe` raises, never lowers.
//! - [`RedisLedgerStore`]: stream counts per area and tier; an admission is decided by core's
//!   quota rules and committed by one compare-and-set script.
//! - [`RedisDesiredStore`], [`RedisStatusStore`], [`RedisLeaseStore`]: the controller's stores.
//!   Leases are `SET NX PX`, renewed only by their holder, and carry a fencing token; a status
//!   write is refused when the writer's lease is no longer current.
//!
//! Every key of one project carries the same hash tag (`{agora:APP_ID}`), so the crate works
//! unchanged on Redis Cluster: all of a project's keys live in one slot, and the scripts may
//! touch several of them.
//!
//! When Redis cannot be reached, every call returns `agora_rest_transport::Error::Store` within
//! the connection's response timeout; what the caller does then is the caller's policy (the
//! transport's `WhenUnreachable`, the controllers take no action that needs a lease).

mod keys;
mod ledger;
mod limiter;
mod sequence;
mod stores;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use keys::Keys;
pub use ledger::RedisLedgerStore;
pub use limiter::RedisRateLimiter;
pub use sequence::RedisSequenceStore;
pub use stores::{RedisDesiredStore, RedisLeaseStore, RedisStatusStore};

/// How long one Redis command may take before it counts as a failure.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A connection to one Redis for one project: the factory of every store.
///
/// Cheap to clone (the connection manager is shared and reconnects by itself).
#[derive(Clone)]
pub struct RedisShared {
    conn: ConnectionManager,
    keys: Keys,
}

impl std::fmt::Debug for RedisShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisShared")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisShared {
    /// Connects to `url` (`redis://[:password@]host:port[/db]`) for project `app_id`.
    ///
    /// The URL's password never appears in errors or logs.
    pub async fn connect(url: &str, app_id: &str) -> Result<Self, agora_rest_transport::Error> {
        let shown = agora_rest_transport::redact::redact_url(url);
        let client = redis::Client::open(url).map_err(|e| agora_rest_transport::Error::Config {
            field: "redis_url",
            rule: format!("{shown}: {:?}", e.kind()),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(RESPONSE_TIMEOUT)
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT * 3,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| store_error("connect", format!("{shown}: no answer")))?
        .map_err(|e| store_error("connect", format!("{shown}: {:?}", e.kind())))?;
        Ok(RedisShared {
            conn,
            keys: Keys::new(app_id),
        })
    }

    /// The key names used.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The shared rate limiter.
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(self.clone())
    }

    /// A sequence store of `kind` numbers.
    pub fn sequences(&self, kind: agora_rest_transport::store::SequenceKind) -> RedisSequenceStore {
        RedisSequenceStore::new(self.clone(), kind)
    }

    /// A quota ledger enforcing `table` for `service` (`"push"` or `"transcoding"`).
    pub fn ledger(
        &self,
        service: &'static str,
        table: agora_rest_core::quota::QuotaTable,
    ) -> RedisLedgerStore {
        RedisLedgerStore::new(self.clone(), service, table)
    }

    /// The controller's stores for `controller` (e.g. `"push"`, `"transcoding"`), sharing one
    /// lease namespace so that a status write can be fenced by its lease.
    pub fn controller_stores(
        &self,
        controller: &'static str,
    ) -> agora_rest_transport::controller::store::Stores {
        agora_rest_transport::controller::store::Stores {
            desired: std::sync::Arc::new(RedisDesiredStore::new(self.clone(), controller)),
            status: std::sync::Arc::new(RedisStatusStore::new(self.clone(), controller)),
            leases: std::sync::Arc::new(RedisLeaseStore::new(self.clone(), controller)),
        }
    }

    pub(crate) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

pub(crate) fn store_error(
    what: &'static str,
    reason: impl Into<String>,
) -> agora_rest_transport::Error {
    agora_rest_transport::Error::Store {
        what,
        reason: reason.into(),
    }
}

/// A Redis error as a transport store error. redis-rs may include the command's arguments in
/// its text; only the kind and the server's own code are kept.
pub(crate) fn from_redis(what: &'static str, e: &redis::RedisError) -> agora_rest_transport::Error {
    let detail = match e.code() {
        Some(code) => format!("{:?} ({code})", e.kind()),
        None => format!("{:?}", e.kind()),
    };
    store_error(what, detail)
}

/// Awaits one Redis call for at most twice the response timeout, as a store error naming
/// `what` otherwise. redis-rs has its own response timeout; this bound also covers a call
/// waiting on a reconnection, so no caller can wait for ever.
pub(crate) async fn bounded<T>(
    fut: impl std::future::Future<Output = redis::RedisResult<T>>,
    what: &'static str,
) -> Result<T, agora_rest_transport::Error> {
    match tokio::time::timeout(RESPONSE_TIMEOUT * 2, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(from_redis(what, &e)),
        Err(_) => Err(store_error(
            what,
            format!("no answer within {:?}", RESPONSE_TIMEOUT * 2),
        )),
    }
}
