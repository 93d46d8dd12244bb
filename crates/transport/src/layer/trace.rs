//! A tracing span per logical call, and the call's outcome in the metrics.
//!
//! Fields: operation, method, path template (not the path), the converter or task id the path
//! names, request id, status. Headers are never recorded, so `Authorization` cannot leak
//! through traces. The attempts below carry their own span (`agora.attempt`, in
//! [`attempt_metrics`](super::attempt_metrics)) with the attempt number and host.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use agora_rest_core::operation::Operation;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::{LayerFuture, fail, ready_when_inner_is};
use crate::Error;
use crate::call::call_of;

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
    pub struct Counted<F> {
        #[pin]
        inner: F,
        op: Operation,
    }
}

impl<F> Future for Counted<F>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        crate::metrics::call_outcome(*this.op, outcome_of(&result));
        Poll::Ready(result)
    }
}

/// Layer for [`Trace`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

/// Wraps each call in an `agora.call` span.
#[derive(Debug, Clone)]
pub struct Trace<S> {
    inner: S,
}

impl<S> Service<Request<Bytes>> for Trace<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<Counted<S::Future>>;

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
            });
        }
        let fut = span.in_scope(|| self.inner.call(req));
        Either::Right(Box::pin(
            async move {
                let result = fut.await;
                crate::metrics::call_outcome(operation, outcome_of(&result));
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
