//! Builders that make a valid converter or say which field breaks which rule.

use super::converter::{
    AudioOptions, Canvas, Converter, FillMode, ImageView, LayoutElement, LayoutRegion, RawOptions,
    RtcStreamView, SeiOptions, TranscodeOptions, VerticalLayout, VideoCodec, VideoCodecProfile,
    VideoOptions, Volume,
};
use crate::error::Error;
use crate::limits::PUSH_SEI_ONLY_CANVAS_SIDE;

/// Builds a converter for Create.
///
/// ```
/// use agora_rest_model::mediapush::{ConverterBuilder, AudioOptions, VideoOptions, LayoutElement, LayoutRegion};
///
/// let converter = ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/show68")
///     .name("show68_horizontal")
///     .audio(AudioOptions::default())
///     .video(
///         VideoOptions::new(1280, 720, 2000)
///             .with_layout(vec![LayoutElement::stream(42, LayoutRegion::new(0, 0, 1280, 720))]),
///     )
///     .idle_timeout(300)
///     .build()?;
/// assert_eq!(converter.name.as_deref(), Some("show68_horizontal"));
///
/// // A bad field is named before anything is sent.
/// let err = ConverterBuilder::transcoded("show68", "http://not-rtmp")
///     .audio(AudioOptions::default())
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), Some("converter.rtmpUrl"));
/// # Ok::<(), agora_rest_model::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConverterBuilder {
    converter: Converter,
}

impl ConverterBuilder {
    /// A transcoded converter pulling from `rtc_channel` and pushing to `rtmp_url`.
    pub fn transcoded(rtc_channel: impl Into<String>, rtmp_url: impl Into<String>) -> Self {
        ConverterBuilder {
            converter: Converter {
                transcode_options: Some(TranscodeOptions {
                    rtc_channel: Some(rtc_channel.into()),
                    ..TranscodeOptions::default()
                }),
                rtmp_url: Some(rtmp_url.into()),
                ..Converter::default()
            },
        }
    }

    /// A raw (non-transcoded) converter relaying user `uid` of `rtc_channel` (docs/vendor-rules.md).
    pub fn raw(rtc_channel: impl Into<String>, uid: u32, rtmp_url: impl Into<String>) -> Self {
        ConverterBuilder {
            converter: Converter {
                raw_options: Some(RawOptions {
                    rtc_channel: Some(rtc_channel.into()),
                    rtc_stream_uid: Some(uid),
                }),
                rtmp_url: Some(rtmp_url.into()),
                ..Converter::default()
            },
        }
    }

    /// Sets the name (unique per project; our clients require one by default).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.converter.name = Some(name.into());
        self
    }

    /// Sets the audio options (transcoded converters).
    pub fn audio(mut self, audio: AudioOptions) -> Self {
        if let Some(t) = self.converter.transcode_options.as_mut() {
            t.audio_options = Some(audio);
        }
        self
    }

    /// Sets the video options (transcoded converters).
    pub fn video(mut self, video: VideoOptions) -> Self {
        if let Some(t) = self.converter.transcode_options.as_mut() {
            t.video_options = Some(video);
        }
        self
    }

    /// Sets `idleTimeOut` in seconds ([5, 600]; 300 recommended).
    pub fn idle_timeout(mut self, secs: u32) -> Self {
        self.converter.idle_timeout = Some(secs);
        self
    }

    /// Sets `jitterBufferSizeMs` ([0, 1000]).
    pub fn jitter_buffer_ms(mut self, ms: u32) -> Self {
        self.converter.jitter_buffer_size_ms = Some(ms);
        self
    }

    /// Normalises as the service does (H.265 → `main`) and validates for Create.
    pub fn build(self) -> Result<Converter, Error> {
        let mut c = self.converter;
        c.normalize();
        c.validate_create()?;
        Ok(c)
    }
}

impl AudioOptions {
    /// Sets the codec profile.
    pub fn with_codec_profile(mut self, p: super::converter::AudioCodecProfile) -> Self {
        self.codec_profile = Some(p);
        self
    }

    /// Sets the sample rate in Hz (32000, 44100, 48000).
    pub fn with_sample_rate(mut self, hz: u32) -> Self {
        self.sample_rate = Some(hz);
        self
    }

    /// Sets the bitrate in Kbps ([32, 128]).
    pub fn with_bitrate(mut self, kbps: u32) -> Self {
        self.bitrate = Some(kbps);
        self
    }

    /// Sets 1 or 2 channels.
    pub fn with_channels(mut self, n: u32) -> Self {
        self.audio_channels = Some(n);
        self
    }

    /// Mixes only these users.
    pub fn with_users(mut self, uids: Vec<u32>) -> Self {
        self.rtc_stream_uids = Some(uids);
        self
    }

    /// Sets one user's volume ([0, 200]); the user must be in [`with_users`](Self::with_users).
    pub fn with_volume(mut self, uid: u32, volume: u32) -> Self {
        self.volumes.get_or_insert_with(Vec::new).push(Volume {
            rtc_stream_uid: uid,
            volume,
        });
        self
    }
}

impl VideoOptions {
    /// A `width`×`height` canvas encoded at `bitrate_kbps`, with an empty custom layout.
    pub fn new(width: u32, height: u32, bitrate_kbps: u32) -> Self {
        VideoOptions {
            canvas: Some(Canvas {
                width,
                height,
                color: None,
            }),
            layout: Some(Vec::new()),
            bitrate: Some(bitrate_kbps),
            ..VideoOptions::default()
        }
    }

    /// The audio-only SEI trick (docs/vendor-rules.md, the Media Push best-practices guide "Output SEI in audio-only scenarios"):
    /// a 16×16 canvas, so no video transcoding is billed, carrying `sei` from user
    /// `carrier_uid`.
    pub fn sei_only(carrier_uid: u32, sei: SeiOptions) -> Self {
        let side = PUSH_SEI_ONLY_CANVAS_SIDE;
        VideoOptions {
            canvas: Some(Canvas {
                width: side,
                height: side,
                color: None,
            }),
            layout: Some(vec![LayoutElement::stream(
                carrier_uid,
                LayoutRegion::new(0, 0, side, side),
            )]),
            bitrate: Some(1),
            sei_options: Some(sei),
            ..VideoOptions::default()
        }
    }

    /// Uses a custom layout (`layoutType` 0).
    pub fn with_layout(mut self, layout: Vec<LayoutElement>) -> Self {
        self.layout_type = None;
        self.vertical = None;
        self.layout = Some(layout);
        self
    }

    /// Uses the vertical layout (`layoutType` 1). Such a converter may later update only its
    /// `rtmpUrl`.
    pub fn with_vertical(mut self, vertical: VerticalLayout) -> Self {
        self.layout_type = Some(1);
        self.layout = None;
        self.vertical = Some(vertical);
        self
    }

    /// Sets the canvas background colour (RGB).
    pub fn with_color(mut self, rgb: u32) -> Self {
        if let Some(c) = self.canvas.as_mut() {
            c.color = Some(rgb);
        }
        self
    }

    /// Sets the frame rate ([1, 30]).
    pub fn with_frame_rate(mut self, fps: u32) -> Self {
        self.frame_rate = Some(fps);
        self
    }

    /// Sets the GOP in frames.
    pub fn with_gop(mut self, gop: u32) -> Self {
        self.gop = Some(gop);
        self
    }

    /// Sets the codec; H.265 forces the `main` profile.
    pub fn with_codec(mut self, codec: VideoCodec) -> Self {
        self.codec = Some(codec);
        self.normalize();
        self
    }

    /// Sets the profile (ignored with H.265, which is always `main`).
    pub fn with_codec_profile(mut self, profile: VideoCodecProfile) -> Self {
        self.codec_profile = Some(profile);
        self.normalize();
        self
    }

    /// Sets the placeholder image for users who stop publishing video.
    pub fn with_default_placeholder(mut self, url: impl Into<String>) -> Self {
        self.default_placeholder_image_url = Some(url.into());
        self
    }

    /// Adds SEI.
    pub fn with_sei(mut self, sei: SeiOptions) -> Self {
        self.sei_options = Some(sei);
        self
    }
}

impl LayoutRegion {
    /// A region at (`x`, `y`) of `width`×`height`, at the bottom of the stack.
    pub const fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        LayoutRegion {
            x_pos: x,
            y_pos: y,
            z_index: 0,
            width,
            height,
        }
    }

    /// Sets the stacking order ([0, 100]).
    pub const fn with_z(mut self, z: u32) -> Self {
        self.z_index = z;
        self
    }
}

impl LayoutElement {
    /// User `uid`'s video in `region`.
    pub fn stream(uid: u32, region: LayoutRegion) -> Self {
        LayoutElement::Stream(RtcStreamView {
            rtc_stream_uid: uid,
            region,
            fill_mode: None,
            placeholder_image_url: None,
        })
    }

    /// An image in `region`.
    pub fn image(url: impl Into<String>, region: LayoutRegion) -> Self {
        LayoutElement::Image(ImageView {
            image_url: url.into(),
            region,
            fill_mode: None,
        })
    }

    /// Sets how the element fills its region.
    pub fn with_fill(mut self, mode: FillMode) -> Self {
        match &mut self {
            LayoutElement::Stream(v) => v.fill_mode = Some(mode),
            LayoutElement::Image(v) => v.fill_mode = Some(mode),
        }
        self
    }
}
