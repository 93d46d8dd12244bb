//! Time per request of the full transport stack vs a bare hyper-util client, against the same
//! loopback hyper server, at concurrency 1 and 32. Rate limits are set high so they do not
//! throttle; everything else (request id, retry policy, failover, timeout, auth, tracing span)
//! runs. Target: full stack ≤ 1.10 × bare.
//!
//! Run: `cargo bench -p agora-rest-benches --bench transport_stack`.

#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented items
#![allow(clippy::unwrap_used)] // a bench panics loudly on a broken setup

use std::net::SocketAddr;
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::rate::{Rate, RateLimits};
use agora_rest_transport::{Call, Client, Config, Credentials};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const BODY: &str = r#"{"converter":{"id":"4c014467d647bb87b60b719f6fa57686","createTs":1591786766,"updateTs":1591786766,"state":"running"},"fields":"id,createTs,updateTs,state"}"#;

async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                        BODY.as_bytes(),
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

fn fast_limits() -> RateLimits {
    RateLimits {
        media_push_per_api: Rate::per_second(1_000_000_000),
        media_push_update_per_converter: Rate::per_second(1_000_000_000),
        cloud_transcoding_per_account: Rate::per_second(1_000_000_000),
    }
}

async fn bare_once(client: HyperClient<HttpConnector, Full<Bytes>>, url: String) {
    let req = Request::builder()
        .method(Method::GET)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), BODY.len());
}

async fn stack_once(client: Client) {
    let req = client
        .request(
            Call::new(
                Operation::PushGet,
                "/{region}/v1/projects/{appId}/rtmp-converters/{id}",
            ),
            Method::GET,
            "/na/v1/projects/app/rtmp-converters/4c014467d647bb87b60b719f6fa57686",
            None,
        )
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.body().len(), BODY.len());
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let addr = rt.block_on(server());
    let url = format!(
        "http://{addr}/na/v1/projects/app/rtmp-converters/4c014467d647bb87b60b719f6fa57686"
    );
    let bare: HyperClient<HttpConnector, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let stack = rt.block_on(async {
        Client::builder(
            Config::new("app", Credentials::new("cid", "csecret").unwrap())
                .with_endpoint(format!("http://{addr}"))
                .with_rate_limits(fast_limits()),
        )
        .build()
        .unwrap()
    });

    let mut g = c.benchmark_group("transport_stack");
    g.measurement_time(Duration::from_secs(5));
    // CPU cost of the stack alone: an in-memory service that answers at once.
    let instant = agora_rest_transport::shared::SharedService::from_fn(|_req| {
        Box::pin(async { Ok(Response::new(Bytes::from_static(BODY.as_bytes()))) })
    });
    let in_memory = rt.block_on(async {
        Client::builder(
            Config::new("app", Credentials::new("cid", "csecret").unwrap())
                .with_rate_limits(fast_limits()),
        )
        .with_service(instant.clone())
        .build()
        .unwrap()
    });
    g.bench_function("in_memory_service_direct", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = instant.clone();
            async move {
                let req = Request::builder().uri("/x").body(Bytes::new()).unwrap();
                tower::Service::call(&mut svc, req).await.unwrap()
            }
        });
    });
    g.bench_function("in_memory_full_stack", |b| {
        b.to_async(&rt).iter(|| stack_once(in_memory.clone()));
    });
    for concurrency in [1usize, 32] {
        g.bench_with_input(
            BenchmarkId::new("bare_hyper_util", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter(|| {
                    let (bare, url) = (bare.clone(), url.clone());
                    async move {
                        let mut set = JoinSet::new();
                        for _ in 0..n {
                            set.spawn(bare_once(bare.clone(), url.clone()));
                        }
                        while set.join_next().await.is_some() {}
                    }
                });
            },
        );
        g.bench_with_input(
            BenchmarkId::new("full_stack", concurrency),
            &concurrency,
            |b, &n| {
                b.to_async(&rt).iter(|| {
                    let stack = stack.clone();
                    async move {
                        let mut set = JoinSet::new();
                        for _ in 0..n {
                            set.spawn(stack_once(stack.clone()));
                        }
                        while set.join_next().await.is_some() {}
                    }
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
