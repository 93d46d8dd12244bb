//! Start a Cloud Transcoding task, update it and stop it, through the `agora-rest` facade.
#![allow(clippy::print_stdout)] // an example prints

use agora_rest::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), agora_rest::Error> {
    let emulator = Emulator::builder().build(); // or Config::from_env()? and no with_service
    let config = Config::new(
        "my-app-id",
        Credentials::new("customer-id", "customer-secret")?,
    );
    let client = Client::builder(config)
        .with_service(emulator.service())
        .build()?;
    let transcoder = Transcoder::new(client);

    let mix = |kbps| {
        TranscoderConfigBuilder::new()
            .audio_input(AudioInput::rtc("show68", 0, "input-token"))
            .output(
                Output::rtc("show68-mix", 1001, "output-token")
                    .with_video(VideoOption::new(640, 360, kbps)),
            )
            .build()
    };
    // Each UID publishes with its own token; after 206s or 50x the start moves to the backup.
    let tokens = UidTokens::new()
        .with(1001, "token-for-1001")
        .with(1002, "token-for-1002");
    let spec = StartSpec::new("show68-mix", UidPair::new(1001, 1002)?, mix(800)?, tokens)?;
    let task = transcoder.start(spec).await?; // Acquire, Create within 2 s, startup confirmed
    println!("task {} started as UID {}", task.task_id(), task.uid());
    task.update(mix(1200)?).await?; // the next sequenceId
    task.stop().await?;
    println!("stopped");
    Ok(())
}
