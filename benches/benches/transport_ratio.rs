//! The transport stack's cost against a bare hyper-util client, measured *interleaved*: rounds
//! alternate between the two clients so that both see the same machine (on a shared 2-core
//! VM, speed drifts by ±20 % over a criterion run, far more than the difference measured).
//! Reports, per client, the median wall time and CPU time per request, and their ratios.
//!
//! Run: `cargo bench -p agora-rest-benches --bench transport_ratio`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a bench harness prints its figures
#![allow(clippy::disallowed_methods)] // it measures wall time: `Instant::now` is the point

use std::time::Duration;

#[path = "support/transport_pair.rs"]
#[allow(unreachable_pub)] // shared with the criterion bench
mod pair;

/// CPU time of all this process's threads so far (`/proc/self/task/*/schedstat`, in ns), or
/// `None` where there is no such file.
fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let stat = std::fs::read_to_string(path).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: then do a
    // quick smoke run only.
    let full = std::env::args().any(|a| a == "--bench");
    // Per round, each of the `concurrency` tasks sends `each` requests.
    let (rounds, each) = if full { (15, 400) } else { (1, 2) };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pair = rt.block_on(pair::Pair::start());
    // Profiling aid: `ONLY=bare` or `ONLY=stack` runs 32 tasks of 3,000 requests with one client.
    if let Ok(only) = std::env::var("ONLY") {
        rt.block_on(pair.closed_loop(only == "stack", 32, 3_000));
        return;
    }
    for concurrency in [1usize, 32] {
        let mut wall = [Vec::new(), Vec::new()];
        let mut cpu = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            // Alternate which goes first, so neither always runs on a warmer machine.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let c0 = cpu_time();
                let t0 = std::time::Instant::now();
                rt.block_on(pair.closed_loop(which == 1, concurrency, each));
                let elapsed = t0.elapsed();
                let requests = (each * concurrency) as f64;
                wall[which].push(elapsed.as_secs_f64() * 1e6 / requests);
                if let (Some(a), Some(b)) = (c0, cpu_time()) {
                    cpu[which].push((b - a).as_secs_f64() * 1e6 / requests);
                }
            }
        }
        let (wb, ws) = (median(&mut wall[0]), median(&mut wall[1]));
        println!(
            "concurrency {concurrency:>2}: wall per request: bare {wb:.2} µs, full stack {ws:.2} µs, ratio {:.3}",
            ws / wb
        );
        if !cpu[0].is_empty() {
            let (cb, cs) = (median(&mut cpu[0]), median(&mut cpu[1]));
            println!(
                "concurrency {concurrency:>2}: CPU per request:  bare {cb:.2} µs, full stack {cs:.2} µs, ratio {:.3}",
                cs / cb
            );
        }
    }
}
