//! The two clients the transport benches compare, and the loopback server they both call.
//!
//! The bare hyper-util client sends the same request the stack sends: same path, and the same
//! user agent, authorization and request id headers (fixed values), so both put the same bytes
//! on the wire and the server does the same work; the difference is the stack's own cost
//! (building the request id, auth, rate limiting, retry policy, failover, timeouts, tracing).

use std::net::SocketAddr;

use agora_rest_core::operation::Operation;
use agora_rest_core::rate::{Rate, RateLimits};
use agora_rest_transport::{Call, Client, Config, Credentials};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinSet;

/// The answer of the loopback server: a Media Push Get body.
pub const BODY: &str = r#"{"converter":{"id":"4c014467d647bb87b60b719f6fa57686","createTs":1591786766,"updateTs":1591786766,"state":"running"},"fields":"id,createTs,updateTs,state"}"#;

const PATH: &str = "/na/v1/projects/app/rtmp-converters/4c014467d647bb87b60b719f6fa57686";

/// A hyper server on 127.0.0.1 answering every request with [`BODY`].
pub async fn server() -> SocketAddr {
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

/// Rate limits so high they never throttle.
pub fn fast_limits() -> RateLimits {
    RateLimits {
        media_push_per_api: Rate::per_second(1_000_000_000),
        media_push_update_per_converter: Rate::per_second(1_000_000_000),
        cloud_transcoding_per_account: Rate::per_second(1_000_000_000),
    }
}

/// The bare client and the full stack, both pointed at one loopback server.
#[derive(Clone)]
pub struct Pair {
    /// A hyper-util pooled client with default settings.
    pub bare: HyperClient<HttpConnector, Full<Bytes>>,
    /// The full URL of the bare client's request.
    pub url: String,
    /// The transport client, endpoint set to the server.
    pub stack: Client,
}

impl Pair {
    /// Starts the server and builds both clients.
    pub async fn start() -> Pair {
        let addr = server().await;
        let stack = Client::builder(
            Config::new("app", Credentials::new("cid", "csecret").unwrap())
                .with_endpoint(format!("http://{addr}"))
                .with_rate_limits(fast_limits()),
        )
        .build()
        .unwrap();
        Pair {
            bare: HyperClient::builder(TokioExecutor::new()).build_http(),
            url: format!("http://{addr}{PATH}"),
            stack,
        }
    }

    /// One request with the bare client.
    pub async fn bare_once(&self) {
        let req = Request::builder()
            .method(Method::GET)
            .uri(self.url.as_str())
            .header("user-agent", agora_rest_transport::config::USER_AGENT)
            .header("authorization", "Basic Y2lkOmNzZWNyZXQ=")
            .header("x-request-id", "0f5c3b0a9a8e4c1e9a4a4e2b7f3d2c1a")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = self.bare.request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), BODY.len());
    }

    /// One request with either client.
    pub async fn once(&self, stack: bool) {
        if stack {
            stack_once(&self.stack).await;
        } else {
            self.bare_once().await;
        }
    }

    /// `concurrency` requests in flight at all times (each of `concurrency` tasks sends its
    /// next request when its last one is answered, as `wrk -c` does), `each` per task.
    pub async fn closed_loop(&self, stack: bool, concurrency: usize, each: usize) {
        let mut set = JoinSet::new();
        for _ in 0..concurrency {
            let pair = self.clone();
            set.spawn(async move {
                for _ in 0..each {
                    pair.once(stack).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
    }
}

/// One Media Push Get through `client`.
pub async fn stack_once(client: &Client) {
    let req = client
        .request(
            Call::new(
                Operation::PushGet,
                "/{region}/v1/projects/{appId}/rtmp-converters/{id}",
            ),
            Method::GET,
            PATH,
            None,
        )
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.body().len(), BODY.len());
}
