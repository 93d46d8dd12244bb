//! Create, update, read and delete a converter through the `agora-rest` facade.
#![allow(clippy::print_stdout)] // an example prints

use agora_rest::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), agora_rest::Error> {
    // The in-memory emulator stands in for Agora. With an account: `Config::from_env()?`
    // (AGORA_APP_ID, AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET) and no `with_service`.
    let emulator = Emulator::builder().build();
    let config = Config::new(
        "my-app-id",
        Credentials::new("customer-id", "customer-secret")?,
    );
    let push = MediaPush::new(
        Client::builder(config)
            .with_service(emulator.service())
            .build()?,
    );

    let converter = ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/show68")
        .name("show68_horizontal") // the name makes a retried create safe
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(1280, 720, 2000).with_layout(vec![LayoutElement::stream(
                42,
                LayoutRegion::new(0, 0, 1280, 720),
            )]),
        )
        .build()?; // a bad field is an error naming it, before any request
    let created = push.create(PathRegion::Na, converter).await?;
    let id = &created.converter.id;
    println!("created {id}");

    // A sequenced update: the next sequence number, never a stale one.
    push.update(
        id,
        Update::new().rtmp_url("rtmp://backup.example.com/live/show68"),
    )
    .await?;
    let info = push.get(id).await?;
    println!("pushing to {}", info.rtmp_url.unwrap_or_default());

    push.delete(id).await?; // one already gone settles at once, without the 404 schedule
    println!("deleted");
    Ok(())
}
