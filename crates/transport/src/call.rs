//! The per-request descriptor the transport reads instead of knowing API paths.

use agora_rest_core::operation::Operation;

/// What a request is, attached as an `http::Request` extension by the service crates.
///
/// Exists because the transport knows no paths: the rate limiter keys on the operation (and,
/// for Media Push Update, the converter), the retry layer picks core's classifier and refuses to
/// resend a non-idempotent create, and the trace span is named after the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The operation.
    pub op: Operation,
    /// A path with placeholders for the trace span, e.g. `/{region}/v1/projects/{appId}/rtmp-converters`.
    pub path_template: &'static str,
    /// Whether resending is harmless; defaults to [`Operation::idempotent`].
    pub idempotent: bool,
    /// The converter id, for the per-converter Update rate limit.
    pub converter: Option<String>,
    /// Whether the transport may retry advised statuses itself (default true). A caller that
    /// runs the vendor's procedure on its own (a supervisor counting consecutive failures)
    /// turns it off and gets each failure as it happens.
    pub status_retries: bool,
    /// The latest time an attempt may go out; later attempts fail with
    /// [`Error::SendByPassed`](crate::Error::SendByPassed) without being sent. Cloud
    /// Transcoding's Create uses it for the builder token's 2-second window.
    pub send_by: Option<tokio::time::Instant>,
    /// The call's `X-Request-ID`, chosen once by the request id layer and written on every
    /// attempt by the headers layer. Kept here rather than as a header above the retry layer
    /// so that the copy tower's retry keeps of every request has no header map to copy.
    pub(crate) request_id: Option<crate::layer::request_id::RequestId>,
    /// Which attempt of the call this is (1 for the first; the retry policy counts).
    pub(crate) attempt: u32,
}

impl Call {
    /// A descriptor for `op` with its default idempotency.
    pub fn new(op: Operation, path_template: &'static str) -> Self {
        Call {
            op,
            path_template,
            idempotent: op.idempotent(),
            converter: None,
            status_retries: true,
            send_by: None,
            request_id: None,
            attempt: 1,
        }
    }

    /// The request id chosen for this call, once the client's request id layer has run.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id
            .as_ref()
            .map(crate::layer::request_id::RequestId::as_str)
    }

    /// Names the converter (Media Push Update's per-converter limit).
    pub fn for_converter(mut self, id: impl Into<String>) -> Self {
        self.converter = Some(id.into());
        self
    }

    /// Hands every non-2xx answer back at once, with its advised action, instead of retrying.
    pub fn without_status_retries(mut self) -> Self {
        self.status_retries = false;
        self
    }

    /// Sends no attempt after `deadline` (see [`Call::send_by`]).
    pub fn send_by(mut self, deadline: tokio::time::Instant) -> Self {
        self.send_by = Some(deadline);
        self
    }

    /// Overrides idempotency (e.g. a create the caller has made safe to resend).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
}

/// Percent-encodes a path segment or query value: every byte but RFC 3986's unreserved
/// characters (`A–Z a–z 0–9 - . _ ~`).
///
/// Exists because ids, app ids, channel names and tokens go into the paths the service crates
/// build, and a channel name may hold spaces or `/`; both service crates use this one.
///
/// ```
/// assert_eq!(agora_rest_transport::encode_path_segment("my room/1"), "my%20room%2F1");
/// ```
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads the [`Call`] of a request.
pub(crate) fn call_of<B>(req: &http::Request<B>) -> Result<&Call, crate::Error> {
    req.extensions()
        .get::<Call>()
        .ok_or(crate::Error::MissingCall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Oracle: decoding gives the input back, and only unreserved bytes stay literal.
        #[test]
        fn path_segments_round_trip(s in any::<String>()) {
            let encoded = encode_path_segment(&s);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            let mut decoded = Vec::new();
            let bytes = encoded.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    decoded.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    decoded.push(bytes[i]);
                    i += 1;
                }
            }
            prop_assert_eq!(decoded, s.as_bytes());
        }
    }
}
