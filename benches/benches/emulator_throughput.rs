//! Emulator throughput and memory, next to a bare hyper server measured in the same run.
//!
//! - Get and Create requests/s over 32 concurrent loopback connections (HTTP/1.1 keep-alive),
//!   against the emulator and against a bare hyper "hello" server; the ratio is the figure.
//!   Target: Get ≥ 0.5 × bare.
//! - Resident memory per stored converter after 100,000 creates.
//!   Target: ≤ 2 KiB.
//!
//! Run: `cargo bench -p agora-rest-benches --bench emulator_throughput`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a bench harness prints its figures

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use agora_rest_core::quota::{QuotaTable, TierCaps};
use agora_rest_core::rate::{Rate, RateLimits};
use agora_rest_core::region::Area;
use agora_rest_emulator::Emulator;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt;

/// Resident memory of this process in bytes (Linux `/proc/self/statm`), or `None` elsewhere.
///
/// A counting global allocator would be more precise, but needs `unsafe`, which the workspace
/// forbids; at 100,000 converters the resident-set growth is a fair measure.
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

const AUTH: &str = "Basic Y2lkOmNzZWNyZXQ=";
const CONNECTIONS: usize = 32;
const SECONDS: u64 = 3;

fn converter_body(name: &str) -> String {
    format!(
        r#"{{"converter":{{"name":"{name}","transcodeOptions":{{"rtcChannel":"show68","audioOptions":{{}},"videoOptions":{{"canvas":{{"width":640,"height":360}},"layout":[{{"rtcStreamUid":1,"region":{{"xPos":0,"yPos":0,"zIndex":1,"width":640,"height":360}}}}],"bitrate":800}}}},"rtmpUrl":"rtmp://push.example.com/live/{name}","idleTimeOut":300}}}}"#
    )
}

fn unlimited() -> (RateLimits, QuotaTable) {
    let fast = Rate::per_second(u32::MAX);
    let limits = RateLimits {
        media_push_per_api: fast,
        media_push_update_per_converter: fast,
        cloud_transcoding_per_account: fast,
    };
    let caps = TierCaps::new(Some(u32::MAX), Some(u32::MAX), Some(u32::MAX));
    let mut table = QuotaTable::media_push().with_project_total(None);
    for a in Area::ALL {
        table = table.with_caps(a, caps);
    }
    (limits, table)
}

async fn bare_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from_static(b"hello"),
                        )))
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

/// Requests per second over `CONNECTIONS` keep-alive connections for `SECONDS`.
async fn throughput(
    addr: SocketAddr,
    method: Method,
    path: String,
    body: impl Fn(u64) -> String + Send + Sync + 'static,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let body = Arc::new(body);
    let mut tasks = Vec::new();
    for worker in 0..CONNECTIONS {
        let (stop, done, body, method, path) = (
            Arc::clone(&stop),
            Arc::clone(&done),
            Arc::clone(&body),
            method.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::spawn(conn);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let seq = (worker as u64) << 40 | n;
                let req = Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header("host", "api.agora.io")
                    .header("authorization", AUTH)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body(seq))))
                    .unwrap();
                let resp = sender.send_request(req).await.unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let _ = resp.into_body().collect().await.unwrap();
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // warm-up
    let start_count = done.load(Ordering::Relaxed);
    let started = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    count as f64 / secs
}

async fn memory_per_converter() -> Option<f64> {
    let (limits, table) = unlimited();
    let emu = Emulator::builder()
        .rate_limits(limits)
        .push_quota(table)
        .build();
    let svc = emu.service();
    // Warm the maps and the bounded log/outbox so their fixed cost is not counted per converter.
    for i in 0..20_000 {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!(
                "https://api.agora.io/na/v1/projects/app/rtmp-converters/{i}"
            ))
            .header("authorization", AUTH)
            .body(Bytes::new())
            .unwrap();
        let _ = svc.clone().oneshot(req).await.unwrap();
    }
    let _ = emu.take_notices();
    const N: usize = 100_000;
    let before = rss()?;
    for i in 0..N {
        let req = Request::builder()
            .method(Method::POST)
            .uri("https://api.agora.io/na/v1/projects/app/rtmp-converters")
            .header("authorization", AUTH)
            .body(Bytes::from(converter_body(&format!("show68_c{i}"))))
            .unwrap();
        let resp = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let _ = emu.take_notices();
    let after = rss()?;
    assert_eq!(emu.converters().len(), N);
    Some(after.saturating_sub(before) as f64 / N as f64)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: only run for real.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Memory first, on a fresh heap (freed memory is reused, not returned to the OS).
        let memory = memory_per_converter().await;
        let (limits, table) = unlimited();
        let emu = Emulator::builder().rate_limits(limits).push_quota(table).start().await.unwrap();
        let emu_addr = emu.addrs()[0];
        let bare = bare_server().await;
        // One converter to Get.
        let create = Request::builder()
            .method(Method::POST)
            .uri("https://api.agora.io/na/v1/projects/app/rtmp-converters")
            .header("authorization", AUTH)
            .body(Bytes::from(converter_body("target")))
            .unwrap();
        let created = emu.service().oneshot(create).await.unwrap();
        let id = serde_json::from_slice::<serde_json::Value>(created.body()).unwrap()["converter"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let bare_rps = throughput(bare, Method::GET, "/".into(), |_| String::new()).await;
        let get_rps = throughput(emu_addr, Method::GET, format!("/na/v1/projects/app/rtmp-converters/{id}"), |_| String::new()).await;
        let create_rps = throughput(emu_addr, Method::POST, "/na/v1/projects/app/rtmp-converters".into(), |n| {
            converter_body(&format!("c{n:x}"))
        })
        .await;
        println!("bare hyper hello : {bare_rps:>10.0} req/s");
        println!("emulator Get     : {get_rps:>10.0} req/s  ({:.2} x bare, target >= 0.50)", get_rps / bare_rps);
        println!("emulator Create  : {create_rps:>10.0} req/s  ({:.2} x bare)", create_rps / bare_rps);
        emu.shutdown();
        match memory {
            Some(per) => println!("memory/converter : {per:>10.0} bytes RSS growth at 100,000 converters (target <= 2048)"),
            None => println!("memory/converter : n/a (no /proc/self/statm)"),
        }
    });
}
