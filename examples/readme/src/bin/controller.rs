//! Keep a declared converter alive with the controller, through the `agora-rest` facade.
#![allow(clippy::print_stdout)] // an example prints

use agora_rest::prelude::*;
use tokio::sync::broadcast::Receiver;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), agora_rest::Error> {
    let emulator = Emulator::builder().build(); // or Config::from_env()? and no with_service
    let config = Config::new(
        "my-app-id",
        Credentials::new("customer-id", "customer-secret")?,
    );
    let push = MediaPush::new(
        Client::builder(config)
            .with_service(emulator.service())
            .build()?,
    );

    let controller = ConverterController::start(push, ConverterControllerConfig::default());
    let mut events = controller.events(); // optional; a slow reader gets Lagged(n)
    let spec = |url: &str| -> Result<ConverterSpec, agora_rest::Error> {
        let converter = ConverterBuilder::raw("show68", 1001, url)
            .name("show68_main")
            .build()?;
        Ok(ConverterSpec::new(PathRegion::Na, converter)?.priority_field("priority"))
    };

    controller
        .apply(spec("rtmp://push.example.com/live/show68")?)
        .await?; // created
    until(&mut events, |e| matches!(e, ConverterEvent::Created { .. })).await;
    controller
        .apply(spec("rtmp://backup.example.com/live/show68")?)
        .await?; // a sequenced update
    until(&mut events, |e| matches!(e, ConverterEvent::Updated { .. })).await;
    controller.remove("show68_main").await?; // deleted
    until(&mut events, |e| matches!(e, ConverterEvent::Deleted { .. })).await;
    controller.shutdown().await; // what still runs keeps running; the next controller adopts it
    Ok(())
}

/// Prints events until one matches.
async fn until(events: &mut Receiver<ConverterEvent>, done: impl Fn(&ConverterEvent) -> bool) {
    while let Ok(event) = events.recv().await {
        println!("{event:?}");
        if done(&event) {
            return;
        }
    }
}
