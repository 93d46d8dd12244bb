//! Each validation rule with the first invalid value on both sides of its range, and the edge
//! values that pass. The error must name the field.

#![allow(clippy::unwrap_used)] // a broken fixture should fail the test loudly

use agora_rest_model::mediapush::{
    AudioOptions, Converter, ConverterBuilder, LayoutElement, LayoutRegion, SeiCustomized,
    SeiOptions, SeiSource, UpdateConverterRequest, VerticalLayout, VideoCodec, VideoCodecProfile,
    VideoOptions,
};
use agora_rest_model::transcoder::{
    AudioInput, Output, StreamProcessMode, TranscoderCanvas, TranscoderConfig,
    TranscoderConfigBuilder, TranscoderRegion, VideoInput, VideoMode, VideoOption,
};

// ---------- Media Push ----------

fn base() -> Converter {
    ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/x")
        .name("show68_h")
        .audio(
            AudioOptions::default()
                .with_users(vec![1, 2])
                .with_volume(1, 100),
        )
        .video(
            VideoOptions::new(1280, 720, 2000).with_layout(vec![LayoutElement::stream(
                1,
                LayoutRegion::new(0, 0, 640, 360),
            )]),
        )
        .build()
        .unwrap()
}

fn video(c: &mut Converter) -> &mut VideoOptions {
    c.transcode_options
        .as_mut()
        .unwrap()
        .video_options
        .as_mut()
        .unwrap()
}

fn audio(c: &mut Converter) -> &mut AudioOptions {
    c.transcode_options
        .as_mut()
        .unwrap()
        .audio_options
        .as_mut()
        .unwrap()
}

/// Applies `set(value)` to a fresh base converter for each value; `ok` must pass, `bad` must
/// fail naming `field`.
fn edges<V: Clone + std::fmt::Debug>(
    field: &str,
    ok: &[V],
    bad: &[V],
    set: impl Fn(&mut Converter, V),
) {
    for v in ok {
        let mut c = base();
        set(&mut c, v.clone());
        c.validate_create()
            .unwrap_or_else(|e| panic!("{field} = {v:?} should pass: {e}"));
    }
    for v in bad {
        let mut c = base();
        set(&mut c, v.clone());
        let e = c
            .validate_create()
            .expect_err(&format!("{field} = {v:?} should fail"));
        assert_eq!(e.field(), Some(field), "{v:?}: {e}");
    }
}

#[test]
fn push_audio_ranges() {
    const A: &str = "converter.transcodeOptions.audioOptions";
    edges(&format!("{A}.bitrate"), &[32, 128], &[31, 129], |c, v| {
        audio(c).bitrate = Some(v);
    });
    edges(
        &format!("{A}.sampleRate"),
        &[32_000, 44_100, 48_000],
        &[31_999, 44_101, 48_001],
        |c, v| {
            audio(c).sample_rate = Some(v);
        },
    );
    edges(&format!("{A}.audioChannels"), &[1, 2], &[0, 3], |c, v| {
        audio(c).audio_channels = Some(v);
    });
    edges(
        &format!("{A}.volumes[0].volume"),
        &[0, 200],
        &[201],
        |c, v| {
            audio(c).volumes.as_mut().unwrap()[0].volume = v;
        },
    );
    edges(
        &format!("{A}.volumes[0].rtcStreamUid"),
        &[2],
        &[3],
        |c, v| {
            audio(c).volumes.as_mut().unwrap()[0].rtc_stream_uid = v;
        },
    );
}

#[test]
fn push_video_ranges() {
    const V: &str = "converter.transcodeOptions.videoOptions";
    edges(
        &format!("{V}.canvas.width"),
        &[66, 1920],
        &[65, 1921],
        |c, v| {
            video(c).canvas.as_mut().unwrap().width = v;
        },
    );
    edges(
        &format!("{V}.canvas.height"),
        &[66, 1080],
        &[65, 1921],
        |c, v| {
            video(c).canvas.as_mut().unwrap().height = v;
        },
    );
    // Inside the per-side range but beyond 1920×1080: refused by the tier rule.
    edges(&format!("{V}.canvas"), &[1080], &[1081, 1920], |c, v| {
        let canvas = video(c).canvas.as_mut().unwrap();
        canvas.width = 1920;
        canvas.height = v;
    });
    edges(
        &format!("{V}.canvas.color"),
        &[0, 0xFF_FFFF],
        &[0x100_0000],
        |c, v| {
            video(c).canvas.as_mut().unwrap().color = Some(v);
        },
    );
    edges(
        &format!("{V}.layout[0].region.zIndex"),
        &[0, 100],
        &[101],
        |c, v| {
            if let Some(LayoutElement::Stream(s)) = video(c).layout.as_mut().unwrap().get_mut(0) {
                s.region.z_index = v;
            }
        },
    );
    edges(
        &format!("{V}.bitrate"),
        &[1, 10_000],
        &[0, 10_001],
        |c, v| video(c).bitrate = Some(v),
    );
    edges(&format!("{V}.frameRate"), &[1, 30], &[0, 31], |c, v| {
        video(c).frame_rate = Some(v);
    });
    edges(&format!("{V}.gop"), &[1], &[0], |c, v| {
        video(c).gop = Some(v);
    });
    edges(&format!("{V}.layoutType"), &[0], &[2], |c, v| {
        video(c).layout_type = Some(v);
    });
    edges(
        &format!("{V}.seiOptions.source.customized.prefixForAgoraSei"),
        &[32],
        &[33],
        |c, v| {
            video(c).sei_options = Some(sei("p".repeat(v), String::new()));
        },
    );
    edges(
        &format!("{V}.seiOptions.source.customized.payload"),
        &[4096],
        &[4097],
        |c, v| {
            video(c).sei_options = Some(sei(String::new(), "x".repeat(v)));
        },
    );
}

fn sei(prefix: String, payload: String) -> SeiOptions {
    SeiOptions {
        source: Some(SeiSource {
            customized: Some(SeiCustomized {
                prefix_for_agora_sei: Some(prefix),
                payload: Some(payload),
            }),
            ..SeiSource::default()
        }),
        sink: None,
    }
}

#[test]
fn push_converter_fields() {
    edges("converter.rtmpUrl", &[1024], &[1025], |c, n| {
        let head = "rtmp://h/";
        c.rtmp_url = Some(format!("{head}{}", "a".repeat(n - head.len())));
    });
    edges("converter.idleTimeOut", &[5, 600], &[4, 601], |c, v| {
        c.idle_timeout = Some(v);
    });
    edges(
        "converter.jitterBufferSizeMs",
        &[0, 1000],
        &[1001],
        |c, v| c.jitter_buffer_size_ms = Some(v),
    );
    edges("converter.name", &[1, 64], &[65], |c, n| {
        c.name = Some("n".repeat(n));
    });
    edges(
        "converter.transcodeOptions.rtcChannel",
        &[1, 64],
        &[65],
        |c, n| {
            c.transcode_options.as_mut().unwrap().rtc_channel = Some("c".repeat(n));
        },
    );
    for bad in [
        "http://h/x",
        "rtmp://",
        "rtmp:///x",
        "rtmp://h/a b",
        "ftp://h",
    ] {
        let mut c = base();
        c.rtmp_url = Some(bad.to_string());
        assert_eq!(
            c.validate_create().unwrap_err().field(),
            Some("converter.rtmpUrl"),
            "{bad}"
        );
    }
    for (name, ok) in [("a-b_C9", true), ("a b", false), ("é", false), ("", true)] {
        let mut c = base();
        c.name = Some(name.to_string());
        assert_eq!(c.validate_create().is_ok(), ok, "{name:?}");
    }
    let mut c = base();
    c.transcode_options.as_mut().unwrap().rtc_channel = Some("a*b".into());
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.transcodeOptions.rtcChannel")
    );
}

#[test]
fn push_structure_rules() {
    // Exactly one of transcodeOptions and rawOptions.
    let mut c = base();
    c.raw_options = ConverterBuilder::raw("show68", 1, "rtmp://h/x")
        .build()
        .unwrap()
        .raw_options;
    assert_eq!(c.validate_create().unwrap_err().field(), Some("converter"));
    c.transcode_options = None;
    c.validate_create().unwrap();
    c.raw_options = None;
    assert_eq!(c.validate_create().unwrap_err().field(), Some("converter"));
    // Neither audio nor video: the Create table says the output is video only; accepted.
    ConverterBuilder::transcoded("ch", "rtmp://h/x")
        .build()
        .unwrap();
    // Video needs a canvas, a bitrate and a layout (custom) or vertical (layoutType 1).
    let mut c = base();
    video(&mut c).canvas = None;
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.transcodeOptions.videoOptions.canvas")
    );
    let mut c = base();
    video(&mut c).bitrate = None;
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.transcodeOptions.videoOptions.bitrate")
    );
    let mut c = base();
    video(&mut c).layout = None;
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.transcodeOptions.videoOptions.layout")
    );
    let mut c = base();
    *video(&mut c) = VideoOptions::new(720, 1280, 1000).with_vertical(VerticalLayout::default());
    c.validate_create().unwrap();
    video(&mut c).vertical = None;
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.transcodeOptions.videoOptions.vertical")
    );
    // Raw needs a uid and a channel.
    let mut c = ConverterBuilder::raw("ch", 1, "rtmp://h/x")
        .build()
        .unwrap();
    c.raw_options.as_mut().unwrap().rtc_stream_uid = None;
    assert_eq!(
        c.validate_create().unwrap_err().field(),
        Some("converter.rawOptions.rtcStreamUid")
    );
}

#[test]
fn push_sei_only_trick_and_h265() {
    let c = ConverterBuilder::transcoded("radio", "rtmp://h/x")
        .audio(AudioOptions::default())
        .video(VideoOptions::sei_only(7, sei("vol".into(), "{}".into())))
        .build()
        .unwrap();
    assert_eq!(
        c.transcode_options
            .unwrap()
            .video_options
            .unwrap()
            .canvas
            .unwrap()
            .width,
        16
    );
    // 16×16 without SEI is below the canvas range.
    let mut c = base();
    video(&mut c).canvas.as_mut().unwrap().width = 16;
    video(&mut c).canvas.as_mut().unwrap().height = 16;
    assert!(c.validate_create().is_err());
    // H.265 forces main, whatever was asked.
    let v = VideoOptions::new(640, 360, 800)
        .with_codec_profile(VideoCodecProfile::High)
        .with_codec(VideoCodec::H265)
        .with_codec_profile(VideoCodecProfile::Baseline);
    assert_eq!(v.codec_profile, Some(VideoCodecProfile::Main));
}

#[test]
fn push_update_rules() {
    let shape = base().shape();
    let canvas_only = Converter {
        transcode_options: base().transcode_options.map(|mut t| {
            t.rtc_channel = None;
            t.audio_options = None;
            t
        }),
        ..Converter::default()
    };
    let ok = UpdateConverterRequest::new(
        canvas_only.clone(),
        ["transcodeOptions.videoOptions.canvas"],
    );
    ok.validate(shape).unwrap();
    // Immutable fields are refused and named.
    for path in [
        "name",
        "idleTimeOut",
        "transcodeOptions.videoOptions.codec",
        "transcodeOptions.rtcChannel",
    ] {
        let r = UpdateConverterRequest::new(canvas_only.clone(), [path]);
        assert_eq!(r.validate(shape).unwrap_err().field(), Some(path));
    }
    // A named path must be carried.
    let r = UpdateConverterRequest::new(canvas_only.clone(), ["rtmpUrl"]);
    assert_eq!(
        r.validate(shape).unwrap_err().field(),
        Some("converter.rtmpUrl")
    );
    // Values are range-checked in updates too.
    let mut bad = canvas_only;
    video(&mut bad).canvas.as_mut().unwrap().width = 5000;
    let r = UpdateConverterRequest::new(bad, ["transcodeOptions.videoOptions.canvas"]);
    assert_eq!(
        r.validate(shape).unwrap_err().field(),
        Some("converter.transcodeOptions.videoOptions.canvas.width")
    );
}

// ---------- Cloud Transcoding ----------

fn tbase() -> TranscoderConfig {
    TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "tok"))
        .video_input(VideoInput::rtc(
            "show68",
            201,
            "tok",
            TranscoderRegion::new(0, 0, 640, 360),
        ))
        .canvas(TranscoderCanvas::new(1280, 720))
        .output(Output::rtc("mix", 1001, "tok").with_video(VideoOption::new(1280, 720, 2000)))
        .build()
        .unwrap()
}

fn tedges<V: Clone + std::fmt::Debug>(
    field: &str,
    ok: &[V],
    bad: &[V],
    set: impl Fn(&mut TranscoderConfig, V),
) {
    for v in ok {
        let mut c = tbase();
        set(&mut c, v.clone());
        c.validate()
            .unwrap_or_else(|e| panic!("{field} = {v:?} should pass: {e}"));
    }
    for v in bad {
        let mut c = tbase();
        set(&mut c, v.clone());
        let e = c
            .validate()
            .expect_err(&format!("{field} = {v:?} should fail"));
        assert_eq!(e.field(), Some(field), "{v:?}: {e}");
    }
}

fn vin(c: &mut TranscoderConfig) -> &mut VideoInput {
    &mut c.video_inputs.as_mut().unwrap()[0]
}

fn vout(c: &mut TranscoderConfig) -> &mut VideoOption {
    c.outputs[0].video_option.as_mut().unwrap()
}

#[test]
fn transcoder_ranges() {
    tedges(
        "transcoder.idleTimeout",
        &[1, 86_400],
        &[0, 86_401],
        |c, v| c.idle_timeout = Some(v),
    );
    tedges(
        "transcoder.videoInputs[0].region.x",
        &[0, 3840],
        &[3841],
        |c, v| vin(c).region.x = v,
    );
    tedges(
        "transcoder.videoInputs[0].region.width",
        &[120, 3840],
        &[119, 3841],
        |c, v| vin(c).region.width = v,
    );
    tedges(
        "transcoder.videoInputs[0].region.zOrder",
        &[0, 100],
        &[101],
        |c, v| vin(c).region.z_order = Some(v),
    );
    tedges(
        "transcoder.canvas.width",
        &[120, 3840],
        &[119, 3841],
        |c, v| c.canvas.as_mut().unwrap().width = v,
    );
    tedges(
        "transcoder.canvas.color",
        &[0xFF_FFFF],
        &[0x100_0000],
        |c, v| c.canvas.as_mut().unwrap().color = v,
    );
    tedges(
        "transcoder.outputs[0].videoOption.width",
        &[120],
        &[119, 3841],
        |c, v| vout(c).width = v,
    );
    tedges(
        "transcoder.outputs[0].videoOption",
        &[1080],
        &[1081],
        |c, v| {
            vout(c).width = 1920;
            vout(c).height = v;
        },
    );
    tedges(
        "transcoder.outputs[0].videoOption.fps",
        &[1, 30],
        &[0, 31],
        |c, v| vout(c).fps = Some(v),
    );
    tedges(
        "transcoder.outputs[0].videoOption.bitrate",
        &[1, 10_000],
        &[0, 10_001],
        |c, v| vout(c).bitrate = Some(v),
    );
    // CDN-only fields: volume and repeat.
    tedges(
        "transcoder.audioInputs[1].volume",
        &[0, 200],
        &[201],
        |c, v| {
            let mut cdn = AudioInput::cdn("https://cdn.example.com/a.mp3");
            cdn.volume = Some(v);
            c.audio_inputs.as_mut().unwrap().push(cdn);
        },
    );
    tedges(
        "transcoder.audioInputs[1].repeat",
        &[-1, 1],
        &[0, -2],
        |c, v| {
            let mut cdn = AudioInput::cdn("https://cdn.example.com/a.mp3");
            cdn.repeat = Some(v);
            c.audio_inputs.as_mut().unwrap().push(cdn);
        },
    );
    tedges("transcoder.audioInputs[0].volume", &[], &[100], |c, v| {
        c.audio_inputs.as_mut().unwrap()[0].volume = Some(v);
    });
}

#[test]
fn transcoder_structure_rules() {
    // One input channel.
    tedges("transcoder.videoInputs", &[], &[()], |c, ()| {
        c.audio_inputs.as_mut().unwrap()[0] = AudioInput::rtc("other", 0, "tok");
    });
    // Single modes: at most one input per list.
    tedges(
        "transcoder.videoInputs",
        &[StreamProcessMode::Single],
        &[],
        |c, m| c.stream_process_mode = Some(m),
    );
    tedges(
        "transcoder.audioInputs",
        &[],
        &[StreamProcessMode::HeterogeneousSingle],
        |c, m| {
            c.stream_process_mode = Some(m);
            c.audio_inputs
                .as_mut()
                .unwrap()
                .push(AudioInput::rtc("show68", 5, "t"));
        },
    );
    // No CDN and RTC outputs together; one output channel.
    tedges("transcoder.outputs", &[], &[()], |c, ()| {
        c.outputs.push(Output::cdn("rtmp://cdn/x"));
    });
    tedges("transcoder.outputs", &[], &[()], |c, ()| {
        c.outputs.push(Output::rtc("mix2", 1002, "t"));
    });
    tedges("transcoder.outputs", &[], &[()], |c, ()| c.outputs.clear());
    // RAW needs exactly one video input.
    tedges(
        "transcoder.outputs[0].videoOption.mode",
        &[],
        &[()],
        |c, ()| {
            vout(c).mode = Some(VideoMode::Raw);
            c.video_inputs.as_mut().unwrap().push(VideoInput::rtc(
                "show68",
                9,
                "t",
                TranscoderRegion::new(0, 0, 120, 120),
            ));
        },
    );
    // rtc xor streamUrl; a token is required; video needs a canvas; at least one input.
    tedges("transcoder.videoInputs[0]", &[], &[()], |c, ()| {
        vin(c).stream_url = Some("rtmp://h/x".into());
    });
    tedges(
        "transcoder.videoInputs[0].rtc.rtcToken",
        &[],
        &[()],
        |c, ()| {
            vin(c).rtc.as_mut().unwrap().rtc_token = "".into();
        },
    );
    tedges("transcoder.canvas", &[], &[()], |c, ()| c.canvas = None);
    tedges("transcoder.audioInputs", &[], &[()], |c, ()| {
        c.audio_inputs = None;
        c.video_inputs = None;
    });
}

#[test]
fn transcoder_update_changes() {
    let old = tbase();
    // Moving a video input's region and changing output encoding take effect.
    let mut new = old.clone();
    vin(&mut new).region.x = 100;
    vout(&mut new).bitrate = Some(1500);
    old.validate_update_to(&new).unwrap();
    // Adding or removing an RTC input takes effect; a CDN input does not.
    let mut new = old.clone();
    new.audio_inputs
        .as_mut()
        .unwrap()
        .push(AudioInput::rtc("show68", 7, "t"));
    old.validate_update_to(&new).unwrap();
    let mut new = old.clone();
    new.audio_inputs
        .as_mut()
        .unwrap()
        .push(AudioInput::cdn("https://cdn.example.com/a.mp3"));
    assert_eq!(
        old.validate_update_to(&new).unwrap_err().field(),
        Some("audioInputs")
    );
    // The canvas, the idle timeout and the output channel are fixed.
    let mut new = old.clone();
    new.canvas.as_mut().unwrap().color = 5;
    assert_eq!(
        old.validate_update_to(&new).unwrap_err().field(),
        Some("canvas")
    );
    let mut new = old.clone();
    new.idle_timeout = Some(600);
    assert_eq!(
        old.validate_update_to(&new).unwrap_err().field(),
        Some("idleTimeout")
    );
    let new = old.clone().with_output_uid(1002);
    assert_eq!(
        old.validate_update_to(&new).unwrap_err().field(),
        Some("outputs[0].rtc")
    );
}

/// An Update body never carries a field outside its `fields` mask, immutable ones included.
#[test]
fn update_bodies_carry_only_their_mask() {
    let mut c: Converter = serde_json::from_value(serde_json::json!({
        "name": "renamed",
        "idleTimeOut": 30,
        "rtmpUrl": "rtmp://new.example.com/live/x",
        "transcodeOptions": {
            "rtcChannel": "other",
            "audioOptions": {"bitrate": 64, "rtcStreamUids": [1, 2]},
            "videoOptions": {"canvas": {"width": 640, "height": 360}, "bitrate": 800, "codec": "H.265"}
        }
    }))
    .unwrap();
    c.raw_options = None;
    let r = UpdateConverterRequest::new(c, ["rtmpUrl", "transcodeOptions.videoOptions.canvas"]);
    let wire = serde_json::to_value(&r).unwrap();
    assert_eq!(
        wire,
        serde_json::json!({
            "converter": {
                "rtmpUrl": "rtmp://new.example.com/live/x",
                "transcodeOptions": {"videoOptions": {"canvas": {"width": 640, "height": 360}}}
            },
            "fields": "rtmpUrl,transcodeOptions.videoOptions.canvas"
        })
    );
}
