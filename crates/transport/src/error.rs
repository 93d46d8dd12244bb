//! The one error type of `agora-rest-transport`.

use std::time::Duration;

use agora_rest_core::classify::{Action, Exhausted};
use agora_rest_core::failover::FailureKind;
use agora_rest_core::operation::Operation;

/// A boxed error from an inner service or a dependency.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call failed.
///
/// Exists so that the service crates and users can act on a failure without parsing text: the
/// HTTP status and the vendor's error code, the action core's classifier advises, and whether a
/// request may have reached the service. Every variant carries the request id where there is
/// one, and `Display` prints it, because the vendor's support asks for it. No variant carries a
/// credential or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with a status other than 2xx, and no retry is advised or left.
    #[error("{0}")]
    Status(Box<StatusError>),

    /// A retry schedule (or the call's bound on attempts or time) ran out; `then` is what the
    /// guide concludes (e.g. the task failed). Display shows the last answer in full.
    #[error("{last}; gave up after {attempts} attempts: {}", conclusion(*then))]
    RetriesExhausted {
        /// The operation.
        op: Operation,
        /// Attempts made.
        attempts: u32,
        /// The guide's conclusion.
        then: Exhausted,
        /// The request id.
        request_id: Option<String>,
        /// The last failure.
        #[source]
        last: Box<Error>,
    },

    /// The retry budget is empty (an outage): the call failed fast with its last error.
    #[error("{last}; not retried: the client's retry budget is exhausted")]
    RetryBudgetExhausted {
        /// The operation.
        op: Operation,
        /// The request id.
        request_id: Option<String>,
        /// The failure that was not retried.
        #[source]
        last: Box<Error>,
    },

    /// An attempt took longer than the per-attempt timeout; the request may have been
    /// processed.
    #[error(
        "{op}: no answer from {host} within {after:?} (request id {})",
        fmt_id(request_id)
    )]
    Timeout {
        /// The operation.
        op: Operation,
        /// The host tried.
        host: String,
        /// The timeout.
        after: Duration,
        /// The request id.
        request_id: Option<String>,
    },

    /// The whole call (all attempts) took longer than its deadline.
    #[error(
        "{op}: not done within the call deadline of {after:?} (request id {})",
        fmt_id(request_id)
    )]
    Deadline {
        /// The operation.
        op: Operation,
        /// The deadline.
        after: Duration,
        /// The request id.
        request_id: Option<String>,
    },

    /// No connection could be made: the request was not sent.
    #[error("{op}: cannot connect to {host} (request id {})", fmt_id(request_id))]
    Connect {
        /// The operation.
        op: Operation,
        /// The host tried.
        host: String,
        /// The request id.
        request_id: Option<String>,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },

    /// The host name did not resolve: the request was not sent.
    #[error("{op}: cannot resolve {host} (request id {})", fmt_id(request_id))]
    Dns {
        /// The operation.
        op: Operation,
        /// The host.
        host: String,
        /// The request id.
        request_id: Option<String>,
        /// The resolver's failure.
        #[source]
        source: BoxError,
    },

    /// The connection failed after the request may have been sent.
    #[error(
        "{op}: connection to {host} failed mid-request (request id {})",
        fmt_id(request_id)
    )]
    Network {
        /// The operation.
        op: Operation,
        /// The host.
        host: String,
        /// The request id.
        request_id: Option<String>,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },

    /// Waiting for a rate-limit permit would take longer than allowed.
    #[error("{op}: rate limit wait of {needed:?} exceeds the maximum {max:?}")]
    RateLimitWait {
        /// The operation.
        op: Operation,
        /// How long a permit would take.
        needed: Duration,
        /// The configured maximum wait.
        max: Duration,
    },

    /// The shared rate limiter (or another shared store) cannot be reached and the client is
    /// configured to fail closed.
    #[error("{op}: the shared rate limiter is unreachable ({reason}); not sent")]
    RateLimiterUnavailable {
        /// The operation.
        op: Operation,
        /// Why, for people.
        reason: String,
    },

    /// A shared store (Redis) could not be read or written.
    #[error("{what}: the shared store failed: {reason}")]
    Store {
        /// What was being done, e.g. `lease acquire`.
        what: &'static str,
        /// Why, for people (never a password: URLs are redacted).
        reason: String,
    },

    /// A 2xx response body could not be decoded. The service did answer with success, so the
    /// request was applied: a create that gets this must confirm, never create again.
    #[error(
        "{what}: HTTP {status} but the body cannot be decoded: {} ({})",
        crate::redact::server_text(reason),
        fmt_ids(request_id, resource_id)
    )]
    Decode {
        /// What was being decoded.
        what: String,
        /// The HTTP status of the answer.
        status: u16,
        /// Why.
        reason: String,
        /// The request id.
        request_id: Option<String>,
        /// The `X-Resource-ID` of the answer (a created converter's id).
        resource_id: Option<String>,
    },

    /// The call's send-by time (e.g. a builder token's 2-second window) passed before an
    /// attempt could go out: nothing was sent on that attempt.
    #[error(
        "{op}: not sent: its send-by time passed (request id {})",
        fmt_id(request_id)
    )]
    SendByPassed {
        /// The operation.
        op: Operation,
        /// The request id.
        request_id: Option<String>,
    },

    /// Plain HTTP was configured for a host that is not loopback.
    #[error("refusing plain http:// to {url}: only loopback (the emulator) may use it")]
    InsecureEndpoint {
        /// The refused URL.
        url: String,
    },

    /// The configuration is invalid.
    #[error("invalid configuration: {field}: {rule}")]
    Config {
        /// The setting.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },

    /// A request was handed to the client without the [`Call`](crate::Call) descriptor.
    #[error(
        "the request has no agora_rest_transport::Call extension: the client needs the operation"
    )]
    MissingCall,

    /// The innermost service said it cannot take requests (its `poll_ready` failed): nothing
    /// was sent. The built-in connection, the mock and the emulator never do this; a custom
    /// service may.
    #[error("the inner service cannot take requests")]
    NotReady {
        /// Why.
        #[source]
        source: BoxError,
    },

    /// A local policy refused the call (a quota, a sequence, a name rule), before any request.
    #[error(transparent)]
    Policy(#[from] agora_rest_core::Error),

    /// The inner service failed in a way the transport does not classify.
    #[error("{op}: transport failure (request id {})", fmt_id(request_id))]
    Other {
        /// The operation.
        op: Operation,
        /// The request id.
        request_id: Option<String>,
        /// The failure.
        #[source]
        source: BoxError,
    },
}

/// A non-2xx answer: what the service said and what core's classifier advises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    /// The operation.
    pub op: Operation,
    /// The HTTP status.
    pub status: u16,
    /// The text under `message` or `reason`.
    pub message: Option<String>,
    /// The vendor's error code, e.g. 65.
    pub code: Option<i64>,
    /// The `X-Request-ID` (ours, or the response's).
    pub request_id: Option<String>,
    /// The `X-Resource-ID` of the response, if any (the converter id on Media Push).
    pub resource_id: Option<String>,
    /// What core's classifier advises.
    pub action: Action,
    /// The raw error body (at most 4 KiB), for fields the typed ones do not cover (a Cloud
    /// Transcoding 409 may name the running task).
    pub body: bytes::Bytes,
}

impl StatusError {
    /// The typed error of an answer of `op` that is not a plain success: its status, the
    /// error body's text and code (`body`, already parsed by the caller), the ids, the advised
    /// action, and at most 4 KiB of the raw body. `request_id` is ours when we chose one; the
    /// answer's `X-Request-ID` otherwise.
    pub fn of_answer(
        op: Operation,
        resp: &http::Response<bytes::Bytes>,
        body: &agora_rest_model::ErrorBody,
        action: Action,
        request_id: Option<String>,
    ) -> Self {
        let ids = crate::ResponseIds::of(resp);
        StatusError {
            op,
            status: resp.status().as_u16(),
            message: body.text().map(str::to_string),
            code: body.code,
            request_id: request_id.or(ids.request_id),
            resource_id: ids.resource_id,
            action,
            body: resp.body().slice(..resp.body().len().min(4096)),
        }
    }
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: HTTP {}{}{} ({})",
            self.op,
            self.status,
            fmt_message(&self.message),
            fmt_code(self.code),
            fmt_ids(&self.request_id, &self.resource_id)
        )
    }
}

fn fmt_message(m: &Option<String>) -> String {
    m.as_ref()
        .map(|m| format!(" \"{}\"", crate::redact::server_text(m)))
        .unwrap_or_default()
}

fn fmt_ids(request_id: &Option<String>, resource_id: &Option<String>) -> String {
    let mut s = format!("request id {}", fmt_id(request_id));
    if let Some(r) = resource_id {
        s.push_str(", resource id ");
        s.push_str(&crate::redact::server_text(r));
    }
    s
}

/// The guide's conclusion in words, for `RetriesExhausted`.
fn conclusion(then: Exhausted) -> &'static str {
    match then {
        Exhausted::TaskFailed => {
            "three 404/5xx in a row: the task failed (check the CDN URL, then delete and re-create it)"
        }
        Exhausted::NewUidAndAcquire => "create again with the backup UID and a new builder token",
        Exhausted::Gone => "the resource is gone",
        Exhausted::GiveUp => "giving up",
    }
}

fn fmt_code(c: Option<i64>) -> String {
    c.map(|c| format!(" code {c}")).unwrap_or_default()
}

fn fmt_id(id: &Option<String>) -> &str {
    id.as_deref().unwrap_or("none")
}

impl Error {
    /// Names the host an attempt went to, on an error made below the failover layer (which
    /// alone knows the host, so the layers below need not copy it for every request).
    pub(crate) fn fill_host(&mut self, name: &str) {
        match self {
            Error::Timeout { host, .. }
            | Error::Connect { host, .. }
            | Error::Dns { host, .. }
            | Error::Network { host, .. }
                if host.is_empty() =>
            {
                name.clone_into(host);
            }
            _ => {}
        }
    }

    /// Sets the request id where the error has none yet: errors are made without it below the
    /// request id layer, which fills it in on the way out.
    pub(crate) fn fill_request_id(&mut self, id: &str) {
        let slot = match self {
            Error::Status(s) => &mut s.request_id,
            Error::RetriesExhausted {
                request_id, last, ..
            }
            | Error::RetryBudgetExhausted {
                request_id, last, ..
            } => {
                last.fill_request_id(id);
                request_id
            }
            Error::Timeout { request_id, .. }
            | Error::Deadline { request_id, .. }
            | Error::Connect { request_id, .. }
            | Error::Dns { request_id, .. }
            | Error::Network { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::SendByPassed { request_id, .. }
            | Error::Other { request_id, .. } => request_id,
            Error::RateLimitWait { .. }
            | Error::RateLimiterUnavailable { .. }
            | Error::Store { .. }
            | Error::InsecureEndpoint { .. }
            | Error::Config { .. }
            | Error::MissingCall
            | Error::NotReady { .. }
            | Error::Policy(_) => return,
        };
        if slot.is_none() {
            *slot = Some(id.to_string());
        }
    }

    /// A short label of what ended the call, for metrics (`network`, `timeout`, …); a
    /// status error is labelled by its status instead.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Status(_) => "status",
            Error::RetriesExhausted { .. } => "retries_exhausted",
            Error::RetryBudgetExhausted { .. } => "retry_budget_exhausted",
            Error::Timeout { .. } => "timeout",
            Error::Deadline { .. } => "deadline",
            Error::Connect { .. } => "connect",
            Error::Dns { .. } => "dns",
            Error::Network { .. } => "network",
            Error::RateLimitWait { .. } => "rate_limit_wait",
            Error::RateLimiterUnavailable { .. } => "rate_limiter_unavailable",
            Error::Store { .. } => "store",
            Error::Decode { .. } => "decode",
            Error::SendByPassed { .. } => "send_by_passed",
            Error::InsecureEndpoint { .. } | Error::Config { .. } => "config",
            Error::MissingCall => "missing_call",
            Error::NotReady { .. } => "not_ready",
            Error::Policy(_) => "invalid",
            Error::Other { .. } => "other",
        }
    }

    /// The status error, if the service answered non-2xx (also behind an exhausted retry).
    pub fn status_error(&self) -> Option<&StatusError> {
        match self.last() {
            Error::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The request id of the call, if known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Status(s) => s.request_id.as_deref(),
            Error::RetriesExhausted { request_id, .. }
            | Error::RetryBudgetExhausted { request_id, .. }
            | Error::Timeout { request_id, .. }
            | Error::Deadline { request_id, .. }
            | Error::Connect { request_id, .. }
            | Error::Dns { request_id, .. }
            | Error::Network { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::SendByPassed { request_id, .. }
            | Error::Other { request_id, .. } => request_id.as_deref(),
            Error::RateLimitWait { .. }
            | Error::RateLimiterUnavailable { .. }
            | Error::Store { .. }
            | Error::InsecureEndpoint { .. }
            | Error::Config { .. }
            | Error::Policy(_)
            | Error::MissingCall
            | Error::NotReady { .. } => None,
        }
    }

    /// The HTTP status of the last answer, if the service answered.
    pub fn status(&self) -> Option<u16> {
        match self.last() {
            Error::Status(s) => Some(s.status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `X-Resource-ID` of the last answer (a converter's id on Media Push), if any.
    pub fn resource_id(&self) -> Option<&str> {
        match self.last() {
            Error::Status(s) => s.resource_id.as_deref(),
            Error::Decode { resource_id, .. } => resource_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the service said the resource does not exist (404, also after a confirmation
    /// schedule, or a Delete that found it gone).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the call was refused or held back for the request rate: a 429 of the rate kind,
    /// or a local rate-limit wait longer than allowed. Waiting helps.
    pub fn is_throttled(&self) -> bool {
        match self.last() {
            Error::RateLimitWait { .. } => true,
            Error::Status(s) => s.status == 429 && s.action != Action::QuotaExceeded,
            _ => false,
        }
    }

    /// Whether a concurrency quota is full: the service's 429 "Resources quota exceeded" / "No
    /// available resources", or the local ledger's refusal. Waiting seconds does not help;
    /// ending a stream does.
    pub fn is_quota_exceeded(&self) -> bool {
        match self.last() {
            Error::Status(s) => s.action == Action::QuotaExceeded,
            Error::Policy(agora_rest_core::Error::QuotaExceeded { .. }) => true,
            _ => false,
        }
    }

    /// The innermost error: the last failure behind an exhausted retry.
    pub fn last(&self) -> &Error {
        match self {
            Error::RetriesExhausted { last, .. } | Error::RetryBudgetExhausted { last, .. } => {
                last.last()
            }
            other => other,
        }
    }

    /// How domain failover sees this failure, if it is one it handles.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            Error::Dns { .. } => Some(FailureKind::Dns),
            Error::Connect { .. } | Error::Network { .. } | Error::Timeout { .. } => {
                Some(FailureKind::Network)
            }
            _ => None,
        }
    }

    /// Whether the request certainly did not reach the service (safe to resend anything).
    pub fn not_sent(&self) -> bool {
        matches!(
            self,
            Error::Dns { .. }
                | Error::Connect { .. }
                | Error::RateLimitWait { .. }
                | Error::SendByPassed { .. }
        )
    }

    /// Whether the request may have been processed although no success came back: a create
    /// must then confirm whether its resource exists before creating again.
    pub fn maybe_applied(&self) -> bool {
        match self.last() {
            Error::Timeout { .. }
            | Error::Deadline { .. }
            | Error::Network { .. }
            | Error::Decode { .. }
            | Error::Other { .. } => true,
            Error::Status(s) => matches!(s.action, Action::ConfirmExistence | Action::Retry(_)),
            _ => false,
        }
    }
}

/// An unresolvable host, as reported by our resolvers (and by in-memory services that mimic
/// one). Failover tells a DNS failure from a network failure by finding this in the chain.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}")]
pub struct DnsFailure {
    /// The host name.
    pub host: String,
}

/// Turns an inner service's error into [`Error`], telling DNS, connect, timeout and mid-request
/// failures apart by walking the source chain.
///
/// The convention for in-memory services (the mock, the emulator): return a [`DnsFailure`] (or
/// an `io::Error` of kind `NotFound`, for services that cannot name our type) for "does not
/// resolve", an `io::Error` of kind `ConnectionRefused` for "refuses connections", `TimedOut`
/// for "never answers", and `ConnectionReset` for "dropped mid-request".
pub(crate) fn classify_inner(
    op: Operation,
    host: &str,
    request_id: Option<String>,
    err: BoxError,
) -> Error {
    let err = match err.downcast::<Error>() {
        Ok(ours) => return *ours,
        Err(e) => e,
    };
    let mut dns = false;
    let mut refused = false;
    let mut timed_out = false;
    let mut connect_phase = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = cur {
        if e.is::<DnsFailure>() {
            dns = true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable => {
                    refused = true;
                }
                std::io::ErrorKind::TimedOut => timed_out = true,
                std::io::ErrorKind::NotFound => dns = true,
                _ => {}
            }
        }
        if let Some(h) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect_phase |= h.is_connect();
        }
        cur = e.source();
    }
    let host = host.to_string();
    if dns {
        Error::Dns {
            op,
            host,
            request_id,
            source: err,
        }
    } else if refused || connect_phase {
        Error::Connect {
            op,
            host,
            request_id,
            source: err,
        }
    } else if timed_out {
        Error::Timeout {
            op,
            host,
            after: Duration::ZERO,
            request_id,
        }
    } else {
        Error::Network {
            op,
            host,
            request_id,
            source: err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_request_id_and_vendor_text() {
        let e = Error::Status(Box::new(StatusError {
            op: Operation::PushCreate,
            status: 409,
            message: Some("Resource with the same name already exists.".into()),
            code: None,
            request_id: Some("rid-1".into()),
            resource_id: None,
            action: Action::AlreadyExists,
            body: bytes::Bytes::new(),
        }));
        assert_eq!(
            e.to_string(),
            "push.create: HTTP 409 \"Resource with the same name already exists.\" (request id rid-1)"
        );
        assert_eq!(e.request_id(), Some("rid-1"));
        assert_eq!(e.status(), Some(409));
        let e = Error::RetriesExhausted {
            op: Operation::PushGet,
            attempts: 4,
            then: Exhausted::TaskFailed,
            request_id: Some("rid-2".into()),
            last: Box::new(Error::Status(Box::new(StatusError {
                op: Operation::PushGet,
                status: 503,
                message: Some("overloaded\u{1b}[2J".into()),
                code: None,
                request_id: Some("rid-2".into()),
                resource_id: Some("conv-9".into()),
                action: Action::Failed,
                body: bytes::Bytes::new(),
            }))),
        };
        let text = e.to_string();
        for part in [
            "push.get",
            "HTTP 503",
            "overloaded",
            "rid-2",
            "conv-9",
            "4 attempts",
            "task failed",
        ] {
            assert!(text.contains(part), "{part} missing in {text}");
        }
        assert!(
            !text.contains('\u{1b}'),
            "control characters escaped: {text}"
        );
        assert_eq!(e.resource_id(), Some("conv-9"));
        assert_eq!(e.status(), Some(503));
        assert_eq!(e.request_id(), Some("rid-2"));
    }

    #[test]
    fn inner_errors_are_classified() {
        let op = Operation::PushGet;
        let dns: BoxError = Box::new(DnsFailure {
            host: "api.agora.io".into(),
        });
        assert!(matches!(
            classify_inner(op, "h", None, dns),
            Error::Dns { .. }
        ));
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = classify_inner(op, "h", None, refused);
        assert!(matches!(e, Error::Connect { .. }) && e.not_sent());
        let reset: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let e = classify_inner(op, "h", None, reset);
        assert!(matches!(e, Error::Network { .. }) && e.maybe_applied());
    }
}
