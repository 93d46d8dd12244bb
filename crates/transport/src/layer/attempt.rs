//! Each HTTP attempt: an `agora.attempt` span (attempt number, host) and the
//! `agora_rest_requests_total` count by operation, status and host.
//!
//! It sits below failover and the rate limiter, so the host is the one the attempt really
//! goes to and the time in the span is the request's, not the wait for a permit; above the
//! attempt timeout, so an attempt that timed out is counted too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use agora_rest_core::operation::Operation;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::trace::outcome_of;
use super::{LayerFuture, fail, ready_when_inner_is};
use crate::Error;
use crate::call::call_of;

/// Layer for [`Attempt`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptLayer;

impl<S> Layer<S> for AttemptLayer {
    type Service = Attempt<S>;

    fn layer(&self, inner: S) -> Attempt<S> {
        Attempt { inner }
    }
}

/// Counts each attempt and wraps it in a span.
#[derive(Debug, Clone)]
pub struct Attempt<S> {
    inner: S,
}

pin_project_lite::pin_project! {
    /// An attempt's future that counts its outcome when it ends.
    pub struct CountedAttempt<F> {
        #[pin]
        inner: F,
        op: Operation,
        host: http::uri::Authority,
    }
}

impl<F> Future for CountedAttempt<F>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        crate::metrics::request(*this.op, outcome_of(&result), this.host.as_str());
        Poll::Ready(result)
    }
}

impl<S> Service<Request<Bytes>> for Attempt<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<CountedAttempt<S::Future>>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let (op, attempt) = match call_of(&req) {
            Ok(c) => (c.op, c.attempt),
            Err(e) => return fail(e),
        };
        // An authority is cheap to clone (shared bytes).
        let host = req
            .uri()
            .authority()
            .cloned()
            .unwrap_or_else(|| http::uri::Authority::from_static("unknown"));
        let span = tracing::debug_span!("agora.attempt", attempt, host = host.as_str());
        if span.is_disabled() {
            return Either::Left(CountedAttempt {
                inner: self.inner.call(req),
                op,
                host,
            });
        }
        let fut = span.in_scope(|| self.inner.call(req));
        Either::Right(Box::pin(
            CountedAttempt {
                inner: fut,
                op,
                host,
            }
            .instrument(span),
        ))
    }
}
