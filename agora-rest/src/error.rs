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

/// A helper that every layer with service answers has under the same name: asked of the
/// layer's own error, a default otherwise.
macro_rules! per_layer {
    ($(#[$doc:meta])* $name:ident -> $ty:ty, otherwise $default:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> $ty {
            match self {
                Error::Transport(e) => e.$name(),
                #[cfg(feature = "mediapush")]
                Error::MediaPush(e) => e.$name(),
                #[cfg(feature = "transcoder")]
                Error::Transcoder(e) => e.$name(),
                _ => $default,
            }
        }
    };
}

impl Error {
    per_layer!(
        /// The HTTP status the service answered, if it answered.
        status -> Option<u16>, otherwise None
    );
    per_layer!(
        /// The `X-Request-ID` of the failed call, to quote to the vendor's support.
        request_id -> Option<&str>, otherwise None
    );
    per_layer!(
        /// The converter or task id the call was about, if known.
        resource_id -> Option<&str>, otherwise None
    );
    per_layer!(
        /// True when the resource does not exist (any more).
        is_not_found -> bool, otherwise false
    );
    per_layer!(
        /// True when a rate limit refused the call (locally or with a 429).
        is_throttled -> bool, otherwise false
    );
    per_layer!(
        /// True when a concurrency cap (streams per region and tier) refused the call.
        is_quota_exceeded -> bool, otherwise false
    );

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

    /// The helpers read a service's answer through the facade (a 404 after the guide's
    /// confirmation schedule, on the paused clock).
    #[cfg(all(feature = "mediapush", feature = "emulator"))]
    #[tokio::test(start_paused = true)]
    async fn a_service_answer_is_read_through_the_facade() {
        use crate::prelude::*;
        tokio::time::timeout(std::time::Duration::from_secs(3600), async {
            let emulator = Emulator::builder().build();
            let config = Config::new("app", Credentials::new("cid", "csecret").unwrap());
            let client = Client::builder(config)
                .with_service(emulator.service())
                .build()
                .unwrap();
            let push = MediaPush::new(client);
            push.locate("nope", PathRegion::Na).unwrap();
            let e: Error = push.get("nope").await.unwrap_err().into();
            assert_eq!(e.status(), Some(404), "{e}");
            assert!(e.is_not_found() && !e.is_throttled() && !e.is_quota_exceeded());
            assert!(e.request_id().is_some_and(|id| !id.is_empty()), "{e}");
            assert!(!e.is_invalid_input());
        })
        .await
        .expect("bounded");
    }
}
