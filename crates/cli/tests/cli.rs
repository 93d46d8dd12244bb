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
            "EU",
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
