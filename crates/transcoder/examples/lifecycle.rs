//! A task's life on the in-process emulator: start (through four 206s, then the backup UID),
//! update, stop; then a task declared to the controller: started, updated, kept through two
//! 2-minute checks, removed. Runs on tokio's paused clock, so the guide's
//! waits take no real time.
//!
//! Run: `cargo run -p agora-rest-transcoder --example lifecycle`

#![allow(clippy::print_stdout)] // an example prints its steps

use agora_rest_core::name::UidPair;
use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_model::transcoder::{
    AudioInput, AudioProfile, Output, TranscoderConfigBuilder, VideoOption,
};
use std::time::Duration;

use agora_rest_transcoder::controller::{TaskController, TaskEvent, TaskSpec};
use agora_rest_transcoder::{StartSpec, Transcoder, UidTokens};
use agora_rest_transport::{Client, Config, Credentials};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .credentials("customer-id", "customer-secret")
        .fault(FaultRule::calls(
            Operation::TranscodeCreate,
            1,
            4,
            Fault::Partial206,
        ))
        .build();
    let config = Config::new(
        "demo-app",
        Credentials::new("customer-id", "customer-secret")?,
    );
    let transcoder = Transcoder::new(
        Client::builder(config)
            .with_service(emulator.service())
            .build()?,
    );

    let config = TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "input-token"))
        .output(
            Output::rtc("show68-mix", 1001, "output-token")
                .with_audio(AudioProfile::MusicStandard)
                .with_video(VideoOption::new(640, 360, 800)),
        )
        .build()?;
    // Each output UID has its own RTC token: the backup UID never sends the primary's.
    let tokens = UidTokens::new()
        .with(1001, "output-token-1001")
        .with(1002, "output-token-1002");
    let declared = config.clone();
    let uid_tokens = tokens.clone();
    let spec = StartSpec::new("show68-mix", UidPair::new(1001, 1002)?, config, tokens)?;

    let task = transcoder.start(spec).await?;
    println!(
        "started   {} as UID {} (after four 206s: backup UID, new token)",
        task.task_id(),
        task.uid()
    );

    let mut new = task.config();
    if let Some(v) = new.outputs[0].video_option.as_mut() {
        v.bitrate = Some(600);
    }
    task.update(new).await?;
    println!("updated   output bitrate -> 600 Kbps (sequenceId 0)");

    let stopped = task.stop().await?.ok_or("the task was already gone")?;
    println!("stopped   {} ({})", stopped.task_id, stopped.status);
    if !emulator.tasks().is_empty() {
        return Err("a task is still running".into());
    }

    // A declared task: the controller starts it (its own start procedure), queries it every
    // 2 minutes, sends a changed config as a sequenced update, and stops it on removal.
    let controller = TaskController::start(transcoder.clone(), uid_tokens);
    let mut events = controller.events();
    let mut spec = TaskSpec {
        instance_id: "show68-declared".into(),
        uids: [1001, 1002],
        config: declared,
        recreate_after_idle: false,
    };
    controller.apply(spec.clone()).await?;
    let until = tokio::time::Instant::now() + Duration::from_secs(3600);
    while let Ok(Ok(event)) = tokio::time::timeout_at(until, events.recv()).await {
        println!("controller {event:?}");
        match event {
            TaskEvent::Started { .. } => {
                if let Some(v) = spec.config.outputs[0].video_option.as_mut() {
                    v.bitrate = Some(500);
                }
                controller.apply(spec.clone()).await?;
            }
            TaskEvent::Updated { key, .. } => {
                // Two running checks later, remove it.
                tokio::time::sleep(Duration::from_secs(240)).await;
                controller.remove(&key).await?;
            }
            TaskEvent::Stopped { .. } => break,
            _ => {}
        }
    }
    controller.shutdown().await;
    if !emulator.tasks().is_empty() {
        return Err("the declared task is still running".into());
    }
    Ok(())
}
