//! Three replicas (three clients in one process, each with its own connection) as one client
//! through Redis, against the emulator: shared QPS with no 429, concurrent updates of one
//! converter with no stale sequence, and a stopped replica's converter taken over.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::region::PathRegion;
use agora_rest_emulator::Emulator;
use agora_rest_mediapush::{MediaPush, Update};
use agora_rest_model::mediapush::ConverterBuilder;
use agora_rest_redis::RedisShared;
use agora_rest_transport::shared_limit::WhenUnreachable;
use agora_rest_transport::store::SequenceKind;
use agora_rest_transport::{Client, Config, Credentials};
use common::{redis, unique_app};

async fn replica(emu: &Emulator, shared: &RedisShared, name: &str) -> MediaPush {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_jitter(|| 0.5)
        .with_shared_limiter(
            Arc::new(shared.rate_limiter()),
            WhenUnreachable::LocalShare { replicas: 3 },
        );
    let stores = shared.controller_stores("push-update");
    MediaPush::new(
        Client::builder(config)
            .with_service(emu.service())
            .build()
            .unwrap(),
    )
    .with_sequences(Arc::new(shared.sequences(SequenceKind::MediaPush)))
    .with_shared_update_lock(stores.leases, name)
}

/// Three replicas on one Redis project, and a converter made by the first.
async fn three_replicas(
    emu: &Emulator,
    url: &str,
    app: &str,
    name: &str,
) -> (Vec<MediaPush>, String) {
    let mut replicas = Vec::new();
    for i in 0..3 {
        let shared = RedisShared::connect(url, app).await.unwrap();
        replicas.push(replica(emu, &shared, &format!("r{i}")).await);
    }
    let made = replicas[0]
        .create(
            PathRegion::Na,
            ConverterBuilder::raw("show68", 7, "rtmp://a/x")
                .name(name)
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let id = made.converter.id;
    for p in &replicas {
        p.locate(&id, PathRegion::Na).unwrap();
    }
    (replicas, id)
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("done within 60 s")
}

/// 150 Gets offered at once by three replicas: spaced to the 50/s quota, 0 answers of 429,
/// never more than 50 in any one-second window of the emulator's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_qps_quota() {
    bounded(async {
        let r = redis();
        let emu = Emulator::builder().build();
        let (replicas, id) = three_replicas(&emu, &r.url, &unique_app("qps"), "qps").await;
        let mut tasks = Vec::new();
        for p in &replicas {
            for _ in 0..50 {
                let p = p.clone();
                let id = id.clone();
                tasks.push(tokio::spawn(async move { p.get(&id).await.is_ok() }));
            }
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        let log: Vec<_> = emu
            .request_log()
            .into_iter()
            .filter(|l| l.op == Some(Operation::PushGet))
            .collect();
        assert_eq!(ok, 150);
        assert_eq!(log.iter().filter(|l| l.status == 429).count(), 0);
        let times: Vec<f64> = log.iter().map(|l| l.at.as_secs_f64()).collect();
        let max_in_a_second = times
            .iter()
            .map(|t0| {
                times
                    .iter()
                    .filter(|t| **t >= *t0 && **t < t0 + 1.0)
                    .count()
            })
            .max()
            .unwrap();
        assert!(
            max_in_a_second <= 50,
            "{max_in_a_second} Gets in one second"
        );
    })
    .await;
}

/// 30 updates of one converter from three replicas at once: all applied, none stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_from_replicas_are_never_stale() {
    bounded(async {
        let r = redis();
        let emu = Emulator::builder().build();
        let (replicas, id) = three_replicas(&emu, &r.url, &unique_app("upd"), "upd").await;
        let mut tasks = Vec::new();
        for (i, p) in replicas.iter().enumerate() {
            for k in 0..10 {
                let p = p.clone();
                let id = id.clone();
                tasks.push(tokio::spawn(async move {
                    p.update(&id, Update::new().rtmp_url(format!("rtmp://h/r{i}-{k}")))
                        .await
                }));
            }
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let updates: Vec<_> = emu
            .request_log()
            .into_iter()
            .filter(|l| l.op == Some(Operation::PushUpdate))
            .collect();
        assert_eq!(updates.len(), 30);
        assert_eq!(
            updates.iter().filter(|l| l.status == 409).count(),
            0,
            "stale sequences"
        );
    })
    .await;
}

/// A replica that stops (its lease left to expire) has its converter taken over by another
/// replica on the same stores within the lease TTL plus one poll: the other replica keeps
/// looking at keys whose lease is held elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replicas_converter_is_taken_over() {
    use agora_rest_mediapush::controller::{
        ConverterController, ConverterControllerConfig, ConverterSpec,
    };
    bounded(async {
        let r = redis();
        let app = unique_app("takeover");
        let emu = Emulator::builder().build();
        let ttl = Duration::from_secs(1);
        let poll = Duration::from_millis(200);
        let start = |name: &'static str| {
            let (emu, url, app) = (&emu, r.url.clone(), app.clone());
            async move {
                let shared = RedisShared::connect(&url, &app).await.unwrap();
                let config = ConverterControllerConfig::default()
                    .poll_jitter(0.0)
                    .settings(|s| s.holder(name).lease_ttl(ttl).poll_every(poll));
                ConverterController::start_with(
                    replica(emu, &shared, name).await,
                    config,
                    shared.controller_stores("push"),
                )
            }
        };
        let a = start("a").await;
        let spec = ConverterSpec::new(
            PathRegion::Na,
            ConverterBuilder::raw("show68", 7, "rtmp://a/x")
                .name("owned")
                .build()
                .unwrap(),
        )
        .unwrap();
        a.apply(spec).await.unwrap();
        while emu.converters().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let b = start("b").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        a.shutdown().await;
        // The converter fails once its owner is gone: only a replica that took the key over
        // re-creates it.
        let old = emu.converters()[0].id.clone();
        assert!(emu.fail_converter(&old));
        let stopped = tokio::time::Instant::now();
        let mut taken_over = None;
        while stopped.elapsed() < Duration::from_secs(20) {
            let now = emu.converters();
            if now.len() == 1 && now[0].id != old {
                taken_over = Some(stopped.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let taken_over = taken_over.expect("the other replica re-created the failed converter");
        // TTL + one poll, plus the failure's confirmation (state `failed` is read at once) and
        // the delete and create: well under five seconds.
        assert!(taken_over < Duration::from_secs(5), "{taken_over:?}");
        b.shutdown().await;
    })
    .await;
}
