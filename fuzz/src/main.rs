//! `agora-rest-fuzz`: runs every fuzz target for a given time and fails on the first panic.
//!
//! Usage: `agora-rest-fuzz [--seconds N] [--seed S] [--target NAME]` (default 10 s per target).
//! `cargo xtask fuzz --seconds N` runs it in release mode; `cargo xtask ci` runs a short smoke.
//!
//! **Why not coverage-guided.** cargo-fuzz (libFuzzer) needs a nightly compiler for its
//! sanitizer and coverage flags, and afl.rs needs its own instrumenting build of AFL++; this
//! project builds with the stable toolchain only, and CI has nothing else. So the targets are
//! driven by seeded, structure-aware mutation instead: each input starts from a corpus of real
//! bodies (the vendor's examples and the emulator's own answers), then gets byte flips,
//! insertions, deletions, truncations, splices with other seeds, and JSON-aware swaps of values
//! for edge cases (huge numbers, strings for numbers, deep nesting, control characters). The
//! mutator is written here rather than taken from proptest because proptest shrinks one failing
//! case per run and its generators know nothing of our corpus; what matters here is many
//! inputs per second near valid bodies. A panic is caught, its input written to
//! `target/fuzz-failures/`, and the run exits 1.

mod corpus;
mod mutate;
mod targets;

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

struct Options {
    seconds: u64,
    seed: u64,
    target: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        seconds: 10,
        seed: 0x00f0_22ed,
        target: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--seconds" => {
                o.seconds = value("--seconds")?
                    .parse()
                    .map_err(|_| "--seconds takes a whole number")?;
            }
            "--seed" => {
                o.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed takes a whole number")?;
            }
            "--target" => o.target = Some(value("--target")?),
            "-h" | "--help" => {
                return Err(
                    "usage: agora-rest-fuzz [--seconds N] [--seed S] [--target NAME]".into(),
                );
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if o.seconds == 0 || o.seconds > 24 * 3600 {
        return Err("--seconds must be from 1 to 86400".into());
    }
    Ok(o)
}

#[allow(clippy::disallowed_methods)] // a wall-clock budget for a command-line run
fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            say(&e);
            return ExitCode::from(2);
        }
    };
    // Panics are caught and reported once, with their input, below.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    say(&format!(
        "{:<10} {:>10} {:>10} {:>8}",
        "target", "inputs", "per sec", "panics"
    ));
    for target in targets::ALL {
        if o.target.as_deref().is_some_and(|t| t != target.name) {
            continue;
        }
        let mut rng = fastrand::Rng::with_seed(o.seed);
        let mut state = (target.setup)();
        let corpus = (target.corpus)();
        let started = Instant::now();
        let budget = Duration::from_secs(o.seconds);
        let mut inputs = 0u64;
        let mut panics = 0u64;
        while started.elapsed() < budget {
            let input = mutate::next_input(&mut rng, &corpus);
            inputs += 1;
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&mut state, &input)));
            if outcome.is_err() {
                panics += 1;
                failed = true;
                let path = save_failure(target.name, inputs, &input);
                say(&format!(
                    "{}: panic on input {inputs}, saved to {path}",
                    target.name
                ));
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        #[allow(clippy::cast_precision_loss)]
        let rate = inputs as f64 / secs;
        say(&format!(
            "{:<10} {inputs:>10} {rate:>10.0} {panics:>8}",
            target.name
        ));
    }
    if failed {
        say("fuzz: FAILED");
        ExitCode::FAILURE
    } else {
        say("fuzz: 0 panics");
        ExitCode::SUCCESS
    }
}

fn save_failure(target: &str, n: u64, input: &[u8]) -> String {
    let dir = std::path::Path::new("target").join("fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{n}.bin"));
    let _ = std::fs::write(&path, input);
    path.display().to_string()
}
