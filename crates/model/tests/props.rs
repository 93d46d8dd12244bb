//! Property tests: builders and `validate()` agree; what a builder accepts round-trips through
//! JSON unchanged; reading arbitrary JSON or bytes never panics.

#![allow(clippy::unwrap_used)] // a broken fixture should fail the test loudly

use agora_rest_model::ErrorBody;
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, Converter, ConverterBuilder, ConverterResponse, CreateConverterRequest,
    GetConverterResponse, LayoutElement, LayoutRegion, ListConvertersResponse, TranscodeOptions,
    UpdateConverterRequest, VideoCodec, VideoOptions,
};
use agora_rest_model::transcoder::{
    AcquireResponse, AudioInput, CreateTaskRequest, Output, Task, TranscoderCanvas,
    TranscoderConfig, TranscoderConfigBuilder, TranscoderRegion, VideoInput, VideoOption,
};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
struct PushInput {
    name: Option<String>,
    channel: String,
    url: String,
    width: u32,
    height: u32,
    bitrate: u32,
    fps: Option<u32>,
    h265: bool,
    audio_bitrate: Option<u32>,
    sample_rate: Option<u32>,
    channels: Option<u32>,
    idle: Option<u32>,
    jitter: Option<u32>,
    z: Vec<u32>,
}

fn push_input() -> impl Strategy<Value = PushInput> {
    (
        (
            proptest::option::of("[A-Za-z0-9_-]{0,66}|[a-z ]{1,5}"),
            "[a-z0-9 !#]{0,66}",
            prop_oneof!["rtmps?://[a-z]{1,8}/[a-z]{0,8}", "https?://[a-z]{1,4}"],
            0u32..2100,
            0u32..2100,
            0u32..11_000,
            proptest::option::of(0u32..35),
        ),
        (
            any::<bool>(),
            proptest::option::of(20u32..140),
            proptest::option::of(prop_oneof![
                Just(32_000u32),
                Just(44_100),
                Just(48_000),
                0u32..50_000
            ]),
            proptest::option::of(0u32..4),
            proptest::option::of(0u32..700),
            proptest::option::of(0u32..1100),
            proptest::collection::vec(0u32..110, 0..3),
        ),
    )
        .prop_map(
            |(
                (name, channel, url, width, height, bitrate, fps),
                (h265, ab, sr, ch, idle, jitter, z),
            )| {
                PushInput {
                    name,
                    channel,
                    url,
                    width,
                    height,
                    bitrate,
                    fps,
                    h265,
                    audio_bitrate: ab,
                    sample_rate: sr,
                    channels: ch,
                    idle,
                    jitter,
                    z,
                }
            },
        )
}

fn layout(z: &[u32]) -> Vec<LayoutElement> {
    z.iter()
        .enumerate()
        .map(|(i, z)| {
            LayoutElement::stream(i as u32 + 1, LayoutRegion::new(0, 0, 100, 100).with_z(*z))
        })
        .collect()
}

fn via_builder(i: &PushInput) -> Result<Converter, agora_rest_model::Error> {
    let audio = AudioOptions {
        bitrate: i.audio_bitrate,
        sample_rate: i.sample_rate,
        audio_channels: i.channels,
        ..AudioOptions::default()
    };
    let mut video = VideoOptions::new(i.width, i.height, i.bitrate).with_layout(layout(&i.z));
    if let Some(f) = i.fps {
        video = video.with_frame_rate(f);
    }
    if i.h265 {
        video = video.with_codec(VideoCodec::H265);
    }
    let mut b = ConverterBuilder::transcoded(i.channel.clone(), i.url.clone())
        .audio(audio)
        .video(video);
    if let Some(n) = &i.name {
        b = b.name(n.clone());
    }
    if let Some(t) = i.idle {
        b = b.idle_timeout(t);
    }
    if let Some(j) = i.jitter {
        b = b.jitter_buffer_ms(j);
    }
    b.build()
}

/// The same converter written out field by field, as the emulator would receive it.
fn by_hand(i: &PushInput) -> Converter {
    Converter {
        name: i.name.clone(),
        transcode_options: Some(TranscodeOptions {
            rtc_channel: Some(i.channel.clone()),
            audio_options: Some(AudioOptions {
                bitrate: i.audio_bitrate,
                sample_rate: i.sample_rate,
                audio_channels: i.channels,
                ..AudioOptions::default()
            }),
            video_options: Some(VideoOptions {
                canvas: Some(Canvas {
                    width: i.width,
                    height: i.height,
                    color: None,
                }),
                layout: Some(layout(&i.z)),
                bitrate: Some(i.bitrate),
                frame_rate: i.fps,
                codec: i.h265.then_some(VideoCodec::H265),
                ..VideoOptions::default()
            }),
        }),
        raw_options: None,
        rtmp_url: Some(i.url.clone()),
        idle_timeout: i.idle,
        jitter_buffer_size_ms: i.jitter,
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9 .:-]{0,12}".prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("converter"),
        Just("transcodeOptions"),
        Just("videoOptions"),
        Just("canvas"),
        Just("width"),
        Just("layout"),
        Just("rtcStreamUid"),
        Just("imageUrl"),
        Just("region"),
        Just("state"),
        Just("id"),
        Just("createTs"),
        Just("data"),
        Just("members"),
        Just("cursor"),
        Just("total_count"),
        Just("services"),
        Just("cloudTranscoder"),
        Just("config"),
        Just("transcoder"),
        Just("outputs"),
        Just("status"),
        Just("taskId"),
        Just("sequenceId"),
        Just("fields"),
        Just("idleTimeout"),
        Just("tokenName"),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn push_builder_agrees_with_validate_and_round_trips(i in push_input()) {
        let built = via_builder(&i);
        let mut hand = by_hand(&i);
        hand.normalize();
        let validated = hand.validate_create();
        prop_assert_eq!(built.is_ok(), validated.is_ok(), "{:?} vs {:?}", built, validated);
        if let (Err(a), Err(b)) = (&built, &validated) {
            prop_assert_eq!(a.field(), b.field());
        }
        if let Ok(c) = built {
            prop_assert_eq!(&c, &hand);
            let json = serde_json::to_string(&CreateConverterRequest::new(c.clone())).unwrap();
            let back: CreateConverterRequest = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back.converter, c);
        }
    }

    #[test]
    fn transcoder_builder_agrees_with_validate_and_round_trips(
        uid in 0u32..5,
        idle in proptest::option::of(0u32..90_000),
        region in (0u32..4000, 0u32..4000, 100u32..4000, 100u32..4000, proptest::option::of(0u32..105)),
        canvas in (100u32..4000, 100u32..4000, 0u32..0x100_0010),
        out in (100u32..2200, 100u32..2200, 0u32..11_000, proptest::option::of(0u32..35)),
        cdn_out in any::<bool>(),
    ) {
        let (x, y, w, h, z) = region;
        let mut r = TranscoderRegion::new(x, y, w, h);
        r.z_order = z;
        let output = if cdn_out { Output::cdn("rtmp://cdn.example.com/live/x") } else { Output::rtc("mix", 1001, "tok") };
        let mut vo = VideoOption::new(out.0, out.1, out.2);
        vo.fps = out.3;
        let output = output.with_video(vo);
        let mut b = TranscoderConfigBuilder::new()
            .audio_input(AudioInput::rtc("show", uid, "tok"))
            .video_input(VideoInput::rtc("show", uid, "tok", r))
            .canvas(TranscoderCanvas::new(canvas.0, canvas.1).with_color(canvas.2))
            .output(output.clone());
        if let Some(t) = idle { b = b.idle_timeout(t); }
        let built = b.build();
        let hand = TranscoderConfig {
            idle_timeout: idle,
            audio_inputs: Some(vec![AudioInput::rtc("show", uid, "tok")]),
            video_inputs: Some(vec![VideoInput::rtc("show", uid, "tok", r)]),
            canvas: Some(TranscoderCanvas::new(canvas.0, canvas.1).with_color(canvas.2)),
            outputs: vec![output],
            ..TranscoderConfig::default()
        };
        prop_assert_eq!(built.is_ok(), hand.validate().is_ok());
        if let Ok(c) = built {
            let req = CreateTaskRequest::new(c);
            let back: CreateTaskRequest = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
            prop_assert_eq!(&back, &req);
            prop_assert!(back.validate().is_ok());
            prop_assert_eq!(back.transcoder().changes_to(req.transcoder()), vec![]);
        }
    }

    #[test]
    fn reading_arbitrary_json_never_panics(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(r) = serde_json::from_slice::<CreateConverterRequest>(&bytes) { let _ = r.validate(); }
        if let Ok(r) = serde_json::from_slice::<UpdateConverterRequest>(&bytes) { let _ = r.validate(r.converter.shape()); }
        if let Ok(r) = serde_json::from_slice::<CreateTaskRequest>(&bytes) {
            let _ = r.validate();
            let _ = r.transcoder().validate_update_to(r.transcoder());
        }
        let _ = serde_json::from_slice::<ConverterResponse>(&bytes);
        let _ = serde_json::from_slice::<GetConverterResponse>(&bytes);
        let _ = serde_json::from_slice::<ListConvertersResponse>(&bytes);
        let _ = serde_json::from_slice::<Task>(&bytes);
        let _ = serde_json::from_slice::<AcquireResponse>(&bytes);
        let _ = ErrorBody::parse_lenient(&bytes);
    }

    #[test]
    fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_slice::<CreateConverterRequest>(&bytes);
        let _ = serde_json::from_slice::<GetConverterResponse>(&bytes);
        let _ = serde_json::from_slice::<Task>(&bytes);
        let _ = ErrorBody::parse_lenient(&bytes);
        if let Ok(env) = agora_rest_core::ncs::Envelope::parse(&bytes) {
            let _ = agora_rest_model::ncs::Notification::from_envelope(&env);
        }
    }
}
