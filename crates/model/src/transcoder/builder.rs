//! Builders for Cloud Transcoding configs.

use super::config::{
    AudioInput, AudioOption, AudioProfile, CanvasFillMode, Output, RtcEndpoint, StreamProcessMode,
    TranscodeVideoCodec, TranscoderCanvas, TranscoderConfig, TranscoderRegion, VideoInput,
    VideoOption, Watermark,
};
use crate::error::Error;
use crate::secret::RtcToken;

/// Builds a transcoder config that passes [`TranscoderConfig::validate`].
///
/// ```
/// use agora_rest_model::transcoder::{AudioInput, Output, TranscoderConfigBuilder};
///
/// let config = TranscoderConfigBuilder::new()
///     .audio_input(AudioInput::rtc("show68", 0, "input-token"))
///     .output(Output::rtc("show68-mix", 1001, "output-token"))
///     .build()?;
/// assert!(!format!("{config:?}").contains("output-token"), "tokens never print");
/// # Ok::<(), agora_rest_model::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TranscoderConfigBuilder {
    config: TranscoderConfig,
}

impl TranscoderConfigBuilder {
    /// An empty config: add inputs and outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `idleTimeout` in seconds ([1, 86400]; raise it when hosts may leave and rejoin).
    pub fn idle_timeout(mut self, secs: u32) -> Self {
        self.config.idle_timeout = Some(secs);
        self
    }

    /// Sets a single-stream mode (default: mixing).
    pub fn mode(mut self, mode: StreamProcessMode) -> Self {
        self.config.stream_process_mode = Some(mode);
        self
    }

    /// Adds an audio input.
    pub fn audio_input(mut self, input: AudioInput) -> Self {
        self.config
            .audio_inputs
            .get_or_insert_with(Vec::new)
            .push(input);
        self
    }

    /// Adds a video input.
    pub fn video_input(mut self, input: VideoInput) -> Self {
        self.config
            .video_inputs
            .get_or_insert_with(Vec::new)
            .push(input);
        self
    }

    /// Sets the canvas.
    pub fn canvas(mut self, canvas: TranscoderCanvas) -> Self {
        self.config.canvas = Some(canvas);
        self
    }

    /// Adds a watermark.
    pub fn watermark(mut self, mark: Watermark) -> Self {
        self.config
            .water_marks
            .get_or_insert_with(Vec::new)
            .push(mark);
        self
    }

    /// Adds an output.
    pub fn output(mut self, output: Output) -> Self {
        self.config.outputs.push(output);
        self
    }

    /// Validates and returns the config.
    pub fn build(self) -> Result<TranscoderConfig, Error> {
        self.config.validate()?;
        Ok(self.config)
    }
}

impl RtcEndpoint {
    /// A channel, UID and token.
    pub fn new(channel: impl Into<String>, uid: u32, token: impl Into<RtcToken>) -> Self {
        RtcEndpoint {
            rtc_channel: channel.into(),
            rtc_uid: uid,
            rtc_token: token.into(),
        }
    }
}

impl AudioInput {
    /// An RTC user's audio (`uid` 0: the whole channel; the token is generated for UID 0).
    pub fn rtc(channel: impl Into<String>, uid: u32, token: impl Into<RtcToken>) -> Self {
        AudioInput {
            rtc: Some(RtcEndpoint::new(channel, uid, token)),
            stream_url: None,
            volume: None,
            repeat: None,
        }
    }

    /// A CDN stream's audio.
    pub fn cdn(url: impl Into<String>) -> Self {
        AudioInput {
            rtc: None,
            stream_url: Some(url.into()),
            volume: None,
            repeat: None,
        }
    }
}

impl TranscoderRegion {
    /// A rectangle at (`x`, `y`) of `width`×`height`.
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        TranscoderRegion {
            x,
            y,
            width,
            height,
            z_order: None,
        }
    }

    /// Sets the stacking order.
    pub const fn with_z(mut self, z: u32) -> Self {
        self.z_order = Some(z);
        self
    }
}

impl VideoInput {
    /// An RTC user's video in `region`.
    pub fn rtc(
        channel: impl Into<String>,
        uid: u32,
        token: impl Into<RtcToken>,
        region: TranscoderRegion,
    ) -> Self {
        VideoInput {
            rtc: Some(RtcEndpoint::new(channel, uid, token)),
            stream_url: None,
            repeat: None,
            placeholder_image_url: None,
            region,
        }
    }

    /// A CDN stream's video in `region`.
    pub fn cdn(url: impl Into<String>, region: TranscoderRegion) -> Self {
        VideoInput {
            rtc: None,
            stream_url: Some(url.into()),
            repeat: None,
            placeholder_image_url: None,
            region,
        }
    }
}

impl TranscoderCanvas {
    /// A `width`×`height` black canvas.
    pub const fn new(width: u32, height: u32) -> Self {
        TranscoderCanvas {
            width,
            height,
            color: 0,
            background_image: None,
            fill_mode: None,
        }
    }

    /// Sets the colour (RGB).
    pub const fn with_color(mut self, rgb: u32) -> Self {
        self.color = rgb;
        self
    }

    /// Sets how the background image fills.
    pub fn with_fill(mut self, mode: CanvasFillMode) -> Self {
        self.fill_mode = Some(mode);
        self
    }
}

impl Output {
    /// Publish into RTC `channel` as `uid`.
    pub fn rtc(channel: impl Into<String>, uid: u32, token: impl Into<RtcToken>) -> Self {
        Output {
            rtc: Some(RtcEndpoint::new(channel, uid, token)),
            stream_url: None,
            audio_option: None,
            video_option: None,
        }
    }

    /// Push to a CDN.
    pub fn cdn(url: impl Into<String>) -> Self {
        Output {
            rtc: None,
            stream_url: Some(url.into()),
            audio_option: None,
            video_option: None,
        }
    }

    /// Sets the audio profile.
    pub fn with_audio(mut self, profile: AudioProfile) -> Self {
        self.audio_option = Some(AudioOption {
            profile_type: profile,
        });
        self
    }

    /// Sets the video encoding.
    pub fn with_video(mut self, video: VideoOption) -> Self {
        self.video_option = Some(video);
        self
    }

    /// The output's RTC UID, if it publishes to RTC.
    pub fn rtc_uid(&self) -> Option<u32> {
        self.rtc.as_ref().map(|r| r.rtc_uid)
    }
}

impl VideoOption {
    /// H.264 at `width`×`height`, `bitrate_kbps`, 15 fps.
    pub fn new(width: u32, height: u32, bitrate_kbps: u32) -> Self {
        VideoOption {
            width,
            height,
            bitrate: Some(bitrate_kbps),
            codec: Some(TranscodeVideoCodec::H264),
            fps: None,
            mode: None,
            low_bitrate_high_quality: None,
        }
    }

    /// Sets the frame rate ([1, 30]).
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = Some(fps);
        self
    }
}

impl TranscoderConfig {
    /// Replaces the RTC UID of every RTC output: the re-create on the backup UID
    /// (the Cloud Transcoding service-status guide "alternate between the primary and backup UIDs").
    pub fn with_output_uid(mut self, uid: u32) -> Self {
        for o in &mut self.outputs {
            if let Some(rtc) = o.rtc.as_mut() {
                rtc.rtc_uid = uid;
            }
        }
        self
    }
}
