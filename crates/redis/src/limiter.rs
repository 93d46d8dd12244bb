//! GCRA on Redis: one script, timed by Redis's own clock.

use std::time::Duration;

use agora_rest_core::rate::Rate;
use agora_rest_transport::shared_limit::SharedRateLimiter;
use redis::Script;

use crate::RedisShared;

/// GCRA with no burst: a bucket's theoretical arrival time (TAT, microseconds on Redis's
/// `TIME`); a permit is free when the TAT is not in the future, and taking it moves the TAT one
/// interval past now. Returns 0, or the microseconds until a permit is free. Numbers are
/// written with `%.0f`: Lua's `tostring` would print large doubles in exponent form.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return tat - now
end
local ttl = math.floor(interval / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', now + interval), 'PX', ttl)
return 0
";

/// The transport's shared rate limiter on Redis (see the crate docs).
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    shared: RedisShared,
    script: Script,
}

impl RedisRateLimiter {
    pub(crate) fn new(shared: RedisShared) -> Self {
        RedisRateLimiter {
            shared,
            script: Script::new(GCRA),
        }
    }
}

#[async_trait::async_trait]
impl SharedRateLimiter for RedisRateLimiter {
    async fn try_acquire(
        &self,
        key: &str,
        rate: Rate,
    ) -> Result<Option<Duration>, agora_rest_transport::Error> {
        let interval = u64::try_from(rate.interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut conn = self.shared.conn();
        let wait: u64 = crate::bounded(
            self.script
                .key(self.shared.keys.rate(key))
                .arg(interval)
                .invoke_async(&mut conn),
            "rate limiter",
        )
        .await?;
        Ok((wait > 0).then(|| Duration::from_micros(wait)))
    }
}
