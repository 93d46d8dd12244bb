//! The CLI as an operator meets it: real tables, JSON errors, layouts from flags and files,
//! timestamped watch lines, logs on request, a wrong-shaped answer refused, server text with
//! control characters escaped, and messages in flags rather than library settings.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use agora_rest_emulator::Emulator;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "op-s3cr3t-value";

fn cmd(args: &[&str], endpoint: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agora-rest"));
    c.args(args)
        .args(["--endpoint", endpoint])
        .env("AGORA_APP_ID", "app")
        .env("AGORA_CUSTOMER_ID", "cid")
        .env("AGORA_CUSTOMER_SECRET", SECRET)
        .env_remove("RUST_LOG");
    c
}

async fn run(
    args: Vec<String>,
    endpoint: String,
    env: Vec<(&'static str, &'static str)>,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = cmd(&args, &endpoint);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(o)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_json_errors_layouts_watch_and_logs() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let emu = Emulator::builder()
            .credentials("cid", SECRET)
            .start()
            .await
            .unwrap();
        let url = emu.url();
        let create = run(
            words("push create --name lay --channel c --rtmp-url rtmp://h/a --uid 7 --output json"),
            url.clone(),
            vec![],
        )
        .await;
        assert!(create.status.success(), "{}", all(&create));
        let id = json(&create)["id"].as_str().unwrap().to_string();

        // A layout from flags, then from a JSON file; get shows the last one.
        let o = run(
            words(&format!(
                "push update {id} --layout 7:0,0,640x720 --layout 8:640,0,640x720 --output json"
            )),
            url.clone(),
            vec![],
        )
        .await;
        assert!(o.status.success(), "{}", all(&o));
        let got = json(&run(words(&format!("push get {id} --output json")), url.clone(), vec![]).await);
        let layout = &got["transcodeOptions"]["videoOptions"]["layout"];
        assert_eq!(layout.as_array().map(Vec::len), Some(2), "{got}");
        assert_eq!(layout[1]["rtcStreamUid"], 8, "{got}");
        let dir = std::env::temp_dir().join(format!("agora-op-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("layout.json");
        std::fs::write(
            &file,
            r#"[{"rtcStreamUid": 9, "region": {"xPos": 0, "yPos": 0, "zIndex": 1, "width": 1280, "height": 720}}]"#,
        )
        .unwrap();
        let o = run(
            vec![
                "push".into(),
                "update".into(),
                id.clone(),
                "--layout-json".into(),
                file.display().to_string(),
            ],
            url.clone(),
            vec![],
        )
        .await;
        assert!(o.status.success(), "{}", all(&o));
        let got = json(&run(words(&format!("push get {id} --output json")), url.clone(), vec![]).await);
        let layout = &got["transcodeOptions"]["videoOptions"]["layout"];
        assert_eq!(layout.as_array().map(Vec::len), Some(1), "{got}");
        assert_eq!(layout[0]["rtcStreamUid"], 9, "{got}");
        let bad = run(words(&format!("push update {id} --layout 7:0,0")), url.clone(), vec![]).await;
        assert_eq!(bad.status.code(), Some(2), "{}", all(&bad));
        assert!(all(&bad).contains("UID:X,Y,WxH"), "{}", all(&bad));

        // A real table by default.
        let table = run(words(&format!("push get {id}")), url.clone(), vec![]).await;
        let out = String::from_utf8_lossy(&table.stdout).to_string();
        assert!(table.status.success(), "{}", all(&table));
        assert!(out.contains('│') && out.contains("field") && out.contains("rtmpUrl"), "{out}");
        let list = run(words("push list"), url.clone(), vec![]).await;
        let out = String::from_utf8_lossy(&list.stdout).to_string();
        assert!(out.lines().nth(1).is_some_and(|l| l.contains('│')), "{out}");

        // Errors in JSON mode are a JSON document with the status and ids.
        // (A 403, refused at once: a 404 would first be confirmed over the guide's 30 s.)
        emu.add_fault("push.get:*:403".parse().unwrap());
        let missing = run(words("push get nope --output json"), url.clone(), vec![]).await;
        emu.clear_faults();
        assert_eq!(missing.status.code(), Some(1), "{}", all(&missing));
        let e = json(&missing);
        assert_eq!(e["error"]["status"], 403, "{e}");
        assert_eq!(e["error"]["exitCode"], 1, "{e}");
        assert!(e["error"]["requestId"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
        assert!(e["error"]["message"].as_str().is_some(), "{e}");

        // Operator language: the flag to give, not a library setting.
        let nameless = run(
            words("push create --channel c --rtmp-url rtmp://h/a --uid 7"),
            url.clone(),
            vec![],
        )
        .await;
        assert_eq!(nameless.status.code(), Some(2), "{}", all(&nameless));
        assert!(all(&nameless).contains("--name is required"), "{}", all(&nameless));
        assert!(!all(&nameless).contains("MediaPushConfig"), "{}", all(&nameless));

        // Logs on request: spans name the call, its converter and the attempt.
        let logged = run(
            words(&format!("push get {id}")),
            url.clone(),
            vec![("RUST_LOG", "debug")],
        )
        .await;
        let err = String::from_utf8_lossy(&logged.stderr).to_string();
        assert!(err.contains("agora.call") && err.contains(&id) && err.contains("attempt=1"), "{err}");
        let quiet = run(words(&format!("push get {id}")), url.clone(), vec![]).await;
        assert!(quiet.stderr.is_empty(), "{}", all(&quiet));
        let verbose = run(words(&format!("push get {id} -vv")), url.clone(), vec![]).await;
        assert!(String::from_utf8_lossy(&verbose.stderr).contains("agora.call"), "{}", all(&verbose));
        assert!(!all(&logged).contains(SECRET) && !all(&verbose).contains(SECRET));

        // watch --output json: NDJSON lines with a time.
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_agora-rest"))
            .args(["push", "watch", &id, "--every", "1", "--output", "json"])
            .args(["--endpoint", &url])
            .env("AGORA_APP_ID", "app")
            .env("AGORA_CUSTOMER_ID", "cid")
            .env("AGORA_CUSTOMER_SECRET", SECRET)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], id.as_str(), "{v}");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
        assert!(v["state"].as_str().is_some(), "{v}");
        let _ = child.start_kill();
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// A server on 127.0.0.1 answering every request with `status` and `body`.
async fn fixed_server(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a few dozen connections at most in this test.
        for _ in 0..64 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = 0;
                while got < buf.len() {
                    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf[got..]))
                        .await
                    {
                        Ok(Ok(n)) if n > 0 => got += n,
                        _ => break,
                    }
                    if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nx-request-id: fixed-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_shaped_answer_fails_and_server_text_is_escaped() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let odd = fixed_server(200, r#"{"unexpected":[1,2,3]}"#).await;
        for args in [
            "push get c-1",
            "push list",
            "push create --name w --channel c --rtmp-url rtmp://h/a --uid 7",
        ] {
            let o = run(words(args), odd.clone(), vec![]).await;
            assert_eq!(o.status.code(), Some(1), "{args}: {}", all(&o));
            assert!(all(&o).contains("decode"), "{args}: {}", all(&o));
        }
        let hostile = fixed_server(
            400,
            "{\"message\":\"bad \\u001b[2J\\u001b]0;owned\\u0007 input\"}",
        )
        .await;
        let o = run(words("push get c-1"), hostile.clone(), vec![]).await;
        assert_eq!(o.status.code(), Some(1), "{}", all(&o));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
        assert!(err.contains("\\u{1b}[2J"), "{err:?}");
        let o = run(words("push get c-1 --output json"), hostile, vec![]).await;
        let e = json(&o);
        assert_eq!(e["error"]["status"], 400, "{e}");
    })
    .await
    .expect("bounded");
}

#[test]
fn help_names_the_token_variables() {
    let o = Command::new(env!("CARGO_BIN_EXE_agora-rest"))
        .args(["transcode", "start", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for var in [
        "AGORA_RTC_INPUT_TOKEN",
        "AGORA_RTC_OUTPUT_TOKEN",
        "AGORA_RTC_BACKUP_OUTPUT_TOKEN",
    ] {
        assert!(help.contains(var), "{var} in:\n{help}");
    }
}
