//! GCRA on Redis: one script, timed by Redis's own clock.

use std::time::Duration;

use agora_rest_core::rate::Rate;
use agora_rest_transport::shared_limit::{Acquired, SharedRateLimiter};
use redis::Script;

use crate::RedisShared;

/// GCRA with no burst, reserving: a bucket's theoretical arrival time (TAT, microseconds on
/// Redis's `TIME`) is when its next permit is free. A caller takes that permit if it comes
/// within ARGV[2] microseconds, moving the TAT one interval on, and gets the wait (0: now);
/// a permit further off is not taken and the wait comes back negated. Reserving (instead of
/// "ask again after the wait") loses no slot to the caller's timer or round trip. Numbers are
/// written with `%.0f`: Lua's `tostring` would print large doubles in exponent form.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - now
if wait > max_wait then
  return -wait
end
local ttl = math.floor((wait + interval) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', ttl)
return wait
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
    async fn acquire(
        &self,
        key: &str,
        rate: Rate,
        max_wait: Duration,
    ) -> Result<Acquired, agora_rest_transport::Error> {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let interval = micros(rate.interval()).max(1);
        let mut conn = self.shared.conn();
        let wait: i64 = crate::bounded(
            self.script
                .key(self.shared.keys.rate(key))
                .arg(interval)
                .arg(micros(max_wait))
                .invoke_async(&mut conn),
            "rate limiter",
        )
        .await?;
        let of = |w: i64| Duration::from_micros(w.unsigned_abs());
        Ok(match wait {
            0 => Acquired::Now,
            w if w > 0 => Acquired::After(of(w)),
            w => Acquired::TooLong(of(w)),
        })
    }
}
