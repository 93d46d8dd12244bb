//! The middleware of the client stack, one module per layer (an `XLayer` and its `X<S>`).
//!
//! Outermost first: [`trace`] (a span per logical call), [`deadline`] (optional whole-call
//! timeout), [`request_id`] (one `X-Request-ID` for all attempts), [`retry`] (tower's retry with
//! the vendor's schedules and a retry budget), [`failover`] (the domain-switch plan on network
//! failures), [`rate_limit`] (every attempt takes a permit), [`timeout`] (per attempt),
//! [`auth`] (Basic), and [`classify`] (inner failures → typed errors).
//!
//! The rate limiter sits *inside* retry and failover so that retries and failover attempts
//! consume permits too, as the service counts them.

pub mod auth;
pub mod classify;
pub mod deadline;
pub mod failover;
pub mod rate_limit;
pub mod request_id;
pub mod retry;
pub mod timeout;
pub mod trace;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response};

use crate::Error;

/// The future every layer returns.
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Error>> + Send>>;

/// Cheap copies (reference-counted) of what an error needs from a request, taken before the
/// request moves into the inner service and turned into strings only when an error is built.
#[derive(Debug, Clone)]
pub(crate) struct ErrorContext {
    authority: Option<http::uri::Authority>,
    request_id: Option<http::HeaderValue>,
}

impl ErrorContext {
    pub(crate) fn of(req: &Request<Bytes>) -> Self {
        ErrorContext {
            authority: req.uri().authority().cloned(),
            request_id: req.headers().get(request_id::X_REQUEST_ID).cloned(),
        }
    }

    pub(crate) fn host(&self) -> String {
        self.authority
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default()
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        self.request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// The request id header value, if set.
pub(crate) fn request_id_of(req: &Request<Bytes>) -> Option<String> {
    req.headers()
        .get(request_id::X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Implements `poll_ready` as always ready: every layer clones its inner service into the call
/// future and waits for readiness there (`ServiceExt::oneshot`).
macro_rules! always_ready {
    () => {
        fn poll_ready(
            &mut self,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
    };
}
pub(crate) use always_ready;
