//! Tokens that travel on the wire but must never be printed.
//!
//! RTC tokens (in Cloud Transcoding inputs and outputs) and builder tokens are credentials. They
//! must be serialised into request bodies and URLs, which `secrecy`'s types deliberately make
//! awkward, so these small newtypes serialise transparently while their `Debug` and `Display`
//! print a placeholder. Tests assert that no token text escapes through formatting.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a token.
            pub fn new(token: impl Into<String>) -> Self {
                $name(token.into())
            }

            /// The token text, for putting on the wire. Do not log it.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Whether the token is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

secret_string!(
    /// An RTC token for joining a channel (docs/vendor-rules.md `rtcToken`).
    RtcToken
);
secret_string!(
    /// A Cloud Transcoding builder token (docs/vendor-rules.md `tokenName`).
    BuilderToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print() {
        let t = RtcToken::new("007eJxTYPhz");
        assert_eq!(format!("{t:?}"), "RtcToken(<redacted>)");
        assert_eq!(format!("{t}"), "<redacted>");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"007eJxTYPhz\"");
        let b: BuilderToken = serde_json::from_str("\"xUwU\"").unwrap();
        assert!(!format!("{b:?}{b}").contains("xUwU"));
        assert_eq!(b.expose(), "xUwU");
    }
}
