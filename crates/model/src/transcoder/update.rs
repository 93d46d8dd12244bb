//! Cloud Transcoding Update: which changes between two configs take effect (docs/vendor-rules.md).

use agora_rest_core::update_rules::{InputList, TranscoderChange, check_transcoder_change};
use serde_json::Value;

use super::config::TranscoderConfig;
use crate::error::Error;

/// One difference between a running config and its update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// An input appeared.
    InputAdded {
        /// Which list.
        list: InputList,
        /// Whether it is an RTC input.
        rtc: bool,
    },
    /// An input went away.
    InputRemoved {
        /// Which list.
        list: InputList,
        /// Whether it is an RTC input.
        rtc: bool,
    },
    /// A value changed at this path (relative to `transcoder`).
    Modified(String),
}

impl ConfigChange {
    /// Core's view of the change, for its update rule.
    pub fn as_core(&self) -> TranscoderChange<'_> {
        match self {
            ConfigChange::InputAdded { list, rtc } => TranscoderChange::InputAdded {
                list: *list,
                rtc: *rtc,
            },
            ConfigChange::InputRemoved { list, rtc } => TranscoderChange::InputRemoved {
                list: *list,
                rtc: *rtc,
            },
            ConfigChange::Modified(path) => TranscoderChange::Modified { path },
        }
    }
}

/// Inputs are matched by identity (RTC channel + UID, or stream URL), not by position, so that
/// removing the first input reads as one removal rather than as every later input changing.
fn identity(item: &Value) -> String {
    match (item.get("rtc"), item.get("streamUrl")) {
        (Some(rtc), _) => format!("rtc:{}:{}", rtc["rtcChannel"], rtc["rtcUid"]),
        (None, Some(url)) => format!("url:{url}"),
        _ => item.to_string(),
    }
}

/// Emits one `Modified` per differing top-level key of two objects.
fn diff_keys(prefix: &str, old: &Value, new: &Value, skip: &[&str], out: &mut Vec<ConfigChange>) {
    let empty = serde_json::Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if skip.contains(&k.as_str()) {
            continue;
        }
        if o.get(k) != n.get(k) {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push(ConfigChange::Modified(path));
        }
    }
}

fn diff_inputs(list: InputList, old: &Value, new: &Value, out: &mut Vec<ConfigChange>) {
    let empty = Vec::new();
    let old = old.as_array().unwrap_or(&empty);
    let new = new.as_array().unwrap_or(&empty);
    let mut unmatched: Vec<(usize, &Value)> = old.iter().enumerate().collect();
    for (j, item) in new.iter().enumerate() {
        let id = identity(item);
        match unmatched.iter().position(|(_, o)| identity(o) == id) {
            Some(pos) => {
                let (_, before) = unmatched.remove(pos);
                diff_keys(&format!("{}[{j}]", list.as_str()), before, item, &[], out);
            }
            None => out.push(ConfigChange::InputAdded {
                list,
                rtc: item.get("rtc").is_some(),
            }),
        }
    }
    for (_, gone) in unmatched {
        out.push(ConfigChange::InputRemoved {
            list,
            rtc: gone.get("rtc").is_some(),
        });
    }
}

impl TranscoderConfig {
    /// Every difference from `self` (running) to `new` (the update).
    pub fn changes_to(&self, new: &TranscoderConfig) -> Vec<ConfigChange> {
        let (old, new) = (
            serde_json::to_value(self).unwrap_or_default(),
            serde_json::to_value(new).unwrap_or_default(),
        );
        let mut out = Vec::new();
        diff_keys(
            "",
            &old,
            &new,
            &["audioInputs", "videoInputs", "outputs"],
            &mut out,
        );
        diff_inputs(
            InputList::Audio,
            &old["audioInputs"],
            &new["audioInputs"],
            &mut out,
        );
        diff_inputs(
            InputList::Video,
            &old["videoInputs"],
            &new["videoInputs"],
            &mut out,
        );
        let (oo, no) = (&old["outputs"], &new["outputs"]);
        let (ol, nl) = (
            oo.as_array().map_or(0, Vec::len),
            no.as_array().map_or(0, Vec::len),
        );
        if ol == nl {
            for i in 0..nl {
                diff_keys(&format!("outputs[{i}]"), &oo[i], &no[i], &[], &mut out);
            }
        } else {
            out.push(ConfigChange::Modified("outputs".to_string()));
        }
        out
    }

    /// Checks that `new` is a valid config and that every change from `self` is one the
    /// service applies; the first change it would not apply is the error.
    pub fn validate_update_to(&self, new: &TranscoderConfig) -> Result<(), Error> {
        new.validate()?;
        for change in self.changes_to(new) {
            check_transcoder_change(change.as_core())?;
        }
        Ok(())
    }
}
