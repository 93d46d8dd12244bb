//! A tracing span per logical call, and the call's outcome in the metrics.
//!
//! Fields: operation, method, path template (not the path), the converter or task id the path
//! names, request id, status. Headers are never recorded, so `Authorization` cannot leak
//! through traces. The attempts below carry their own span (`agora.attempt`, in
//! [`attempt`](super::attempt)) with the attempt number and host.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use agora_rest_core::operation::Operation;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::{LayerFuture, StateHandle, fail, ready_when_inner_is};
use crate::Error;
use crate::call::call_of;
use crate::metrics::{ClientMetrics, Outcome};

/// The converter or task id in `path`: the segment where `template` has `{converterId}` or
/// `{taskId}`.
pub(crate) fn resource_of<'a>(template: &str, path: &'a str) -> Option<&'a str> {
    template
        .split('/')
        .zip(path.split('?').next().unwrap_or("").split('/'))
        .find(|(t, _)| *t == "{converterId}" || *t == "{taskId}")
        .map(|(_, p)| p)
}

/// The outcome label of a call's result: its status, or the kind of error.
pub(crate) fn outcome_of(result: &Result<Response<Bytes>, Error>) -> Result<u16, &'static str> {
    match result {
        Ok(resp) => Ok(resp.status().as_u16()),
        Err(e) => e.status().ok_or_else(|| e.kind()),
    }
}

pin_project_lite::pin_project! {
    /// A call's future that counts its outcome when it ends (no span wanted).
    pub struct Counted<F, H> {
        #[pin]
        inner: F,
        op: Operation,
        metrics: H,
    }
}

impl<F, H> Future for Counted<F, H>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
    H: StateHandle<ClientMetrics>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        this.metrics
            .state()
            .call(*this.op, Outcome::of(outcome_of(&result)));
        Poll::Ready(result)
    }
}

/// Layer for [`Trace`].
#[derive(Debug, Clone, Default)]
pub struct TraceLayer<H = std::sync::Arc<ClientMetrics>> {
    metrics: H,
}

impl<H: StateHandle<ClientMetrics>> TraceLayer<H> {
    /// Traces calls, counting them in `metrics`.
    pub fn new(metrics: H) -> Self {
        TraceLayer { metrics }
    }
}

impl<S, H: Clone> Layer<S> for TraceLayer<H> {
    type Service = Trace<S, H>;

    fn layer(&self, inner: S) -> Trace<S, H> {
        Trace {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Wraps each call in an `agora.call` span and counts its outcome.
#[derive(Debug, Clone)]
pub struct Trace<S, H = std::sync::Arc<ClientMetrics>> {
    inner: S,
    metrics: H,
}

impl<S, H> Service<Request<Bytes>> for Trace<S, H>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
    H: StateHandle<ClientMetrics>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<Counted<S::Future, H>>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let (operation, template) = match call_of(&req) {
            Ok(c) => (c.op, c.path_template),
            Err(e) => return fail(e),
        };
        let op = operation.name();
        let span = tracing::info_span!(
            "agora.call",
            op,
            method = %req.method(),
            path = template,
            resource_id = resource_of(template, req.uri().path()),
            request_id = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        if span.is_disabled() {
            // No subscriber wants it: no span recording, only the outcome counted.
            return Either::Left(Counted {
                inner: self.inner.call(req),
                op: operation,
                metrics: self.metrics.clone(),
            });
        }
        let fut = span.in_scope(|| self.inner.call(req));
        let metrics = self.metrics.clone();
        Either::Right(Box::pin(
            async move {
                let result = fut.await;
                metrics
                    .state()
                    .call(operation, Outcome::of(outcome_of(&result)));
                let span = tracing::Span::current();
                match &result {
                    Ok(resp) => {
                        span.record("status", resp.status().as_u16());
                        if let Some(id) = resp
                            .headers()
                            .get(super::request_id::X_REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                        {
                            span.record("request_id", id);
                        }
                    }
                    Err(e) => {
                        if let Some(s) = e.status() {
                            span.record("status", s);
                        }
                        if let Some(id) = e.request_id() {
                            span.record("request_id", id);
                        }
                        tracing::warn!(error = %e, "call failed");
                    }
                }
                result
            }
            .instrument(span),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::resource_of;

    #[test]
    fn the_resource_id_is_read_where_the_template_names_it() {
        let t = "/{region}/v1/projects/{appId}/rtmp-converters/{converterId}";
        assert_eq!(
            resource_of(t, "/na/v1/projects/app/rtmp-converters/c-1"),
            Some("c-1")
        );
        let t = "/v1/projects/{appId}/rtsc/cloud-transcoder/tasks/{taskId}";
        assert_eq!(
            resource_of(
                t,
                "/v1/projects/app/rtsc/cloud-transcoder/tasks/t-9?builderToken=x"
            ),
            Some("t-9")
        );
        assert_eq!(
            resource_of(
                "/v1/projects/{appId}/rtmp-converters",
                "/v1/projects/a/rtmp-converters"
            ),
            None
        );
    }
}
