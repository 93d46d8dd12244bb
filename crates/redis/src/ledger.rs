//! The concurrent-stream ledger on Redis: counts per area and tier shared by every replica.

use agora_rest_core::quota::{QuotaLedger, QuotaTable, Tier};
use agora_rest_core::region::Area;
use agora_rest_transport::store::LedgerStore;
use redis::Script;

use crate::{RedisShared, store_error};

/// Adds ARGV[3] to field ARGV[2] (never below 0) if the version is still ARGV[1], and bumps
/// the version; 0 when another replica changed the counts in between.
const COMMIT: &str = r"
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then
  return 0
end
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') + tonumber(ARGV[3])
if n < 0 then n = 0 end
redis.call('HSET', KEYS[1], ARGV[2], n)
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
";

/// Commits tried before an admission gives up (each loses only to another replica's commit).
const MAX_COMMITS: usize = 32;

/// The transport's quota ledger on Redis.
///
/// An admission reads the counts, asks core's [`QuotaLedger`] (the caps and the mixed-tier
/// rule live there, in one place), and commits with one compare-and-set script; a commit that
/// lost to another replica's change is decided again on the new counts (bounded).
#[derive(Debug, Clone)]
pub struct RedisLedgerStore {
    shared: RedisShared,
    service: &'static str,
    table: QuotaTable,
    commit: Script,
}

fn field(area: Area, tier: Tier) -> String {
    format!("{}:{}", area.as_str(), tier.as_str())
}

impl RedisLedgerStore {
    pub(crate) fn new(shared: RedisShared, service: &'static str, table: QuotaTable) -> Self {
        RedisLedgerStore {
            shared,
            service,
            table,
            commit: Script::new(COMMIT),
        }
    }

    /// The counts as core's ledger, and their version.
    async fn read(&self) -> Result<(QuotaLedger, String), agora_rest_transport::Error> {
        let mut conn = self.shared.conn();
        let all: std::collections::HashMap<String, String> = crate::bounded(
            redis::cmd("HGETALL")
                .arg(self.shared.keys.ledger(self.service))
                .query_async(&mut conn),
            "ledger read",
        )
        .await?;
        let mut ledger = QuotaLedger::new(self.table.clone());
        for area in Area::ALL {
            for tier in Tier::ALL {
                let n: u32 = all
                    .get(&field(area, tier))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                for _ in 0..n.min(100_000) {
                    ledger.record_existing(area, tier);
                }
            }
        }
        let version = all.get("v").cloned().unwrap_or_else(|| "0".into());
        Ok((ledger, version))
    }

    async fn add(
        &self,
        version: &str,
        area: Area,
        tier: Tier,
        delta: i64,
    ) -> Result<bool, agora_rest_transport::Error> {
        let mut conn = self.shared.conn();
        let done: i64 = crate::bounded(
            self.commit
                .key(self.shared.keys.ledger(self.service))
                .arg(version)
                .arg(field(area, tier))
                .arg(delta)
                .invoke_async(&mut conn),
            "ledger commit",
        )
        .await?;
        Ok(done == 1)
    }

    async fn change(
        &self,
        area: Area,
        tier: Tier,
        delta: i64,
        check: bool,
    ) -> Result<(), agora_rest_transport::Error> {
        for _ in 0..MAX_COMMITS {
            let (ledger, version) = self.read().await?;
            if check {
                ledger
                    .check(area, tier)
                    .map_err(agora_rest_transport::Error::Policy)?;
            }
            if self.add(&version, area, tier, delta).await? {
                return Ok(());
            }
        }
        Err(store_error(
            "ledger commit",
            format!("the counts kept changing: {MAX_COMMITS} commits lost to other replicas"),
        ))
    }
}

#[async_trait::async_trait]
impl LedgerStore for RedisLedgerStore {
    async fn admit(&self, area: Area, tier: Tier) -> Result<(), agora_rest_transport::Error> {
        self.change(area, tier, 1, true).await
    }

    async fn release(&self, area: Area, tier: Tier) -> Result<(), agora_rest_transport::Error> {
        self.change(area, tier, -1, false).await
    }

    async fn record_existing(
        &self,
        area: Area,
        tier: Tier,
    ) -> Result<(), agora_rest_transport::Error> {
        self.change(area, tier, 1, false).await
    }

    async fn count(&self, area: Area, tier: Tier) -> Result<u32, agora_rest_transport::Error> {
        Ok(self.read().await?.0.count(area, tier))
    }
}
