//! The `agora-rest` binary run as a process: the demo, exit codes, secrets, JSON output.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::process::{Command, Output};

use agora_rest_emulator::Emulator;

const SECRET: &str = "cli-s3cr3t-value";

fn agora_rest(args: &[&str], endpoint: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora-rest"));
    cmd.args(args)
        .env("AGORA_APP_ID", "app")
        .env("AGORA_CUSTOMER_ID", "cid")
        .env("AGORA_CUSTOMER_SECRET", SECRET)
        .env_remove("AGORA_ENDPOINT");
    if let Some(e) = endpoint {
        cmd.arg("--endpoint").arg(e);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn demo_exits_zero_with_a_summary() {
    let o = agora_rest(&["demo", "--plain"], None);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("step") && out.contains("requests") && out.contains("retries"),
        "{out}"
    );
    assert!(out.contains("demo: 8 passed, 0 failed"), "{out}");
    // With --metrics, the scrape of what the demo's clients recorded follows.
    let o = agora_rest(&["demo", "--plain", "--metrics"], None);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for needle in [
        "agora_rest_calls_total{op=\"push.create\"",
        "agora_rest_rate_limit_wait_seconds_bucket{op=\"push.get\",limiter=\"local\",le=\"0.05\"}",
        "agora_rest_failovers_total{",
        "agora_rest_reconcile_actions_total{service=\"mediapush\",action=\"create\"}",
    ] {
        assert!(out.contains(needle), "{needle} in:\n{out}");
    }
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let o = agora_rest(
        &[
            "push",
            "create",
            "--name",
            "x",
            "--channel",
            "c",
            "--rtmp-url",
            "http://not-rtmp",
        ],
        Some("http://127.0.0.1:9"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("converter.rtmpUrl"), "{}", text(&o));
    let o = agora_rest(
        &[
            "push",
            "create",
            "--name",
            "x",
            "--channel",
            "c",
            "--rtmp-url",
            "rtmp://h/x",
            "--region",
            "mars",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("region"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_and_no_secret_anywhere() {
    let emu = Emulator::builder()
        .credentials("cid", SECRET)
        .start()
        .await
        .unwrap();
    let url = emu.url();
    let created = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            agora_rest(
                &[
                    "push",
                    "create",
                    "--name",
                    "cli_one",
                    "--channel",
                    "c",
                    "--rtmp-url",
                    "rtmp://h/x",
                    "--uid",
                    "7",
                    "--output",
                    "json",
                ],
                Some(&url),
            )
        }
    })
    .await
    .unwrap();
    assert!(created.status.success(), "{}", text(&created));
    let v: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(v["state"], "connecting");
    let listed = tokio::task::spawn_blocking({
        let url = url.clone();
        move || agora_rest(&["push", "list", "--output", "json"], Some(&url))
    })
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v[0]["converterName"], "cli_one");
    // A service error (wrong secret) exits 1 and prints neither secret.
    let denied = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_agora-rest"))
                .args(["push", "list", "--endpoint", &url])
                .env("AGORA_APP_ID", "app")
                .env("AGORA_CUSTOMER_ID", "cid")
                .env("AGORA_CUSTOMER_SECRET", "another-s3cret")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied));
    assert!(text(&denied).contains("401"));
    for o in [&created, &listed, &denied] {
        let all = text(o);
        assert!(
            !all.contains(SECRET) && !all.contains("another-s3cret"),
            "{all}"
        );
    }
    let help = tokio::task::spawn_blocking(|| agora_rest(&["push", "--help"], None))
        .await
        .unwrap();
    assert!(!text(&help).contains(SECRET));
}

fn agora_rest_env(args: &[&str], endpoint: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora-rest"));
    cmd.args(args)
        .arg("--endpoint")
        .arg(endpoint)
        .env("AGORA_APP_ID", "app")
        .env("AGORA_CUSTOMER_ID", "cid")
        .env("AGORA_CUSTOMER_SECRET", SECRET)
        .env_remove("AGORA_ENDPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Starts a task on the emulator with raw Acquire and Create calls (no startup wait), its
/// config holding RTC tokens; returns the task id.
async fn raw_task(url: &str, instance_id: &str) -> String {
    use agora_rest_core::operation::Operation;
    use agora_rest_model::transcoder::{
        AudioInput, CreateTaskRequest, Output, TranscoderConfigBuilder, VideoOption,
    };
    use agora_rest_transport::{Call, Client, Config, Credentials};
    let client = Client::builder(
        Config::new("app", Credentials::new("cid", SECRET).unwrap()).with_endpoint(url),
    )
    .build()
    .unwrap();
    let base = "/v1/projects/app/rtsc/cloud-transcoder";
    let req = client
        .request(
            Call::new(Operation::Acquire, "/acquire"),
            http::Method::POST,
            &format!("{base}/builderTokens"),
            Some(format!(r#"{{"instanceId":"{instance_id}"}}"#).into()),
        )
        .unwrap();
    let (acquired, _): (serde_json::Value, _) = client.send_json(req, "acquire").await.unwrap();
    let token = acquired["tokenName"].as_str().unwrap().to_string();
    let config = TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "IN-TOKEN-SECRET"))
        .output(
            Output::rtc("show68-mix", 1001, "OUT-TOKEN-SECRET")
                .with_video(VideoOption::new(640, 360, 800)),
        )
        .build()
        .unwrap();
    let body = serde_json::to_vec(&CreateTaskRequest::new(config)).unwrap();
    let req = client
        .request(
            Call::new(Operation::TranscodeCreate, "/create"),
            http::Method::POST,
            &format!("{base}/tasks?builderToken={token}"),
            Some(body.into()),
        )
        .unwrap();
    let (task, _): (serde_json::Value, _) = client.send_json(req, "create").await.unwrap();
    task["taskId"].as_str().unwrap().to_string()
}

/// RTC tokens never reach the output of `transcode query` or `stop`, in JSON or as a table,
/// although the service echoes them in the task's config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcode_output_never_shows_a_token() {
    let emu = Emulator::builder()
        .credentials("cid", SECRET)
        .start()
        .await
        .unwrap();
    let url = emu.url();
    let task_id = raw_task(&url, "cli-mix").await;
    let run = |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            agora_rest_env(&args, &url, &[])
        })
    };
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let mut outputs = Vec::new();
    for output in ["json", "table"] {
        let cmd = format!("transcode query {task_id} --instance-id cli-mix --output {output}");
        outputs.push(run(words(&cmd)).await.unwrap());
    }
    // An absurd watch interval is an input error naming the setting, not a panic and exit 0.
    let cmd =
        format!("transcode watch {task_id} --instance-id cli-mix --every 18446744073709551615");
    let watched = run(words(&cmd)).await.unwrap();
    assert_eq!(watched.status.code(), Some(2), "{}", text(&watched));
    assert!(text(&watched).contains("--every"), "{}", text(&watched));
    let cmd = format!("transcode stop {task_id} --instance-id cli-mix --output json");
    outputs.push(run(words(&cmd)).await.unwrap());
    for o in &outputs {
        let all = text(o);
        assert!(o.status.success(), "{all}");
        assert!(!all.contains("TOKEN-SECRET"), "{all}");
    }
    assert!(
        text(&outputs[0]).contains("rtcUid"),
        "the config is shown, redacted: {}",
        text(&outputs[0])
    );
}

/// `push delete ..` is refused before any request (exit 2), and a password in the endpoint URL
/// never shows.
#[test]
fn bad_ids_endpoints_and_intervals_are_input_errors() {
    let o = agora_rest(
        &["push", "delete", "..", "--region", "na"],
        Some("http://127.0.0.1:9"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("converterId"), "{}", text(&o));

    let o = agora_rest(&["push", "list"], Some("http://user:hunter2@10.9.8.7:1"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains("hunter2"), "{}", text(&o));
}

/// The emulator's `--help` shows no secret from the environment.
#[test]
fn emulator_help_hides_secret_env_values() {
    let o = Command::new(env!("CARGO_BIN_EXE_agora-rest"))
        .args(["emulator", "--help"])
        .env("AGORA_EMULATOR_CUSTOMER_ID", "CID-HIDDEN")
        .env("AGORA_EMULATOR_CUSTOMER_SECRET", "SECRET-HIDDEN")
        .env("AGORA_EMULATOR_WEBHOOK_SECRET", "WH-HIDDEN")
        .env(
            "AGORA_EMULATOR_WEBHOOK_URL",
            "http://u:URL-HIDDEN@127.0.0.1:1/",
        )
        .output()
        .unwrap();
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(!all.contains("HIDDEN"), "{all}");
}

/// `webhook listen` on the hardened server: an unsigned notice is refused from its head (its
/// announced body never read), a signed one is printed without its tokens, and an empty
/// secret is an input error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_listen_refuses_unsigned_heads_and_prints_signed_notices() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let empty = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_agora-rest"))
            .args(["webhook", "listen", "--port", "1", "--secret", ""])
            .env_remove("AGORA_NCS_SECRET")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_agora-rest"))
        .args([
            "webhook",
            "listen",
            "--port",
            &port.to_string(),
            "--secret",
            "ncs-s3cret",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with("listening on"), "{first}");
    let addr = format!("127.0.0.1:{port}");

    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1048576\r\n\r\nabc")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");

    let body = r#"{"noticeId":"n-1","productId":5,"eventType":110,"notifyMs":1,"payload":{"taskId":"609f28f2644f1ae1ceb041b7047e3aaa","instanceId":"i","sequence":1,"sendts":1,"details":{"event":"cloud_transcoder_started","state":"ok","transcoder":{"inputs":[],"outputs":[],"userConfigDetail":"{\"outputs\":[{\"rtc\":{\"rtcUid\":7,\"rtcToken\":\"007-TOKEN-SECRET\"}}]}"},"createTs":1,"updateTs":1}}}"#;
    let sig = agora_rest_core::ncs::sign(
        agora_rest_core::ncs::SignatureKind::V2Sha256,
        b"ncs-s3cret",
        body.as_bytes(),
    );
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nhost: a\r\nagora-signature-v2: {sig}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let printed = tokio::time::timeout(std::time::Duration::from_secs(5), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        printed.contains("n-1") && printed.contains("rtcUid"),
        "{printed}"
    );
    assert!(!printed.contains("TOKEN-SECRET"), "{printed}");
    let _ = child.kill().await;
}

/// Updates from two processes are both applied in order (each process starts its sequences
/// above the time), a create re-run for an existing name exits 0 saying so, the region is read
/// in any case, and an endless input file is refused at its size cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_across_processes_creates_rerun_and_input_caps() {
    let emu = Emulator::builder()
        .credentials("cid", SECRET)
        .start()
        .await
        .unwrap();
    let url = emu.url();
    let run = |args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            agora_rest(&args, Some(&url))
        })
    };
    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let create = "push create --name twice --channel c --rtmp-url rtmp://h/a --uid 7 --region EU --output json";
    let first = run(words(create)).await.unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let id = serde_json::from_slice::<serde_json::Value>(&first.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let again = run(words(create)).await.unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (v["outcome"].as_str(), v["id"].as_str()),
        (Some("exists"), Some(id.as_str()))
    );
    for target in ["rtmp://h/b", "rtmp://h/c"] {
        let o = run(words(&format!(
            "push update {id} --region eu --rtmp-url {target} --output json"
        )))
        .await
        .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let got = run(words(&format!("push get {id} --region Eu --output json")))
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(
        v["rtmpUrl"], "rtmp://h/c",
        "the second update is the one that holds: {v}"
    );
    let t0 = tokio::time::Instant::now();
    let endless = run(words("push create --json /dev/urandom")).await.unwrap();
    assert_eq!(endless.status.code(), Some(2), "{}", text(&endless));
    assert!(text(&endless).contains("larger than"), "{}", text(&endless));
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
}
