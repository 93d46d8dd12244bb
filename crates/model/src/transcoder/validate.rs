//! The Cloud Transcoding request rules (docs/vendor-rules.md), shared by the client and the emulator.

use agora_rest_core::error::Error as CoreError;
use agora_rest_core::name::validate_rtc_channel;
use agora_rest_core::quota::Tier;

use super::config::{
    AudioInput, CreateTaskRequest, Output, RtcEndpoint, TranscoderConfig, TranscoderRegion,
    VideoInput, VideoMode,
};
use crate::error::Error;
use crate::limits::{
    RGB_COLOR, TRANSCODER_CANVAS_SIDE, TRANSCODER_IDLE_TIMEOUT, TRANSCODER_INPUT_VOLUME,
    TRANSCODER_OUTPUT_BITRATE, TRANSCODER_OUTPUT_FPS, TRANSCODER_OUTPUT_SIDE,
    TRANSCODER_REGION_SIDE, TRANSCODER_REGION_XY, TRANSCODER_REPEAT, TRANSCODER_SERVICE_TYPE,
    TRANSCODER_Z_ORDER,
};
use crate::url::check_url;
use crate::wire::check_known;

type R = Result<(), CoreError>;

const P: &str = "transcoder";

fn invalid(field: String, value: impl Into<String>, rule: &'static str) -> CoreError {
    CoreError::InvalidValue {
        field: field.into(),
        value: value.into(),
        rule,
    }
}

fn check_image(field: &str, url: &str) -> R {
    check_url(
        field,
        url,
        &["http", "https"],
        "must be an http:// or https:// URL of a jpg or png",
    )
}

fn check_stream_url(field: &str, url: &str) -> R {
    check_url(
        field,
        url,
        &["rtmp", "rtmps", "http", "https", "rtsp", "srt"],
        "must be a stream URL (rtmp, rtmps, http, https, rtsp or srt) with a host",
    )
}

fn check_rtc(field: &str, rtc: &RtcEndpoint) -> R {
    validate_rtc_channel("rtcChannel", &rtc.rtc_channel)
        .map_err(|e| e.at(format!("{field}.rtc.rtcChannel")))?;
    if rtc.rtc_token.is_empty() {
        return Err(CoreError::Missing {
            field: format!("{field}.rtc.rtcToken").into(),
            rule: "an RTC endpoint needs a token",
        });
    }
    Ok(())
}

/// `rtc` xor `streamUrl`; returns whether it is RTC.
fn check_source(
    field: &str,
    rtc: Option<&RtcEndpoint>,
    url: Option<&String>,
) -> Result<bool, CoreError> {
    match (rtc, url) {
        (Some(rtc), None) => check_rtc(field, rtc).map(|()| true),
        (None, Some(url)) => check_stream_url(&format!("{field}.streamUrl"), url).map(|()| false),
        (Some(_), Some(_)) => Err(invalid(
            field.to_string(),
            "rtc and streamUrl",
            "set exactly one of rtc and streamUrl",
        )),
        (None, None) => Err(CoreError::Missing {
            field: field.to_string().into(),
            rule: "set exactly one of rtc and streamUrl",
        }),
    }
}

fn check_repeat(field: String, repeat: Option<i32>, is_rtc: bool) -> R {
    if let Some(r) = repeat {
        if is_rtc {
            return Err(invalid(
                field,
                r.to_string(),
                "repeat applies to streamUrl inputs only",
            ));
        }
        TRANSCODER_REPEAT.check(field.clone(), r)?;
        if r == 0 {
            return Err(invalid(
                field,
                "0",
                "-1 loops, n ≥ 1 plays n times; 0 is not allowed",
            ));
        }
    }
    Ok(())
}

fn check_region(field: &str, r: &TranscoderRegion, sized: bool) -> R {
    TRANSCODER_REGION_XY.check(format!("{field}.x"), r.x)?;
    TRANSCODER_REGION_XY.check(format!("{field}.y"), r.y)?;
    if sized {
        TRANSCODER_REGION_SIDE.check(format!("{field}.width"), r.width)?;
        TRANSCODER_REGION_SIDE.check(format!("{field}.height"), r.height)?;
    }
    if let Some(z) = r.z_order {
        TRANSCODER_Z_ORDER.check(format!("{field}.zOrder"), z)?;
    }
    Ok(())
}

fn check_audio_input(i: usize, a: &AudioInput) -> Result<Option<String>, CoreError> {
    let f = format!("{P}.audioInputs[{i}]");
    let is_rtc = check_source(&f, a.rtc.as_ref(), a.stream_url.as_ref())?;
    if let Some(v) = a.volume {
        if is_rtc {
            return Err(invalid(
                format!("{f}.volume"),
                v.to_string(),
                "volume applies to streamUrl inputs only",
            ));
        }
        TRANSCODER_INPUT_VOLUME.check(format!("{f}.volume"), v)?;
    }
    check_repeat(format!("{f}.repeat"), a.repeat, is_rtc)?;
    Ok(a.rtc.as_ref().map(|r| r.rtc_channel.clone()))
}

fn check_video_input(i: usize, v: &VideoInput) -> Result<Option<String>, CoreError> {
    let f = format!("{P}.videoInputs[{i}]");
    let is_rtc = check_source(&f, v.rtc.as_ref(), v.stream_url.as_ref())?;
    check_repeat(format!("{f}.repeat"), v.repeat, is_rtc)?;
    if let Some(url) = &v.placeholder_image_url {
        check_image(&format!("{f}.placeholderImageUrl"), url)?;
    }
    check_region(&format!("{f}.region"), &v.region, true)?;
    Ok(v.rtc.as_ref().map(|r| r.rtc_channel.clone()))
}

fn check_output(i: usize, o: &Output, video_inputs: usize) -> Result<bool, CoreError> {
    let f = format!("{P}.outputs[{i}]");
    let is_rtc = check_source(&f, o.rtc.as_ref(), o.stream_url.as_ref())?;
    check_known(
        || format!("{f}.audioOption.profileType"),
        o.audio_option.as_ref().map(|a| &a.profile_type),
        "must be one of the AUDIO_PROFILE_* values",
    )?;
    if let Some(v) = &o.video_option {
        let vf = format!("{f}.videoOption");
        TRANSCODER_OUTPUT_SIDE.check(format!("{vf}.width"), v.width)?;
        TRANSCODER_OUTPUT_SIDE.check(format!("{vf}.height"), v.height)?;
        if let Some(fps) = v.fps {
            TRANSCODER_OUTPUT_FPS.check(format!("{vf}.fps"), fps)?;
        }
        Tier::for_video(v.width, v.height, v.fps.unwrap_or(15)).map_err(|e| e.at(vf.clone()))?;
        if let Some(b) = v.bitrate {
            TRANSCODER_OUTPUT_BITRATE.check(format!("{vf}.bitrate"), b)?;
        }
        check_known(
            || format!("{vf}.codec"),
            v.codec.as_ref(),
            "must be H264 or VP8",
        )?;
        match &v.mode {
            Some(VideoMode::Raw) if video_inputs != 1 => {
                return Err(invalid(
                    format!("{vf}.mode"),
                    "RAW",
                    "RAW pass-through needs exactly one video input",
                ));
            }
            Some(m) if !m.is_known() => {
                return Err(invalid(
                    format!("{vf}.mode"),
                    m.as_str(),
                    "the only mode is RAW",
                ));
            }
            _ => {}
        }
    }
    Ok(is_rtc)
}

impl TranscoderConfig {
    /// Checks every rule of docs/vendor-rules.md: ranges, one source per input, inputs from one
    /// channel, at most one input per list in the single modes, no CDN and RTC outputs in one
    /// task, one output channel, `repeat ≠ 0`, and the 1920×1080/30 fps output maximum.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(t) = self.idle_timeout {
            TRANSCODER_IDLE_TIMEOUT.check(format!("{P}.idleTimeout"), t)?;
        }
        check_known(
            || format!("{P}.streamProcessMode"),
            self.stream_process_mode.as_ref(),
            "absent (mix), heterogeneous-single or single",
        )?;
        let audio = self.audio_inputs.as_deref().unwrap_or_default();
        let video = self.video_inputs.as_deref().unwrap_or_default();
        if audio.is_empty() && video.is_empty() {
            return Err(CoreError::Missing {
                field: format!("{P}.audioInputs").into(),
                rule: "a task needs at least one audio or video input",
            }
            .into());
        }
        if self.stream_process_mode.is_some() {
            for (list, n) in [("audioInputs", audio.len()), ("videoInputs", video.len())] {
                if n > 1 {
                    return Err(invalid(
                        format!("{P}.{list}"),
                        format!("{n} items"),
                        "the single modes take at most one input per list",
                    )
                    .into());
                }
            }
        }
        let mut channels = Vec::new();
        for (i, a) in audio.iter().enumerate() {
            channels.extend(check_audio_input(i, a)?);
        }
        for (i, v) in video.iter().enumerate() {
            channels.extend(check_video_input(i, v)?);
        }
        if let Some(other) = channels.iter().find(|c| **c != channels[0]) {
            return Err(invalid(
                format!("{P}.videoInputs"),
                other.clone(),
                "all inputs come from one RTC channel",
            )
            .into());
        }
        match &self.canvas {
            None if !video.is_empty() => {
                return Err(CoreError::Missing {
                    field: format!("{P}.canvas").into(),
                    rule: "video inputs need a canvas",
                }
                .into());
            }
            None => {}
            Some(c) => {
                TRANSCODER_CANVAS_SIDE.check(format!("{P}.canvas.width"), c.width)?;
                TRANSCODER_CANVAS_SIDE.check(format!("{P}.canvas.height"), c.height)?;
                RGB_COLOR.check(format!("{P}.canvas.color"), c.color)?;
                if let Some(url) = &c.background_image {
                    check_image(&format!("{P}.canvas.backgroundImage"), url)?;
                }
                if let Some(m) = c.fill_mode.as_ref().filter(|m| !m.is_known()) {
                    return Err(
                        invalid(format!("{P}.canvas.fillMode"), m.as_str(), "FILL or FIT").into(),
                    );
                }
            }
        }
        for (i, w) in self.water_marks.iter().flatten().enumerate() {
            let f = format!("{P}.waterMarks[{i}]");
            check_image(&format!("{f}.imageUrl"), &w.image_url)?;
            check_region(&format!("{f}.region"), &w.region, false)?;
            check_known(
                || format!("{f}.fillMode"),
                w.fill_mode.as_ref(),
                "FILL or FIT",
            )?;
        }
        if self.outputs.is_empty() {
            return Err(CoreError::Missing {
                field: format!("{P}.outputs").into(),
                rule: "a task needs at least one output",
            }
            .into());
        }
        let mut kinds = Vec::with_capacity(self.outputs.len());
        for (i, o) in self.outputs.iter().enumerate() {
            kinds.push(check_output(i, o, video.len())?);
        }
        if kinds.iter().any(|k| *k != kinds[0]) {
            return Err(invalid(
                format!("{P}.outputs"),
                "rtc and streamUrl",
                "a task cannot push to CDN and RTC at once: use two tasks",
            )
            .into());
        }
        let out_channels: Vec<&str> = self
            .outputs
            .iter()
            .filter_map(|o| o.rtc.as_ref().map(|r| r.rtc_channel.as_str()))
            .collect();
        if let Some(other) = out_channels.iter().find(|c| **c != out_channels[0]) {
            return Err(invalid(
                format!("{P}.outputs"),
                *other,
                "a task publishes to one RTC channel",
            )
            .into());
        }
        Ok(())
    }
}

impl CreateTaskRequest {
    /// Checks the envelope (`serviceType`) and the transcoder config.
    pub fn validate(&self) -> Result<(), Error> {
        let t = &self.services.cloud_transcoder.service_type;
        if t != TRANSCODER_SERVICE_TYPE {
            return Err(invalid(
                "services.cloudTranscoder.serviceType".to_string(),
                t.clone(),
                "must be cloudTranscoderV2",
            )
            .into());
        }
        self.transcoder().validate()
    }
}
