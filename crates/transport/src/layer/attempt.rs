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
use super::{LayerFuture, StateHandle, fail, ready_when_inner_is};
use crate::Error;
use crate::call::call_of;
use crate::metrics::{ClientMetrics, Outcome};

/// Layer for [`Attempt`].
#[derive(Debug, Clone, Default)]
pub struct AttemptLayer<H = std::sync::Arc<ClientMetrics>> {
    metrics: H,
}

impl<H: StateHandle<ClientMetrics>> AttemptLayer<H> {
    /// Counts attempts in `metrics`.
    pub fn new(metrics: H) -> Self {
        AttemptLayer { metrics }
    }
}

impl<S, H: Clone> Layer<S> for AttemptLayer<H> {
    type Service = Attempt<S, H>;

    fn layer(&self, inner: S) -> Attempt<S, H> {
        Attempt {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Counts each attempt and wraps it in a span.
#[derive(Debug, Clone)]
pub struct Attempt<S, H = std::sync::Arc<ClientMetrics>> {
    inner: S,
    metrics: H,
}

pin_project_lite::pin_project! {
    /// An attempt's future that counts its outcome when it ends.
    pub struct CountedAttempt<F, H> {
        #[pin]
        inner: F,
        op: Operation,
        host: http::uri::Authority,
        metrics: H,
    }
}

impl<F, H> Future for CountedAttempt<F, H>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
    H: StateHandle<ClientMetrics>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        this.metrics.state().request(
            *this.op,
            Outcome::of(outcome_of(&result)),
            this.host.as_str(),
        );
        Poll::Ready(result)
    }
}

impl<S, H> Service<Request<Bytes>> for Attempt<S, H>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
    H: StateHandle<ClientMetrics>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<CountedAttempt<S::Future, H>>;

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
                metrics: self.metrics.clone(),
            });
        }
        let fut = span.in_scope(|| self.inner.call(req));
        Either::Right(Box::pin(
            CountedAttempt {
                inner: fut,
                op,
                host,
                metrics: self.metrics.clone(),
            }
            .instrument(span),
        ))
    }
}
