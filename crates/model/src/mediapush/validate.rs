//! The Media Push request rules (docs/vendor-rules.md–2.5), shared by the client and the emulator.

use agora_rest_core::error::{Error as CoreError, check_len};
use agora_rest_core::name::{ConverterName, validate_rtc_channel};
use agora_rest_core::quota::Tier;

use super::converter::{
    AudioOptions, Converter, LayoutElement, RawOptions, TranscodeOptions, VideoOptions,
};
use crate::error::Error;
use crate::limits::{
    PUSH_AUDIO_BITRATE, PUSH_AUDIO_CHANNELS, PUSH_AUDIO_SAMPLE_RATES, PUSH_CANVAS_SIDE,
    PUSH_FRAME_RATE, PUSH_GOP, PUSH_IDLE_TIMEOUT, PUSH_JITTER_BUFFER_MS, PUSH_LAYOUT_TYPES,
    PUSH_RTMP_URL_MAX, PUSH_SEI_ONLY_CANVAS_SIDE, PUSH_SEI_PAYLOAD_MAX, PUSH_SEI_PREFIX_MAX,
    PUSH_VIDEO_BITRATE, PUSH_VOLUME, PUSH_Z_INDEX, RGB_COLOR, check_one_of,
};
use crate::url::check_url;
use crate::wire::check_known;

/// Whether a check applies the rules of a full Create body or of an Update subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Required fields must be present.
    Create,
    /// Only present fields are checked.
    Update,
}

type R = Result<(), CoreError>;

fn required<'a, T>(
    value: Option<&'a T>,
    mode: Mode,
    field: &'static str,
    rule: &'static str,
) -> Result<Option<&'a T>, CoreError> {
    match (value, mode) {
        (None, Mode::Create) => Err(CoreError::Missing {
            field: field.into(),
            rule,
        }),
        (v, _) => Ok(v),
    }
}

fn check_image_url(field: &str, url: &str) -> R {
    check_url(
        field,
        url,
        &["http", "https"],
        "must be an http:// or https:// URL of a JPG, PNG or GIF",
    )
}

/// The RTMP destination: `rtmp://` or `rtmps://`, a host, at most 1024 characters.
pub(crate) fn check_rtmp_url(url: &str) -> R {
    check_len("converter.rtmpUrl", url, PUSH_RTMP_URL_MAX)?;
    check_url(
        "converter.rtmpUrl",
        url,
        &["rtmp", "rtmps"],
        "must be an rtmp:// or rtmps:// URL with a host",
    )
}

fn check_name(name: &str) -> R {
    // The service allows an empty name (docs/vendor-rules.md); our clients require one by policy.
    if name.is_empty() {
        return Ok(());
    }
    ConverterName::new(name).map(|_| ())
}

fn check_audio(a: &AudioOptions) -> R {
    const P: &str = "converter.transcodeOptions.audioOptions";
    check_known(
        || format!("{P}.codecProfile"),
        a.codec_profile.as_ref(),
        "must be LC-AAC or HE-AAC",
    )?;
    if let Some(r) = a.sample_rate {
        check_one_of(
            format!("{P}.sampleRate"),
            r.into(),
            &PUSH_AUDIO_SAMPLE_RATES,
            "must be 32000, 44100 or 48000",
        )?;
    }
    if let Some(b) = a.bitrate {
        PUSH_AUDIO_BITRATE.check(format!("{P}.bitrate"), b)?;
    }
    if let Some(c) = a.audio_channels {
        check_one_of(
            format!("{P}.audioChannels"),
            c.into(),
            &PUSH_AUDIO_CHANNELS,
            "must be 1 or 2",
        )?;
    }
    if let Some(volumes) = &a.volumes {
        for (i, v) in volumes.iter().enumerate() {
            PUSH_VOLUME.check(format!("{P}.volumes[{i}].volume"), v.volume)?;
            match &a.rtc_stream_uids {
                Some(uids) if !uids.contains(&v.rtc_stream_uid) => {
                    return Err(CoreError::InvalidValue {
                        field: format!("{P}.volumes[{i}].rtcStreamUid").into(),
                        value: v.rtc_stream_uid.to_string(),
                        rule: "a volume applies only to a user listed in rtcStreamUids",
                    });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_layout(layout: &[LayoutElement]) -> R {
    const P: &str = "converter.transcodeOptions.videoOptions.layout";
    for (i, el) in layout.iter().enumerate() {
        PUSH_Z_INDEX.check(format!("{P}[{i}].region.zIndex"), el.region().z_index)?;
        let fill = match el {
            LayoutElement::Stream(v) => {
                if let Some(url) = &v.placeholder_image_url {
                    check_image_url(&format!("{P}[{i}].placeholderImageUrl"), url)?;
                }
                &v.fill_mode
            }
            LayoutElement::Image(v) => {
                check_image_url(&format!("{P}[{i}].imageUrl"), &v.image_url)?;
                &v.fill_mode
            }
        };
        check_known(
            || format!("{P}[{i}].fillMode"),
            fill.as_ref(),
            "must be fill or fit",
        )?;
    }
    Ok(())
}

fn check_video(v: &VideoOptions, mode: Mode) -> R {
    const P: &str = "converter.transcodeOptions.videoOptions";
    let canvas = required(
        v.canvas.as_ref(),
        mode,
        "converter.transcodeOptions.videoOptions.canvas",
        "videoOptions needs a canvas",
    )?;
    if let Some(c) = canvas {
        let sei_only = v.sei_options.is_some()
            && c.width == PUSH_SEI_ONLY_CANVAS_SIDE
            && c.height == PUSH_SEI_ONLY_CANVAS_SIDE;
        if !sei_only {
            PUSH_CANVAS_SIDE.check(format!("{P}.canvas.width"), c.width)?;
            PUSH_CANVAS_SIDE.check(format!("{P}.canvas.height"), c.height)?;
        }
        if let Some(color) = c.color {
            RGB_COLOR.check(format!("{P}.canvas.color"), color)?;
        }
        Tier::for_resolution(c.width, c.height).map_err(|e| e.at(format!("{P}.canvas")))?;
    }
    if let Some(t) = v.layout_type {
        check_one_of(
            format!("{P}.layoutType"),
            t.into(),
            &PUSH_LAYOUT_TYPES,
            "must be 0 (custom layout) or 1 (vertical)",
        )?;
    }
    match v.layout_type {
        Some(1) => {
            required(
                v.vertical.as_ref(),
                mode,
                "converter.transcodeOptions.videoOptions.vertical",
                "layoutType 1 needs vertical",
            )?;
        }
        _ => {
            required(
                v.layout.as_ref(),
                mode,
                "converter.transcodeOptions.videoOptions.layout",
                "a custom layout (layoutType 0) needs layout",
            )?;
        }
    }
    if let Some(layout) = &v.layout {
        check_layout(layout)?;
    }
    if let Some(url) = &v.default_placeholder_image_url {
        check_image_url(&format!("{P}.defaultPlaceholderImageUrl"), url)?;
    }
    if let Some(b) = required(
        v.bitrate.as_ref(),
        mode,
        "converter.transcodeOptions.videoOptions.bitrate",
        "videoOptions needs a bitrate",
    )? {
        PUSH_VIDEO_BITRATE.check(format!("{P}.bitrate"), *b)?;
    }
    if let Some(f) = v.frame_rate {
        PUSH_FRAME_RATE.check(format!("{P}.frameRate"), f)?;
    }
    if let Some(g) = v.gop {
        PUSH_GOP.check(format!("{P}.gop"), g)?;
    }
    check_known(
        || format!("{P}.codec"),
        v.codec.as_ref(),
        "must be H.264 or H.265",
    )?;
    check_known(
        || format!("{P}.codecProfile"),
        v.codec_profile.as_ref(),
        "must be high, baseline or main",
    )?;
    if let Some(custom) = v
        .sei_options
        .as_ref()
        .and_then(|s| s.source.as_ref())
        .and_then(|s| s.customized.as_ref())
    {
        if let Some(prefix) = &custom.prefix_for_agora_sei {
            check_len(
                format!("{P}.seiOptions.source.customized.prefixForAgoraSei"),
                prefix,
                PUSH_SEI_PREFIX_MAX,
            )?;
        }
        if let Some(payload) = &custom.payload {
            check_len(
                format!("{P}.seiOptions.source.customized.payload"),
                payload,
                PUSH_SEI_PAYLOAD_MAX,
            )?;
        }
    }
    Ok(())
}

fn check_transcode(t: &TranscodeOptions, mode: Mode) -> R {
    if let Some(channel) = required(
        t.rtc_channel.as_ref(),
        mode,
        "converter.transcodeOptions.rtcChannel",
        "the channel to push from",
    )? {
        validate_rtc_channel("converter.transcodeOptions.rtcChannel", channel)?;
    }
    // Neither audioOptions nor videoOptions: the Create table says the converter then outputs
    // video only, so it is accepted (docs/emulator.md records the choice).
    if let Some(a) = &t.audio_options {
        check_audio(a)?;
    }
    if let Some(v) = &t.video_options {
        check_video(v, mode)?;
    }
    Ok(())
}

fn check_raw(r: &RawOptions, mode: Mode) -> R {
    if let Some(channel) = required(
        r.rtc_channel.as_ref(),
        mode,
        "converter.rawOptions.rtcChannel",
        "the channel to push from",
    )? {
        validate_rtc_channel("converter.rawOptions.rtcChannel", channel)?;
    }
    required(
        r.rtc_stream_uid.as_ref(),
        mode,
        "converter.rawOptions.rtcStreamUid",
        "the user whose streams are relayed",
    )?;
    Ok(())
}

/// Checks the present fields of a converter; with `Mode::Create`, also that required ones are set.
pub(crate) fn check_converter(c: &Converter, mode: Mode) -> Result<(), Error> {
    if let Some(name) = &c.name {
        check_name(name)?;
    }
    if mode == Mode::Create {
        match (&c.transcode_options, &c.raw_options) {
            (Some(_), None) | (None, Some(_)) => {}
            (both, _) => {
                return Err(CoreError::InvalidValue {
                    field: "converter".into(),
                    value: if both.is_some() { "both" } else { "neither" }.to_string(),
                    rule: "a converter has exactly one of transcodeOptions and rawOptions",
                }
                .into());
            }
        }
    }
    if let Some(url) = required(
        c.rtmp_url.as_ref(),
        mode,
        "converter.rtmpUrl",
        "the CDN address to push to",
    )? {
        check_rtmp_url(url)?;
    }
    if let Some(t) = c.idle_timeout {
        PUSH_IDLE_TIMEOUT.check("converter.idleTimeOut", t)?;
    }
    if let Some(j) = c.jitter_buffer_size_ms {
        PUSH_JITTER_BUFFER_MS.check("converter.jitterBufferSizeMs", j)?;
    }
    if let Some(t) = &c.transcode_options {
        check_transcode(t, mode)?;
    }
    if let Some(r) = &c.raw_options {
        check_raw(r, mode)?;
    }
    Ok(())
}

impl Converter {
    /// Checks a converter as a Create body: every required field set, every value in range.
    ///
    /// This is the one rule set of both sides: the clients call it before sending, the emulator
    /// answers 400 `Invalid parameter: <field>` when it fails.
    pub fn validate_create(&self) -> Result<(), Error> {
        check_converter(self, Mode::Create)
    }

    /// Applies what the service does on its own: H.265 forces the `main` profile
    /// (docs/vendor-rules.md). Builders and the emulator call it, so stored values match the service.
    pub fn normalize(&mut self) {
        if let Some(v) = self
            .transcode_options
            .as_mut()
            .and_then(|t| t.video_options.as_mut())
        {
            v.normalize();
        }
    }
}

impl VideoOptions {
    /// Forces `main` with H.265, as the service does.
    pub fn normalize(&mut self) {
        if self.codec == Some(super::converter::VideoCodec::H265) {
            self.codec_profile = Some(super::converter::VideoCodecProfile::Main);
        }
    }
}
