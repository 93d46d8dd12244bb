//! The Cloud Transcoding task configuration (docs/vendor-rules.md).

use serde::{Deserialize, Serialize};

use crate::limits::TRANSCODER_SERVICE_TYPE;
use crate::secret::RtcToken;
use crate::wire::{u32_lenient, wire_enum};

/// The body of Create, of Update (the whole body again), and optionally of Acquire:
/// `{"services":{"cloudTranscoder":{"serviceType":"cloudTranscoderV2","config":{"transcoder":{…}}}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTaskRequest {
    /// The services block.
    pub services: Services,
}

/// `services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Services {
    /// `cloudTranscoder`.
    pub cloud_transcoder: CloudTranscoderService,
}

/// `services.cloudTranscoder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTranscoderService {
    /// Always `cloudTranscoderV2`.
    pub service_type: String,
    /// `config`.
    pub config: ServiceConfig,
}

/// `services.cloudTranscoder.config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// The transcoder settings.
    pub transcoder: TranscoderConfig,
}

impl CreateTaskRequest {
    /// Wraps a transcoder config in the documented envelope.
    pub fn new(transcoder: TranscoderConfig) -> Self {
        CreateTaskRequest {
            services: Services {
                cloud_transcoder: CloudTranscoderService {
                    service_type: TRANSCODER_SERVICE_TYPE.to_string(),
                    config: ServiceConfig { transcoder },
                },
            },
        }
    }

    /// The transcoder settings.
    pub fn transcoder(&self) -> &TranscoderConfig {
        &self.services.cloud_transcoder.config.transcoder
    }
}

wire_enum!(
    /// `streamProcessMode`: absent means mixing.
    StreamProcessMode {
        /// One input (RTC or CDN) to one output, either side.
        HeterogeneousSingle => "heterogeneous-single",
        /// RTC relay of one host's audio, video and signalling.
        Single => "single",
    }
);

/// `transcoder` (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderConfig {
    /// [1, 86400] s after all hosts leave, default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u32>,
    /// Absent: mix; or a single mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_process_mode: Option<StreamProcessMode>,
    /// Audio sources, mixed together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_inputs: Option<Vec<AudioInput>>,
    /// Video sources, laid out on the canvas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_inputs: Option<Vec<VideoInput>>,
    /// The mixing canvas (needed for video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas: Option<TranscoderCanvas>,
    /// Watermarks. Written `waterMarks` as every example does; `watermarks` (the parameter
    /// list's spelling) is read too (docs/vendor-rules.md AMBIGUOUS).
    #[serde(
        default,
        rename = "waterMarks",
        alias = "watermarks",
        skip_serializing_if = "Option::is_none"
    )]
    pub water_marks: Option<Vec<Watermark>>,
    /// Where the result goes; at least one.
    #[serde(default)]
    pub outputs: Vec<Output>,
}

/// An RTC endpoint: channel, UID and token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtcEndpoint {
    /// The channel.
    pub rtc_channel: String,
    /// The UID; on inputs 0 means the whole channel.
    #[serde(with = "u32_lenient")]
    pub rtc_uid: u32,
    /// The token (never printed). Input tokens are generated for UID 0.
    pub rtc_token: RtcToken,
}

/// One `audioInputs` item: an RTC user (or the whole channel) or a CDN stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioInput {
    /// An RTC source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc: Option<RtcEndpoint>,
    /// A CDN source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// [0, 200], default 100 (CDN sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u32>,
    /// -1 loops, n plays n times, never 0 (CDN sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<i32>,
}

/// A rectangle on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderRegion {
    /// [0, 3840].
    pub x: u32,
    /// [0, 3840].
    pub y: u32,
    /// [120, 3840] for video inputs.
    pub width: u32,
    /// [120, 3840] for video inputs.
    pub height: u32,
    /// Stacking order, [0, 100] (see `limits::TRANSCODER_Z_ORDER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_order: Option<u32>,
}

/// One `videoInputs` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoInput {
    /// An RTC source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc: Option<RtcEndpoint>,
    /// A CDN source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// -1 loops, n plays n times, never 0 (CDN sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<i32>,
    /// Image (jpg/png) shown while the source has no video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder_image_url: Option<String>,
    /// Where the source sits on the canvas.
    pub region: TranscoderRegion,
}

wire_enum!(
    /// `canvas.fillMode` and `waterMarks[].fillMode`.
    CanvasFillMode {
        /// `FILL` (default).
        Fill => "FILL",
        /// `FIT`.
        Fit => "FIT",
    }
);

/// `canvas` (docs/vendor-rules.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderCanvas {
    /// [120, 3840].
    pub width: u32,
    /// [120, 3840].
    pub height: u32,
    /// RGB, required.
    pub color: u32,
    /// A jpg/png URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_image: Option<String>,
    /// `FILL` (default) or `FIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_mode: Option<CanvasFillMode>,
}

/// One `waterMarks` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    /// A jpg/png URL.
    pub image_url: String,
    /// Where it sits; `zOrder` [0, 100].
    pub region: TranscoderRegion,
    /// `FILL` or `FIT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_mode: Option<CanvasFillMode>,
}

wire_enum!(
    /// `outputs[].audioOption.profileType` (docs/vendor-rules.md).
    AudioProfile {
        /// 48 kHz mono, ≤64 Kbps (default).
        Default => "AUDIO_PROFILE_DEFAULT",
        /// 32 kHz mono, ≤18 Kbps.
        SpeechStandard => "AUDIO_PROFILE_SPEECH_STANDARD",
        /// 48 kHz mono, ≤64 Kbps.
        MusicStandard => "AUDIO_PROFILE_MUSIC_STANDARD",
        /// 48 kHz stereo, ≤80 Kbps.
        MusicStandardStereo => "AUDIO_PROFILE_MUSIC_STANDARD_STEREO",
        /// 48 kHz mono, ≤96 Kbps.
        MusicHighQuality => "AUDIO_PROFILE_MUSIC_HIGH_QUALITY",
        /// 48 kHz stereo, ≤128 Kbps.
        MusicHighQualityStereo => "AUDIO_PROFILE_MUSIC_HIGH_QUALITY_STEREO",
    }
);

/// `outputs[].audioOption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioOption {
    /// The audio profile.
    pub profile_type: AudioProfile,
}

wire_enum!(
    /// `outputs[].videoOption.codec`.
    TranscodeVideoCodec {
        /// `H264`.
        H264 => "H264",
        /// `VP8`.
        Vp8 => "VP8",
    }
);

wire_enum!(
    /// `outputs[].videoOption.mode`.
    VideoMode {
        /// `RAW`: pass-through, only with a single video input.
        Raw => "RAW",
    }
);

/// `outputs[].videoOption` (docs/vendor-rules.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoOption {
    /// [120, 3840], and the output tier caps it at 1920×1080.
    pub width: u32,
    /// [120, 3840], and the output tier caps it at 1920×1080.
    pub height: u32,
    /// [1, 10000] Kbps; the current docs require it, the Chinese doc lets the service choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    /// `H264` or `VP8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<TranscodeVideoCodec>,
    /// [1, 30], default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
    /// `RAW` for pass-through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<VideoMode>,
    /// Undocumented flag sent by the Chinese doc's examples; kept so it round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_bitrate_high_quality: Option<bool>,
}

/// One `outputs` item: an RTC channel or a CDN URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// Publish into an RTC channel as this UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtc: Option<RtcEndpoint>,
    /// Push to a CDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_url: Option<String>,
    /// Audio encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_option: Option<AudioOption>,
    /// Video encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_option: Option<VideoOption>,
}
