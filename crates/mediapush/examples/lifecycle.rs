//! A converter's life on the in-process emulator: create, update twice, supervise through an
//! injected failure, delete. Runs on tokio's paused clock, so the vendor's waits (minutes of
//! polling, 5–16 s retries) take no real time.
//!
//! Run: `cargo run -p agora-rest-mediapush --example lifecycle`

#![allow(clippy::print_stdout)] // an example prints its steps

use std::time::Duration;

use agora_rest_core::region::PathRegion;
use agora_rest_emulator::Emulator;
use agora_rest_mediapush::{MediaPush, SupervisorConfig, SupervisorEvent, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_transport::{Client, Config, Credentials};
use futures_util::StreamExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .app_id("demo-app")
        .credentials("customer-id", "customer-secret")
        .build();
    let config = Config::new(
        "demo-app",
        Credentials::new("customer-id", "customer-secret")?,
    );
    let push = MediaPush::new(
        Client::builder(config)
            .with_service(emulator.service())
            .build()?,
    );

    let converter = ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/show68")
        .name("show68_horizontal")
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(1280, 720, 2000).with_layout(vec![LayoutElement::stream(
                1001,
                LayoutRegion::new(0, 0, 1280, 720),
            )]),
        )
        .idle_timeout(300)
        .build()?;

    // A one-off converter: create and update twice (sequences 0 and 1).
    let created = push.create(PathRegion::Na, converter.clone()).await?;
    let id = created.converter.id.clone();
    println!("created   {id} ({})", created.converter.state);
    push.update(
        &id,
        Update::new().canvas(Canvas {
            width: 720,
            height: 1280,
            color: None,
        }),
    )
    .await?;
    println!("updated   canvas -> 720x1280 (sequence 0)");
    push.update(
        &id,
        Update::new().rtmp_url("rtmp://backup.example.com/live/show68"),
    )
    .await?;
    println!("updated   rtmpUrl -> backup CDN (sequence 1)");
    push.delete(&id).await?;
    println!("deleted   {id}");

    // A supervised converter: the emulator marks it failed; the supervisor re-creates it.
    let (handle, events) = push.supervise(PathRegion::Na, converter, SupervisorConfig::default());
    let mut events = Box::pin(events);
    let mut failed_once = false;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(3600), events.next()).await? {
        println!("supervise {event:?}");
        match event {
            SupervisorEvent::State { id, state } if state.as_str() == "running" && !failed_once => {
                failed_once = true;
                emulator.fail_converter(&id);
                println!("inject    state=failed on {id}");
            }
            SupervisorEvent::Recreated { .. } => handle.stop(true).await,
            SupervisorEvent::Stopped => break,
            _ => {}
        }
    }
    if !failed_once || !emulator.converters().is_empty() {
        return Err("the supervised converter did not go through its failure and deletion".into());
    }
    println!(
        "done: {} requests, no converter left",
        emulator.request_log().len()
    );
    Ok(())
}
