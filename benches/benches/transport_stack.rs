//! Time per request of the full transport stack vs a bare hyper-util client, against the same
//! loopback hyper server, at concurrency 1 and 32 (that many requests in flight at all times,
//! as `wrk -c` counts it). Rate limits are set high so they do not
//! throttle; everything else (request id, retry policy, failover, timeout, auth, tracing span)
//! runs. Target: full stack ≤ 1.10 × bare. Both clients send the same headers (see
//! `support/transport_pair.rs`). `transport_ratio` measures the same pair interleaved, which
//! is the steadier figure on a shared machine.
//!
//! Run: `cargo bench -p agora-rest-benches --bench transport_stack`.

#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented items
#![allow(clippy::unwrap_used)] // a bench panics loudly on a broken setup
#![allow(clippy::disallowed_methods)] // `iter_custom` measures wall time with `Instant::now`

use std::time::Duration;

use agora_rest_transport::{Client, Config, Credentials};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tokio::runtime::Runtime;

#[path = "support/transport_pair.rs"]
#[allow(unreachable_pub)] // shared with the interleaved harness
mod pair;

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let pair = rt.block_on(pair::Pair::start());

    let mut g = c.benchmark_group("transport_stack");
    g.measurement_time(Duration::from_secs(5));
    // CPU cost of the stack alone: an in-memory service that answers at once.
    let instant = agora_rest_transport::shared::SharedService::from_fn(|_req| {
        Box::pin(async { Ok(Response::new(Bytes::from_static(pair::BODY.as_bytes()))) })
    });
    let in_memory = rt.block_on(async {
        Client::builder(
            Config::new("app", Credentials::new("cid", "csecret").unwrap())
                .with_rate_limits(pair::fast_limits()),
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
        b.to_async(&rt).iter(|| pair::stack_once(&in_memory));
    });
    // The same with a fixed endpoint (the emulator's case, and the loopback pair's).
    let in_memory_fixed = rt.block_on(async {
        Client::builder(
            Config::new("app", Credentials::new("cid", "csecret").unwrap())
                .with_endpoint("http://127.0.0.1:9")
                .with_rate_limits(pair::fast_limits()),
        )
        .with_service(instant.clone())
        .build()
        .unwrap()
    });
    g.bench_function("in_memory_full_stack_fixed_endpoint", |b| {
        b.to_async(&rt).iter(|| pair::stack_once(&in_memory_fixed));
    });
    // One criterion iteration is one request; `n` requests are in flight at all times.
    for concurrency in [1usize, 32] {
        for (name, stack) in [("bare_hyper_util", false), ("full_stack", true)] {
            g.bench_with_input(
                BenchmarkId::new(name, concurrency),
                &concurrency,
                |b, &n| {
                    b.to_async(&rt).iter_custom(|iters| {
                        let pair = pair.clone();
                        async move {
                            let each = usize::try_from(iters).unwrap().div_ceil(n).max(1);
                            let started = std::time::Instant::now();
                            pair.closed_loop(stack, n, each).await;
                            let sent = u32::try_from(each * n).unwrap();
                            started.elapsed() / sent * u32::try_from(iters).unwrap()
                        }
                    });
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
