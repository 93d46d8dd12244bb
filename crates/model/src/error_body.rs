//! The documented error bodies of both services.

use serde::{Deserialize, Serialize};

/// An error response body: `{"message": …}`, `{"reason": …}` or `{"code": 65, "reason": …}`.
///
/// Exists because the vendor uses both keys (docs/vendor-rules.md: the docs say `message`, the Get
/// example and a real ticket say `reason`; the status-code table: `code` 65 comes with Cloud Recording-style
/// bodies), and a client must read all of them to classify and report an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The text under `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The text under `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A numeric error code, e.g. 65 ("network jitter, retry").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
}

impl ErrorBody {
    /// A body with `message`, as the gateway and most endpoints write it.
    pub fn message(text: impl Into<String>) -> Self {
        ErrorBody {
            message: Some(text.into()),
            ..Self::default()
        }
    }

    /// A body with `reason`, as the Media Push Get example writes it.
    pub fn reason(text: impl Into<String>) -> Self {
        ErrorBody {
            reason: Some(text.into()),
            ..Self::default()
        }
    }

    /// The human text, from `message` or else `reason`.
    pub fn text(&self) -> Option<&str> {
        self.message.as_deref().or(self.reason.as_deref())
    }

    /// Reads an error body leniently: anything that is not such a JSON object (an HTML error
    /// page, a truncated body) becomes an empty body rather than an error, because the HTTP
    /// status alone still classifies the response.
    /// A `code` given as a numeric string is read as a number.
    pub fn parse_lenient(bytes: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(bytes) else {
            return ErrorBody::default();
        };
        let text = |k: &str| map.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let code = map.get("code").and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        });
        ErrorBody {
            message: text("message"),
            reason: text("reason"),
            code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_keys_and_code() {
        let b = ErrorBody::parse_lenient(br#"{"reason":"Resource is not found and destroyed."}"#);
        assert_eq!(b.text(), Some("Resource is not found and destroyed."));
        let b = ErrorBody::parse_lenient(br#"{"code":65,"reason":"network jitter"}"#);
        assert_eq!(b.code, Some(65));
        let b = ErrorBody::parse_lenient(b"<html>502 Bad Gateway</html>");
        assert_eq!(b, ErrorBody::default());
        let b = ErrorBody::parse_lenient(br#"{"message":"x","code":"65"}"#);
        assert_eq!((b.text(), b.code), (Some("x"), Some(65)));
        assert_eq!(ErrorBody::parse_lenient(b"[1,2]"), ErrorBody::default());
    }
}
