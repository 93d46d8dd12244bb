//! The hardened server at the file-descriptor limit: `accept()` fails with EMFILE; the server
//! neither exits nor spins, and serves again once descriptors are free. Its own test binary,
//! because it lowers the process's descriptor limit.
#![cfg(all(feature = "server", unix))]
#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::sync::atomic::Ordering;
use std::time::Duration;

use agora_rest_transport::server::{HardenedServer, ServerLimits, serve_until};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(64, |d| d.count() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_are_waited_out_without_spinning() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HardenedServer::new(
        ServerLimits {
            idle_timeout: Duration::from_secs(30),
            ..ServerLimits::default()
        },
        None,
    )
    .unwrap();
    let svc = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    tokio::spawn(serve_until(
        server.clone(),
        listener,
        None,
        svc,
        std::future::pending(),
    ));

    // Room for 40 more descriptors: each accepted connection takes two (client and server
    // side, one process), so the server hits EMFILE after about 20.
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, open_fds() + 40, hard).unwrap();
    let mut clients = Vec::new();
    for _ in 0..40 {
        match TcpStream::connect(addr).await {
            Ok(s) => clients.push(s),
            Err(_) => break,
        }
    }
    // Two seconds at the limit: with back-off from 5 ms doubling to 1 s, a dozen errors at
    // most; a spinning loop would count thousands.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let errors = server.stats().accept_errors.load(Ordering::Relaxed);
    assert!(errors >= 1, "the limit was reached");
    assert!(errors <= 20, "{errors} accept errors in 2 s: spinning");

    drop(clients);
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).unwrap();
    // Served again, by the same loop.
    let answered = async {
        loop {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                let _ = s
                    .write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
                    .await;
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                if buf.starts_with(b"HTTP/1.1 200") {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), answered)
        .await
        .expect("served again after the limit");
}
