//! One error type over every layer.

/// Any error of the layers, so that one `?` works across both clients, the controllers and
/// the emulator; the helpers answer the same questions whatever the layer.
///
/// The layer's own error is kept whole (match on it for details); `Display` is the layer's
/// text, which names the operation, status, vendor message, request id and resource id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value broke a rule of a service (checked before any request).
    #[error(transparent)]
    Invalid(#[from] agora_rest_core::Error),
    /// A body could not be built, validated or read.
    #[error(transparent)]
    Model(#[from] agora_rest_model::Error),
    /// The client stack: configuration, a status, the network, a limit, a store.
    #[error(transparent)]
    Transport(#[from] agora_rest_transport::Error),
    /// The Media Push client.
    #[cfg(feature = "mediapush")]
    #[error(transparent)]
    MediaPush(#[from] agora_rest_mediapush::Error),
    /// The Cloud Transcoding client.
    #[cfg(feature = "transcoder")]
    #[error(transparent)]
    Transcoder(#[from] agora_rest_transcoder::Error),
    /// The emulator could not start.
    #[cfg(feature = "emulator")]
    #[error(transparent)]
    Emulator(#[from] agora_rest_emulator::Error),
}

impl Error {
    /// The HTTP status the service answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Transport(e) => e.status(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.status(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.status(),
            _ => None,
        }
    }

    /// The `X-Request-ID` of the failed call, to quote to the vendor's support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => e.request_id(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.request_id(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.request_id(),
            _ => None,
        }
    }

    /// The converter or task id the call was about, if known.
    pub fn resource_id(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => e.resource_id(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.resource_id(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.resource_id(),
            _ => None,
        }
    }

    /// True when the resource does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_not_found(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.is_not_found(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.is_not_found(),
            _ => false,
        }
    }

    /// True when a rate limit refused the call (locally or with a 429).
    pub fn is_throttled(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_throttled(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.is_throttled(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.is_throttled(),
            _ => false,
        }
    }

    /// True when a concurrency cap (streams per region and tier) refused the call.
    pub fn is_quota_exceeded(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_quota_exceeded(),
            #[cfg(feature = "mediapush")]
            Error::MediaPush(e) => e.is_quota_exceeded(),
            #[cfg(feature = "transcoder")]
            Error::Transcoder(e) => e.is_quota_exceeded(),
            _ => false,
        }
    }

    /// True for input refused before any request was sent.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            Error::Invalid(_) | Error::Model(agora_rest_model::Error::Invalid(_)) => true,
            #[cfg(feature = "mediapush")]
            Error::MediaPush(agora_rest_mediapush::Error::Invalid(
                agora_rest_model::Error::Invalid(_),
            )) => true,
            #[cfg(feature = "transcoder")]
            Error::Transcoder(agora_rest_transcoder::Error::Invalid(
                agora_rest_model::Error::Invalid(_),
            )) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_reach_through_every_layer() {
        let invalid: Error = "xx"
            .parse::<agora_rest_core::region::PathRegion>()
            .unwrap_err()
            .into();
        assert!(invalid.is_invalid_input());
        assert_eq!(invalid.status(), None);
        assert!(invalid.to_string().contains("region"));
        let config: Error = agora_rest_transport::Error::Config {
            field: "AGORA_APP_ID",
            rule: "is not set".into(),
        }
        .into();
        assert!(!config.is_invalid_input());
        assert!(config.to_string().contains("AGORA_APP_ID"));
    }
}
