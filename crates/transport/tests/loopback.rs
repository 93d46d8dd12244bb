//! Real sockets on 127.0.0.1, servers the test starts itself, bounded in time: TLS that
//! verifies `api.agora.io` against a generated CA, failover from a refusing host, and the
//! per-attempt timeout on a stalled one.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agora_rest_core::backoff::{Schedule, Step};
use agora_rest_core::operation::Operation;
use agora_rest_core::region::Area;
use agora_rest_transport::{Call, Client, Config, Credentials, Error, StaticResolver};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

const FAST: Schedule = Schedule::new(&[Step {
    base: Duration::from_millis(10),
    jitter: Duration::ZERO,
}])
.repeating_last();

struct Pki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let names: Vec<String> = agora_rest_core::region::Host::all()
        .map(agora_rest_core::region::Host::name)
        .collect();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        server,
    }
}

/// A TLS server answering 200 with the Host it was asked for; counts authenticated requests.
async fn tls_server(config: rustls::ServerConfig, authed: Arc<AtomicUsize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let authed = Arc::clone(&authed);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let authed = Arc::clone(&authed);
                    async move {
                        if req.headers().contains_key("authorization") {
                            authed.fetch_add(1, Ordering::SeqCst);
                        }
                        let host = req
                            .headers()
                            .get("host")
                            .map(|h| h.to_str().unwrap().to_string())
                            .or_else(|| req.uri().host().map(str::to_string))
                            .unwrap_or_default();
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
                            host,
                        ))))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

fn config(ca_pem: &str, resolver: StaticResolver) -> Config {
    Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_area(Area::Eu)
        .with_extra_root_certificate(ca_pem.as_bytes().to_vec())
        .with_resolver(resolver.into_resolver())
        .with_failover_delays(FAST)
        .with_attempt_timeout(Duration::from_millis(500))
}

async fn get(client: &Client, op: Operation) -> Result<Response<Bytes>, Error> {
    let req = client
        .request(
            Call::new(op, "/t"),
            Method::GET,
            "/eu/v1/projects/app/x",
            None,
        )
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn tls_verifies_api_agora_io_on_loopback() {
    let pki = pki();
    let authed = Arc::new(AtomicUsize::new(0));
    let addr = tls_server(pki.server, Arc::clone(&authed)).await;
    let client = Client::builder(config(
        &pki.ca_pem,
        StaticResolver::new().all_agora_hosts(addr),
    ))
    .build()
    .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), get(&client, Operation::PushGet))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), "api.agora.io");
    assert_eq!(authed.load(Ordering::SeqCst), 1);

    // Without the CA the same server is refused.
    let plain = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_resolver(StaticResolver::new().all_agora_hosts(addr).into_resolver())
        .with_failover_delays(FAST)
        .with_attempt_timeout(Duration::from_millis(500));
    let untrusting = Client::builder(plain).build().unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        get(&untrusting, Operation::PushGet),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn refused_primary_fails_over_to_the_adjacent_region() {
    let pki = pki();
    let addr = tls_server(pki.server, Arc::new(AtomicUsize::new(0))).await;
    let dead = closed_port().await;
    let resolver = StaticResolver::new()
        .with("api.agora.io", dead)
        .with("api.sd-rtn.com", dead)
        .with("api-eu-central-1.agora.io", addr);
    let client = Client::builder(config(&pki.ca_pem, resolver))
        .build()
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), get(&client, Operation::PushGet))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.body(), "api-eu-central-1.agora.io");
}

#[tokio::test]
async fn stalled_host_hits_the_attempt_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(s); // accept, never answer
        }
    });
    let client = Client::builder(
        Config::new("app", Credentials::new("cid", "csecret").unwrap())
            .with_endpoint(format!("http://{addr}"))
            .with_attempt_timeout(Duration::from_millis(300)),
    )
    .build()
    .unwrap();
    let started = tokio::time::Instant::now();
    let req = client
        .request(
            Call::new(Operation::PushCreate, "/t"),
            Method::POST,
            "/na/v1/x",
            Some(Bytes::from("{}")),
        )
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), client.send(req))
        .await
        .unwrap()
        .unwrap_err();
    match &err {
        Error::Timeout { host, .. } => assert_eq!(host, &addr.to_string()),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.request_id().map(str::len), Some(32), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a create is not resent after a timeout"
    );
}

#[test]
fn plain_http_to_a_public_host_is_refused() {
    let err = Client::builder(
        Config::new("app", Credentials::new("cid", "csecret").unwrap())
            .with_endpoint("http://api.agora.io"),
    )
    .build()
    .unwrap_err();
    assert!(matches!(err, Error::InsecureEndpoint { .. }));
}
