//! Every example body: parses, validates where it is a request, and re-serialises to equivalent
//! JSON. Files without a `derived_` prefix are printed in docs/vendor-rules.md; `derived_` files are built
//! from docs/vendor-rules.md's tables where it prints no full body.
//!
//! "Equivalent" allows exactly the documented normalisations of exact writing (listed per file):
//! `idleTimeout` → `idleTimeOut` in requests, `"High"` → `"high"`, `watermarks` → `waterMarks`,
//! numbers sent as strings → numbers, `fields` moved to the top level, legacy `"seiOptions": ""`
//! dropped.

#![allow(clippy::unwrap_used)] // a broken fixture should fail the test loudly

use std::path::Path;

use agora_rest_core::ncs::Envelope;
use agora_rest_model::ErrorBody;
use agora_rest_model::mediapush::{
    ConverterResponse, CreateConverterRequest, GetConverterResponse, GetShape,
    ListConvertersResponse, UpdateConverterRequest,
};
use agora_rest_model::ncs::Notification;
use agora_rest_model::transcoder::{AcquireResponse, CreateTaskRequest, Task};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn load(name: &str) -> (Vec<u8>, Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value = serde_json::from_slice(&bytes).unwrap();
    (bytes, value)
}

/// Parses `name` as `T`, writes it back, and compares with the file after `normalise`.
fn round_trip<T: DeserializeOwned + Serialize>(
    name: &str,
    normalise: impl FnOnce(&mut Value),
) -> T {
    let (bytes, mut expected) = load(name);
    let parsed: T = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = serde_json::to_value(&parsed).unwrap();
    normalise(&mut expected);
    assert_eq!(written, expected, "{name} did not round-trip");
    parsed
}

fn rename_key(v: &mut Value, pointer: &str, from: &str, to: &str) {
    let obj = v
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap();
    let x = obj.remove(from).unwrap();
    obj.insert(to.to_string(), x);
}

#[test]
fn reference_printed_bodies() {
    round_trip::<ConverterResponse>("mp_create_response.json", |_| {});
    let list = round_trip::<ListConvertersResponse>("mp_list_response.json", |_| {});
    assert_eq!(list.data.members[0].idle_timeout, 120);
    assert_eq!(list.data.cursor, 0);
    let e = round_trip::<ErrorBody>("mp_error_reason.json", |_| {});
    assert_eq!(e.text(), Some("Resource is not found and destroyed."));
    round_trip::<ErrorBody>("gateway_unauthorized.json", |_| {});
    round_trip::<ErrorBody>("gateway_no_route.json", |_| {});
    round_trip::<ErrorBody>("ct_error.json", |_| {});
    let e = round_trip::<ErrorBody>("ct_code65.json", |_| {});
    assert_eq!(e.code, Some(65));
    let a = round_trip::<AcquireResponse>("ct_acquire_response.json", |_| {});
    assert_eq!(a.token_name.expose(), "xUwU…");
    let t = round_trip::<Task>("ct_task_create.json", |_| {});
    assert!(t.status.is_started());
    assert_eq!(t.sequence_id.0, 0);
}

#[test]
fn derived_media_push_requests() {
    let c = round_trip::<CreateConverterRequest>("derived_mp_create_transcoded.json", |v| {
        rename_key(v, "/converter", "idleTimeout", "idleTimeOut");
        v["converter"]["transcodeOptions"]["videoOptions"]["codecProfile"] = "high".into();
    });
    c.validate().unwrap();
    let c = round_trip::<CreateConverterRequest>("derived_mp_create_vertical.json", |_| {});
    c.validate().unwrap();
    let c = round_trip::<CreateConverterRequest>("derived_mp_create_raw.json", |v| {
        v["converter"]["rawOptions"]["rtcStreamUid"] = 201.into();
    });
    c.validate().unwrap();
    let c = round_trip::<CreateConverterRequest>("derived_mp_create_sei_only.json", |_| {});
    c.validate().unwrap();

    let u = round_trip::<UpdateConverterRequest>("derived_mp_update.json", |_| {});
    let shape = agora_rest_core::update_rules::ConverterShape::Transcoded {
        audio: true,
        video: true,
        vertical: false,
    };
    u.validate(shape).unwrap();
    let u = round_trip::<UpdateConverterRequest>("derived_mp_update_fields_inside.json", |v| {
        let f = v["converter"]
            .as_object_mut()
            .unwrap()
            .remove("fields")
            .unwrap();
        v["fields"] = f;
    });
    assert_eq!(u.fields, "rtmpUrl");
    u.validate(shape).unwrap();
}

#[test]
fn derived_media_push_get_shapes() {
    let g = round_trip::<GetConverterResponse>("derived_mp_get_top_level.json", |_| {});
    assert_eq!(g.shape, GetShape::TopLevel);
    let g = round_trip::<GetConverterResponse>("derived_mp_get_wrapped.json", |_| {});
    assert_eq!(g.shape, GetShape::Wrapped);
    assert_eq!(g.converter.idle_timeout, Some(120));
}

#[test]
fn derived_cloud_transcoding_requests() {
    let r = round_trip::<CreateTaskRequest>("derived_ct_create_audio.json", |_| {});
    r.validate().unwrap();
    let r = round_trip::<CreateTaskRequest>("derived_ct_create_video.json", |v| {
        rename_key(
            v,
            "/services/cloudTranscoder/config/transcoder",
            "watermarks",
            "waterMarks",
        );
    });
    r.validate().unwrap();
    assert!(
        !format!("{r:?}").contains("t3"),
        "tokens are redacted in Debug"
    );
}

#[test]
fn derived_notifications() {
    for (name, normalise) in [
        ("derived_ncs_mp_created.json", true),
        ("derived_ncs_mp_destroyed.json", false),
        ("derived_ncs_ct_started.json", false),
    ] {
        let (bytes, mut expected) = load(name);
        let envelope = Envelope::parse(&bytes).unwrap();
        let n = Notification::from_envelope(&envelope).unwrap();
        assert!(!matches!(n, Notification::Other { .. }), "{name}");
        let again = n
            .to_envelope(envelope.notice_id.clone(), envelope.notify_ms)
            .unwrap();
        if normalise {
            let video = expected
                .pointer_mut("/payload/converter/transcodeOptions/videoOptions")
                .and_then(Value::as_object_mut)
                .unwrap();
            video.remove("seiOptions");
        }
        assert_eq!(serde_json::to_value(&again).unwrap(), expected, "{name}");
    }
}
