//! Soak of the converter controller: paused clock, in-memory emulator, random faults at 20 %,
//! HA windows, `failed` states and idle timeouts, a spec update to a tenth of the converters
//! every 10 minutes, and at 1 h the controller dropped and a new one started from the stores.
//! Counted at the end from the emulator's own records: duplicates, lost updates, stale
//! sequences, re-creations.
//!
//! Transcoding tasks run beside them under the same faults (plus 206 and code 65).
//!
//! CI runs 100 converters and 20 tasks; `cargo xtask soak` runs 1,000 and 200
//! (`AGORA_SOAK_CONVERTERS`, `AGORA_SOAK_TASKS`).

#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::disallowed_methods)] // prints its figures and its wall time

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::quota::{QuotaTable, TierCaps};
use agora_rest_core::reconcile::RECREATIONS_PER_HOUR;
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_emulator::{Emulator, Fault, RandomFaults};
use agora_rest_mediapush::MediaPush;
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterSpec, Stores,
};
use agora_rest_model::RtcToken;
use agora_rest_model::mediapush::{
    AudioOptions, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_model::ncs::{MediaPushEventKind, Notification};
use agora_rest_model::transcoder::{AudioInput, Output, TranscoderConfigBuilder, VideoOption};
use agora_rest_transcoder::Transcoder;
use agora_rest_transcoder::controller::{TaskController, TaskControllerConfig, TaskSpec};
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

fn task_spec(i: usize, bitrate: u32) -> TaskSpec {
    let base = u32::try_from(10_000 + 2 * i).unwrap();
    let config = TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc(format!("tch{i}"), 0, "in-token"))
        .output(
            Output::rtc(format!("tch{i}-mix"), base, "unused")
                .with_video(VideoOption::new(640, 360, bitrate)),
        )
        .build()
        .unwrap();
    TaskSpec {
        instance_id: format!("task{i}"),
        uids: [base, base + 1],
        config,
        recreate_after_idle: false,
    }
}

fn no_caps(table: QuotaTable) -> QuotaTable {
    let mut t = table;
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
    let tasks: usize = std::env::var("AGORA_SOAK_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n / 5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // Every panic is counted, caught ones too (the runtime frees the key of a reconcile that
    // panics and retries it: the soak must see none).
    let panics = Arc::new(AtomicUsize::new(0));
    let previous = std::panic::take_hook();
    let seen = Arc::clone(&panics);
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let wall = std::time::Instant::now();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(4 * 3600), run(n, tasks))
            .await
            .expect("the soak ends within its simulated time");
    });
    println!(
        "soak: {n} converters and {tasks} tasks, wall time {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    let _ = std::panic::take_hook();
    println!("| panics | {} |", panics.load(Ordering::SeqCst));
    assert_eq!(panics.load(Ordering::SeqCst), 0, "panics");
}

/// The most creations of one converter within any hour, from the emulator's "created"
/// notices (Unix ms per converter name).
fn most_creations_in_an_hour(created: &HashMap<String, Vec<u64>>) -> usize {
    created
        .values()
        .map(|times| {
            let mut t = times.clone();
            t.sort_unstable();
            (0..t.len())
                .map(|i| t[i..].iter().take_while(|&&x| x < t[i] + 3_600_000).count())
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

async fn run(n: usize, tasks: usize) {
    let emu = Emulator::builder()
        .push_quota(no_caps(QuotaTable::media_push()))
        .transcoding_quota(no_caps(QuotaTable::cloud_transcoding()))
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
                Fault::Partial206,
                Fault::Code65(500),
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
    let transcoder = || {
        let c = Config::new("app", Credentials::new("cid", "csecret").unwrap());
        Transcoder::new(
            Client::builder(c)
                .with_service(emu.service())
                .build()
                .unwrap(),
        )
    };
    let task_tokens = |channel: &str, uid: u32| -> Result<RtcToken, String> {
        Ok(RtcToken::new(format!("token-{channel}-{uid}")))
    };
    let stores = Stores::default();
    let task_stores = Stores::default();
    let config = ConverterControllerConfig::default();
    let mut ctl = ConverterController::start_with(client(), config.clone(), stores.clone());
    let mut tctl = TaskController::start_with(
        transcoder(),
        task_tokens,
        TaskControllerConfig::default(),
        task_stores.clone(),
    );
    let mut task_bitrate: HashMap<usize, u32> = HashMap::new();
    for i in 0..tasks {
        tctl.apply(task_spec(i, 800)).await.unwrap();
        task_bitrate.insert(i, 800);
    }
    let mut version: HashMap<usize, u32> = HashMap::new();
    for i in 0..n {
        ctl.apply(spec(i, 0)).await.unwrap();
        version.insert(i, 0);
    }
    // Creation times per converter name, from the emulator's own "created" notices.
    let mut created: HashMap<String, Vec<u64>> = HashMap::new();
    let mut count_created = |notice: &Notification, at_ms: u64| {
        if let Notification::MediaPush(ev) = notice
            && ev.kind == MediaPushEventKind::Created
            && let Some(name) = &ev.payload.converter.name
        {
            created.entry(name.clone()).or_default().push(at_ms);
        }
    };
    let mut rng = xorshift(42);
    let idle_channels = ["ch7", "ch13"];
    for minute in 1..=120u32 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        // Notices, as a webhook receiver would route them.
        for note in emu.take_notices() {
            count_created(&note.notification, note.at_ms);
            match note.notification {
                Notification::MediaPush(ev) => ctl.notify(&ev),
                Notification::CloudTranscoding(ev) => tctl.notify(&ev),
                _ => {}
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
        // HA migrations (60 s, inside the 90 s window) on a task now and then.
        let running = emu.tasks();
        if !running.is_empty() && rng.next().is_multiple_of(2) {
            let t = &running[rng.next() % running.len()];
            emu.migrate_task(&t.id, Duration::from_secs(60));
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
            for _ in 0..(tasks / 10).max(1) {
                if tasks == 0 {
                    break;
                }
                let i = rng.next() % tasks;
                let b = task_bitrate[&i] + 10;
                task_bitrate.insert(i, b);
                tctl.apply(task_spec(i, b)).await.unwrap();
            }
        }
        // At 1 h: drop the controller, start a new one from the stores.
        if minute == 60 {
            ctl.shutdown().await;
            drop(ctl);
            ctl = ConverterController::start_with(client(), config.clone(), stores.clone());
            tctl.shutdown().await;
            drop(tctl);
            tctl = TaskController::start_with(
                transcoder(),
                task_tokens,
                TaskControllerConfig::default(),
                task_stores.clone(),
            );
        }
    }
    // Faults off, then time to settle.
    emu.set_random_faults(RandomFaults::new(0, 0.0, Vec::new()));
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    ctl.shutdown().await;
    tctl.shutdown().await;
    for note in emu.take_notices() {
        count_created(&note.notification, note.at_ms);
    }
    let most_in_an_hour = most_creations_in_an_hour(&created);
    let running = emu.tasks();
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    for t in &running {
        *per_instance.entry(t.instance_id.clone()).or_default() += 1;
    }
    let task_duplicates: usize = per_instance.values().map(|k| k.saturating_sub(1)).sum();
    let mut task_missing = 0;
    let mut task_lost = 0;
    for i in 0..tasks {
        match running.iter().find(|t| t.instance_id == format!("task{i}")) {
            None => task_missing += 1,
            Some(t) => {
                let have = t.request.transcoder().outputs[0]
                    .video_option
                    .as_ref()
                    .and_then(|v| v.bitrate);
                if have != Some(task_bitrate[&i]) {
                    task_lost += 1;
                }
            }
        }
    }

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
    println!(
        "| most creations of one converter in any hour | {most_in_an_hour} (cap: the first and {RECREATIONS_PER_HOUR} re-creations) |"
    );
    let task_stale = log
        .iter()
        .filter(|l| l.op == Some(Operation::TranscodeUpdate) && l.status == 409)
        .count();
    let task_creates = log
        .iter()
        .filter(|l| l.op == Some(Operation::TranscodeCreate) && l.status == 200)
        .count();
    println!("| tasks declared | {tasks} |");
    println!("| task duplicates by instance id | {task_duplicates} |");
    println!("| tasks missing | {task_missing} |");
    println!("| task lost updates | {task_lost} |");
    println!("| task stale sequenceIds | {task_stale} |");
    println!("| task creates answered 200 | {task_creates} |");
    println!("| requests | {} |", log.len());
    assert_eq!(duplicates, 0, "duplicates");
    assert_eq!(missing, 0, "missing converters");
    assert_eq!(lost_updates, 0, "lost updates");
    assert_eq!(stale, 0, "stale sequences");
    assert!(
        most_in_an_hour <= 1 + RECREATIONS_PER_HOUR as usize,
        "re-creations over the cap: {most_in_an_hour} creations of one converter in an hour"
    );
    assert_eq!(task_duplicates, 0, "task duplicates");
    assert_eq!(task_missing, 0, "tasks missing");
    assert_eq!(task_lost, 0, "task lost updates");
    assert_eq!(task_stale, 0, "task stale sequenceIds");
}

/// A tiny deterministic generator (xorshift), so the soak's choices repeat run to run.
fn xorshift(seed: u64) -> Xorshift {
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
