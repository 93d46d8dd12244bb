//! Sequence numbers per resource on Redis: atomic across replicas.

use agora_rest_core::sequence::MAX_SEQUENCE;
use agora_rest_transport::store::{SequenceKind, SequenceStore};
use redis::Script;

use crate::RedisShared;

/// How long an untouched sequence is kept (a converter or task lives for hours, not months).
const KEEP_MS: u64 = 30 * 24 * 3600 * 1000;

/// Raises the stored next number to ARGV[1] if it is lower; never lowers it.
const OBSERVE: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Hands out the stored next number and raises it by one (INCR, then the expiry).
const NEXT: &str = r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
";

/// The transport's sequence store on Redis: `next` is one atomic increment, `observe` raises
/// the next number above what was seen and never lowers it.
#[derive(Debug, Clone)]
pub struct RedisSequenceStore {
    shared: RedisShared,
    kind: SequenceKind,
    next: Script,
    observe: Script,
}

impl RedisSequenceStore {
    pub(crate) fn new(shared: RedisShared, kind: SequenceKind) -> Self {
        RedisSequenceStore {
            shared,
            kind,
            next: Script::new(NEXT),
            observe: Script::new(OBSERVE),
        }
    }

    fn key(&self, resource: &str) -> String {
        let kind = match self.kind {
            SequenceKind::MediaPush => "push",
            _ => "transcoding",
        };
        self.shared.keys.sequence(kind, resource)
    }

    fn field(&self) -> &'static str {
        match self.kind {
            SequenceKind::MediaPush => "sequence",
            _ => "sequenceId",
        }
    }
}

#[async_trait::async_trait]
impl SequenceStore for RedisSequenceStore {
    async fn next(&self, resource: &str) -> Result<u64, agora_rest_transport::Error> {
        let mut conn = self.shared.conn();
        let stored: u64 = crate::bounded(
            self.next
                .key(self.key(resource))
                .arg(KEEP_MS)
                .invoke_async(&mut conn),
            "sequence next",
        )
        .await?;
        // The stored value is the next number after the one handed out now.
        let n = stored.saturating_sub(1);
        if n > MAX_SEQUENCE {
            return Err(agora_rest_transport::Error::Policy(
                agora_rest_core::Error::SequenceExhausted {
                    field: self.field(),
                    last: n,
                },
            ));
        }
        Ok(n)
    }

    async fn observe(&self, resource: &str, seen: u64) -> Result<(), agora_rest_transport::Error> {
        let mut conn = self.shared.conn();
        let _: i64 = crate::bounded(
            self.observe
                .key(self.key(resource))
                .arg(seen.saturating_add(1))
                .arg(KEEP_MS)
                .invoke_async(&mut conn),
            "sequence observe",
        )
        .await?;
        Ok(())
    }

    async fn last(&self, resource: &str) -> Result<Option<u64>, agora_rest_transport::Error> {
        let mut conn = self.shared.conn();
        let stored: Option<u64> = crate::bounded(
            redis::cmd("GET")
                .arg(self.key(resource))
                .query_async(&mut conn),
            "sequence last",
        )
        .await?;
        Ok(stored.and_then(|n| n.checked_sub(1)))
    }
}
