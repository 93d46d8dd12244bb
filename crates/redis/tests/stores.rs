//! Every store against a real Redis, including concurrent use from many tasks and several
//! connections (as replicas would).

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::quota::{QuotaTable, Tier};
use agora_rest_core::rate::Rate;
use agora_rest_core::region::Area;
use agora_rest_redis::RedisShared;
use agora_rest_transport::controller::store::{ResourceStatus, Stores};
use agora_rest_transport::shared_limit::{Acquired, SharedRateLimiter};
use agora_rest_transport::store::{LedgerStore, SequenceKind, SequenceStore};
use common::{redis, unique_app};

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("done within 60 s")
}

async fn replicas(url: &str, app: &str, n: usize) -> Vec<RedisShared> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(RedisShared::connect(url, app).await.unwrap());
    }
    v
}

/// Three connections share one bucket: grants are spaced by the interval on Redis's clock, so
/// no second holds more than the rate, however the replicas interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limiter_spaces_grants_across_replicas() {
    bounded(async {
        let r = redis();
        let app = unique_app("limiter");
        let rate = Rate::per_second(50);
        let mut tasks = Vec::new();
        for shared in replicas(&r.url, &app, 3).await {
            let limiter = shared.rate_limiter();
            tasks.push(tokio::spawn(async move {
                let mut granted = Vec::new();
                for _ in 0..20 {
                    match limiter
                        .acquire("push:api:push.get", rate, Duration::from_secs(10))
                        .await
                        .unwrap()
                    {
                        Acquired::Now => {}
                        Acquired::After(wait) => tokio::time::sleep(wait).await,
                        Acquired::TooLong(w) => panic!("{w:?} is within 10 s"),
                    }
                    granted.push(tokio::time::Instant::now());
                }
                granted
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        assert_eq!(all.len(), 60);
        // 60 grants at 50/s take at least 59 intervals of 20 ms (minus scheduling slack).
        let span = all[59] - all[0];
        assert!(span >= Duration::from_millis(1150), "{span:?}");
        for w in all.windows(52) {
            assert!(
                w[51] - w[0] >= Duration::from_millis(950),
                "52 grants within {:?}",
                w[51] - w[0]
            );
        }
    })
    .await;
}

/// 3 replicas × 40 concurrent `next` calls hand out 0..120 exactly once; `observe` raises the
/// next number and never lowers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_are_unique_and_only_rise() {
    bounded(async {
        let r = redis();
        let app = unique_app("seq");
        let mut tasks = Vec::new();
        for shared in replicas(&r.url, &app, 3).await {
            let store = Arc::new(shared.sequences(SequenceKind::MediaPush));
            for _ in 0..40 {
                let store = Arc::clone(&store);
                tasks.push(tokio::spawn(async move { store.next("c1").await.unwrap() }));
            }
        }
        let mut got = BTreeSet::new();
        for t in tasks {
            assert!(got.insert(t.await.unwrap()), "a number handed out twice");
        }
        assert_eq!(got, (0..120).collect::<BTreeSet<u64>>());
        let store = RedisShared::connect(&r.url, &app)
            .await
            .unwrap()
            .sequences(SequenceKind::MediaPush);
        assert_eq!(store.last("c1").await.unwrap(), Some(119));
        store.observe("c1", 1_796_000_000_000).await.unwrap();
        assert_eq!(store.next("c1").await.unwrap(), 1_796_000_000_001);
        store.observe("c1", 5).await.unwrap();
        assert_eq!(
            store.next("c1").await.unwrap(),
            1_796_000_000_002,
            "observe never lowers"
        );
        assert_eq!(store.last("unknown").await.unwrap(), None);
    })
    .await;
}

/// Concurrent admissions from three replicas stop exactly at the cap (core's rule).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_admits_exactly_up_to_the_cap() {
    bounded(async {
        let r = redis();
        let app = unique_app("ledger");
        let table = QuotaTable::media_push();
        // The first offered area and tier, and its cap (from core's table).
        let (area, tier, cap) = Area::ALL
            .into_iter()
            .flat_map(|a| Tier::ALL.into_iter().map(move |t| (a, t)))
            .find_map(|(a, t)| {
                let mut probe = agora_rest_core::quota::QuotaLedger::new(table.clone());
                let mut cap = 0;
                while cap < 1000 && probe.admit(a, t).is_ok() {
                    cap += 1;
                }
                (cap > 0).then_some((a, t, cap))
            })
            .unwrap();
        let mut tasks = Vec::new();
        for shared in replicas(&r.url, &app, 3).await {
            let ledger = Arc::new(shared.ledger("push", table.clone()));
            for _ in 0..cap {
                let ledger = Arc::clone(&ledger);
                tasks.push(tokio::spawn(async move {
                    ledger.admit(area, tier).await.is_ok()
                }));
            }
        }
        let mut admitted = 0;
        for t in tasks {
            admitted += usize::from(t.await.unwrap());
        }
        assert_eq!(admitted, cap, "admitted over {} tries", 3 * cap);
        let ledger = RedisShared::connect(&r.url, &app)
            .await
            .unwrap()
            .ledger("push", table);
        assert_eq!(ledger.count(area, tier).await.unwrap() as usize, cap);
        let err = ledger.admit(area, tier).await.unwrap_err();
        assert!(err.is_quota_exceeded(), "{err}");
        ledger.release(area, tier).await.unwrap();
        ledger.admit(area, tier).await.unwrap();
    })
    .await;
}

/// Desired specs: generations rise only on change and never repeat after a removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_generations() {
    bounded(async {
        let r = redis();
        let shared = RedisShared::connect(&r.url, &unique_app("desired"))
            .await
            .unwrap();
        let Stores { desired, .. } = shared.controller_stores("push");
        assert_eq!(desired.apply("b", "{\"u\":1}").await.unwrap(), 1);
        assert_eq!(desired.apply("b", "{\"u\":1}").await.unwrap(), 1);
        assert_eq!(desired.apply("b", "{\"u\":2}").await.unwrap(), 2);
        assert_eq!(desired.apply("a", "{}").await.unwrap(), 1);
        assert_eq!(desired.keys().await.unwrap(), ["a", "b"]);
        let e = desired.get("b").await.unwrap().unwrap();
        assert_eq!((e.generation, &*e.spec), (2, "{\"u\":2}"));
        assert!(desired.remove("b").await.unwrap());
        assert!(desired.get("b").await.unwrap().is_none());
        assert_eq!(desired.apply("b", "{\"u\":1}").await.unwrap(), 3);
    })
    .await;
}

/// Leases: one holder at a time, renewed only by it, expiring after the TTL with a new
/// fencing token for the next holder; a status write under a superseded lease is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_and_fenced_status_writes() {
    bounded(async {
        let r = redis();
        let app = unique_app("lease");
        let a = RedisShared::connect(&r.url, &app)
            .await
            .unwrap()
            .controller_stores("push");
        let b = RedisShared::connect(&r.url, &app)
            .await
            .unwrap()
            .controller_stores("push");
        let ttl = Duration::from_millis(300);
        let la = a
            .leases
            .acquire("k", "replica-a", ttl)
            .await
            .unwrap()
            .unwrap();
        assert!(
            b.leases
                .acquire("k", "replica-b", ttl)
                .await
                .unwrap()
                .is_none()
        );
        let again = a
            .leases
            .acquire("k", "replica-a", ttl)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            again.fencing_token, la.fencing_token,
            "a renewal keeps the token"
        );
        assert!(a.leases.renew(&la).await.unwrap());
        let st = ResourceStatus {
            resource_id: Some("c1".into()),
            ..ResourceStatus::default()
        };
        assert!(a.status.put_fenced("k", &st, &la).await.unwrap());
        // A's lease runs out; B takes the key with a higher token.
        tokio::time::sleep(Duration::from_millis(450)).await;
        let lb = b
            .leases
            .acquire("k", "replica-b", ttl)
            .await
            .unwrap()
            .unwrap();
        assert!(lb.fencing_token > la.fencing_token);
        assert!(
            !a.leases.renew(&la).await.unwrap(),
            "only the holder renews"
        );
        let stale = ResourceStatus {
            resource_id: Some("stale".into()),
            ..ResourceStatus::default()
        };
        assert!(
            !a.status.put_fenced("k", &stale, &la).await.unwrap(),
            "a superseded lease cannot write"
        );
        assert_eq!(
            b.status
                .get("k")
                .await
                .unwrap()
                .unwrap()
                .resource_id
                .as_deref(),
            Some("c1")
        );
        a.leases.release(&la).await.unwrap();
        assert!(
            b.leases.renew(&lb).await.unwrap(),
            "a stale release frees nothing"
        );
        b.leases.release(&lb).await.unwrap();
        assert!(
            a.leases
                .acquire("k", "replica-a", ttl)
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

/// A Redis that goes away answers errors within the response timeout (no hang, no panic), and
/// the same handles work again when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_an_error_and_recovery_needs_nothing() {
    bounded(async {
        let mut r = common::private_redis();
        let shared = RedisShared::connect(&r.url, "outage").await.unwrap();
        let seq = shared.sequences(SequenceKind::MediaPush);
        assert_eq!(seq.next("c").await.unwrap(), 0);
        let port = r.port;
        drop(std::mem::replace(
            &mut r,
            common::TestRedisPlaceholder::none(),
        ));
        let t0 = tokio::time::Instant::now();
        let err = seq.next("c").await.unwrap_err();
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "answered in {:?}",
            t0.elapsed()
        );
        assert!(err.to_string().contains("shared store"), "{err}");
        let _back = common::start_server(port);
        let mut ok = false;
        for _ in 0..50 {
            if seq.next("c").await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "works again after the restart");
        let mut back = _back;
        let _ = back.kill();
        let _ = back.wait();
    })
    .await;
}

/// A permit further off than the caller's maximum wait is not reserved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_beyond_the_maximum_wait_is_not_reserved() {
    bounded(async {
        let r = redis();
        let limiter = RedisShared::connect(&r.url, &unique_app("toolong"))
            .await
            .unwrap()
            .rate_limiter();
        let slow = Rate::per_second(1);
        let max = Duration::from_millis(100);
        assert_eq!(
            limiter.acquire("b", slow, max).await.unwrap(),
            Acquired::Now
        );
        for _ in 0..3 {
            assert!(matches!(
                limiter.acquire("b", slow, max).await.unwrap(),
                Acquired::TooLong(w) if w > Duration::from_millis(900)
            ));
        }
        // Nothing was reserved by the refusals: the next permit is still about 1 s away.
        match limiter
            .acquire("b", slow, Duration::from_secs(5))
            .await
            .unwrap()
        {
            Acquired::After(w) => assert!(w < Duration::from_millis(1100), "{w:?}"),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

/// 30 tasks on three connections race for one lease: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lease_winner_among_many() {
    bounded(async {
        let r = redis();
        let app = unique_app("race");
        let mut tasks = Vec::new();
        for (i, shared) in replicas(&r.url, &app, 3).await.into_iter().enumerate() {
            let stores = Arc::new(shared.controller_stores("push"));
            for k in 0..10 {
                let stores = Arc::clone(&stores);
                tasks.push(tokio::spawn(async move {
                    stores
                        .leases
                        .acquire("contested", &format!("r{i}-{k}"), Duration::from_secs(30))
                        .await
                        .unwrap()
                        .is_some()
                }));
            }
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap());
        }
        assert_eq!(winners, 1);
    })
    .await;
}

/// Reservations made by callers that gave up (a stalled Redis runs its queued commands when it
/// resumes) can push a bucket at most one reservation horizon ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_reservations_waste_at_most_the_horizon() {
    bounded(async {
        let r = redis();
        let limiter = RedisShared::connect(&r.url, &unique_app("orphans"))
            .await
            .unwrap()
            .rate_limiter();
        let rate = Rate::per_second(50);
        let horizon = Duration::from_secs(2);
        let mut reserved = 0;
        let started = tokio::time::Instant::now();
        for _ in 0..500 {
            if !matches!(
                limiter.acquire("b", rate, horizon).await.unwrap(),
                Acquired::TooLong(_)
            ) {
                reserved += 1;
            }
        }
        // Two seconds of slots, plus the slots that came due while the 500 questions were
        // asked (a slow machine takes a fifth of a second or more for them).
        let asking = started.elapsed().as_secs_f64();
        let most = 100 + (asking * 50.0).ceil() as usize + 1;
        assert!(
            (100..=most).contains(&reserved),
            "{reserved} reserved (at most {most} after {asking:.3} s of asking)"
        );
        match limiter
            .acquire("b", rate, Duration::from_secs(60))
            .await
            .unwrap()
        {
            Acquired::After(w) => assert!(w <= Duration::from_millis(2100), "{w:?}"),
            other => panic!("{other:?}"),
        }
    })
    .await;
}
