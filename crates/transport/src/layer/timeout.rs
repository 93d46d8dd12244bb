//! A timeout per attempt.
//!
//! Not `tower::timeout`: that one erases the error type to `BoxError`, while the retry and
//! failover layers above need a typed [`Error::Timeout`] naming the host and request id.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use agora_rest_core::operation::Operation;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{LayerFuture, fail, ready_when_inner_is};
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
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<AttemptTimeoutFuture<S::Future>>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let op = match call_of(&req) {
            // The attempt is about to go out: a call whose send-by time has passed (a builder
            // token older than its window, after failover waits or a rate-limit wait) is not
            // sent at all.
            Ok(c) if c.send_by.is_some_and(|t| tokio::time::Instant::now() > t) => {
                return fail(Error::SendByPassed {
                    op: c.op,
                    request_id: None,
                });
            }
            Ok(c) => c.op,
            Err(e) => return fail(e),
        };
        let after = self.timeout;
        Either::Left(AttemptTimeoutFuture {
            inner: tokio::time::timeout(after, self.inner.call(req)),
            op,
            after,
        })
    }
}

pin_project! {
    /// The future of [`AttemptTimeout`]: the inner call under a timer, with the typed error.
    ///
    /// A named future rather than a boxed `async` block: this layer runs on every attempt
    /// and needs no allocation of its own. The host and request id of its error are filled in
    /// by the failover and request id layers above.
    pub struct AttemptTimeoutFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        op: Operation,
        after: Duration,
    }
}

impl<F> Future for AttemptTimeoutFuture<F>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
{
    type Output = Result<Response<Bytes>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let after = *this.after;
        Poll::Ready(match ready!(this.inner.poll(cx)) {
            // An inner timeout (the connection's own) is reported with this layer's limit.
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
                op: *this.op,
                host: String::new(),
                after,
                request_id: None,
            }),
        })
    }
}
