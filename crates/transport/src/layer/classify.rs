//! Turns an inner service's errors into typed [`Error`]s.
//!
//! The innermost service (hyper, the mock, the in-memory emulator) fails with any error type;
//! this layer names DNS failures, refused connections, timeouts and mid-request failures (see
//! [`crate::error::DnsFailure`] for the convention in-memory services follow).

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, ErrorContext, always_ready};
use crate::Error;
use crate::call::call_of;
use crate::error::{BoxError, classify_inner};

/// Layer for [`ClassifyErrors`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyErrorsLayer;

impl<S> Layer<S> for ClassifyErrorsLayer {
    type Service = ClassifyErrors<S>;

    fn layer(&self, inner: S) -> ClassifyErrors<S> {
        ClassifyErrors { inner }
    }
}

/// Maps the inner error into [`Error`].
#[derive(Debug, Clone)]
pub struct ClassifyErrors<S> {
    inner: S,
}

impl<S, E> Service<Request<Bytes>> for ClassifyErrors<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = E> + Clone + Send + 'static,
    S::Future: Send,
    E: Into<BoxError>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            let op = call_of(&req)?.op;
            let ctx = ErrorContext::of(&req);
            inner
                .oneshot(req)
                .await
                .map_err(|e| classify_inner(op, &ctx.host(), ctx.request_id(), e.into()))
        })
    }
}
