//! `agora-rest controller run` as a process against the emulator on 127.0.0.1: it creates what
//! the spec file declares, reloads on SIGHUP (deleting dropped keys, updating changed ones,
//! refusing a bad file without changing anything), and exits 0 on SIGTERM leaving the
//! converters running. Every wait is bounded.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::process::Stdio;
use std::time::Duration;

use agora_rest_emulator::Emulator;
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
        let all = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(all.contains(needle), "{needle}: {all}");
    }
    assert!(emu.request_log().is_empty(), "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}
