//! `--metrics ADDR`: the process's metrics in Prometheus' text format at `GET /metrics`, on
//! the hardened server (header, body, idle and TLS timeouts, a connection cap).

use std::convert::Infallible;
use std::net::SocketAddr;

use agora_rest_transport::server::{HardenedServer, serve_until};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::Failure;
use crate::webhook::ServerLimitArgs;

/// Installs the process-wide Prometheus recorder: every metric the clients and controllers
/// record from now on is kept for scraping (or printing).
pub(crate) fn install() -> Result<PrometheusHandle, Failure> {
    let fail = |e: &dyn std::fmt::Display| {
        Failure::service(format!("cannot install the metrics recorder: {e}"))
    };
    // Rate-limit waits as a histogram (buckets from a millisecond to the longest wait allowed)
    // rather than the exporter's default summary: histograms add up across replicas.
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(agora_rest_transport::metrics::RATE_LIMIT_WAIT.to_string()),
            &WAIT_BUCKETS,
        )
        .map_err(|e| fail(&e))?
        .install_recorder()
        .map_err(|e| fail(&e))
}

/// Bucket bounds of the rate-limit wait histogram, in seconds.
const WAIT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0,
];

/// Serves `handle` at `http://ADDR/metrics` until the process ends.
pub(crate) async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    limits: &ServerLimitArgs,
) -> Result<SocketAddr, Failure> {
    let server = HardenedServer::new(limits.limits(), None)
        .map_err(|e| Failure::input(format!("server limits: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::input(format!("--metrics {addr}: cannot listen: {e}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let service = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let handle = handle.clone();
        async move { Ok::<_, Infallible>(answer(&handle, &req)) }
    });
    tracing::info!(addr = %bound, "serving metrics at /metrics");
    tokio::spawn(serve_until(
        server,
        listener,
        None,
        service,
        std::future::pending(),
    ));
    Ok(bound)
}

fn answer(handle: &PrometheusHandle, req: &Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if req.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: the metrics are at /metrics\n".to_string(),
        )
    } else if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics\n".to_string(),
        )
    } else {
        (StatusCode::OK, "text/plain; version=0.0.4", handle.render())
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}
