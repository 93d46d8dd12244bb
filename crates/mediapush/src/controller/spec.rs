//! A declared converter: what should exist, keyed by its name.

use agora_rest_core::reconcile::ImmutableChange;
use agora_rest_core::region::PathRegion;
use agora_rest_core::update_rules::MEDIA_PUSH_IMMUTABLE;
use agora_rest_model::mediapush::{Converter, ConverterInfo};
use serde::{Deserialize, Serialize};

use crate::Error;

/// A converter the application wants to exist, keyed by its (required) name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverterSpec {
    /// The region to create it in (`na`, `eu`, `ap`, `cn`; read in any case, sent lowercase).
    #[serde(with = "region")]
    pub region: PathRegion,
    /// The converter; its `name` is the key.
    pub converter: Converter,
    /// Create it again after it ended by idle timeout (default false).
    #[serde(default)]
    pub recreate_after_idle: bool,
    /// What a change of a field fixed at creation does (default: refused, reported).
    #[serde(default, with = "immutable_policy")]
    pub immutable_change: ImmutableChange,
    /// The CDN's priority query field (e.g. `priority`), if it has one: each converter of this
    /// key pushes with `field=N`, N rising with every re-create, so the CDN prefers the newest
    /// stream and ignores the failed one (the Media Push guide's "priority" advice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_field: Option<String>,
}

mod region {
    use agora_rest_core::region::PathRegion;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(r: &PathRegion, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(r)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathRegion, D::Error> {
        String::deserialize(d)?
            .to_ascii_lowercase()
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

mod immutable_policy {
    use agora_rest_core::reconcile::ImmutableChange;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(p: &ImmutableChange, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match p {
            ImmutableChange::Refuse => "refuse",
            ImmutableChange::Recreate => "recreate",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<ImmutableChange, D::Error> {
        match String::deserialize(d)?.as_str() {
            "refuse" => Ok(ImmutableChange::Refuse),
            "recreate" => Ok(ImmutableChange::Recreate),
            other => Err(serde::de::Error::custom(format!(
                "immutableChange must be refuse or recreate, not {other:?}"
            ))),
        }
    }
}

impl ConverterSpec {
    /// A spec for `converter` in `region`, validated (a name is required: it is the key).
    pub fn new(region: PathRegion, mut converter: Converter) -> Result<Self, Error> {
        converter.normalize();
        converter.validate_create()?;
        if converter.name.as_deref().is_none_or(str::is_empty) {
            return Err(Error::NameRequired);
        }
        Ok(ConverterSpec {
            region,
            converter,
            recreate_after_idle: false,
            immutable_change: ImmutableChange::Refuse,
            priority_field: None,
        })
    }

    /// Pushes with a rising CDN priority (`field=1`, then 2, … on each re-create).
    pub fn priority_field(mut self, field: impl Into<String>) -> Self {
        self.priority_field = Some(field.into());
        self
    }

    /// Checks the priority field: a query key of letters, digits, `_` or `-`, and a URL that
    /// still fits the rtmpUrl limit with any count in it.
    pub(crate) fn validate_priority(&self) -> Result<(), Error> {
        let Some(field) = &self.priority_field else {
            return Ok(());
        };
        if field.is_empty()
            || field.len() > 32
            || !field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(agora_rest_core::Error::InvalidValue {
                field: "spec.priorityField".into(),
                value: field.clone(),
                rule: "1 to 32 letters, digits, `_` or `-`",
            }
            .into());
        }
        self.converter_for(u64::MAX).validate_create()?;
        Ok(())
    }

    /// The priority a running converter's `url` carries in this spec's priority field.
    pub(crate) fn priority_in(&self, url: &str) -> Option<u64> {
        let field = self.priority_field.as_deref()?;
        url.split_once('?')?
            .1
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == field)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// The converter the `incarnation`-th resource of this key is created or updated with: the
    /// spec's, with the priority field set when the spec has one.
    pub fn converter_for(&self, incarnation: u64) -> Converter {
        let mut c = self.converter.clone();
        if let (Some(field), Some(url)) = (&self.priority_field, &c.rtmp_url) {
            c.rtmp_url = Some(with_priority(url, field, incarnation.max(1)));
        }
        c
    }

    /// Creates it again after an idle-timeout end.
    pub fn recreate_after_idle(mut self, on: bool) -> Self {
        self.recreate_after_idle = on;
        self
    }

    /// Sets what a change of a field fixed at creation does.
    pub fn on_immutable_change(mut self, policy: ImmutableChange) -> Self {
        self.immutable_change = policy;
        self
    }

    /// The key: the converter's name.
    pub fn key(&self) -> &str {
        self.converter.name.as_deref().unwrap_or_default()
    }

    /// The channel.
    pub fn channel(&self) -> &str {
        self.converter.rtc_channel().unwrap_or_default()
    }

    /// Whether a running converter differs from this spec in a field fixed at creation.
    pub fn immutable_differs(&self, running: &ConverterInfo) -> bool {
        let want = serde_json::to_value(&self.converter).unwrap_or_default();
        let have = serde_json::to_value(Converter {
            name: running.name.clone(),
            transcode_options: running.transcode_options.clone(),
            raw_options: running.raw_options.clone(),
            rtmp_url: running.rtmp_url.clone(),
            idle_timeout: running.idle_timeout,
            ..Converter::default()
        })
        .unwrap_or_default();
        MEDIA_PUSH_IMMUTABLE.iter().any(|path| {
            // `idleTimeOut` is written `idleTimeout` by Get; an absent value is the default.
            if path.eq_ignore_ascii_case("idleTimeOut") {
                return false;
            }
            let get = |v: &serde_json::Value| path.split('.').try_fold(v, |v, k| v.get(k)).cloned();
            match (get(&want), get(&have)) {
                (Some(w), Some(h)) => w != h,
                _ => false,
            }
        })
    }

    /// The paths an update of a running converter sends: every updatable field the spec sets.
    pub(crate) fn update_paths(&self) -> Vec<&'static str> {
        const PATHS: [&str; 6] = [
            "rtmpUrl",
            "transcodeOptions.videoOptions.canvas",
            "transcodeOptions.videoOptions.layout",
            "transcodeOptions.videoOptions.bitrate",
            "transcodeOptions.audioOptions.rtcStreamUids",
            "transcodeOptions.audioOptions.volumes",
        ];
        let v = serde_json::to_value(&self.converter).unwrap_or_default();
        let vertical = self
            .converter
            .transcode_options
            .as_ref()
            .and_then(|t| t.video_options.as_ref())
            .and_then(|v| v.layout_type)
            == Some(1);
        PATHS
            .into_iter()
            .filter(|p| !vertical || *p == "rtmpUrl")
            .filter(|p| {
                p.split('.')
                    .try_fold(&v, |v, k| v.get(k))
                    .is_some_and(|x| !x.is_null())
            })
            .collect()
    }
}

/// `url` with the query field `field` set to `n` (any earlier value of it removed).
fn with_priority(url: &str, field: &str, n: u64) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(field))
        .collect();
    let set = format!("{field}={n}");
    parts.push(&set);
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::with_priority;

    #[test]
    fn priority_urls() {
        assert_eq!(
            with_priority("rtmp://h/live/x", "priority", 1),
            "rtmp://h/live/x?priority=1"
        );
        assert_eq!(
            with_priority("rtmp://h/live/x?priority=1&k=v", "priority", 2),
            "rtmp://h/live/x?k=v&priority=2"
        );
    }
}
