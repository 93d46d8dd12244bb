//! The Media Push client against the in-process emulator, under tokio's paused clock.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::quota::QuotaTable;
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_mediapush::{Error, MediaPush, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, Converter, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_transport::store::InMemoryLedgerStore;
use agora_rest_transport::{Client, Config, Credentials};
use futures_util::TryStreamExt;

fn push(emu: &Emulator, configure: impl FnOnce(MediaPush) -> MediaPush) -> MediaPush {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    configure(MediaPush::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    ))
}

fn converter(name: &str, w: u32, h: u32) -> Converter {
    ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/show68")
        .name(name)
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(w, h, 1000).with_layout(vec![LayoutElement::stream(
                1,
                LayoutRegion::new(0, 0, w, h),
            )]),
        )
        .build()
        .unwrap()
}

fn sent(emu: &Emulator, op: Operation) -> usize {
    emu.request_log()
        .iter()
        .filter(|l| l.op == Some(op))
        .count()
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_before_any_request() {
    let emu = Emulator::builder().build();
    let p = push(&emu, |p| p);
    let mut bad = converter("x", 640, 360);
    bad.rtmp_url = Some("http://nope".into());
    match p.create(PathRegion::Na, bad).await {
        Err(Error::Invalid(e)) => assert_eq!(e.field(), Some("converter.rtmpUrl")),
        other => panic!("{other:?}"),
    }
    let mut nameless = converter("x", 640, 360);
    nameless.name = None;
    assert!(matches!(
        p.create(PathRegion::Na, nameless).await,
        Err(Error::NameRequired)
    ));
    assert!(emu.request_log().is_empty(), "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn a_504_after_commit_does_not_make_two_converters() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(
            Operation::PushCreate,
            1,
            Fault::CommitThen504,
        ))
        .build();
    let p = push(&emu, |p| p);
    let created = p
        .create(PathRegion::Na, converter("once", 640, 360))
        .await
        .unwrap();
    assert!(created.adopted);
    assert_eq!(emu.converters().len(), 1);
    assert_eq!(emu.converters()[0].id, created.converter.id);
    assert_eq!(
        sent(&emu, Operation::PushCreate),
        1,
        "it looked instead of creating again"
    );
    // The adopted converter is fully usable.
    p.update(
        &created.converter.id,
        Update::new().rtmp_url("rtmp://b.example.com/x"),
    )
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_uncertain_failure_looks_then_creates_again() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(Operation::PushCreate, 1, Fault::Status(503)))
        .build();
    let p = push(&emu, |p| p);
    let start = tokio::time::Instant::now();
    let created = p
        .create(PathRegion::Na, converter("again", 640, 360))
        .await
        .unwrap();
    assert!(!created.adopted);
    assert_eq!(emu.converters().len(), 1);
    assert_eq!(sent(&emu, Operation::PushCreate), 2);
    assert_eq!(
        sent(&emu, Operation::PushList),
        1,
        "it looked before creating again"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(5),
        "the guide's first wait (jitter 0)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_taken_name_on_the_first_attempt_is_named_taken() {
    let emu = Emulator::builder().build();
    let p = push(&emu, |p| p);
    let first = p
        .create(PathRegion::Na, converter("dup", 640, 360))
        .await
        .unwrap();
    match p.create(PathRegion::Na, converter("dup", 640, 360)).await {
        Err(Error::NameTaken { name, existing_id }) => {
            assert_eq!(name, "dup");
            assert_eq!(existing_id.as_deref(), Some(first.converter.id.as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn updates_carry_rising_sequences_even_concurrently() {
    let emu = Emulator::builder().build();
    let p = push(&emu, |p| p);
    let id = p
        .create(PathRegion::Na, converter("seq", 640, 360))
        .await
        .unwrap()
        .converter
        .id;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let p = p.clone();
            let id = id.clone();
            tokio::spawn(async move {
                p.update(
                    &id,
                    Update::new().canvas(Canvas {
                        width: 640 + i * 8,
                        height: 360,
                        color: None,
                    }),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let seqs: Vec<u64> = emu
        .request_log()
        .iter()
        .filter(|l| l.op == Some(Operation::PushUpdate))
        .map(|l| l.path.rsplit("sequence=").next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (0..8).collect::<Vec<_>>(), "in order, none stale");
    assert!(emu.request_log().iter().all(|l| l.status == 200));
    // Immutable fields are refused without a request.
    let before = emu.request_log().len();
    let name_change = Converter {
        name: Some("renamed".into()),
        ..Converter::default()
    };
    match p
        .update(&id, Update::from_parts(name_change, ["name"]))
        .await
    {
        Err(Error::Invalid(e)) => assert_eq!(e.field(), Some("name")),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.request_log().len(), before);
}

#[tokio::test(start_paused = true)]
async fn list_follows_the_cursor_and_regions_are_remembered() {
    let emu = Emulator::builder().list_page_size(2).build();
    let p = push(&emu, |p| p);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            p.create(PathRegion::Eu, converter(&format!("l{i}"), 640, 360))
                .await
                .unwrap()
                .converter
                .id,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed: Vec<String> = p
        .list()
        .map_ok(|m| m.converter_id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, ids);
    // Get goes to the creation region (eu) without being told.
    assert!(p.get(&ids[0]).await.is_ok());
    // Another client must be told the region first.
    let other = push(&emu, |p| p);
    assert!(matches!(
        other.get(&ids[0]).await,
        Err(Error::UnknownConverter { .. })
    ));
    other
        .adopt(&ids[0], PathRegion::Eu, Some(41))
        .await
        .unwrap();
    other
        .update(&ids[0], Update::new().rtmp_url("rtmp://c.example.com/x"))
        .await
        .unwrap();
    assert!(
        emu.request_log()
            .last()
            .unwrap()
            .path
            .ends_with("sequence=42"),
        "resumed after 41"
    );
    p.delete(&ids[0]).await.unwrap();
    p.delete(&ids[0]).await.unwrap_err();
}

#[tokio::test(start_paused = true)]
async fn preflight_quota_refuses_locally() {
    let emu = Emulator::builder().build();
    let ledger = Arc::new(InMemoryLedgerStore::new(QuotaTable::media_push()));
    let p = push(&emu, |p| p.with_quota(ledger));
    for i in 0..5 {
        p.create(PathRegion::Eu, converter(&format!("hd{i}"), 1280, 720))
            .await
            .unwrap();
    }
    let before = emu.request_log().len();
    let err = p
        .create(PathRegion::Eu, converter("hd5", 1280, 720))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("per-tier cap of 5"), "{err}");
    assert_eq!(emu.request_log().len(), before, "refused without a request");
    assert_eq!(p.seed_quota(Area::Eu).await.unwrap(), 5);
}
