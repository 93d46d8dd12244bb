//! What an emulator is told at start.

use std::time::Duration;

use agora_rest_core::health::HA_MIGRATION_WINDOW;
use agora_rest_core::quota::QuotaTable;
use agora_rest_core::rate::RateLimits;
use agora_rest_core::region::Area;
use agora_rest_model::limits::PUSH_LIST_PAGE_MAX;

/// Which shape Get answers in (docs/vendor-rules.md: the docs show both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GetShapeMode {
    /// As the docs' examples: transcoded converters at the top level, raw ones wrapped.
    #[default]
    ByKind,
    /// Always top level.
    TopLevel,
    /// Always `{"converter": …}`.
    Wrapped,
}

/// Where and how to send NCS notifications.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL (http:// or https://).
    pub url: String,
    /// The NCS secret used for both signature headers.
    pub secret: String,
    /// Probability (0–1) of sending a notice twice.
    pub duplicate_rate: f64,
    /// Whether to deliver some notices out of order (swap neighbours).
    pub out_of_order: bool,
}

/// Emulator settings. Defaults follow the documented behaviour; every delay is configurable.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The only app id accepted; `None` accepts any.
    pub app_id: Option<String>,
    /// The customer id and secret accepted; `None` accepts any Basic credentials.
    pub credentials: Option<(String, String)>,
    /// The area whose Cloud Transcoding quota column applies (the docs are SILENT on how a
    /// request maps to one).
    pub transcoding_area: Area,
    /// A converter goes from `connecting` to `running` after this long.
    pub running_after: Duration,
    /// A task reports `STARTING` (not yet started) for this long after Create (default 0: it
    /// is `STARTED` at once, as the docs' Create example shows). For testing slow starts.
    pub starting_for: Duration,
    /// A task goes from `STARTED` to `IN_PROGRESS` after this long.
    pub in_progress_after: Duration,
    /// Get's answer shape.
    pub get_shape: GetShapeMode,
    /// Converters per List page (at most 500, the documented maximum).
    pub list_page_size: usize,
    /// Media Push concurrency caps.
    pub push_quota: QuotaTable,
    /// Cloud Transcoding concurrency caps.
    pub transcoding_quota: QuotaTable,
    /// Request rates answered with 429 beyond.
    pub rate_limits: RateLimits,
    /// How long an injected HA migration makes a converter answer 404.
    pub ha_window: Duration,
    /// Seed of ids, tokens and random faults.
    pub seed: u64,
    /// NCS delivery, if any.
    pub webhook: Option<WebhookConfig>,
    /// How many request-log entries are kept (each holds at most about 1 KiB: longer paths,
    /// hosts and request ids are cut).
    pub log_capacity: usize,
    /// How many distinct app ids the emulator keeps state for when `app_id` is not set; a
    /// request for one more is answered 400 (`appid is invalid`). Bounds memory whatever app
    /// ids clients make up.
    pub max_apps: usize,
    /// Refuse numbers sent as strings (`"rtcStreamUid": "201"`); off by default, as the
    /// vendor's own middleware sends some numbers as strings.
    pub strict: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            app_id: None,
            credentials: None,
            transcoding_area: Area::Us,
            running_after: Duration::from_secs(2),
            starting_for: Duration::ZERO,
            in_progress_after: Duration::from_secs(3),
            get_shape: GetShapeMode::ByKind,
            list_page_size: PUSH_LIST_PAGE_MAX,
            push_quota: QuotaTable::media_push(),
            transcoding_quota: QuotaTable::cloud_transcoding(),
            rate_limits: RateLimits::default(),
            ha_window: HA_MIGRATION_WINDOW,
            seed: 0x5eed,
            webhook: None,
            log_capacity: 10_000,
            max_apps: 1_000,
            strict: false,
        }
    }
}
