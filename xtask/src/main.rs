//! `cargo xtask`: project chores, starting with `ci`, the one test command.
//!
//! `cargo xtask ci` runs, in order and stopping at the first failure: `cargo fmt --check`,
//! `cargo clippy --workspace --all-targets -- -D warnings`, `cargo test --workspace` (unit,
//! integration, doc and property tests), `cargo bench --workspace --no-run`, and the layering
//! check. Each step prints its name and time; the run ends with the test totals.
//!
//! The tests talk to a real Redis: `ci` starts `redis-server` on a free loopback port, passes
//! its URL as `AGORA_REST_REDIS_URL`, and stops it afterwards. Where `redis-server` is missing
//! it installs it (root with apt-get) or fails with a one-line instruction; it never skips.
//!
//! Written with `std::process::Command` only, so that it builds in seconds on a fresh machine.
//! It times its steps with the wall clock, which the workspace's clippy config keeps out of
//! library code.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Crates that must build without an async runtime or HTTP stack, and what they may not pull.
const PURE_CRATES: &[&str] = &["agora-rest-core", "agora-rest-model"];
const FORBIDDEN_IN_PURE: &[&str] = &[
    "tokio",
    "hyper",
    "hyper-util",
    "tower",
    "mio",
    "reqwest",
    "openssl",
    "openssl-sys",
    "native-tls",
];

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci         fmt --check, clippy -D warnings, every test, benches built, docs, a fuzz smoke,
             layering check
  fuzz       every fuzz target for --seconds N each (default 60), release build
  soak       the controller soak at full size (1,000 converters, 200 tasks), release build
  layering   only the layering check (core and model pull no runtime or HTTP stack)
  citations  only the check that no source cites a document the repository does not ship";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("layering") => layering(),
        Some("citations") => citations(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("soak") => run(cargo()
            .args([
                "test",
                "--release",
                "-p",
                "agora-rest-tests",
                "--test",
                "soak",
                "--",
                "--nocapture",
            ])
            .env("AGORA_SOAK_CONVERTERS", "1000")
            .env("AGORA_SOAK_TASKS", "200")),
        Some("-h" | "--help" | "help") => {
            say(USAGE);
            Ok(())
        }
        other => {
            // An unknown task must fail, so that a typo in .ci/run cannot pass.
            say(&format!("unknown task {other:?}\n\n{USAGE}"));
            Err("unknown task".to_string())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("xtask: FAILED: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// Test counts summed over every `test result:` line.
#[derive(Debug, Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
    suites: u64,
}

impl Totals {
    /// Reads `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; …`.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        self.suites += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

fn ci() -> Result<(), String> {
    let started = Instant::now();
    let mut timings: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<(), String>| {
        say(&format!("==> {name}"));
        let t = Instant::now();
        let r = f();
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Ok(()) => say(&format!("<== {name}: ok in {secs:.1}s")),
            Err(e) => say(&format!("<== {name}: FAILED in {secs:.1}s: {e}")),
        }
        timings.push((name, secs));
        r
    };

    step(
        "fmt",
        &mut || run(cargo().args(["fmt", "--all", "--check"])),
    )?;
    step("clippy", &mut || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    let mut totals = Totals::default();
    step("test", &mut || {
        let t = run_tests(&mut totals);
        say(&format!(
            "test totals: {} passed, {} failed, {} ignored in {} suites",
            totals.passed, totals.failed, totals.ignored, totals.suites
        ));
        t
    })?;
    step("bench (build only)", &mut || {
        run(cargo().args(["bench", "--workspace", "--no-run"]))
    })?;
    // Broken intra-doc links and malformed docs fail here, not on docs.rs.
    step("doc", &mut || {
        run(cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    // A short run of every fuzz target (dev build, reusing the test step's artifacts).
    step("fuzz (smoke)", &mut || {
        run(cargo().args([
            "run",
            "--quiet",
            "-p",
            "agora-rest-fuzz",
            "--",
            "--seconds",
            "3",
        ]))
    })?;
    step("layering", &mut layering)?;
    step("citations", &mut citations)?;

    say("");
    say("step                  time");
    for (name, secs) in &timings {
        say(&format!("{name:<20} {secs:>6.1}s"));
    }
    say(&format!(
        "total                {:>6.1}s",
        started.elapsed().as_secs_f64()
    ));
    if totals.passed == 0 {
        return Err("no test ran".to_string());
    }
    // The closing line: read by CI as the test totals.
    say(&format!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    ));
    Ok(())
}

/// `cargo xtask fuzz [--seconds N]`: every target, N seconds each, in release mode.
fn fuzz(args: &[String]) -> Result<(), String> {
    let mut seconds = "60".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .filter(|s| s.parse::<u64>().is_ok())
                    .ok_or("--seconds takes a whole number")?
                    .clone();
            }
            other => return Err(format!("unknown fuzz option {other:?}")),
        }
    }
    run(cargo().args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "agora-rest-fuzz",
        "--",
        "--seconds",
        &seconds,
    ]))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} exited with {status}"))
    }
}

/// Runs `cargo test --workspace`, echoing its output and summing its result lines.
/// A `redis-server` for the tests, on a free loopback port, stopped when dropped.
struct TestRedis {
    child: std::process::Child,
    url: String,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `redis-server` runs here.
fn have_redis() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Debian's `redis-server` when it is missing and this is root with apt-get; fails
/// with a one-line instruction otherwise. The Redis tests never skip.
fn ensure_redis() -> Result<(), String> {
    if have_redis() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        say("redis-server is missing: installing it with apt-get");
        let _ = Command::new("apt-get")
            .args(["update", "-qq"])
            .stdout(Stdio::null())
            .status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "redis-server"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status();
    }
    if have_redis() {
        Ok(())
    } else {
        Err("redis-server is needed by the tests: install it (sudo apt-get install redis-server) and run again".into())
    }
}

/// Starts `redis-server` on a free loopback port (no persistence) and waits until it answers.
fn start_redis() -> Result<TestRedis, String> {
    ensure_redis()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port for redis-server: {e}"))?
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start redis-server: {e}"))?;
    let redis = TestRedis {
        child,
        url: format!("redis://127.0.0.1:{port}"),
    };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            say(&format!("redis-server for the tests at {}", redis.url));
            return Ok(redis);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(format!(
        "redis-server did not listen on 127.0.0.1:{port} within 3 s"
    ))
}

fn run_tests(totals: &mut Totals) -> Result<(), String> {
    let redis = start_redis()?;
    let mut child = cargo()
        .args(["test", "--workspace"])
        .env("AGORA_REST_REDIS_URL", &redis.url)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start cargo test: {e}"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
            totals.add_line(&line);
            say(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo test: {e}"))?;
    if status.success() && totals.failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "cargo test exited with {status}, {} failed",
            totals.failed
        ))
    }
}

/// Documents a source comment may not cite: they do not ship with the repository (code
/// comments cite `docs/…` instead).
const UNSHIPPED: [&str; 3] = ["REFERENCE", "SEEDS", "STYLE §"];

/// Fails when a Rust source file cites a document the repository does not ship.
fn citations() -> Result<(), String> {
    let mut found = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = ["crates", "tests", "benches", "fuzz", "xtask"]
        .iter()
        .map(std::path::PathBuf::from)
        .collect();
    let mut files = 0usize;
    // Bounded: a source tree, not the target directory.
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                // The check itself, and tests asserting a wire text does not carry a citation.
                if line.contains("UNSHIPPED") || line.contains("contains(\"REFERENCE\")") {
                    continue;
                }
                if UNSHIPPED.iter().any(|w| line.contains(w)) {
                    found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    say(&format!("citations: {files} source files read"));
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} lines cite documents the repository does not ship (cite docs/… instead):\n{}",
            found.len(),
            found.join("\n")
        ))
    }
}

/// Fails when a pure crate's normal dependency tree contains a runtime or HTTP stack.
fn layering() -> Result<(), String> {
    let members = workspace_packages()?;
    let mut problems = Vec::new();
    for krate in PURE_CRATES {
        if !members.iter().any(|m| m == krate) {
            continue;
        }
        let out = cargo()
            .args([
                "tree", "-p", krate, "-e", "normal", "--prefix", "none", "--format", "{p}",
            ])
            .output()
            .map_err(|e| format!("could not run cargo tree: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo tree -p {krate} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let tree = String::from_utf8_lossy(&out.stdout);
        let mut bad: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| FORBIDDEN_IN_PURE.contains(name))
            .collect();
        bad.sort_unstable();
        bad.dedup();
        if bad.is_empty() {
            say(&format!(
                "layering: {krate}: {} crates, none of {}",
                tree.lines().count(),
                FORBIDDEN_IN_PURE.join(", ")
            ));
        } else {
            problems.push(format!(
                "{krate} depends on {} (pure crates take no runtime or HTTP stack)",
                bad.join(", ")
            ));
        }
    }
    // TLS is a feature: the facade without it carries no TLS stack, and still builds.
    let out = cargo()
        .args([
            "tree",
            "-p",
            "agora-rest",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args([
            "--format",
            "{p}",
            "--no-default-features",
            "--features",
            "mediapush,transcoder",
        ])
        .output()
        .map_err(|e| format!("could not run cargo tree: {e}"))?;
    let tree = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || tree.lines().any(|l| l.contains("rustls")) {
        problems.push(format!(
            "agora-rest without the tls feature still depends on rustls (or cargo tree failed: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    } else {
        let built = cargo()
            .args([
                "check",
                "-q",
                "-j2",
                "-p",
                "agora-rest",
                "--no-default-features",
            ])
            .args(["--features", "mediapush,transcoder"])
            .status()
            .map_err(|e| format!("could not run cargo check: {e}"))?;
        if built.success() {
            say("layering: agora-rest builds without the tls feature, with no TLS crate");
        } else {
            problems.push("agora-rest does not build without the tls feature".into());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The package names of the workspace members, from `cargo metadata`.
fn workspace_packages() -> Result<Vec<String>, String> {
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Tiny scan instead of a JSON dependency: every package object has `"name":"…","version"`.
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .match_indices("{\"name\":\"")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let end = rest.find('"')?;
            rest[end..]
                .starts_with("\",\"version\"")
                .then(|| rest[..end].to_string())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_result_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 5 tests");
        assert_eq!((t.passed, t.failed, t.ignored, t.suites), (15, 2, 1, 2));
    }
}
