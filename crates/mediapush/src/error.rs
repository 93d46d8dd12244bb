//! The one error type of `agora-rest-mediapush`.

/// Why a Media Push call failed.
///
/// Exists so that an application can tell "fix your input" (nothing was sent) from "the
/// service refused" from "the network failed", and act on a taken name without parsing text.
/// Display includes the request id wherever the service was reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field breaks a rule of the service; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] agora_rest_model::Error),

    /// A create without a name: refused by default, because a retried nameless create cannot
    /// be told apart from a new one (it could start a second stream).
    #[error(
        "converter.name is required: without a name a retried create may start a second stream (name every converter, or build the client with allow_nameless())"
    )]
    NameRequired,

    /// Another converter of the project already has this name (a 409 on our first attempt).
    #[error("a converter named {name:?} already exists{}", existing_id.as_ref().map(|i| format!(" (id {i})")).unwrap_or_default())]
    NameTaken {
        /// The name.
        name: String,
        /// Its converter id, when List found it.
        existing_id: Option<String>,
    },

    /// The client does not know which region a converter was created in.
    #[error(
        "converter {id} is unknown to this client: Update, Get and Delete must use the creation region; call MediaPush::adopt (or locate) first"
    )]
    UnknownConverter {
        /// The converter id.
        id: String,
    },

    /// A List kept answering: the same cursor came back, or more pages than the configured
    /// limit ([`MediaPush::with_max_list_pages`](crate::MediaPush::with_max_list_pages)). Nothing more is
    /// requested.
    #[error("List stopped after {pages} pages: {why}")]
    ListUnbounded {
        /// Pages read.
        pages: usize,
        /// What happened.
        why: String,
    },

    /// The transport failed or the service refused; see the inner error for status, request id
    /// and advised action.
    #[error(transparent)]
    Transport(#[from] agora_rest_transport::Error),
}

impl Error {
    /// The request id of the failed call, if the service was reached.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => e.request_id(),
            _ => None,
        }
    }

    /// The HTTP status of the service's answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Transport(e) => e.status(),
            _ => None,
        }
    }

    /// The `X-Resource-ID` (converter id) of the service's last answer, or the converter
    /// that holds a taken name.
    pub fn resource_id(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => e.resource_id(),
            Error::NameTaken { existing_id, .. } => existing_id.as_deref(),
            Error::UnknownConverter { id } => Some(id),
            _ => None,
        }
    }

    /// Whether the service said the converter does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_not_found())
    }

    /// Whether the request rate held the call back (waiting helps).
    pub fn is_throttled(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_throttled())
    }

    /// Whether a concurrency cap is full: the service's quota 429, or the local ledger's
    /// refusal (ending a stream helps, waiting does not).
    pub fn is_quota_exceeded(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_quota_exceeded(),
            Error::Invalid(agora_rest_model::Error::Invalid(
                agora_rest_core::Error::QuotaExceeded { .. },
            )) => true,
            _ => false,
        }
    }
}

impl From<agora_rest_core::Error> for Error {
    fn from(e: agora_rest_core::Error) -> Self {
        Error::Invalid(agora_rest_model::Error::Invalid(e))
    }
}
