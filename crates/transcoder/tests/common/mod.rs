//! What the transcoder's test files share: a config, per-UID tokens and a spec.

#![allow(dead_code, clippy::unwrap_used)]

use agora_rest_core::name::UidPair;
use agora_rest_model::transcoder::{
    AudioInput, Output, TranscoderConfig, TranscoderConfigBuilder, VideoOption,
};
use agora_rest_transcoder::{StartSpec, UidTokens};

/// A config with one RTC input and one RTC output (UID 1001, replaced per round).
pub(crate) fn config() -> TranscoderConfig {
    TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "in-token"))
        .output(
            Output::rtc("show68-mix", 1001, "out-token")
                .with_video(VideoOption::new(640, 360, 800)),
        )
        .build()
        .unwrap()
}

/// A distinct output token per UID, so that tests can see which token went with which UID.
pub(crate) fn tokens() -> UidTokens {
    UidTokens::new()
        .with(1001, "token-for-1001")
        .with(1002, "token-for-1002")
        .with(1, "token-for-1")
        .with(2, "token-for-2")
}

/// Instance `inst-1` on UIDs 1001 (primary) and 1002 (backup).
pub(crate) fn spec() -> StartSpec {
    StartSpec::new(
        "inst-1",
        UidPair::new(1001, 1002).unwrap(),
        config(),
        tokens(),
    )
    .unwrap()
}
