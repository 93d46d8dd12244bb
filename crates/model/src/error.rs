//! The one error type of `agora-rest-model`.

/// Why a value could not be built, validated or read.
///
/// Exists so that the clients can refuse bad input before any request (naming the field and
/// the rule) and the emulator can answer a malformed body with a 400 instead of a panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value breaks a rule of the service; the inner error names the field and the rule.
    #[error(transparent)]
    Invalid(#[from] agora_rest_core::Error),

    /// A body is not the JSON this type expects.
    #[error("cannot read {what}: {reason}")]
    Decode {
        /// What was being read, e.g. `Media Push Get response`.
        what: &'static str,
        /// The parser's explanation (never contains a secret: tokens are redacted types).
        reason: String,
    },
}

impl Error {
    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid(e) => e.field(),
            Error::Decode { .. } => None,
        }
    }

    pub(crate) fn decode(what: &'static str, e: &serde_json::Error) -> Self {
        Error::Decode {
            what,
            reason: e.to_string(),
        }
    }
}

/// Parses `bytes` as `T`, turning a JSON error into [`Error::Decode`] naming `what`.
///
/// Exists so that every response type is read the same way: never a panic, always the type name.
pub fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::decode(what, &e))
}
