//! Client-side rate limits: wait for a permit instead of drawing a 429.
//!
//! governor's GCRA with no burst: requests are spaced evenly at the configured rate (20 ms
//! apart at 50/s), so no one-second window ever holds more than the limit, however the
//! service aligns its windows. Keys: one bucket per Media Push API (per project), one per
//! converter for Update, one for the Cloud Transcoding account (core's [`RateLimits`]). Waits
//! use `tokio::time::sleep` on governor's view of tokio's clock, so paused-clock tests apply.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::rate::{Rate, RateLimits, RateScope, SHARED_PACING_PER_MILLE};
use bytes::Bytes;
use futures_util::future::Either;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use http::{Request, Response};
use tower::{Layer, Service};

use super::{LayerFuture, StateHandle, fail, ready_when_inner_is, take_ready};
use crate::Error;
use crate::call::{Call, call_of};
use crate::clock::TokioClock;
use crate::shared_limit::{Acquired, SharedLimits, WhenUnreachable, bucket_key, share_of};

type Keyed<K> = RateLimiter<K, HashMapStateStore<K>, TokioClock, NoOpMiddleware<Duration>>;
type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

fn quota(field: &'static str, rate: Rate) -> Result<Quota, Error> {
    let interval = rate.interval();
    Quota::with_period(interval)
        .map(|q| q.allow_burst(NonZeroU32::MIN))
        .ok_or_else(|| Error::Config {
            field,
            rule: "a rate needs at least one request per period".into(),
        })
}

/// The Media Push operations, in the order of `Limiters::push_api`.
const PUSH_OPS: [Operation; 5] = [
    Operation::PushCreate,
    Operation::PushUpdate,
    Operation::PushDelete,
    Operation::PushGet,
    Operation::PushList,
];

/// The limiters of one client, shared by all its clones.
///
/// One direct (lock-free) limiter per Media Push API rather than a keyed one: the keys are a
/// closed set of five, so no hashing or lock is needed on the hot path.
pub struct Limiters {
    limits: RateLimits,
    push_api: [Direct; 5],
    push_converter: Keyed<String>,
    transcoding: Direct,
    clock: TokioClock,
    max_wait: Duration,
    /// The limiter shared with other replicas, and the local share used while it is down.
    shared: Option<(SharedLimits, Box<Limiters>)>,
    /// When this client last limited itself to its local share (the shared limiter was
    /// unreachable).
    fell_back_at: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The shortest round trip to the shared limiter seen lately ([`RoundTripFloor`]).
    round_trip: RoundTripFloor,
}

/// The lower range of round trips to the shared limiter, in microseconds: half of it is how
/// long a question takes to reach the limiter, so that a reserved slot (a wait from the
/// limiter's clock when it answered) falls at `asked + floor / 2 + wait` on this process's
/// clock. Counting the wait from the answer instead would shift every slot by however long
/// the answer sat unread in a busy process, and a request sent that late arrives among the next
/// slots' requests. The floor rises by 1/64 at every sample above it, so a path that became
/// slower for good is learnt within a few hundred calls. It starts at zero, not at the first
/// sample: a process's first round trips (connecting, loading the script) are its slowest, and
/// a floor that starts high and then drops moves slots by different amounts from one request to
/// the next, which is the jitter this is here to remove; a floor that rises from zero moves
/// every slot alike.
#[derive(Debug)]
struct RoundTripFloor(std::sync::atomic::AtomicU64);

impl RoundTripFloor {
    fn new() -> Self {
        RoundTripFloor(std::sync::atomic::AtomicU64::new(0))
    }

    /// Takes one sample and returns the floor after it.
    fn sample(&self, rtt: Duration) -> Duration {
        use std::sync::atomic::Ordering;
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        let mut old = self.0.load(Ordering::Relaxed);
        loop {
            let new = us.min(old.saturating_add(old / 64 + 1));
            match self
                .0
                .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Duration::from_micros(new),
                Err(now) => old = now,
            }
        }
    }
}

/// How long after its last local-share permit a client still takes local-share permits on top
/// of the shared limiter's. The services count requests per second; the shared limiter never
/// saw the calls made on local shares, so for one window after an outage it would grant a full
/// second's quota on top of them (one 429 was seen exactly there). Taking both for a window,
/// plus a margin, keeps the sum under the quota across the switch back.
const FALLBACK_COOL_DOWN: Duration = Duration::from_millis(1200);

/// How late after its reserved slot a request may still leave. Later, it would arrive among
/// the requests of the next slots and overrun the service's window; it reserves again (and its
/// slot is lost). A quarter of the 20 ms per second that core's shared pacing leaves for jitter:
/// the rest is for the request's path to the service, which no sender sees. Measured on the
/// 2-core CI machine at 98.5 % pacing: with 10 ms, 51 calls of one API came within
/// 990–1,005 ms in the multi-process test (429s in 5 of 9 runs); with 5 ms, 999–1,009 ms and
/// three replicas' goodput 98.3 % of the paced rate's ceiling; with 3 ms, 1,001–1,010 ms but
/// goodput down to 95.8–98.1 % (slots lost).
const LATE_TOLERANCE: Duration = Duration::from_millis(5);

/// How many times one call reserves again after waking late, per bucket: a process that is
/// always slow gives up a few slots, never loops.
const MAX_RESERVE_AGAIN: u32 = 3;

/// How far ahead a caller reserves a shared permit. Short, because a request that timed out
/// on the caller's side may still run on Redis later (a stalled server runs its queue when it
/// resumes): such orphaned reservations can then waste at most this much of the quota.
const RESERVE_HORIZON: Duration = Duration::from_secs(2);

/// How long one question to the shared limiter may take before it counts as unreachable.
const SHARED_ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("limits", &self.limits)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl Limiters {
    /// Limiters for `limits`, waiting at most `max_wait` for a permit.
    pub fn new(limits: RateLimits, max_wait: Duration, clock: TokioClock) -> Result<Self, Error> {
        Ok(Limiters {
            push_api: {
                let q = quota("rate_limits.media_push_per_api", limits.media_push_per_api)?;
                PUSH_OPS.map(|_| RateLimiter::direct_with_clock(q, clock))
            },
            push_converter: RateLimiter::new(
                quota(
                    "rate_limits.media_push_update_per_converter",
                    limits.media_push_update_per_converter,
                )?,
                HashMapStateStore::default(),
                clock,
            ),
            transcoding: RateLimiter::direct_with_clock(
                quota(
                    "rate_limits.cloud_transcoding_per_account",
                    limits.cloud_transcoding_per_account,
                )?,
                clock,
            ),
            limits,
            clock,
            max_wait,
            shared: None,
            fell_back_at: std::sync::Mutex::new(None),
            round_trip: RoundTripFloor::new(),
        })
    }

    /// Limiters asking `shared` first; while it is unreachable, `shared.when_unreachable`
    /// applies (a local share of each rate, or a refusal).
    pub fn with_shared(mut self, shared: SharedLimits) -> Result<Self, Error> {
        let replicas = match shared.when_unreachable {
            WhenUnreachable::LocalShare { replicas } => replicas,
            _ => 1,
        };
        let local = RateLimits {
            media_push_per_api: share_of(self.limits.media_push_per_api, replicas),
            media_push_update_per_converter: share_of(
                self.limits.media_push_update_per_converter,
                replicas,
            ),
            cloud_transcoding_per_account: share_of(
                self.limits.cloud_transcoding_per_account,
                replicas,
            ),
        };
        let fallback = Limiters::new(local, self.max_wait, self.clock)?;
        self.shared = Some((shared, Box::new(fallback)));
        Ok(self)
    }

    /// Takes a permit of every bucket `call` counts against from the shared limiter, sleeping
    /// for the waits it returns (bounded by the maximum wait).
    async fn acquire_shared(&self, call: &Call) -> Result<(), Error> {
        let Some((shared, fallback)) = &self.shared else {
            return Ok(());
        };
        // Just back from the local share: its permit too, for one window (see
        // FALLBACK_COOL_DOWN). Taken first, so that the shared reservation below still sets
        // when the request leaves (a wait after it would make requests bunch).
        let recent = self
            .fell_back_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < FALLBACK_COOL_DOWN);
        if recent && let Err(blocked) = fallback.try_now(call) {
            fallback.acquire_from(call, blocked).await?;
        }
        let mut waited = Duration::ZERO;
        for (scope, rate) in self.limits.scopes(call.op) {
            let Some(key) = bucket_key(scope, call.converter.as_deref()) else {
                continue;
            };
            let mut reserved_again = 0;
            loop {
                let left = self.max_wait.saturating_sub(waited);
                let horizon = left.min(RESERVE_HORIZON);
                let asked_at = tokio::time::Instant::now();
                let answer = tokio::time::timeout(
                    SHARED_ANSWER_TIMEOUT,
                    shared
                        .limiter
                        .acquire(&key, rate.paced(SHARED_PACING_PER_MILLE), horizon),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Store {
                        what: "rate limiter",
                        reason: format!("no answer within {SHARED_ANSWER_TIMEOUT:?}"),
                    })
                });
                match answer {
                    // Reserved: the slot is ours once the wait is over. A permit free now is a
                    // slot at the question's arrival: read late, it is late like any other.
                    Ok(granted @ (Acquired::Now | Acquired::After(_))) => {
                        let wait = match granted {
                            Acquired::After(w) => w,
                            _ => Duration::ZERO,
                        };
                        // The slot, on this process's clock: the wait counts from when the
                        // question reached the limiter (half the round-trip floor after it was
                        // asked), so neither a slow path nor an answer left unread by a busy
                        // process moves it. Grants are the samples (a timeout is no round trip).
                        let floor = self.round_trip.sample(asked_at.elapsed());
                        waited += wait;
                        let slot = asked_at + floor / 2 + wait;
                        if slot > tokio::time::Instant::now() {
                            tokio::time::sleep_until(slot).await;
                        }
                        // Past the slot (a busy process, or an answer read late): sent now,
                        // it would arrive with the next slots' requests. The slot is given up
                        // and a new one reserved instead.
                        let late = slot.elapsed();
                        if late > LATE_TOLERANCE
                            && reserved_again < MAX_RESERVE_AGAIN
                            && waited < self.max_wait
                        {
                            reserved_again += 1;
                            tracing::debug!(op = %call.op, ?late, "woke after the reserved slot: reserving again");
                            continue;
                        }
                        break;
                    }
                    // Not reserved (beyond the horizon): come back when it is within it,
                    // unless that is past the maximum wait.
                    Ok(Acquired::TooLong(wait)) => {
                        if waited + wait > self.max_wait {
                            return Err(Error::RateLimitWait {
                                op: call.op,
                                needed: waited + wait,
                                max: self.max_wait,
                            });
                        }
                        let pause = wait.saturating_sub(horizon).max(Duration::from_millis(10));
                        waited += pause;
                        tokio::time::sleep(pause).await;
                    }
                    Err(e) => {
                        return match shared.when_unreachable {
                            WhenUnreachable::LocalShare { .. } => {
                                *self
                                    .fell_back_at
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                                    Some(tokio::time::Instant::now());
                                tracing::warn!(
                                    op = %call.op,
                                    error = %e,
                                    "shared rate limiter unreachable: limiting to this replica's share"
                                );
                                match fallback.try_now(call) {
                                    Ok(()) => Ok(()),
                                    Err(blocked) => fallback.acquire_from(call, blocked).await,
                                }
                            }
                            _ => Err(Error::RateLimiterUnavailable {
                                op: call.op,
                                reason: e.to_string(),
                            }),
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn check(&self, scope: RateScope, call: &Call) -> Result<(), Duration> {
        let result = match scope {
            RateScope::MediaPushApi(op) => match PUSH_OPS.iter().position(|o| *o == op) {
                Some(i) => self.push_api[i].check(),
                None => Ok(()),
            },
            RateScope::MediaPushConverterUpdate => match &call.converter {
                Some(id) => self.push_converter.check_key(id),
                None => Ok(()),
            },
            RateScope::CloudTranscodingAccount => self.transcoding.check(),
        };
        result.map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Takes a permit from every bucket `call` counts against if all have one now; otherwise
    /// says which bucket refused first (the ones before it have given their permits) and how
    /// long until it has one.
    fn try_now(&self, call: &Call) -> Result<(), Blocked> {
        for (index, (scope, _)) in self.limits.scopes(call.op).enumerate() {
            self.check(scope, call)
                .map_err(|wait| Blocked { index, wait })?;
        }
        Ok(())
    }

    /// Waits for the permits [`try_now`](Self::try_now) could not take.
    async fn acquire_from(&self, call: &Call, blocked: Blocked) -> Result<(), Error> {
        let mut waited = Duration::ZERO;
        let mut refused = Some(blocked.wait);
        for (scope, _) in self.limits.scopes(call.op).skip(blocked.index) {
            loop {
                let wait = match refused.take() {
                    Some(wait) => wait,
                    None => match self.check(scope, call) {
                        Ok(()) => break,
                        Err(wait) => wait,
                    },
                };
                // Never a zero sleep for a refusal: it would spin (smithy-rs once shipped that spin).
                let wait = wait.max(Duration::from_micros(1));
                waited += wait;
                if waited > self.max_wait {
                    return Err(Error::RateLimitWait {
                        op: call.op,
                        needed: waited,
                        max: self.max_wait,
                    });
                }
                tokio::time::sleep(wait).await;
            }
        }
        Ok(())
    }
}

/// The first bucket that had no permit, and how long until it has one.
#[derive(Debug, Clone, Copy)]
struct Blocked {
    index: usize,
    wait: Duration,
}

/// Layer for [`RateLimit`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer<H = Arc<Limiters>> {
    limiters: H,
}

impl<H: StateHandle<Limiters>> RateLimitLayer<H> {
    /// Limits with the shared `limiters`.
    pub fn new(limiters: H) -> Self {
        RateLimitLayer { limiters }
    }
}

impl<S, H: Clone> Layer<S> for RateLimitLayer<H> {
    type Service = RateLimit<S, H>;

    fn layer(&self, inner: S) -> RateLimit<S, H> {
        RateLimit {
            inner,
            limiters: self.limiters.clone(),
        }
    }
}

/// Waits for rate-limit permits before each attempt.
#[derive(Debug, Clone)]
pub struct RateLimit<S, H = Arc<Limiters>> {
    inner: S,
    limiters: H,
}

impl<S, H> Service<Request<Bytes>> for RateLimit<S, H>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
    H: StateHandle<Limiters>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let call = match call_of(&req) {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        if self.limiters.state().shared.is_some() {
            let mut inner = take_ready(&mut self.inner);
            let limiters = self.limiters.clone();
            return Either::Right(Box::pin(async move {
                let call = call_of(&req)?;
                let started = tokio::time::Instant::now();
                limiters.state().acquire_shared(call).await?;
                crate::metrics::rate_limit_wait(call.op, "shared", started.elapsed());
                inner.call(req).await
            }));
        }
        let blocked = match self.limiters.state().try_now(call) {
            Ok(()) => return Either::Left(self.inner.call(req)),
            Err(blocked) => blocked,
        };
        let mut inner = take_ready(&mut self.inner);
        let limiters = self.limiters.clone();
        Either::Right(Box::pin(async move {
            let call = call_of(&req)?;
            let started = tokio::time::Instant::now();
            limiters.state().acquire_from(call, blocked).await?;
            crate::metrics::rate_limit_wait(call.op, "local", started.elapsed());
            inner.call(req).await
        }))
    }
}
