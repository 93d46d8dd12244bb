//! A tracing span per logical call.
//!
//! Fields: operation, method, path template (not the path, which may hold ids), request id,
//! status. Headers are never recorded, so `Authorization` cannot leak through traces.

use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use super::{LayerFuture, fail, ready_when_inner_is};
use crate::Error;
use crate::call::call_of;

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
    type Future = LayerFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let (op, template) = match call_of(&req) {
            Ok(c) => (c.op.name(), c.path_template),
            Err(e) => return fail(e),
        };
        let span = tracing::info_span!(
            "agora.call",
            op,
            method = %req.method(),
            path = template,
            request_id = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        if span.is_disabled() {
            // No subscriber wants it: no wrapper future, no recording.
            return Either::Left(self.inner.call(req));
        }
        let fut = span.in_scope(|| self.inner.call(req));
        Either::Right(Box::pin(
            async move {
                let result = fut.await;
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
