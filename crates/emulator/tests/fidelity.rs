//! Where the emulator follows the vendor's docs: lenient where they are silent or ambiguous,
//! strict where they are clear; configurable limits; parsing quirks closed.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use agora_rest_emulator::Emulator;
use agora_rest_emulator::cli::EmulatorArgs;
use clap::Parser;
use common::{AUTH, PUSH, T, converter, create};
use http::Method;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn args(words: &[&str]) -> Result<agora_rest_emulator::EmulatorBuilder, String> {
    let mut all = vec!["agora-emulator"];
    all.extend_from_slice(words);
    let parsed = Args::try_parse_from(all).map_err(|e| e.to_string())?;
    parsed.args.builder().map_err(|e| e.to_string())
}

#[tokio::test(start_paused = true)]
async fn a_create_with_neither_audio_nor_video_is_accepted() {
    let t = T::new(Emulator::builder().build());
    let body = json!({"converter": {"name": "vonly", "transcodeOptions": {"rtcChannel": "show68"}, "rtmpUrl": "rtmp://h/x"}});
    let a = t.call(Method::POST, PUSH, Some(body)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test(start_paused = true)]
async fn an_update_without_fields_takes_its_paths_from_the_body() {
    let t = T::new(Emulator::builder().build());
    let id = create(&t, "nofields").await;
    let one = format!("{PUSH}/{id}");
    let a = t
        .call(
            Method::PATCH,
            &format!("{one}?sequence=1"),
            Some(json!({"converter": {"rtmpUrl": "rtmp://new/x"}})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got = t.call(Method::GET, &one, None).await;
    assert_eq!(got.body["rtmpUrl"], "rtmp://new/x", "{}", got.body);
    let a = t
        .call(
            Method::PATCH,
            &format!("{one}?sequence=2"),
            Some(json!({"converter": {"transcodeOptions": {"videoOptions": {"canvas": {"width": 320, "height": 180}}}}})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // An immutable field without a mask is still refused, in the vendor's message format and
    // without citing any document of ours. (A second later: 2 Updates/s per converter.)
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let a = t
        .call(
            Method::PATCH,
            &format!("{one}?sequence=3"),
            Some(json!({"converter": {"name": "other"}})),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let text = a.body["message"].as_str().unwrap();
    assert!(text.starts_with("Invalid parameter: name."), "{text}");
    assert!(!text.contains("REFERENCE") && !text.contains('§'), "{text}");
}

#[tokio::test(start_paused = true)]
async fn not_found_bodies_follow_the_status_table() {
    let t = T::new(Emulator::builder().build());
    let one = format!("{PUSH}/0123456789abcdef0123456789abcdef");
    let got = t.call(Method::GET, &one, None).await;
    assert_eq!(got.status, 404);
    assert_eq!(got.body["message"], "Resource is not found and destroyed.");
    assert_eq!(
        got.body["reason"], "Resource is not found and destroyed.",
        "the Get example's key"
    );
    let del = t.call(Method::DELETE, &one, None).await;
    assert_eq!(del.status, 404);
    assert_eq!(del.body["message"], "Resource is not found and destroyed.");
    assert!(del.body.get("reason").is_none(), "{}", del.body);
}

#[tokio::test(start_paused = true)]
async fn numbers_as_strings_are_accepted_unless_strict() {
    let raw = json!({"converter": {"name": "raw1", "rawOptions": {"rtcChannel": "c", "rtcStreamUid": "201"}, "rtmpUrl": "rtmp://h/x"}});
    let t = T::new(Emulator::builder().build());
    assert_eq!(
        t.call(Method::POST, PUSH, Some(raw.clone())).await.status,
        200
    );
    let t = T::new(Emulator::builder().strict(true).build());
    let a = t.call(Method::POST, PUSH, Some(raw)).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "Invalid parameter: rtcStreamUid. A number is required, not a string."
    );
    // The documented types pass in strict mode.
    assert_eq!(
        t.call(
            Method::POST,
            PUSH,
            Some(converter("typed", "show68", 640, 360))
        )
        .await
        .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn parsing_quirks_are_closed() {
    let t = T::new(Emulator::builder().build());
    // `%+1` used to decode to a control character.
    let a = t
        .call(
            Method::GET,
            "/v1/projects/app/channels/a%+1/rtmp-converters",
            None,
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    // `//v1/…` is not `/v1/…`.
    let a = t
        .call(Method::GET, "//v1/projects/app/rtmp-converters", None)
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    // A sequence past 2^53 - 1 is refused instead of locking the converter for ever.
    let id = create(&t, "seq").await;
    let one = format!("{PUSH}/{id}");
    let body = json!({"converter": {"rtmpUrl": "rtmp://new/x"}, "fields": "rtmpUrl"});
    let a = t
        .call(
            Method::PATCH,
            &format!("{one}?sequence=18446744073709551615"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = t
        .call(Method::PATCH, &format!("{one}?sequence=5"), Some(body))
        .await;
    assert_eq!(a.status, 200, "still updatable: {}", a.body);
    // The option parser refuses a webhook URL that is not one.
    let e = args(&["--webhook-url", "not a url", "--webhook-secret", "s"])
        .err()
        .unwrap();
    assert!(e.contains("--webhook-url"), "{e}");
    args(&[
        "--webhook-url",
        "http://127.0.0.1:9/ncs",
        "--webhook-secret",
        "s",
    ])
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn limits_are_the_docs_by_default_and_can_be_turned_off_or_changed() {
    // Documented: 50 Gets per second, then 429.
    let t = T::new(Emulator::builder().build());
    let id = create(&t, "lim").await;
    let one = format!("{PUSH}/{id}");
    let mut statuses = Vec::new();
    for _ in 0..60 {
        statuses.push(t.call(Method::GET, &one, None).await.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        10,
        "{statuses:?}"
    );
    // Off: no rate, no stream cap.
    let t = T::new(args(&["--limits", "off"]).unwrap().build());
    let id = create(&t, "lim").await;
    let one = format!("{PUSH}/{id}");
    for _ in 0..200 {
        assert_eq!(t.call(Method::GET, &one, None).await.status, 200);
    }
    for i in 0..40 {
        let a = t
            .call(
                Method::POST,
                PUSH,
                Some(converter(&format!("fhd{i}"), "show68", 1920, 1080)),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // Overrides on top of the docs.
    let t = T::new(
        args(&["--qps-per-api", "5", "--pcw", "push:us:hd=1"])
            .unwrap()
            .build(),
    );
    let a = t
        .call(
            Method::POST,
            PUSH,
            Some(converter("hd1", "show68", 1280, 720)),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = t
        .call(
            Method::POST,
            PUSH,
            Some(converter("hd2", "show68", 1280, 720)),
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.body);
    let e = args(&["--pcw", "push:mars:hd=1"]).err().unwrap();
    assert!(e.contains("--pcw"), "{e}");
    let _ = AUTH;
}
