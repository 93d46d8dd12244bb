//! The emulator's socket server against hostile clients, at full size: the figures of the
//! hardening issue. Loopback only; every phase is bounded in time. Not a criterion bench: it
//! prints a table.
//!
//! `cargo bench -p agora-rest-benches --bench server_hardening`
//!
//! One process holds both the clients and the server, so the RSS figures include the clients'
//! own (small) buffers: they bound the server's growth from above.

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agora_rest_emulator::{Emulator, RunningEmulator, ServerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn fresh_get(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    let req = "GET /v1/projects/app/rtmp-converters HTTP/1.1\r\nhost: a\r\nauthorization: Basic Y2lkOmNzZWNyZXQ=\r\nconnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    buf.starts_with(b"HTTP/1.1 200")
}

async fn start(limits: ServerLimits) -> (RunningEmulator, String) {
    let emu = Emulator::builder()
        .credentials("cid", "csecret")
        .server_limits(limits)
        .start()
        .await
        .unwrap();
    let addr = emu.url().trim_start_matches("http://").to_string();
    (emu, addr)
}

async fn closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

async fn slowloris() {
    let header = Duration::from_secs(2);
    let (_emu, addr) = start(ServerLimits {
        header_read_timeout: header,
        max_connections: 2000,
        ..ServerLimits::default()
    })
    .await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            let _ = s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nx-slow: ").await;
            let t0 = Instant::now();
            for _ in 0..100 {
                if s.write_all(b"a").await.is_err() {
                    break;
                }
                if closed(&mut s, Duration::from_millis(200)).await {
                    break;
                }
            }
            t0.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let served = fresh_get(&addr).await;
    let mut longest = Duration::ZERO;
    for t in tasks {
        longest = longest.max(t.await.unwrap());
    }
    println!(
        "| 1,000 slowloris connections (header timeout {header:?}) | all closed; the longest lived {:.2} s; a fresh request during the attack served: {served}; phase {:.1} s |",
        longest.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

async fn idle_and_fd_limit() {
    let idle = Duration::from_secs(3);
    let (emu, addr) = start(ServerLimits {
        idle_timeout: idle,
        ..ServerLimits::default()
    })
    .await;
    let stats = std::sync::Arc::clone(emu.server_stats());
    let mut conns = Vec::new();
    for _ in 0..10_000 {
        match TcpStream::connect(&addr).await {
            Ok(s) => conns.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open_at_cap = stats.open.load(Ordering::Relaxed);
    let refused = stats.refused_at_cap.load(Ordering::Relaxed);
    tokio::time::sleep(idle + Duration::from_millis(500)).await;
    let open_after = stats.open.load(Ordering::Relaxed);
    let served = fresh_get(&addr).await;
    println!(
        "| 10,000 idle connections (cap 512, idle timeout {idle:?}) | {} connected; {open_at_cap} held by the server, {refused} closed at once over the cap; {open_after} left after the idle timeout; a fresh request then served: {served} |",
        conns.len()
    );
    drop(conns);

    // At the descriptor limit: accept() fails with EMFILE for as long as clients hold the rest.
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let open = std::fs::read_dir("/proc/self/fd").map_or(100, |d| d.count() as u64);
    rlimit::setrlimit(rlimit::Resource::NOFILE, open + 300, hard).unwrap();
    let mut holders = Vec::new();
    for _ in 0..400 {
        match TcpStream::connect(&addr).await {
            Ok(s) => holders.push(s),
            Err(_) => break,
        }
    }
    // Let the connections above settle before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let errors0 = stats.accept_errors.load(Ordering::Relaxed);
    let cpu0 = cpu_secs();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = cpu_secs() - cpu0;
    let errors = stats.accept_errors.load(Ordering::Relaxed) - errors0;
    drop(holders);
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = fresh_get(&addr).await;
    println!(
        "| at the fd limit for 5 s | {errors} accept errors waited out; {cpu:.2} s of CPU in 5 s (no busy spin); served again after: {served} |"
    );
}

async fn unauthenticated_bodies() {
    let (emu, addr) = start(ServerLimits {
        max_connections: 4000,
        ..ServerLimits::default()
    })
    .await;
    let before = rss_mb();
    let mut conns = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let head = "POST /na/v1/projects/app/rtmp-converters HTTP/1.1\r\nhost: a\r\ncontent-length: 1048576\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        let _ = s.write_all(&vec![b'x'; 64 * 1024]).await;
        conns.push(s);
    }
    let mut refused = 0;
    for s in &mut conns {
        let mut head = [0u8; 12];
        if tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head))
            .await
            .is_ok_and(|r| r.is_ok())
            && &head == b"HTTP/1.1 401"
        {
            refused += 1;
        }
    }
    let peak = rss_mb();
    drop(conns);
    let _ = &emu;
    println!(
        "| 2,000 unauthenticated partial-body connections (1 MiB announced, 64 KiB sent) | {refused} answered 401 from the head; RSS growth {:.1} MB (target ≤ 50) |",
        peak - before
    );
}

async fn huge_heads() {
    let (emu, addr) = start(ServerLimits::default()).await;
    let path = format!(
        "/v1/projects/app/rtmp-converters/{}",
        "a".repeat(300 * 1024)
    );
    let header = format!("x-big: {}", "b".repeat(300 * 1024));
    let started = Instant::now();
    let mut answered = 0u32;
    let mut peak: f64 = rss_mb();
    let mut tasks = Vec::new();
    for worker in 0..32u32 {
        let (addr, path, header) = (addr.clone(), path.clone(), header.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u32;
            for i in 0..625u32 {
                let Ok(mut s) = TcpStream::connect(&addr).await else { continue };
                let req = if (worker + i) % 2 == 0 {
                    format!("GET {path} HTTP/1.1\r\nhost: a\r\n\r\n")
                } else {
                    format!("GET /v1/projects/app/rtmp-converters HTTP/1.1\r\nhost: a\r\n{header}\r\n\r\n")
                };
                let _ = s.write_all(req.as_bytes()).await;
                let mut head = [0u8; 12];
                if tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut head)).await.is_ok_and(|r| r.is_ok()) {
                    ok += 1;
                }
            }
            ok
        }));
    }
    for t in tasks {
        answered += t.await.unwrap();
        peak = peak.max(rss_mb());
    }
    let _ = &emu;
    println!(
        "| 20,000 requests with 300 KB paths or headers | {answered} answered (431, head too large) in {:.1} s; RSS {:.1} MB at the end (target ≤ 100); request log {} entries |",
        started.elapsed().as_secs_f64(),
        peak.max(rss_mb()),
        emu.request_log().len()
    );
}

fn main() {
    // `cargo bench` passes --bench; this harness takes no options.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("| scenario | result |");
        println!("| --- | --- |");
        slowloris().await;
        idle_and_fd_limit().await;
        unauthenticated_bodies().await;
        huge_heads().await;
    });
    let _ = Ordering::Relaxed;
}
