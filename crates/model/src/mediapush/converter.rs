//! The Media Push converter: what to pull from a channel and where to push it (docs/vendor-rules.md–2.3).
//!
//! One type serves Create (a full converter), Update (only the changed subtree) and the
//! converter part of Get, so every field is optional on the type; `validate_create` and
//! `validate_update` say which are required when.

use serde::{Deserialize, Serialize};

use crate::wire::{opt_u32_lenient, u32_lenient, wire_enum};

/// A converter: either transcoded (`transcodeOptions`) or raw (`rawOptions`), pushing to one
/// RTMP URL.
///
/// The best-practice guide says to give a converter a UID *or* an account as its user name,
/// never both; the REST reference defines no such fields for the converter itself (its UIDs
/// are the sources it mixes, always numbers), so there is nothing here to make exclusive.
/// `docs/vendor-rules.md` records the gap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Converter {
    /// Unique per project; up to 64 of `[A-Za-z0-9_-]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Transcoded push: mix and encode the channel's streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcode_options: Option<TranscodeOptions>,
    /// Raw push: relay one user's streams as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_options: Option<RawOptions>,
    /// The CDN's `rtmp://` or `rtmps://` address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<String>,
    /// Seconds with no publisher before the converter is destroyed.
    ///
    /// Written `idleTimeOut` as the request tables spell it; `idleTimeout` (the examples' and
    /// responses' spelling) is accepted too (docs/vendor-rules.md AMBIGUOUS).
    #[serde(
        default,
        rename = "idleTimeOut",
        alias = "idleTimeout",
        with = "opt_u32_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<u32>,
    /// Jitter buffer in milliseconds, rounded up to a multiple of 100 by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_buffer_size_ms: Option<u32>,
}

/// `transcodeOptions` (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscodeOptions {
    /// The RTC channel to pull from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc_channel: Option<String>,
    /// Audio settings; absent for video-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_options: Option<AudioOptions>,
    /// Video settings; absent for audio-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_options: Option<VideoOptions>,
}

/// `rawOptions` (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawOptions {
    /// The RTC channel to pull from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc_channel: Option<String>,
    /// The user whose streams are relayed. Read from a number or a string (the vendor's
    /// middleware sends a string, docs/vendor-rules.md); written as a number.
    #[serde(
        default,
        with = "opt_u32_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub rtc_stream_uid: Option<u32>,
}

wire_enum!(
    /// `audioOptions.codecProfile`.
    AudioCodecProfile {
        /// `LC-AAC` (default).
        LcAac => "LC-AAC",
        /// `HE-AAC`.
        HeAac => "HE-AAC",
    }
);

/// `audioOptions` (docs/vendor-rules.md). `{}` is a valid value: all defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioOptions {
    /// `LC-AAC` (default) or `HE-AAC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_profile: Option<AudioCodecProfile>,
    /// 32000, 44100 or 48000 (default) Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// [32, 128] Kbps, default 48.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// 1 (default) or 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<u32>,
    /// Absent: mix every user; `[]`: mix nobody; a list: mix those users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc_stream_uids: Option<Vec<u32>>,
    /// Per-user volumes; only for users in `rtc_stream_uids`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,
}

/// One entry of `audioOptions.volumes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// The user.
    #[serde(with = "u32_lenient")]
    pub rtc_stream_uid: u32,
    /// [0, 200], default 100.
    pub volume: u32,
}

wire_enum!(
    /// `videoOptions.codec`.
    VideoCodec {
        /// `H.264` (default).
        H264 => "H.264",
        /// `H.265`; forces the `main` profile.
        H265 => "H.265",
    }
);

wire_enum!(
    /// `videoOptions.codecProfile`. Read in any case (the examples send `"High"`), written
    /// lowercase as the table does (docs/vendor-rules.md AMBIGUOUS).
    VideoCodecProfile {
        /// `high` (default).
        High => "high",
        /// `baseline`.
        Baseline => "baseline",
        /// `main` (forced with H.265).
        Main => "main",
    }
);

wire_enum!(
    /// How a picture fills its region.
    FillMode {
        /// `fill` (default): crop to fill.
        Fill => "fill",
        /// `fit`: letterbox.
        Fit => "fit",
    }
);

/// `videoOptions` (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoOptions {
    /// The output picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas: Option<Canvas>,
    /// 0 or absent: custom `layout`; 1: vertical layout (needs `vertical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout_type: Option<u32>,
    /// The custom layout: user views and images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Vec<LayoutElement>>,
    /// The vertical layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<VerticalLayout>,
    /// Image shown when a user stops publishing video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_placeholder_image_url: Option<String>,
    /// [1, 10000] Kbps; required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// [1, 30] fps, default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<u32>,
    /// Frames between key frames, default `frameRate × 2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gop: Option<u32>,
    /// `H.264` (default) or `H.265`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// `high` (default), `baseline` or `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_profile: Option<VideoCodecProfile>,
    /// SEI to add to the stream. Notification payloads send a legacy `""` here, read as `None`.
    #[serde(
        default,
        deserialize_with = "crate::wire::object_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub sei_options: Option<SeiOptions>,
}

/// `videoOptions.canvas` (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canvas {
    /// [66, 1920] pixels (16 for the SEI-only trick).
    pub width: u32,
    /// [66, 1920] pixels (16 for the SEI-only trick).
    pub height: u32,
    /// Background RGB, default 0 (black).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
}

/// Where a layout element sits on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRegion {
    /// Left edge in pixels; parts outside the canvas are cropped.
    pub x_pos: i32,
    /// Top edge in pixels.
    pub y_pos: i32,
    /// Stacking order, [0, 100]; 0 is the bottom.
    pub z_index: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// A user's video in the layout (docs/vendor-rules.md RtcStreamView).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtcStreamView {
    /// The user.
    #[serde(with = "u32_lenient")]
    pub rtc_stream_uid: u32,
    /// Where it sits.
    pub region: LayoutRegion,
    /// `fill` (default) or `fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_mode: Option<FillMode>,
    /// Shown while the user publishes no video. The type table marks it required but the
    /// examples omit it: optional here (docs/vendor-rules.md AMBIGUOUS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder_image_url: Option<String>,
}

/// An image in the layout (docs/vendor-rules.md ImageView).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    /// An HTTP(S) JPG, PNG or GIF.
    pub image_url: String,
    /// Where it sits.
    pub region: LayoutRegion,
    /// `fill` (default) or `fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_mode: Option<FillMode>,
}

/// One element of `videoOptions.layout`: a user view or an image, told apart by their keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayoutElement {
    /// Has `rtcStreamUid`.
    Stream(RtcStreamView),
    /// Has `imageUrl`.
    Image(ImageView),
}

impl LayoutElement {
    /// The element's region.
    pub fn region(&self) -> &LayoutRegion {
        match self {
            LayoutElement::Stream(v) => &v.region,
            LayoutElement::Image(v) => &v.region,
        }
    }
}

/// `videoOptions.vertical` (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerticalLayout {
    /// The user in the big window; unset, the loudest user wins.
    #[serde(
        default,
        with = "opt_u32_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_resolution_uid: Option<u32>,
    /// `fill` or `fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_mode: Option<FillMode>,
    /// Sent by the vendor's examples (`4`) but not in the tables; kept so it round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval_sec: Option<u32>,
}

/// `videoOptions.seiOptions` (docs/vendor-rules.md). `{}` means no SEI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeiOptions {
    /// What SEI to carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SeiSource>,
    /// Where to put it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<SeiSink>,
}

/// `seiOptions.source`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeiSource {
    /// Pass the users' metadata SEI through (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<bool>,
    /// Pass the users' data-stream messages through (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastream: Option<bool>,
    /// A custom SEI of our own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized: Option<SeiCustomized>,
}

/// `seiOptions.source.customized`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeiCustomized {
    /// Up to 32 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_for_agora_sei: Option<String>,
    /// Up to 4096 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// `seiOptions.sink`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeiSink {
    /// The SEI payload type, default 100.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub sei_type: Option<u32>,
}

wire_enum!(
    /// A converter's state (docs/vendor-rules.md). Older docs also listed `idle`, `recovering` and
    /// `failure`; those and any new value are kept as `Other`.
    ConverterState {
        /// Starting up.
        Connecting => "connecting",
        /// Pushing.
        Running => "running",
        /// Failed: check the CDN URL, delete and re-create.
        Failed => "failed",
    }
);

impl Converter {
    /// What kind of converter this is, for core's update rules.
    pub fn shape(&self) -> agora_rest_core::update_rules::ConverterShape {
        use agora_rest_core::update_rules::ConverterShape;
        match &self.transcode_options {
            Some(t) => ConverterShape::Transcoded {
                audio: t.audio_options.is_some(),
                video: t.video_options.is_some(),
                vertical: t
                    .video_options
                    .as_ref()
                    .is_some_and(|v| v.layout_type == Some(1)),
            },
            None => ConverterShape::Raw,
        }
    }

    /// The RTC channel, from either options.
    pub fn rtc_channel(&self) -> Option<&str> {
        self.transcode_options
            .as_ref()
            .and_then(|t| t.rtc_channel.as_deref())
            .or_else(|| {
                self.raw_options
                    .as_ref()
                    .and_then(|r| r.rtc_channel.as_deref())
            })
    }
}
