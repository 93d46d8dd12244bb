//! A converter's life on the in-process emulator: create, update twice, delete; then declared
//! to the controller, kept through an injected failure, and removed. Runs on tokio's paused
//! clock, so the vendor's waits (minutes of polling, 5–16 s retries) take no real time.
//!
//! Run: `cargo run -p agora-rest-mediapush --example lifecycle`

#![allow(clippy::print_stdout)] // an example prints its steps

use std::time::Duration;

use agora_rest_core::region::PathRegion;
use agora_rest_emulator::Emulator;
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterEvent, ConverterSpec,
};
use agora_rest_mediapush::{MediaPush, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
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

    // A declared converter: the controller creates it, keeps it, and re-creates it from the
    // latest spec when it fails; `remove` deletes it.
    let controller = ConverterController::start(push.clone(), ConverterControllerConfig::default());
    let mut events = controller.events();
    controller
        .apply(ConverterSpec::new(PathRegion::Na, converter)?)
        .await?;
    let mut failed_once = false;
    let mut recreated = false;
    while let Ok(event) = tokio::time::timeout(Duration::from_secs(3600), events.recv()).await? {
        println!("controller {event:?}");
        match event {
            ConverterEvent::Created { id, .. } if !failed_once => {
                failed_once = true;
                emulator.fail_converter(&id);
                println!("inject     state=failed on {id}");
            }
            ConverterEvent::Recreated { key, .. } => {
                recreated = true;
                controller.remove(&key).await?;
            }
            ConverterEvent::Deleted { .. } => break,
            _ => {}
        }
    }
    controller.shutdown().await;
    if !recreated || !emulator.converters().is_empty() {
        return Err("the declared converter did not go through its failure and removal".into());
    }
    println!(
        "done: {} requests, no converter left",
        emulator.request_log().len()
    );
    Ok(())
}
