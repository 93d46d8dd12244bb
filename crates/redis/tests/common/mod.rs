//! A real Redis for the tests: the one `cargo xtask ci` started (`AGORA_REST_REDIS_URL`),
//! or, when that is not set, a `redis-server` this test starts on a free loopback port and
//! stops when done. Without either, the test fails with a one-line instruction: it never skips.

#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A Redis the test talks to; a server this test started is stopped on drop.
pub(crate) struct TestRedis {
    pub(crate) url: String,
    pub(crate) port: u16,
    child: Option<Child>,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a private `redis-server` on `port` (no persistence) and waits until it answers.
pub(crate) fn start_server(port: u16) -> Child {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("redis-server could not be started ({e}): install it (apt-get install redis-server) or run `cargo xtask ci`, which does")
        });
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not listen on 127.0.0.1:{port} within 2 s");
}

/// The shared server (from xtask) or a private one.
pub(crate) fn redis() -> TestRedis {
    if let Ok(url) = std::env::var("AGORA_REST_REDIS_URL")
        && !url.is_empty()
    {
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or(6379);
        return TestRedis {
            url,
            port,
            child: None,
        };
    }
    private_redis()
}

/// A server of this test's own (for tests that stop and restart it).
pub(crate) fn private_redis() -> TestRedis {
    let port = free_port();
    let child = start_server(port);
    TestRedis {
        url: format!("redis://127.0.0.1:{port}"),
        port,
        child: Some(child),
    }
}

/// A project id no other test uses: its keys are this test's alone.
pub(crate) fn unique_app(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Stand-ins for tests that stop their server early.
pub(crate) struct TestRedisPlaceholder;

impl TestRedisPlaceholder {
    /// A `TestRedis` that owns no server.
    pub(crate) fn none() -> TestRedis {
        TestRedis {
            url: String::new(),
            port: 0,
            child: None,
        }
    }
}
