//! The emulator holds against hostile clients: credentials checked before any body is read,
//! bounded request log and per-app state. Sockets on 127.0.0.1 with lowered timeouts; every
//! wait is bounded.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::time::Duration;

use agora_rest_emulator::{Emulator, ServerLimits};
use common::{AUTH, PUSH, T, converter};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 300 connections announce a 1 MiB body and send a few bytes without credentials: each is
/// answered 401 from its head at once; no body is awaited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_bodies_are_never_read() {
    let emu = Emulator::builder()
        .credentials("cid", "csecret")
        .server_limits(ServerLimits {
            body_read_timeout: Duration::from_secs(30),
            ..ServerLimits::default()
        })
        .start()
        .await
        .unwrap();
    let addr = emu.url().trim_start_matches("http://").to_string();
    let run = async {
        let mut conns = Vec::new();
        for _ in 0..300 {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(
                format!("POST {PUSH} HTTP/1.1\r\nhost: a\r\ncontent-length: 1048576\r\n\r\nxyz")
                    .as_bytes(),
            )
            .await
            .unwrap();
            conns.push(s);
        }
        for s in &mut conns {
            let mut head = [0u8; 12];
            s.read_exact(&mut head).await.unwrap();
            assert_eq!(&head, b"HTTP/1.1 401");
        }
        // Wrong credentials too.
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(format!("POST {PUSH} HTTP/1.1\r\nhost: a\r\nauthorization: Basic Y2lkOndyb25n\r\ncontent-length: 1048576\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 401");
    };
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("answered from the head, at once");
    assert!(emu.request_log().len() >= 301, "refusals are logged");
}

/// A request-log entry keeps at most 512 bytes of path whatever the client sends, and the
/// log keeps at most its capacity of entries.
#[tokio::test(start_paused = true)]
async fn the_request_log_is_bounded_in_entries_and_bytes() {
    let t = T::new(Emulator::builder().log_capacity(50).build());
    let long = format!("{PUSH}/{}", "a".repeat(60_000));
    for _ in 0..100 {
        let a = t
            .send(
                Method::GET,
                &long,
                None,
                &[
                    ("authorization", AUTH),
                    ("x-request-id", &"r".repeat(10_000)),
                ],
            )
            .await;
        assert!(a.status >= 400, "{}", a.status);
    }
    let log = t.emu.request_log();
    assert_eq!(log.len(), 50);
    for e in &log {
        assert!(
            e.path.len() <= 512 && e.request_id.len() <= 128 && e.host.len() <= 512,
            "{}",
            e.path.len()
        );
    }
}

/// Without `--app-id`, state is kept for a bounded number of app ids.
#[tokio::test(start_paused = true)]
async fn per_app_state_is_capped() {
    let t = T::new(Emulator::builder().max_apps(3).build());
    for app in ["a1", "a2", "a3"] {
        let path = PUSH.replace("/app/", &format!("/{app}/"));
        let a = t
            .call(
                Method::POST,
                &path,
                Some(converter("n", "show68", 640, 360)),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let path = PUSH.replace("/app/", "/a4/");
    let a = t
        .call(
            Method::POST,
            &path,
            Some(converter("n", "show68", 640, 360)),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    // Apps already known keep working.
    let path = PUSH.replace("/app/", "/a1/");
    let a = t
        .call(
            Method::POST,
            &path,
            Some(converter("m", "show68", 640, 360)),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
