//! The hardened server against slow, idle and hostile clients, bounded for CI: a few hundred
//! connections on 127.0.0.1, timeouts lowered to a few hundred milliseconds. Socket timeouts
//! need the real clock; every wait below is bounded by an overall timeout.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agora_rest_transport::server::{Gate, HardenedServer, ServerLimits, serve_until};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(400),
        tls_handshake_timeout: Duration::from_millis(300),
        max_connections: 1000,
        ..ServerLimits::default()
    }
}

/// Echoes the body length; `POST /secret` needs the header `x-ok: yes` (checked by the gate).
fn service() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|req: Request<Full<Bytes>>| async move {
        use http_body_util::BodyExt;
        let n = req.into_body().collect().await.unwrap().to_bytes().len();
        Ok(Response::new(Full::new(Bytes::from(format!("{n}")))))
    })
}

fn gate() -> Gate {
    Arc::new(|parts: &http::request::Parts| {
        (parts.uri.path() == "/secret" && parts.headers.get("x-ok").is_none()).then(|| {
            let mut r = Response::new(Full::new(Bytes::from_static(b"{\"message\":\"no\"}")));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        })
    })
}

async fn start(limits: ServerLimits) -> (std::net::SocketAddr, HardenedServer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HardenedServer::new(limits, None).unwrap();
    tokio::spawn(serve_until(
        server.clone(),
        listener,
        Some(gate()),
        service(),
        std::future::pending(),
    ));
    (addr, server)
}

/// Reads until the peer closes (or 5 s pass): what the server sent.
async fn until_closed(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()?;
    Some(String::from_utf8_lossy(&buf).to_string())
}

async fn get(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut s).await.expect("answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_within_the_header_timeout() {
    let (addr, _server) = start(limits()).await;
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\nx-slow: ")
            .await
            .unwrap();
        conns.push(s);
    }
    let started = tokio::time::Instant::now();
    // Each connection trickles a header byte every 100 ms (so it is never idle) until the
    // server closes it: only the header timeout can end it.
    let mut trickles = Vec::new();
    for s in conns {
        trickles.push(tokio::spawn(async move {
            let mut s = s;
            for _ in 0..50 {
                if s.write_all(b"a").await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Closed by the server: a read sees the end.
            let mut buf = [0u8; 64];
            matches!(
                tokio::time::timeout(Duration::from_millis(10), s.read(&mut buf)).await,
                Ok(Ok(0) | Err(_))
            )
        }));
    }
    for t in trickles {
        assert!(
            t.await.unwrap(),
            "a slowloris connection outlived 5 s of trickling"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        get(addr).await.starts_with("HTTP/1.1 200"),
        "fresh requests are served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_the_cap_holds() {
    let (addr, server) = start(ServerLimits {
        max_connections: 100,
        ..limits()
    })
    .await;
    let mut conns = Vec::new();
    for _ in 0..300 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    for s in &mut conns {
        until_closed(s)
            .await
            .expect("closed: at the cap at once, else when idle");
    }
    let stats = server.stats();
    assert!(
        stats.refused_at_cap.load(Ordering::Relaxed) >= 150,
        "{stats:?}"
    );
    assert!(stats.idle_closed.load(Ordering::Relaxed) >= 1, "{stats:?}");
    assert!(get(addr).await.starts_with("HTTP/1.1 200"));
    // A keep-alive connection that goes quiet after a request is closed too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut s).await.expect("closed when idle");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_answers_before_the_body_is_read_and_bodies_have_a_timeout() {
    let (addr, server) = start(limits()).await;
    // Announces 1 MiB and sends 10 bytes: refused by the gate at once, body never awaited.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /secret HTTP/1.1\r\nhost: a\r\ncontent-length: 1048576\r\n\r\n0123456789")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 401");
    assert_eq!(server.stats().gated.load(Ordering::Relaxed), 1);
    // Authorised but the body never comes: 408 within the body timeout.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /secret HTTP/1.1\r\nhost: a\r\nx-ok: yes\r\ncontent-length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let answer = until_closed(&mut s).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_handshakes_are_dropped() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HardenedServer::new(limits(), Some(Arc::new(config))).unwrap();
    tokio::spawn(serve_until(
        server.clone(),
        listener,
        None,
        service(),
        std::future::pending(),
    ));
    let mut conns = Vec::new();
    for _ in 0..100 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    for s in &mut conns {
        until_closed(s)
            .await
            .expect("dropped after the handshake timeout");
    }
    assert_eq!(server.stats().tls_failed.load(Ordering::Relaxed), 100);
}

#[test]
fn unusable_limits_are_refused() {
    for bad in [
        ServerLimits {
            idle_timeout: Duration::ZERO,
            ..ServerLimits::default()
        },
        ServerLimits {
            max_connections: 0,
            ..ServerLimits::default()
        },
        ServerLimits {
            max_header_bytes: 10,
            ..ServerLimits::default()
        },
    ] {
        assert!(HardenedServer::new(bad, None).is_err());
    }
}

/// A request in flight longer than the idle timeout keeps its connection, and the watchdog
/// does not spin meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_is_not_idle_and_the_watchdog_does_not_spin() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HardenedServer::new(
        ServerLimits {
            idle_timeout: Duration::from_millis(100),
            ..limits()
        },
        None,
    )
    .unwrap();
    let slow = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"late"))))
    });
    tokio::spawn(serve_until(
        server,
        listener,
        None,
        slow,
        std::future::pending(),
    ));
    let cpu_before = process_cpu();
    let answer = get(addr).await;
    let cpu = process_cpu() - cpu_before;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("late"),
        "{answer}"
    );
    assert!(
        cpu < 0.4,
        "{cpu:.2} s of CPU during an 800 ms request: the watchdog spun"
    );
}

/// User + system CPU seconds of this process.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("").to_string();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
