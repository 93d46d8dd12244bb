//! The rate-limit layer with a shared limiter (as Redis provides), under tokio's paused clock:
//! its waits are slept, an unreachable limiter falls back to the replica's share or refuses.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::rate::Rate;
use agora_rest_transport::mock::{MockResponse, MockService};
use agora_rest_transport::shared_limit::{Acquired, SharedRateLimiter, WhenUnreachable};
use agora_rest_transport::{Call, Client, Config, Credentials, Error};
use http::Method;

/// A shared limiter in memory: GCRA on tokio's clock, or down.
#[derive(Debug, Default)]
struct FakeShared {
    tat: Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
    down: AtomicBool,
    asked: AtomicU32,
}

#[async_trait::async_trait]
impl SharedRateLimiter for FakeShared {
    async fn acquire(&self, key: &str, rate: Rate, max_wait: Duration) -> Result<Acquired, Error> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            return Err(Error::Store {
                what: "rate limiter",
                reason: "connection refused".into(),
            });
        }
        let now = tokio::time::Instant::now();
        let mut tat = self.tat.lock().unwrap();
        let t = tat.entry(key.to_string()).or_insert(now);
        if *t < now {
            *t = now;
        }
        let wait = *t - now;
        if wait > max_wait {
            return Ok(Acquired::TooLong(wait));
        }
        *t += rate.interval();
        Ok(if wait.is_zero() {
            Acquired::Now
        } else {
            Acquired::After(wait)
        })
    }
}

fn client(mock: &MockService, shared: Arc<FakeShared>, when: WhenUnreachable) -> Client {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_jitter(|| 0.5)
        .with_shared_limiter(shared, when);
    Client::builder(config)
        .with_service(mock.clone())
        .build()
        .unwrap()
}

async fn get(client: &Client) -> Result<http::Response<bytes::Bytes>, Error> {
    let req = client
        .request(
            Call::new(Operation::PushGet, "/x"),
            Method::GET,
            "/na/v1/projects/app/x",
            None,
        )
        .unwrap();
    client.send(req).await
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("done within an hour of paused time")
}

#[tokio::test(start_paused = true)]
async fn shared_waits_are_slept_and_spacing_holds() {
    bounded(async {
        let mock = MockService::new();
        for _ in 0..100 {
            mock.push(MockResponse::json(200, "{}"));
        }
        let shared = Arc::new(FakeShared::default());
        let c = client(&mock, Arc::clone(&shared), WhenUnreachable::FailClosed);
        let t0 = tokio::time::Instant::now();
        let calls: Vec<_> = (0..100).map(|_| get(&c)).collect();
        for r in futures_util::future::join_all(calls).await {
            r.unwrap();
        }
        // 100 Gets at 50/s: 99 intervals of 20 ms.
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(1980), "{took:?}");
        assert!(took < Duration::from_millis(2100), "{took:?}");
        let times: Vec<f64> = mock.requests().iter().map(|r| r.at.as_secs_f64()).collect();
        for w in times.windows(51) {
            assert!(w[50] - w[0] >= 0.999, "51 requests within one second");
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_limiter_falls_back_to_the_local_share() {
    bounded(async {
        let mock = MockService::new();
        for _ in 0..30 {
            mock.push(MockResponse::json(200, "{}"));
        }
        let shared = Arc::new(FakeShared::default());
        shared.down.store(true, Ordering::Relaxed);
        let c = client(
            &mock,
            Arc::clone(&shared),
            WhenUnreachable::LocalShare { replicas: 3 },
        );
        let t0 = tokio::time::Instant::now();
        for _ in 0..30 {
            get(&c).await.unwrap();
        }
        // The local share of 50/s over 3 replicas: 15/s, 66.7 ms apart.
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(29 * 60), "{took:?}");
        assert!(shared.asked.load(Ordering::Relaxed) >= 30);
        // Back up. For one window the local share still applies as well: the shared limiter
        // never saw the calls just made on it, and would grant a full second's quota on top.
        shared.down.store(false, Ordering::Relaxed);
        for _ in 0..20 {
            mock.push(MockResponse::json(200, "{}"));
        }
        let t1 = tokio::time::Instant::now();
        for _ in 0..10 {
            get(&c).await.unwrap();
        }
        assert!(
            t1.elapsed() >= Duration::from_millis(9 * 60),
            "still the local share's spacing right after the outage: {:?}",
            t1.elapsed()
        );
        // Then the shared buckets alone (20 ms spacing).
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let t2 = tokio::time::Instant::now();
        for _ in 0..10 {
            get(&c).await.unwrap();
        }
        assert!(
            t2.elapsed() < Duration::from_millis(400),
            "{:?}",
            t2.elapsed()
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn fail_closed_refuses_without_sending() {
    bounded(async {
        let mock = MockService::new();
        mock.push(MockResponse::json(200, "{}"));
        let shared = Arc::new(FakeShared::default());
        shared.down.store(true, Ordering::Relaxed);
        let c = client(&mock, shared, WhenUnreachable::FailClosed);
        let err = get(&c).await.unwrap_err();
        assert!(matches!(err, Error::RateLimiterUnavailable { .. }), "{err}");
        assert!(mock.requests().is_empty(), "nothing sent");
    })
    .await;
}

/// A shared limiter that reserves every slot 100 ms ahead, its answers taking `rtt`.
#[derive(Debug, Default)]
struct HundredMsAhead {
    asked: AtomicU32,
    rtt: Duration,
}

#[async_trait::async_trait]
impl SharedRateLimiter for HundredMsAhead {
    async fn acquire(&self, _key: &str, _rate: Rate, _max: Duration) -> Result<Acquired, Error> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.rtt).await;
        Ok(Acquired::After(Duration::from_millis(100)))
    }
}

fn client_on(mock: &MockService, shared: Arc<HundredMsAhead>) -> Client {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_jitter(|| 0.5)
        .with_shared_limiter(shared, WhenUnreachable::FailClosed);
    Client::builder(config)
        .with_service(mock.clone())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_request_woken_after_its_slot_reserves_again_a_bounded_number_of_times() {
    bounded(async {
        let mock = MockService::new();
        mock.push(MockResponse::json(200, "{}"));
        let shared = Arc::new(HundredMsAhead::default());
        let c = client_on(&mock, Arc::clone(&shared));
        let call = tokio::spawn(async move { get(&c).await.map(|_| ()) });
        // Each time the call reaches its 100 ms wait, move the clock 150 ms at once: it wakes
        // 50 ms after its slot (a busy process), gives the slot up and reserves again — three
        // times at most; the fourth late wake-up sends.
        for asked in 1..=4 {
            while shared.asked.load(Ordering::Relaxed) < asked {
                tokio::task::yield_now().await;
            }
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            tokio::time::advance(Duration::from_millis(150)).await;
        }
        call.await.unwrap().unwrap();
        assert_eq!(shared.asked.load(Ordering::Relaxed), 4);
        assert_eq!(mock.requests().len(), 1);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_round_trip_is_not_lateness() {
    bounded(async {
        let mock = MockService::new();
        mock.push(MockResponse::json(200, "{}"));
        // Every answer takes 30 ms, more than the 10 ms tolerance: the slot still holds.
        let shared = Arc::new(HundredMsAhead {
            asked: AtomicU32::new(0),
            rtt: Duration::from_millis(30),
        });
        get(&client_on(&mock, Arc::clone(&shared))).await.unwrap();
        assert_eq!(shared.asked.load(Ordering::Relaxed), 1);
    })
    .await;
}

/// A shared limiter that reserves every slot 100 ms ahead of the question (or, with `free`,
/// grants at once), its answers taking the scripted times (then none).
#[derive(Debug, Default)]
struct ScriptedAnswers {
    asked: AtomicU32,
    answer_after: Mutex<std::collections::VecDeque<Duration>>,
    free: bool,
}

#[async_trait::async_trait]
impl SharedRateLimiter for ScriptedAnswers {
    async fn acquire(&self, _key: &str, _rate: Rate, _max: Duration) -> Result<Acquired, Error> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let delay = self.answer_after.lock().unwrap().pop_front();
        tokio::time::sleep(delay.unwrap_or_default()).await;
        Ok(if self.free {
            Acquired::Now
        } else {
            Acquired::After(Duration::from_millis(100))
        })
    }
}

/// The slot is 100 ms after the question reached the limiter. An answer that comes back 150 ms
/// later (left unread by a busy process, while the usual round trip is instant) is past the
/// slot: sent then, the request would arrive among the next slots' requests, so it reserves
/// again. Counting the wait from the answer, it went out 50 ms late.
#[tokio::test(start_paused = true)]
async fn an_answer_read_after_the_slot_reserves_again() {
    for free in [false, true] {
        answer_read_late(free).await;
    }
}

/// As above; with `free`, the permit is granted at once (its slot is the question's arrival).
async fn answer_read_late(free: bool) {
    bounded(async {
        let mock = MockService::new();
        mock.push(MockResponse::json(200, "{}"));
        mock.push(MockResponse::json(200, "{}"));
        let shared = Arc::new(ScriptedAnswers {
            free,
            ..ScriptedAnswers::default()
        });
        shared.answer_after.lock().unwrap().extend([
            Duration::ZERO,
            Duration::from_millis(150),
            Duration::ZERO,
        ]);
        let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
            .with_jitter(|| 0.5)
            .with_shared_limiter(
                Arc::clone(&shared) as Arc<dyn SharedRateLimiter>,
                WhenUnreachable::FailClosed,
            );
        let c = Client::builder(config)
            .with_service(mock.clone())
            .build()
            .unwrap();
        get(&c).await.unwrap();
        assert_eq!(shared.asked.load(Ordering::Relaxed), 1, "on time");
        get(&c).await.unwrap();
        assert_eq!(
            shared.asked.load(Ordering::Relaxed),
            3,
            "the late answer's slot was given up and another reserved (free: {free})"
        );
        assert_eq!(mock.requests().len(), 2);
    })
    .await;
}
