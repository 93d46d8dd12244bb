//! Defects of the client-correctness review, each reproduced against a scripted mock or the
//! emulator and guarded. Paused clock; every call runs under an overall limit.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_core::region::PathRegion;
use agora_rest_emulator::Emulator;
use agora_rest_mediapush::{Deleted, Error, MediaPush, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Converter, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_transport::mock::{MockResponse, MockService};
use agora_rest_transport::{Client, Config, Credentials};
use futures_util::TryStreamExt;

fn on_mock(mock: &MockService, configure: impl FnOnce(MediaPush) -> MediaPush) -> MediaPush {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    configure(MediaPush::new(
        Client::builder(c)
            .with_service(mock.clone())
            .build()
            .unwrap(),
    ))
}

fn on_emulator(emu: &Emulator) -> MediaPush {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    MediaPush::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    )
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

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("done within an hour of paused time")
}

fn page(cursor: u64) -> MockResponse {
    MockResponse::json(
        200,
        format!(
            r#"{{"success":true,"data":{{"total_count":1,"cursor":{cursor},"members":[{{"rtcChannel":"show68","status":"200","converterName":"n{cursor}","updateTs":"1","appId":"app","rtmpUrl":"rtmp://a/b","ip":"1.2.3.4","create":"1","converterId":"c{cursor}","state":"running","idleTimeout":"300"}}]}}}}"#
        ),
    )
}

/// A List whose cursor never ends used to run for ever: a repeated cursor ends it.
#[tokio::test(start_paused = true)]
async fn a_repeated_list_cursor_ends_the_list() {
    let mock = MockService::new();
    mock.fallback(page(7));
    let p = on_mock(&mock, |p| p);
    let err = bounded(p.list().try_collect::<Vec<_>>()).await.unwrap_err();
    assert!(matches!(err, Error::ListUnbounded { .. }), "{err:?}");
    assert_eq!(mock.calls(), 2, "page 1, then cursor 7 once; not again");
}

/// Fresh cursors for ever stop at the page limit.
#[tokio::test(start_paused = true)]
async fn a_list_stops_at_the_page_limit() {
    let mock = MockService::new();
    for c in 1..=100 {
        mock.push(page(c));
    }
    let p = on_mock(&mock, |p| p.with_max_list_pages(5));
    let err = bounded(p.list().try_collect::<Vec<_>>()).await.unwrap_err();
    assert!(matches!(err, Error::ListUnbounded { .. }), "{err:?}");
    assert!(mock.calls() <= 5, "{} pages read", mock.calls());
}

/// The 504 existence check goes through the same bounded List.
#[tokio::test(start_paused = true)]
async fn the_504_existence_check_is_bounded_too() {
    let mock = MockService::new();
    mock.push(MockResponse::json(504, r#"{"message":"Gateway timeout."}"#));
    mock.fallback(page(7));
    let p = on_mock(&mock, |p| p);
    let err = bounded(p.create(PathRegion::Na, converter("x", 640, 360)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ListUnbounded { .. }), "{err:?}");
    assert!(mock.calls() <= 3, "{}", mock.calls());
}

/// A Delete of something already gone used to take 30 s of 404 retries.
#[tokio::test(start_paused = true)]
async fn deleting_a_gone_converter_settles_at_once() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(
        404,
        r#"{"message":"Resource is not found and destroyed."}"#,
    ));
    let p = on_mock(&mock, |p| p);
    p.locate("0123456789abcdef0123456789abcdef", PathRegion::Eu)
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let outcome = bounded(p.delete("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap();
    assert_eq!(outcome, Deleted::AlreadyGone);
    assert_eq!(mock.calls(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

/// A 200 Create whose body cannot be decoded counts as applied and keeps the converter id.
#[tokio::test(start_paused = true)]
async fn an_undecodable_create_answer_keeps_the_converter() {
    let mock = MockService::new();
    mock.push(
        MockResponse::json(200, "<html>ok</html>")
            .header("x-resource-id", "abcdef0123456789abcdef0123456789"),
    );
    mock.fallback(MockResponse::json(500, "{}"));
    let p = on_mock(&mock, |p| p);
    let created = bounded(p.create(PathRegion::Na, converter("x", 640, 360)))
        .await
        .unwrap();
    assert_eq!(created.converter.id, "abcdef0123456789abcdef0123456789");
    assert!(created.adopted);
    assert_eq!(mock.calls(), 1, "no second Create");
}

/// Ids that are empty, `.` or `..` are refused before any request (`push delete ..` used to
/// send `DELETE …/rtmp-converters/..`).
#[tokio::test(start_paused = true)]
async fn dot_segment_ids_are_refused_locally() {
    let mock = MockService::new();
    let p = on_mock(&mock, |p| p);
    for id in ["", ".", ".."] {
        assert!(
            matches!(p.locate(id, PathRegion::Eu), Err(Error::Invalid(_))),
            "{id:?}"
        );
        let err = bounded(p.delete(id)).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{id:?}: {err:?}");
        let err = bounded(p.adopt(id, PathRegion::Eu, None))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{id:?}: {err:?}");
    }
    for channel in ["", ".", ".."] {
        let err = bounded(p.list_channel(channel).try_collect::<Vec<_>>())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{channel:?}: {err:?}");
    }
    assert_eq!(mock.calls(), 0);
}

/// An Update body carries only the fields of its mask, immutable ones set by mistake
/// included.
#[tokio::test(start_paused = true)]
async fn an_update_body_carries_only_its_mask() {
    let emu = Emulator::builder().build();
    let p = on_emulator(&emu);
    let created = bounded(p.create(PathRegion::Na, converter("masked", 640, 360)))
        .await
        .unwrap();
    let mut change = converter("renamed", 640, 360);
    change.rtmp_url = Some("rtmp://backup.example.com/live/x".into());
    let update = Update::from_parts(change, ["rtmpUrl"]);
    bounded(p.update(&created.converter.id, update))
        .await
        .unwrap();
    let info = bounded(p.get(&created.converter.id)).await.unwrap();
    assert_eq!(info.name.as_deref(), Some("masked"));
    assert_eq!(
        info.rtmp_url.as_deref(),
        Some("rtmp://backup.example.com/live/x")
    );

    let mock = MockService::new();
    mock.fallback(MockResponse::json(
        200,
        r#"{"converter":{"id":"abcdef0123456789abcdef0123456789","createTs":1,"updateTs":2,"state":"running"},"fields":"id,createTs,updateTs,state"}"#,
    ));
    let p = on_mock(&mock, |p| p);
    p.locate("abcdef0123456789abcdef0123456789", PathRegion::Na)
        .unwrap();
    let mut change = converter("renamed", 640, 360);
    change.rtmp_url = Some("rtmp://backup.example.com/live/x".into());
    bounded(p.update(
        "abcdef0123456789abcdef0123456789",
        Update::from_parts(change, ["rtmpUrl"]),
    ))
    .await
    .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"converter": {"rtmpUrl": "rtmp://backup.example.com/live/x"}, "fields": "rtmpUrl"})
    );
}

/// A quota 429 is a typed quota error at once, not retried on the rate schedule for 30 s.
#[tokio::test(start_paused = true)]
async fn a_full_quota_is_reported_at_once() {
    let emu = Emulator::builder().build();
    let p = on_emulator(&emu);
    let mut last = None;
    for i in 0..30 {
        match bounded(p.create(PathRegion::Eu, converter(&format!("fhd{i}"), 1920, 1080))).await {
            Ok(_) => {}
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let err = last.expect("the FHD cap is reached");
    assert!(err.is_quota_exceeded() && !err.is_throttled(), "{err:?}");
    assert_eq!(err.status(), Some(429));
    let t0 = tokio::time::Instant::now();
    let again = bounded(p.create(PathRegion::Eu, converter("fhd-more", 1920, 1080))).await;
    assert!(again.unwrap_err().is_quota_exceeded());
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
}

/// The error helpers read the same things on this client as on the transcoder's.
#[tokio::test(start_paused = true)]
async fn error_helpers_read_status_and_ids() {
    let mock = MockService::new();
    mock.fallback(
        MockResponse::json(404, r#"{"message":"Resource is not found and destroyed."}"#)
            .header("x-resource-id", "abcdef0123456789abcdef0123456789"),
    );
    let p = on_mock(&mock, |p| p);
    p.locate("abcdef0123456789abcdef0123456789", PathRegion::Na)
        .unwrap();
    let err = bounded(p.get("abcdef0123456789abcdef0123456789"))
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.resource_id(), Some("abcdef0123456789abcdef0123456789"));
    assert!(err.request_id().is_some());
    let text = err.to_string();
    assert!(
        text.contains("abcdef0123456789abcdef0123456789") && text.contains("not found"),
        "{text}"
    );
}
