//! The wire vocabulary of Agora's Media Push and Cloud Transcoding REST services.
//!
//! Serde types for every request and response, builders that make only valid values, and a
//! `validate()` on every request type: one set of rules used by the clients before they send
//! and by the emulator when it receives (docs/vendor-rules.md). Reading is tolerant where the
//! vendor's docs disagree (numbers as strings, both spellings of `idleTimeOut` and
//! `waterMarks`, unknown enum values kept); writing is exact. No I/O, no runtime.
//!
//! ```
//! use agora_rest_model::mediapush::GetConverterResponse;
//!
//! // Both documented Get shapes read the same.
//! let top: GetConverterResponse = serde_json::from_str(r#"{"state":"running","idleTimeout":"300"}"#)?;
//! let wrapped: GetConverterResponse =
//!     serde_json::from_str(r#"{"converter":{"state":"running","idleTimeOut":300}}"#)?;
//! assert_eq!(top.converter, wrapped.converter);
//! # Ok::<(), serde_json::Error>(())
//! ```

mod url;
mod wire;

pub mod echoed;
pub mod error;
pub mod error_body;
pub mod limits;
pub mod mediapush;
pub mod ncs;
pub mod secret;
pub mod transcoder;

pub use echoed::EchoedJson;
pub use error::Error;
pub use error_body::ErrorBody;
pub use secret::{BuilderToken, RtcToken};
