//! The README's `sh` blocks, run as written with bash against an emulator this test starts
//! (its two addresses put in place of the README's 127.0.0.1:8080 and :8081), with the
//! `agora-rest` just built first on the PATH. `shell` blocks (long-running processes, CI
//! itself) are documentation only, and the README says so.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // tests fail loudly and print the transcript

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

mod common;
use common::{free_port, wait_port};

/// Every ```sh block of the README, in order.
fn sh_blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    while let Some((_, after)) = rest.split_once("\n```sh\n") {
        let (block, tail) = after.split_once("\n```").unwrap();
        blocks.push(block.to_string());
        rest = tail;
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_shell_blocks_work_as_written() {
    let blocks = sh_blocks();
    assert!(!blocks.is_empty(), "the README has sh blocks to run");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_agora-rest"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (api, admin) = (free_port(), free_port());
    let _emulator = Command::new(&bin)
        .args(["emulator", "--listen", &format!("127.0.0.1:{api}")])
        .args(["--admin", &format!("127.0.0.1:{admin}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_port(admin).await;
    let dir = std::env::temp_dir().join(format!("agora-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let script = block
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{api}"))
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{admin}"));
        let run = Command::new("bash")
            .args(["-eu", "-o", "pipefail", "-x", "-c", &script])
            .current_dir(&dir)
            .env("PATH", &path)
            .env_remove("AGORA_ENDPOINT")
            .env_remove("RUST_LOG")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(120), run)
            .await
            .unwrap_or_else(|_| panic!("README sh block {i} ran over 120 s:\n{block}"))
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("--- README sh block {i}\n{stderr}{stdout}");
        assert!(
            out.status.success(),
            "README sh block {i} failed ({}):\n{block}\n--- stderr\n{stderr}--- stdout\n{stdout}",
            out.status
        );
        // The update scenario: the second update is the one that holds.
        if block.contains("push update") {
            assert!(
                stdout.contains("backup-2.example.com"),
                "get shows the second update:\n{stdout}"
            );
            assert!(
                stdout.contains("exists"),
                "a re-run create says exists:\n{stdout}"
            );
            assert!(stdout.contains("taskId"), "the task started:\n{stdout}");
        }
        // (bash -x echoes the script itself on stderr; what the commands print is stdout.)
        assert!(!stdout.contains("my-customer-secret") && !stdout.contains("token-for-100"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
