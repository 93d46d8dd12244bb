//! What an update may change, for both services.
//!
//! Exists so that a client refuses an impossible update *before* sending it, and the emulator
//! refuses it the same way (docs/vendor-rules.md). Media Push updates name the changed subtrees in
//! a `fields` mask; Cloud Transcoding updates replace the whole config, of which only some
//! changes take effect.

use crate::error::Error;

/// Media Push fields an Update may not change (docs/vendor-rules.md, the Media Push best-practices guide "Update RTMP converter").
///
/// The list in the docs names the whole `audioOptions`, yet updating `rtcStreamUids` and `volumes`
/// is documented: we read the list as the leaf fields (docs/vendor-rules.md AMBIGUOUS). The request
/// tables spell `idleTimeOut`, the examples `idleTimeout`; both are matched.
/// `rawOptions.rtcChannel` is added *(derived)*: a raw converter's channel is as fixed as a
/// transcoded one's.
pub const MEDIA_PUSH_IMMUTABLE: [&str; 10] = [
    "name",
    "idleTimeOut",
    "transcodeOptions.rtcChannel",
    "transcodeOptions.audioOptions.codecProfile",
    "transcodeOptions.audioOptions.sampleRate",
    "transcodeOptions.audioOptions.bitrate",
    "transcodeOptions.audioOptions.audioChannels",
    "transcodeOptions.videoOptions.codec",
    "transcodeOptions.videoOptions.codecProfile",
    "rawOptions.rtcChannel",
];

const RULE_FIXED: &str = "fixed at creation";
const RULE_COVERS: &str =
    "replaces a subtree that holds fields fixed at creation: name the changed leaves instead";
const RULE_VERTICAL: &str = "a vertical-layout converter may update only rtmpUrl";
const RULE_NO_VIDEO: &str = "an audio-only converter cannot gain video";
const RULE_NO_AUDIO: &str = "a video-only converter cannot gain audio";
const RULE_MODE: &str = "a converter cannot switch between transcoded and raw";

/// What kind of converter is being updated: some updates depend on how it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConverterShape {
    /// Created with `transcodeOptions`.
    Transcoded {
        /// Created with `audioOptions`.
        audio: bool,
        /// Created with `videoOptions` (including the 16×16 SEI-only canvas).
        video: bool,
        /// Created with `layoutType: 1` (vertical layout).
        vertical: bool,
    },
    /// Created with `rawOptions`.
    Raw,
}

/// Whether `path` is `ancestor` or lies below it.
fn is_within(path: &str, ancestor: &str) -> bool {
    path == ancestor
        || path
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Checks one path of a Media Push `fields` mask against the update rules.
pub fn check_push_update_path(path: &str, shape: ConverterShape) -> Result<(), Error> {
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(Error::invalid(
            "fields",
            path,
            "each path is dot-separated field names",
        ));
    }
    let refuse = |rule| {
        Err(Error::ImmutableField {
            path: path.to_string().into(),
            rule,
        })
    };
    // Both spellings of idleTimeOut are in use (docs/vendor-rules.md AMBIGUOUS).
    let norm = path.replace("idleTimeout", "idleTimeOut");
    let path_n = norm.as_str();
    for fixed in MEDIA_PUSH_IMMUTABLE {
        if is_within(path_n, fixed) {
            return refuse(RULE_FIXED);
        }
        if is_within(fixed, path_n) {
            return refuse(RULE_COVERS);
        }
    }
    match shape {
        ConverterShape::Transcoded { vertical: true, .. } if path != "rtmpUrl" => {
            refuse(RULE_VERTICAL)
        }
        ConverterShape::Transcoded { video: false, .. }
            if is_within(path, "transcodeOptions.videoOptions") =>
        {
            refuse(RULE_NO_VIDEO)
        }
        ConverterShape::Transcoded { audio: false, .. }
            if is_within(path, "transcodeOptions.audioOptions") =>
        {
            refuse(RULE_NO_AUDIO)
        }
        ConverterShape::Transcoded { .. } if is_within(path, "rawOptions") => refuse(RULE_MODE),
        ConverterShape::Raw if is_within(path, "transcodeOptions") => refuse(RULE_MODE),
        _ => Ok(()),
    }
}

/// Checks a whole Media Push `fields` mask (comma-separated paths relative to `converter`).
///
/// Returns the paths, trimmed, when every one may be updated; the first offending path otherwise.
pub fn check_push_update_mask(mask: &str, shape: ConverterShape) -> Result<Vec<&str>, Error> {
    if mask.trim().is_empty() {
        return Err(Error::Missing {
            field: "fields".into(),
            rule: "an update names the paths it changes",
        });
    }
    mask.split(',')
        .map(|p| check_push_update_path(p, shape).map(|()| p.trim()))
        .collect()
}

/// Which input list of a Cloud Transcoding config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputList {
    /// `audioInputs`.
    Audio,
    /// `videoInputs`.
    Video,
}

impl InputList {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputList::Audio => "audioInputs",
            InputList::Video => "videoInputs",
        }
    }
}

/// One difference between the running Cloud Transcoding config and the updated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscoderChange<'a> {
    /// An input was added; `rtc` says whether it is an RTC input (not a stream URL).
    InputAdded {
        /// Which list.
        list: InputList,
        /// Whether the input has `rtc` (not `streamUrl`).
        rtc: bool,
    },
    /// An input was removed.
    InputRemoved {
        /// Which list.
        list: InputList,
        /// Whether the input has `rtc` (not `streamUrl`).
        rtc: bool,
    },
    /// A value changed at `path`, e.g. `videoInputs[0].region.x` or `outputs[1].videoOption`.
    Modified {
        /// The path, relative to `transcoder`, with array indexes.
        path: &'a str,
    },
}

/// The modified paths a Cloud Transcoding Update applies (docs/vendor-rules.md), indexes written `[]`.
pub const TRANSCODER_UPDATABLE: [&str; 3] = [
    "videoInputs[].region",
    "outputs[].audioOption",
    "outputs[].videoOption",
];

/// Replaces every `[digits]` with `[]`.
fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '[' {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}

/// Checks one change of a Cloud Transcoding Update (docs/vendor-rules.md): only adding or removing
/// `rtc` inputs, moving a video input's `region`, and changing an output's `audioOption` or
/// `videoOption` take effect; anything else "causes unknown exceptions" and is refused.
pub fn check_transcoder_change(change: TranscoderChange<'_>) -> Result<(), Error> {
    match change {
        TranscoderChange::InputAdded { rtc: true, .. }
        | TranscoderChange::InputRemoved { rtc: true, .. } => Ok(()),
        TranscoderChange::InputAdded { list, rtc: false }
        | TranscoderChange::InputRemoved { list, rtc: false } => Err(Error::ImmutableField {
            path: list.as_str().into(),
            rule: "only rtc inputs can be added or removed by an update",
        }),
        TranscoderChange::Modified { path } => {
            let general = strip_indexes(path);
            if TRANSCODER_UPDATABLE
                .iter()
                .any(|allowed| is_within(&general, allowed))
            {
                Ok(())
            } else {
                Err(Error::ImmutableField {
                    path: path.to_string().into(),
                    rule: "an update may change only rtc inputs, videoInputs[].region, outputs[].audioOption and outputs[].videoOption",
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AV: ConverterShape = ConverterShape::Transcoded {
        audio: true,
        video: true,
        vertical: false,
    };

    #[test]
    fn documented_updates_pass_and_immutables_fail() {
        let ok = "transcodeOptions.videoOptions.canvas,transcodeOptions.videoOptions.layout";
        assert_eq!(check_push_update_mask(ok, AV).unwrap().len(), 2);
        for p in [
            "transcodeOptions.audioOptions.rtcStreamUids",
            "transcodeOptions.audioOptions.volumes",
            "rtmpUrl",
            " rtmpUrl ",
        ] {
            assert!(check_push_update_path(p, AV).is_ok(), "{p}");
        }
        for fixed in MEDIA_PUSH_IMMUTABLE.iter().take(9) {
            let e = check_push_update_path(fixed, AV).unwrap_err();
            assert_eq!(e.field(), Some(*fixed));
        }
        let e = check_push_update_mask("rtmpUrl,idleTimeout", AV).unwrap_err();
        assert_eq!(e.field(), Some("idleTimeout"));
        let e = check_push_update_path("transcodeOptions.audioOptions", AV).unwrap_err();
        assert!(e.to_string().contains("subtree"), "{e}");
        assert!(check_push_update_mask("", AV).is_err());
        assert!(check_push_update_mask("rtmpUrl,,x", AV).is_err());
    }

    #[test]
    fn shape_rules() {
        let vertical = ConverterShape::Transcoded {
            audio: true,
            video: true,
            vertical: true,
        };
        assert!(check_push_update_path("rtmpUrl", vertical).is_ok());
        assert!(check_push_update_path("transcodeOptions.videoOptions.canvas", vertical).is_err());
        let audio_only = ConverterShape::Transcoded {
            audio: true,
            video: false,
            vertical: false,
        };
        assert!(
            check_push_update_path("transcodeOptions.videoOptions.canvas", audio_only).is_err()
        );
        let video_only = ConverterShape::Transcoded {
            audio: false,
            video: true,
            vertical: false,
        };
        assert!(
            check_push_update_path("transcodeOptions.audioOptions.volumes", video_only).is_err()
        );
        assert!(
            check_push_update_path("transcodeOptions.videoOptions.canvas", ConverterShape::Raw)
                .is_err()
        );
        assert!(check_push_update_path("rawOptions.rtcStreamUid", AV).is_err());
        assert!(check_push_update_path("rtmpUrl", ConverterShape::Raw).is_ok());
    }

    #[test]
    fn transcoder_changes() {
        use TranscoderChange::*;
        assert!(
            check_transcoder_change(InputAdded {
                list: InputList::Audio,
                rtc: true
            })
            .is_ok()
        );
        assert!(
            check_transcoder_change(InputRemoved {
                list: InputList::Video,
                rtc: false
            })
            .is_err()
        );
        assert!(
            check_transcoder_change(Modified {
                path: "videoInputs[12].region.x"
            })
            .is_ok()
        );
        assert!(
            check_transcoder_change(Modified {
                path: "outputs[0].videoOption"
            })
            .is_ok()
        );
        assert!(
            check_transcoder_change(Modified {
                path: "outputs[0].audioOption.profileType"
            })
            .is_ok()
        );
        let e = check_transcoder_change(Modified {
            path: "canvas.width",
        })
        .unwrap_err();
        assert_eq!(e.field(), Some("canvas.width"));
        assert!(
            check_transcoder_change(Modified {
                path: "outputs[0].rtc.rtcChannel"
            })
            .is_err()
        );
        assert!(
            check_transcoder_change(Modified {
                path: "audioInputs[0].region"
            })
            .is_err()
        );
        assert!(
            check_transcoder_change(Modified {
                path: "outputs[0].videoOptionX"
            })
            .is_err()
        );
    }

    const SEGMENTS: [&str; 12] = [
        "name",
        "idleTimeOut",
        "idleTimeout",
        "transcodeOptions",
        "audioOptions",
        "videoOptions",
        "rtcChannel",
        "codec",
        "codecProfile",
        "canvas",
        "bitrate",
        "rtmpUrl",
    ];

    proptest! {
        #[test]
        fn mask_paths_match_oracle(segs in proptest::collection::vec(0usize..SEGMENTS.len(), 1..4)) {
            let path = segs.iter().map(|i| SEGMENTS[*i]).collect::<Vec<_>>().join(".");
            let norm = |p: &str| p.replace("idleTimeout", "idleTimeOut");
            let np = norm(&path);
            // Oracle: refused iff the path equals, lies below, or lies above an immutable path.
            let touches = MEDIA_PUSH_IMMUTABLE.iter().any(|f| {
                np == *f || np.starts_with(&format!("{f}.")) || f.starts_with(&format!("{np}."))
            });
            let got = check_push_update_path(&path, AV);
            let rejected_by_family = path.starts_with("rawOptions");
            prop_assert_eq!(got.is_err(), touches || rejected_by_family, "{}", path);
        }

        #[test]
        fn transcoder_paths_match_regex_oracle(
            head in prop_oneof![Just("videoInputs"), Just("audioInputs"), Just("outputs"), Just("canvas")],
            idx in 0u32..100,
            field in prop_oneof![Just("region"), Just("audioOption"), Just("videoOption"), Just("rtc"), Just("regionX")],
            tail in prop_oneof![Just(""), Just(".x"), Just(".profileType")],
        ) {
            let path = format!("{head}[{idx}].{field}{tail}");
            let oracle = regex::Regex::new(
                r"^(videoInputs\[\d+\]\.region|outputs\[\d+\]\.(audioOption|videoOption))(\..+)?$",
            ).unwrap();
            let got = check_transcoder_change(TranscoderChange::Modified { path: &path });
            prop_assert_eq!(got.is_ok(), oracle.is_match(&path), "{}", path);
        }
    }
}
