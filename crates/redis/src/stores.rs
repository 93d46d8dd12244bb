//! The controller's stores on Redis: declared specs, statuses, and leases with fencing tokens.

use std::time::Duration;

use agora_rest_transport::Error;
use agora_rest_transport::controller::store::{
    DesiredEntry, DesiredStore, Lease, LeaseStore, ResourceStatus, StatusStore,
};
use redis::Script;

use crate::{RedisShared, store_error};

/// Stores a spec under ARGV[1] unless it is unchanged; returns the generation. Generations
/// live in a second hash and are never deleted, so a key removed and declared again never
/// repeats a generation a status may still hold.
const APPLY: &str = r"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == ARGV[2] then
  return tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '1')
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
";

/// Grants the lease KEYS[1] to ARGV[1] for ARGV[2] ms if it is free (a new fencing token from
/// the counters KEYS[2], field ARGV[3]), or renews it if ARGV[1] holds it; -1 when another
/// holder does.
const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder, tok = string.match(cur, '^(.*)|(%d+)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(tok)
  end
  return -1
end
local tok = redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. tok, 'PX', ARGV[2])
return tok
";

/// Extends the lease KEYS[1] by ARGV[2] ms if it is still ARGV[1] (holder|token).
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Deletes the lease KEYS[1] if it is still ARGV[1] (holder|token).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Writes status ARGV[2] under ARGV[1] in KEYS[1] only while the lease KEYS[2] carries the
/// fencing token ARGV[3].
const PUT_FENCED: &str = r"
local cur = redis.call('GET', KEYS[2])
if not cur then return 0 end
local tok = string.match(cur, '|(%d+)$')
if tok ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// Declared specs on Redis (a hash of JSON texts, and one of generations).
#[derive(Debug, Clone)]
pub struct RedisDesiredStore {
    shared: RedisShared,
    controller: &'static str,
    apply: Script,
}

impl RedisDesiredStore {
    pub(crate) fn new(shared: RedisShared, controller: &'static str) -> Self {
        RedisDesiredStore {
            shared,
            controller,
            apply: Script::new(APPLY),
        }
    }

    fn specs(&self) -> String {
        self.shared.keys.desired(self.controller)
    }

    fn generations(&self) -> String {
        format!("{}:gen", self.specs())
    }
}

#[async_trait::async_trait]
impl DesiredStore for RedisDesiredStore {
    async fn apply(&self, key: &str, spec: &str) -> Result<u64, Error> {
        let mut conn = self.shared.conn();
        crate::bounded(
            self.apply
                .key(self.specs())
                .key(self.generations())
                .arg(key)
                .arg(spec)
                .invoke_async(&mut conn),
            "desired apply",
        )
        .await
    }

    async fn remove(&self, key: &str) -> Result<bool, Error> {
        let mut conn = self.shared.conn();
        let n: i64 = crate::bounded(
            redis::cmd("HDEL")
                .arg(self.specs())
                .arg(key)
                .query_async(&mut conn),
            "desired remove",
        )
        .await?;
        Ok(n > 0)
    }

    async fn get(&self, key: &str) -> Result<Option<DesiredEntry>, Error> {
        let mut conn = self.shared.conn();
        let (spec, generation): (Option<String>, Option<u64>) = crate::bounded(
            redis::pipe()
                .cmd("HGET")
                .arg(self.specs())
                .arg(key)
                .cmd("HGET")
                .arg(self.generations())
                .arg(key)
                .query_async(&mut conn),
            "desired get",
        )
        .await?;
        Ok(spec.map(|spec| DesiredEntry {
            generation: generation.unwrap_or(1),
            spec: spec.into_boxed_str(),
        }))
    }

    async fn keys(&self) -> Result<Vec<String>, Error> {
        let mut conn = self.shared.conn();
        let mut keys: Vec<String> = crate::bounded(
            redis::cmd("HKEYS").arg(self.specs()).query_async(&mut conn),
            "desired keys",
        )
        .await?;
        keys.sort();
        Ok(keys)
    }
}

/// Statuses on Redis (a hash of JSON texts), written under the writer's lease.
#[derive(Debug, Clone)]
pub struct RedisStatusStore {
    shared: RedisShared,
    controller: &'static str,
    put_fenced: Script,
}

impl RedisStatusStore {
    pub(crate) fn new(shared: RedisShared, controller: &'static str) -> Self {
        RedisStatusStore {
            shared,
            controller,
            put_fenced: Script::new(PUT_FENCED),
        }
    }

    fn hash(&self) -> String {
        self.shared.keys.status(self.controller)
    }
}

fn to_json(status: &ResourceStatus) -> Result<String, Error> {
    serde_json::to_string(status).map_err(|e| store_error("status encode", e.to_string()))
}

#[async_trait::async_trait]
impl StatusStore for RedisStatusStore {
    async fn get(&self, key: &str) -> Result<Option<ResourceStatus>, Error> {
        let mut conn = self.shared.conn();
        let text: Option<String> = crate::bounded(
            redis::cmd("HGET")
                .arg(self.hash())
                .arg(key)
                .query_async(&mut conn),
            "status get",
        )
        .await?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| store_error("status decode", e.to_string()))
        })
        .transpose()
    }

    async fn put(&self, key: &str, status: &ResourceStatus) -> Result<(), Error> {
        let mut conn = self.shared.conn();
        let _: i64 = crate::bounded(
            redis::cmd("HSET")
                .arg(self.hash())
                .arg(key)
                .arg(to_json(status)?)
                .query_async(&mut conn),
            "status put",
        )
        .await?;
        Ok(())
    }

    async fn put_fenced(
        &self,
        key: &str,
        status: &ResourceStatus,
        lease: &Lease,
    ) -> Result<bool, Error> {
        let mut conn = self.shared.conn();
        let done: i64 = crate::bounded(
            self.put_fenced
                .key(self.hash())
                .key(self.shared.keys.lease(self.controller, key))
                .arg(key)
                .arg(to_json(status)?)
                .arg(lease.fencing_token)
                .invoke_async(&mut conn),
            "status put",
        )
        .await?;
        Ok(done == 1)
    }

    async fn remove(&self, key: &str) -> Result<(), Error> {
        let mut conn = self.shared.conn();
        let _: i64 = crate::bounded(
            redis::cmd("HDEL")
                .arg(self.hash())
                .arg(key)
                .query_async(&mut conn),
            "status remove",
        )
        .await?;
        Ok(())
    }
}

/// Leases on Redis: `SET NX PX` in effect (one script also hands out the fencing token),
/// renewed and released only by their holder.
#[derive(Debug, Clone)]
pub struct RedisLeaseStore {
    shared: RedisShared,
    controller: &'static str,
    acquire: Script,
    renew: Script,
    release: Script,
}

impl RedisLeaseStore {
    pub(crate) fn new(shared: RedisShared, controller: &'static str) -> Self {
        RedisLeaseStore {
            shared,
            controller,
            acquire: Script::new(ACQUIRE),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn value(lease: &Lease) -> String {
    format!("{}|{}", lease.holder, lease.fencing_token)
}

#[async_trait::async_trait]
impl LeaseStore for RedisLeaseStore {
    async fn acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, Error> {
        if holder.is_empty() || holder.contains('|') {
            return Err(Error::Config {
                field: "holder",
                rule: "a lease holder is a non-empty name without `|`".into(),
            });
        }
        let mut conn = self.shared.conn();
        let token: i64 = crate::bounded(
            self.acquire
                .key(self.shared.keys.lease(self.controller, key))
                .key(self.shared.keys.lease_tokens(self.controller))
                .arg(holder)
                .arg(millis(ttl))
                .arg(key)
                .invoke_async(&mut conn),
            "lease acquire",
        )
        .await?;
        Ok(u64::try_from(token).ok().map(|fencing_token| Lease {
            key: key.to_string(),
            holder: holder.to_string(),
            fencing_token,
            ttl,
        }))
    }

    async fn renew(&self, lease: &Lease) -> Result<bool, Error> {
        let mut conn = self.shared.conn();
        let done: i64 = crate::bounded(
            self.renew
                .key(self.shared.keys.lease(self.controller, &lease.key))
                .arg(value(lease))
                .arg(millis(lease.ttl))
                .invoke_async(&mut conn),
            "lease renew",
        )
        .await?;
        Ok(done == 1)
    }

    async fn release(&self, lease: &Lease) -> Result<(), Error> {
        let mut conn = self.shared.conn();
        let _: i64 = crate::bounded(
            self.release
                .key(self.shared.keys.lease(self.controller, &lease.key))
                .arg(value(lease))
                .invoke_async(&mut conn),
            "lease release",
        )
        .await?;
        Ok(())
    }
}
