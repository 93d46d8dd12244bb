//! Soak of the converter controller: paused clock, in-memory emulator, random faults at 20 %,
//! HA windows, `failed` states and idle timeouts, a spec update to a tenth of the converters
//! every 10 minutes, and at 1 h the controller dropped and a new one started from the stores.
//! Counted at the end from the emulator's own records: duplicates, lost updates, stale
//! sequences, re-creations.
//!
//! CI runs 100 converters; `cargo xtask soak` runs 1,000 (`AGORA_SOAK_CONVERTERS`).

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)] // prints its figures and its wall time

use std::collections::HashMap;
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::quota::{QuotaTable, TierCaps};
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_emulator::{Emulator, Fault, RandomFaults};
use agora_rest_mediapush::MediaPush;
use agora_rest_mediapush::controller::{Controller, ControllerConfig, ConverterSpec, Stores};
use agora_rest_model::mediapush::{
    AudioOptions, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_model::ncs::Notification;
use agora_rest_transport::{Client, Config, Credentials};

fn spec(i: usize, version: u32) -> ConverterSpec {
    let c = ConverterBuilder::transcoded(
        format!("ch{}", i % 50),
        format!("rtmp://cdn.example.com/live/s{i}?v={version}"),
    )
    .name(format!("soak_{i}"))
    .audio(AudioOptions::default())
    .video(
        VideoOptions::new(640, 360, 800).with_layout(vec![LayoutElement::stream(
            1,
            LayoutRegion::new(0, 0, 640, 360),
        )]),
    )
    .build()
    .unwrap();
    ConverterSpec::new(PathRegion::Na, c).unwrap()
}

fn no_caps() -> QuotaTable {
    let mut t = QuotaTable::media_push();
    for a in Area::ALL {
        t = t.with_caps(
            a,
            TierCaps::new(Some(1 << 20), Some(1 << 20), Some(1 << 20)),
        );
    }
    t.with_project_total(None)
}

#[test]
fn soak_converters_under_faults_and_a_restart() {
    let n: usize = std::env::var("AGORA_SOAK_CONVERTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let wall = std::time::Instant::now();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(4 * 3600), run(n))
            .await
            .expect("the soak ends within its simulated time");
    });
    println!(
        "soak: {n} converters, wall time {:.1} s",
        wall.elapsed().as_secs_f64()
    );
}

async fn run(n: usize) {
    let emu = Emulator::builder()
        .push_quota(no_caps())
        .log_capacity(50_000_000)
        .random_faults(RandomFaults::new(
            7,
            0.2,
            vec![
                Fault::CommitThen504,
                Fault::Status(500),
                Fault::Status(503),
                Fault::RateLimited,
                Fault::Reset,
            ],
        ))
        .build();
    let client = || {
        let c = Config::new("app", Credentials::new("cid", "csecret").unwrap());
        MediaPush::new(
            Client::builder(c)
                .with_service(emu.service())
                .build()
                .unwrap(),
        )
    };
    let stores = Stores::default();
    let config = ControllerConfig::default();
    let mut ctl = Controller::start_with(client(), config.clone(), stores.clone());
    let mut version: HashMap<usize, u32> = HashMap::new();
    for i in 0..n {
        ctl.apply(spec(i, 0)).await.unwrap();
        version.insert(i, 0);
    }
    let mut rng = fastrand_like(42);
    let idle_channels = ["ch7", "ch13"];
    for minute in 1..=120u32 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Notices, as a webhook receiver would route them.
        for note in emu.take_notices() {
            if let Notification::MediaPush(ev) = note.notification {
                ctl.notify(&ev);
            }
        }
        // HA windows and `failed` states on a few converters.
        let all = emu.converters();
        if !all.is_empty() {
            for _ in 0..(n / 100).max(1) {
                let c = &all[rng.next() % all.len()];
                if rng.next().is_multiple_of(2) {
                    emu.fail_converter(&c.id);
                } else {
                    emu.migrate_converter(&c.id, None);
                }
            }
        }
        if minute == 20 {
            for ch in idle_channels {
                emu.set_publishers(ch, false);
            }
        }
        // A spec update to a tenth of the converters every 10 minutes.
        if minute.is_multiple_of(10) {
            for _ in 0..(n / 10) {
                let i = rng.next() % n;
                let v = version[&i] + 1;
                version.insert(i, v);
                ctl.apply(spec(i, v)).await.unwrap();
            }
        }
        // At 1 h: drop the controller, start a new one from the stores.
        if minute == 60 {
            ctl.shutdown().await;
            drop(ctl);
            ctl = Controller::start_with(client(), config.clone(), stores.clone());
        }
    }
    // Faults off, then time to settle.
    emu.set_random_faults(RandomFaults::new(0, 0.0, Vec::new()));
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    ctl.shutdown().await;

    let converters = emu.converters();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for c in &converters {
        *by_name
            .entry(c.converter.name.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let duplicates: usize = by_name.values().map(|k| k.saturating_sub(1)).sum();
    let idle_keys: Vec<usize> = (0..n)
        .filter(|i| idle_channels.contains(&format!("ch{}", i % 50).as_str()))
        .collect();
    let mut missing = 0;
    let mut lost_updates = 0;
    for i in 0..n {
        if idle_keys.contains(&i) {
            continue;
        }
        let name = format!("soak_{i}");
        match converters
            .iter()
            .find(|c| c.converter.name.as_deref() == Some(&name))
        {
            None => missing += 1,
            Some(c) => {
                let want = format!("rtmp://cdn.example.com/live/s{i}?v={}", version[&i]);
                if c.converter.rtmp_url.as_deref() != Some(want.as_str()) {
                    lost_updates += 1;
                }
            }
        }
    }
    let log = emu.request_log();
    let stale = log
        .iter()
        .filter(|l| l.op == Some(Operation::PushUpdate) && l.status == 409)
        .count();
    let creates = log
        .iter()
        .filter(|l| l.op == Some(Operation::PushCreate) && l.status == 200)
        .count();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!(
        "| converters declared | {n} (of which {} on channels that go idle) |",
        idle_keys.len()
    );
    println!("| duplicates by name | {duplicates} |");
    println!("| missing (not idle) | {missing} |");
    println!("| lost updates | {lost_updates} |");
    println!("| stale-sequence refusals | {stale} |");
    println!("| successful creates | {creates} |");
    println!("| requests | {} |", log.len());
    assert_eq!(duplicates, 0, "duplicates");
    assert_eq!(missing, 0, "missing converters");
    assert_eq!(lost_updates, 0, "lost updates");
    assert_eq!(stale, 0, "stale sequences");
}

/// A tiny deterministic generator (xorshift), so the soak's choices repeat run to run.
fn fastrand_like(seed: u64) -> Xorshift {
    Xorshift(seed.max(1))
}

struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        usize::try_from(x % (1 << 31)).unwrap_or(0)
    }
}
