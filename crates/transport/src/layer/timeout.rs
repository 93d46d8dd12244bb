//! A timeout per attempt.
//!
//! Not `tower::timeout`: that one erases the error type to `BoxError`, while the retry and
//! failover layers above need a typed [`Error::Timeout`] naming the host and request id.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, ErrorContext, always_ready};
use crate::Error;
use crate::call::call_of;

/// Layer for [`AttemptTimeout`].
#[derive(Debug, Clone, Copy)]
pub struct AttemptTimeoutLayer {
    timeout: Duration,
}

impl AttemptTimeoutLayer {
    /// Fails an attempt that takes longer than `timeout`.
    pub const fn new(timeout: Duration) -> Self {
        AttemptTimeoutLayer { timeout }
    }
}

impl<S> Layer<S> for AttemptTimeoutLayer {
    type Service = AttemptTimeout<S>;

    fn layer(&self, inner: S) -> AttemptTimeout<S> {
        AttemptTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// Bounds one attempt in time.
#[derive(Debug, Clone)]
pub struct AttemptTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request<Bytes>> for AttemptTimeout<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        let after = self.timeout;
        Box::pin(async move {
            let op = call_of(&req)?.op;
            let ctx = ErrorContext::of(&req);
            match tokio::time::timeout(after, inner.oneshot(req)).await {
                Ok(result) => result.map_err(|e| match e {
                    Error::Timeout {
                        op,
                        host,
                        request_id,
                        ..
                    } => Error::Timeout {
                        op,
                        host,
                        after,
                        request_id,
                    },
                    other => other,
                }),
                Err(_) => Err(Error::Timeout {
                    op,
                    host: ctx.host(),
                    after,
                    request_id: ctx.request_id(),
                }),
            }
        })
    }
}
