//! JSON the service echoes back that may hold credentials, redacted whenever it is shown.
//!
//! Exists because Cloud Transcoding echoes the whole request config in Query, Delete and
//! notifications (`services.cloudTranscoder.config`, `transcoder.userConfigDetail`), RTC tokens
//! included. Typing every echo would tie the client to undocumented shapes; instead the echo is
//! kept as JSON in this wrapper, whose `Debug` replaces every token with `<redacted>`, so that
//! logging a task never shows one. `Serialize` writes the value as received (it is wire data:
//! the emulator sends it, a store may keep it); anything that *prints* serialized data passes it
//! through [`redact_value`] first, as the CLI does. The raw value stays reachable through
//! [`EchoedJson::expose`] for code that must resume a task.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

/// Echoed JSON whose token fields are hidden in `Debug`.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct EchoedJson(serde_json::Value);

impl EchoedJson {
    /// Wraps a value.
    pub fn new(value: serde_json::Value) -> Self {
        EchoedJson(value)
    }

    /// The value as the service sent it, tokens included: for resuming a task, never for
    /// printing.
    pub fn expose(&self) -> &serde_json::Value {
        &self.0
    }

    /// A copy with every token replaced by [`REDACTED`].
    pub fn redacted(&self) -> serde_json::Value {
        redact_value(&self.0)
    }

    /// Whether the echo is empty (`null` or `{}`, as the docs' example shows).
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            serde_json::Value::Null => true,
            serde_json::Value::Object(m) => m.is_empty(),
            _ => false,
        }
    }
}

impl fmt::Debug for EchoedJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EchoedJson({})", self.redacted())
    }
}

impl Serialize for EchoedJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Whether an object key names a credential (`rtcToken`, `token`, `tokenName`, `builderToken`,
/// `secret`, `password`), in any case.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("token") || k.contains("secret") || k.contains("password")
}

/// `value` with every credential replaced by [`REDACTED`]: values under secret keys, and JSON
/// held in strings (`userConfigDetail` is a JSON document in a string) redacted the same way.
pub fn redact_value(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && !v.is_null() {
                        Value::String(REDACTED.to_string())
                    } else {
                        redact_value(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_value).collect()),
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            match serde_json::from_str::<Value>(s) {
                Ok(inner) => Value::String(redact_value(&inner).to_string()),
                Err(_) => value.clone(),
            }
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_hidden_in_debug_and_redacted_output_but_kept_for_resuming() {
        let raw = serde_json::json!({
            "transcoder": {
                "audioInputs": [{"rtc": {"rtcChannel": "c", "rtcUid": 0, "rtcToken": "tok-in-SECRET"}}],
                "outputs": [{"rtc": {"rtcChannel": "c", "rtcUid": 7, "rtcToken": "tok-out-SECRET"}}]
            },
            "userConfigDetail": "{\"outputs\":[{\"rtc\":{\"rtcToken\":\"tok-str-SECRET\"}}]}"
        });
        let e = EchoedJson::new(raw.clone());
        let printed = redact_value(&serde_json::to_value(&e).unwrap()).to_string();
        let shown = [format!("{e:?}"), printed];
        for s in &shown {
            assert!(!s.contains("SECRET"), "{s}");
            assert!(s.contains("rtcUid") && s.contains(REDACTED), "{s}");
        }
        assert_eq!(e.expose(), &raw);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            raw,
            "wire data is kept as received"
        );
        assert!(EchoedJson::default().is_empty());
    }
}
