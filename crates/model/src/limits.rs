//! Every field range and value set of both services, once.
//!
//! Exists so that the builders, `validate()` and the emulator check the same numbers; each
//! constant names its docs/vendor-rules.md section. Policies (quotas, rates, schedules) live in
//! `agora-rest-core`; this module has the per-field rules.

use agora_rest_core::error::{Error, FieldPath, check_range};

/// An inclusive range of allowed integers for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRange {
    /// The smallest allowed value.
    pub min: i64,
    /// The largest allowed value.
    pub max: i64,
}

impl FieldRange {
    /// `[min, max]`.
    pub const fn new(min: i64, max: i64) -> Self {
        FieldRange { min, max }
    }

    /// Checks `value`, naming `field` in the error.
    pub fn check(self, field: impl Into<FieldPath>, value: impl Into<i64>) -> Result<(), Error> {
        check_range(field, value.into(), self.min, self.max)
    }

    /// Whether `value` lies in the range.
    pub fn contains(self, value: impl Into<i64>) -> bool {
        (self.min..=self.max).contains(&value.into())
    }
}

/// Checks that `value` is one of `allowed`, naming `field` and the rule.
pub fn check_one_of(
    field: impl Into<FieldPath>,
    value: i64,
    allowed: &[i64],
    rule: &'static str,
) -> Result<(), Error> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: field.into(),
            value: value.to_string(),
            rule,
        })
    }
}

// ---- Media Push (docs/vendor-rules.md) ----

/// `audioOptions.bitrate`, Kbps (docs/vendor-rules.md).
pub const PUSH_AUDIO_BITRATE: FieldRange = FieldRange::new(32, 128);
/// `audioOptions.sampleRate`, Hz (docs/vendor-rules.md).
pub const PUSH_AUDIO_SAMPLE_RATES: [i64; 3] = [32_000, 44_100, 48_000];
/// `audioOptions.audioChannels` (docs/vendor-rules.md).
pub const PUSH_AUDIO_CHANNELS: [i64; 2] = [1, 2];
/// `audioOptions.volumes[].volume` (docs/vendor-rules.md).
pub const PUSH_VOLUME: FieldRange = FieldRange::new(0, 200);
/// `videoOptions.canvas.width` and `.height` (docs/vendor-rules.md).
pub const PUSH_CANVAS_SIDE: FieldRange = FieldRange::new(66, 1920);
/// The canvas side of the audio-only SEI trick: 16×16 avoids video transcoding fees
/// (docs/vendor-rules.md, the Media Push best-practices guide). Below [`PUSH_CANVAS_SIDE`], yet the vendor's own guide uses it, so
/// the service evidently accepts it: we accept exactly 16×16 when `seiOptions` is set.
pub const PUSH_SEI_ONLY_CANVAS_SIDE: u32 = 16;
/// `canvas.color`, RGB as an integer (docs/vendor-rules.md).
pub const RGB_COLOR: FieldRange = FieldRange::new(0, 0xFF_FFFF);
/// `region.zIndex` of a layout element (docs/vendor-rules.md).
pub const PUSH_Z_INDEX: FieldRange = FieldRange::new(0, 100);
/// `videoOptions.bitrate`, Kbps (docs/vendor-rules.md).
pub const PUSH_VIDEO_BITRATE: FieldRange = FieldRange::new(1, 10_000);
/// `videoOptions.frameRate`, fps (docs/vendor-rules.md).
pub const PUSH_FRAME_RATE: FieldRange = FieldRange::new(1, 30);
/// `videoOptions.gop`: not bounded by the docs beyond being a frame count; at least 1.
pub const PUSH_GOP: FieldRange = FieldRange::new(1, i32::MAX as i64);
/// `videoOptions.layoutType`: 0 custom, 1 vertical (docs/vendor-rules.md).
pub const PUSH_LAYOUT_TYPES: [i64; 2] = [0, 1];
/// `seiOptions.source.customized.prefixForAgoraSei`, characters (docs/vendor-rules.md).
pub const PUSH_SEI_PREFIX_MAX: usize = 32;
/// `seiOptions.source.customized.payload`, characters (docs/vendor-rules.md).
pub const PUSH_SEI_PAYLOAD_MAX: usize = 4096;
/// `rtmpUrl`, characters (docs/vendor-rules.md).
pub const PUSH_RTMP_URL_MAX: usize = 1024;
/// `idleTimeOut`, seconds. The current docs are SILENT on the range; the 2021 doc gives
/// [5, 600] with a 400 beyond it, and the vendor's middleware clamps to it (docs/vendor-rules.md).
pub const PUSH_IDLE_TIMEOUT: FieldRange = FieldRange::new(5, 600);
/// The recommended and default `idleTimeOut` (docs/vendor-rules.md, the Media Push best-practices guide).
pub const PUSH_IDLE_TIMEOUT_DEFAULT: u32 = 300;
/// `jitterBufferSizeMs` (docs/vendor-rules.md).
pub const PUSH_JITTER_BUFFER_MS: FieldRange = FieldRange::new(0, 1000);
/// Converters per List page (docs/vendor-rules.md).
pub const PUSH_LIST_PAGE_MAX: usize = 500;

// ---- Cloud Transcoding (docs/vendor-rules.md) ----

/// `serviceType` of every Cloud Transcoding body (docs/vendor-rules.md).
pub const TRANSCODER_SERVICE_TYPE: &str = "cloudTranscoderV2";
/// `transcoder.idleTimeout`, seconds (docs/vendor-rules.md).
pub const TRANSCODER_IDLE_TIMEOUT: FieldRange = FieldRange::new(1, 86_400);
/// The default `transcoder.idleTimeout` (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
pub const TRANSCODER_IDLE_TIMEOUT_DEFAULT: u32 = 300;
/// `audioInputs[].volume`, CDN inputs only (docs/vendor-rules.md).
pub const TRANSCODER_INPUT_VOLUME: FieldRange = FieldRange::new(0, 200);
/// `videoInputs[].region.x` and `.y` (docs/vendor-rules.md).
pub const TRANSCODER_REGION_XY: FieldRange = FieldRange::new(0, 3840);
/// `videoInputs[].region.width` and `.height` (docs/vendor-rules.md).
pub const TRANSCODER_REGION_SIDE: FieldRange = FieldRange::new(120, 3840);
/// `region.zOrder`. The current docs say [2, 100] for video inputs, the Chinese doc [0, 100];
/// we accept [0, 100] so that the Chinese doc's examples keep working (docs/vendor-rules.md AMBIGUOUS).
pub const TRANSCODER_Z_ORDER: FieldRange = FieldRange::new(0, 100);
/// `canvas.width` and `.height` (docs/vendor-rules.md).
pub const TRANSCODER_CANVAS_SIDE: FieldRange = FieldRange::new(120, 3840);
/// `outputs[].videoOption.width` and `.height` (docs/vendor-rules.md). The limits page caps output at
/// 1920×1080 and 30 fps, which core's resolution tier enforces on top (docs/vendor-rules.md AMBIGUOUS).
pub const TRANSCODER_OUTPUT_SIDE: FieldRange = FieldRange::new(120, 3840);
/// `outputs[].videoOption.bitrate`, Kbps (docs/vendor-rules.md).
pub const TRANSCODER_OUTPUT_BITRATE: FieldRange = FieldRange::new(1, 10_000);
/// `outputs[].videoOption.fps` (docs/vendor-rules.md).
pub const TRANSCODER_OUTPUT_FPS: FieldRange = FieldRange::new(1, 30);
/// `repeat` of a CDN input: -1 loops, n ≥ 1 plays n times, 0 is refused (docs/vendor-rules.md).
pub const TRANSCODER_REPEAT: FieldRange = FieldRange::new(-1, i32::MAX as i64);
