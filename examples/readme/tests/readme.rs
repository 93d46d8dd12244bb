//! Every ```rust block of the README is one of this crate's programs, word for word, and each
//! runs.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::process::{Command, Stdio};
use std::time::Duration;

/// The programs, by path under the crate, and the binary each builds.
const PROGRAMS: [(&str, &str); 3] = [
    ("src/main.rs", env!("CARGO_BIN_EXE_readme-example")),
    ("src/bin/controller.rs", env!("CARGO_BIN_EXE_controller")),
    ("src/bin/transcoder.rs", env!("CARGO_BIN_EXE_transcoder")),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every ```rust block of the README, in order.
fn readme_blocks() -> Vec<String> {
    let readme = read("../../README.md");
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    while let Some((_, after)) = rest.split_once("\n```rust\n") {
        let (block, tail) = after.split_once("```").unwrap();
        blocks.push(block.to_string());
        rest = tail;
    }
    blocks
}

#[test]
fn every_readme_rust_block_is_one_of_these_programs() {
    let blocks = readme_blocks();
    let programs: Vec<String> = PROGRAMS.iter().map(|(p, _)| read(p)).collect();
    for (i, block) in blocks.iter().enumerate() {
        assert!(
            programs.contains(block),
            "README rust block {i} is none of {:?}: keep them identical\n{block}",
            PROGRAMS.map(|(p, _)| p)
        );
    }
    for (program, (path, _)) in programs.iter().zip(PROGRAMS) {
        assert!(blocks.contains(program), "{path} is not in the README");
    }
    assert!(
        !read("../../README.md").contains("```rust,ignore"),
        "a README Rust snippet that is not run"
    );
}

/// Runs `bin` to its end, within a minute; its stdout.
fn run(bin: &str) -> String {
    let mut child = Command::new(bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // 1,200 checks 50 ms apart: a minute.
    for _ in 0..1200 {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                status.success(),
                "{bin}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            return stdout;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("{bin} ran over a minute");
}

#[test]
fn the_readme_programs_run() {
    let push = run(PROGRAMS[0].1);
    assert!(push.contains("created "), "{push}");
    assert!(
        push.contains("pushing to rtmp://backup.example.com/live/show68"),
        "{push}"
    );
    assert!(push.trim_end().ends_with("deleted"), "{push}");
    let controller = run(PROGRAMS[1].1);
    for event in ["Created {", "Updated {", "Deleted {"] {
        assert!(controller.contains(event), "{event} in:\n{controller}");
    }
    let transcoder = run(PROGRAMS[2].1);
    assert!(transcoder.contains("started as UID 1001"), "{transcoder}");
    assert!(transcoder.trim_end().ends_with("stopped"), "{transcoder}");
}

#[test]
fn it_depends_on_the_facade_only() {
    let manifest = read("Cargo.toml");
    let deps = manifest.split_once("[dependencies]").unwrap().1;
    let deps = deps.split("\n[").next().unwrap();
    assert!(!deps.contains("agora-rest-"), "a layer crate in:\n{deps}");
    assert!(deps.contains("agora-rest ="), "{deps}");
}
