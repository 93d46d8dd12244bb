//! `agora-rest controller run` as a process against the emulator on 127.0.0.1: it creates what
//! the spec file declares, reloads on SIGHUP (deleting dropped keys, updating changed ones,
//! refusing a bad file without changing anything), and exits 0 on SIGTERM leaving the
//! converters running. Every wait is bounded.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::process::Stdio;
use std::time::Duration;

mod common;

use agora_rest_emulator::Emulator;
use common::http_get;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const SECRET: &str = "ctl-s3cr3t-value";

fn spec(main_url: &str, with_raw: bool) -> String {
    let mut s = format!(
        "converters:
  - region: na
    converter:
      name: run_main
      rtmpUrl: {main_url}
      rawOptions: {{ rtcChannel: show68, rtcStreamUid: 1001 }}
"
    );
    if with_raw {
        s.push_str(
            "  - region: eu
    converter:
      name: run_raw
      rtmpUrl: rtmp://b.example.com/live/x
      rawOptions: { rtcChannel: show68, rtcStreamUid: 1002 }
",
        );
    }
    s
}

fn start(url: &str, spec_path: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_agora-rest"))
        .args(["controller", "run", "--output", "json", "--poll-every", "2"])
        .arg("--spec")
        .arg(spec_path)
        .arg("--endpoint")
        .arg(url)
        .env("AGORA_APP_ID", "app")
        .env("AGORA_CUSTOMER_ID", "cid")
        .env("AGORA_CUSTOMER_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The first event (already seen, or read next) that matches; every line read is kept in
/// `seen` (events of different keys arrive in any order).
async fn until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    seen: &mut Vec<String>,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    if let Some(v) = seen
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| f(v))
    {
        return v;
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("stdout open");
            seen.push(line.clone());
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if f(&v) {
                return v;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no matching event within 30 s; seen {seen:?}"))
}

fn signal(child: &Child, sig: &str) {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn names(emu: &agora_rest_emulator::RunningEmulator) -> Vec<(String, String)> {
    let mut v: Vec<_> = emu
        .converters()
        .into_iter()
        .map(|c| {
            (
                c.converter.name.unwrap_or_default(),
                c.converter.rtmp_url.unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reload_and_terminate() {
    let emu = Emulator::builder()
        .credentials("cid", SECRET)
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("agora-ctl-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("specs.yaml");
    std::fs::write(&path, spec("rtmp://a.example.com/live/x", true)).unwrap();
    let mut child = start(&emu.url(), &path);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let ev = |name: &'static str, key: &'static str| {
        move |v: &serde_json::Value| v["event"] == name && v["key"] == key
    };
    until(&mut lines, &mut seen, ev("created", "run_main")).await;
    until(&mut lines, &mut seen, ev("created", "run_raw")).await;
    assert_eq!(names(&emu).len(), 2);

    // SIGHUP: one key dropped, one URL changed.
    std::fs::write(&path, spec("rtmp://c.example.com/live/x", false)).unwrap();
    signal(&child, "-HUP");
    until(&mut lines, &mut seen, ev("deleted", "run_raw")).await;
    until(&mut lines, &mut seen, ev("updated", "run_main")).await;
    assert_eq!(
        names(&emu),
        [(
            "run_main".to_string(),
            "rtmp://c.example.com/live/x".to_string()
        )]
    );

    // A bad file is refused as a whole: nothing changes, the process keeps running.
    let bad = format!(
        "{}{}",
        spec("rtmp://d.example.com/live/x", false),
        "  - region: na\n    converter:\n      name: run_main\n      rtmpUrl: rtmp://e/x\n      rawOptions: { rtcChannel: show68, rtcStreamUid: 1 }\n"
    );
    std::fs::write(&path, bad).unwrap();
    let log_before = emu.request_log().len();
    signal(&child, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(
        names(&emu),
        [(
            "run_main".to_string(),
            "rtmp://c.example.com/live/x".to_string()
        )]
    );
    assert!(
        emu.request_log()[log_before..]
            .iter()
            .all(|l| l.method == "GET"),
        "the bad file sent nothing but polls"
    );

    // SIGTERM: exit 0, the converter keeps running.
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within 10 s")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(names(&emu).len(), 1);
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("declared twice"), "{stderr}");
    assert!(stderr.contains("reload refused"), "{stderr}");
    for text in seen.iter().chain(std::iter::once(&stderr)) {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_spec_file_exits_2_before_any_request() {
    let emu = Emulator::builder().start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("agora-ctl-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("specs.yaml");
    for (text, needle) in [
        (
            "converters:\n  - region: na\n    converter:\n      name: x\n      rtmpUrl: http://not-rtmp\n      rawOptions: { rtcChannel: c, rtcStreamUid: 1 }\n",
            "converters[0]",
        ),
        ("convertrs: []\n", "unknown field"),
        (
            "converters:\n  - region: mars\n    converter: { name: x }\n",
            "region",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = start(&emu.url(), &path).wait_with_output().await.unwrap();
        // With --output json the error is a JSON document on stdout.
        let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let all = error["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert_eq!(error["error"]["exitCode"], 2, "{error}");
        assert!(all.contains(needle), "{needle}: {all}");
    }
    assert!(emu.request_log().is_empty(), "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of the first sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_and_match_the_calls_made() {
    let emu = Emulator::builder()
        .credentials("cid", SECRET)
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("agora-ctl-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("specs.yaml");
    std::fs::write(&path, spec("rtmp://a.example.com/live/x", true)).unwrap();
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-rest"))
        .args([
            "controller",
            "run",
            "--output",
            "json",
            "--poll-every",
            "0.5",
        ])
        .arg("--spec")
        .arg(&path)
        .args(["--endpoint", &emu.url(), "--metrics", &addr])
        .env("AGORA_APP_ID", "app")
        .env("AGORA_CUSTOMER_ID", "cid")
        .env("AGORA_CUSTOMER_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for key in ["run_main", "run_raw"] {
        until(&mut lines, &mut seen, |v| {
            v["event"] == "created" && v["key"] == key
        })
        .await;
    }
    // A few polls later, every count is settled enough to compare with the emulator's log.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Calls may go on while scraping: the counts lie between the log before and after.
    let before = emu.request_log();
    let (status, text) = http_get(&addr, "/metrics").await;
    let after = emu.request_log();
    assert_eq!(status, 200, "{text}");
    let served = |log: &[agora_rest_emulator::LogEntry], op: &str| {
        log.iter()
            .filter(|e| e.op.is_some_and(|o| o.name() == op) && e.status == 200)
            .count() as f64
    };
    for op in ["push.create", "push.get", "push.list"] {
        let (low, high) = (served(&before, op), served(&after, op));
        assert!(low > 0.0, "{op} was called");
        let calls = sample(
            &text,
            "agora_rest_calls_total",
            &[("op", op), ("outcome", "200")],
        )
        .unwrap_or(-1.0);
        let attempts = sample(
            &text,
            "agora_rest_requests_total",
            &[("op", op), ("status", "200")],
        )
        .unwrap_or(-1.0);
        assert!(
            (low..=high).contains(&calls),
            "{op} calls {calls} not in {low}..={high}:\n{text}"
        );
        assert!(
            (low..=high).contains(&attempts),
            "{op} attempts {attempts} not in {low}..={high}:\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "agora_rest_reconcile_actions_total",
            &[("service", "mediapush"), ("action", "create")]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "agora_rest_resources",
            &[("service", "mediapush"), ("state", "healthy")]
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        sample(&text, "agora_rest_retry_budget_tokens", &[]).is_some()
            || !text.contains("retries_total")
    );
    // Anything but GET /metrics is refused; no secret is ever in the text.
    assert_eq!(http_get(&addr, "/other").await.0, 404);
    assert!(!text.contains(SECRET));
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
