//! The converter controller at 10,000 declared converters: CPU per converter per poll, as a
//! ratio to a bare Get through the same client (measured in the same run), and resident memory
//! per converter. Not a criterion bench: it prints a table and fails when a target is missed.
//!
//! `cargo bench -p agora-rest-benches --bench controller_scale`
//!
//! The service is a stateless fake (answers are formatted from the request path), so the
//! memory measured is the controller's and its client's, never a service's. Time is tokio's
//! paused clock: 2-minute polls cost no wall time; CPU is the process's own (`/proc/self/stat`).
//!
//! Targets: at most 4 KiB of RSS per declared converter; a poll costs at most 6× a bare Get
//! (a poll is a Get plus the status store round trip, the decision and the scheduling).

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agora_rest_core::rate::{Rate, RateLimits};
use agora_rest_core::region::PathRegion;
use agora_rest_mediapush::MediaPush;
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterSpec,
};
use agora_rest_model::mediapush::{
    AudioOptions, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_transport::{Client, Config, Credentials};
use bytes::Bytes;
use http::{Request, Response};

const N: usize = 10_000;
const POLLS: u64 = 5;
const RSS_TARGET_BYTES: f64 = 4096.0;
const POLL_RATIO_TARGET: f64 = 6.0;

fn rss_bytes() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb * 1024.0
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Requests the fake answered, by kind.
#[derive(Default)]
struct Counts {
    gets: AtomicU64,
    creates: AtomicU64,
}

/// A stateless Media Push: Create answers an id made from the name, Get says "running", List
/// finds nothing. Nothing is stored.
fn fake(
    counts: Arc<Counts>,
) -> impl tower::Service<
    Request<Bytes>,
    Response = Response<Bytes>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<Bytes>, Infallible>>,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<Bytes>| {
        let path = req.uri().path().to_string();
        let body = if req.method() == http::Method::POST {
            counts.creates.fetch_add(1, Ordering::Relaxed);
            let v: serde_json::Value = serde_json::from_slice(req.body()).unwrap_or_default();
            let name = v["converter"]["name"].as_str().unwrap_or("x");
            let id = format!("{:0>32}", name.replace('_', ""));
            format!(
                r#"{{"converter":{{"id":"{id}","createTs":1,"updateTs":1,"state":"connecting"}},"fields":"id,createTs,updateTs,state"}}"#
            )
        } else if path.contains("/channels/") {
            r#"{"success":true,"data":{"total_count":0,"cursor":0,"members":[]}}"#.to_string()
        } else {
            counts.gets.fetch_add(1, Ordering::Relaxed);
            let id = path.rsplit('/').next().unwrap_or("x");
            format!(
                r#"{{"converter":{{"id":"{id}","state":"running","createTs":1,"updateTs":1}}}}"#
            )
        };
        let resp = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .unwrap();
        std::future::ready(Ok(resp))
    })
}

fn client(counts: &Arc<Counts>) -> MediaPush {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_jitter(|| 0.5)
        // The account's real limits would make 10,000 converters take simulated hours; this
        // measures the controller, not the limiter.
        .with_rate_limits(RateLimits {
            media_push_per_api: Rate::per_second(1_000_000),
            ..RateLimits::default()
        });
    MediaPush::new(
        Client::builder(config)
            .with_service(fake(Arc::clone(counts)))
            .build()
            .unwrap(),
    )
}

fn spec(i: usize) -> ConverterSpec {
    let c = ConverterBuilder::transcoded(
        format!("ch{i}"),
        format!("rtmp://cdn.example.com/live/s{i}"),
    )
    .name(format!("conv_{i}"))
    .audio(AudioOptions::default())
    .video(
        VideoOptions::new(1280, 720, 2000).with_layout(vec![LayoutElement::stream(
            1001,
            LayoutRegion::new(0, 0, 1280, 720),
        )]),
    )
    .idle_timeout(300)
    .build()
    .unwrap();
    ConverterSpec::new(PathRegion::Na, c).unwrap()
}

async fn run() -> (f64, f64, f64, u64) {
    let counts = Arc::new(Counts::default());
    let push = client(&counts);
    // Baseline: bare Gets through the same client and fake.
    for i in 0..200 {
        push.locate(&format!("warm{i:028}"), PathRegion::Na)
            .unwrap();
        let _ = push.get(&format!("warm{i:028}")).await;
    }
    let ids: Vec<String> = (0..N).map(|i| format!("{i:032}")).collect();
    for id in &ids {
        push.locate(id, PathRegion::Na).unwrap();
    }
    let cpu0 = cpu_secs();
    for id in &ids {
        let _ = push.get(id).await.unwrap();
    }
    let bare_get = (cpu_secs() - cpu0) / N as f64;

    // The controller: 10,000 declared converters, created, then polled.
    let counts = Arc::new(Counts::default());
    let config = ConverterControllerConfig::default()
        .poll_jitter(0.0)
        .settings(|s| s.max_parallel(64));
    let specs: Vec<ConverterSpec> = (0..N).map(spec).collect();
    let rss0 = rss_bytes();
    let ctl = ConverterController::start(client(&counts), config);
    for s in specs {
        ctl.apply(s).await.unwrap();
    }
    // Everything created and looked at once.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        counts.creates.load(Ordering::Relaxed),
        N as u64,
        "every converter created"
    );
    let rss_per = (rss_bytes() - rss0) / N as f64;

    let gets0 = counts.gets.load(Ordering::Relaxed);
    let cpu0 = cpu_secs();
    tokio::time::sleep(Duration::from_secs(120 * POLLS)).await;
    let polls = counts.gets.load(Ordering::Relaxed) - gets0;
    let per_poll = (cpu_secs() - cpu0) / polls.max(1) as f64;
    ctl.shutdown().await;
    (bare_get, per_poll, rss_per, polls)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it too, at full size.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (bare_get, per_poll, rss_per, polls) = rt.block_on(run());
    let ratio = per_poll / bare_get.max(1e-9);
    println!("controller at {N} converters ({polls} polls over {POLLS} poll periods)");
    println!("{:<40} {:>14}", "measure", "value");
    println!(
        "{:<40} {:>11.1} µs",
        "bare Get (baseline), CPU per call",
        bare_get * 1e6
    );
    println!(
        "{:<40} {:>11.1} µs",
        "controller poll, CPU per converter",
        per_poll * 1e6
    );
    println!(
        "{:<40} {:>13.2}x (target ≤ {POLL_RATIO_TARGET}x)",
        "poll / bare Get", ratio
    );
    println!(
        "{:<40} {:>11.0} B (target ≤ {RSS_TARGET_BYTES} B)",
        "RSS per declared converter", rss_per
    );
    assert!(
        polls >= N as u64 * (POLLS - 1),
        "every converter polled each period: {polls}"
    );
    assert!(
        ratio <= POLL_RATIO_TARGET,
        "a poll costs {ratio:.2}× a bare Get"
    );
    assert!(rss_per <= RSS_TARGET_BYTES, "{rss_per:.0} B per converter");
}
