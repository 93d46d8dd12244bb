//! Turns an inner service's errors into typed [`Error`]s.
//!
//! The innermost service (hyper, the mock, the in-memory emulator) fails with any error type;
//! this layer names DNS failures, refused connections, timeouts and mid-request failures (see
//! [`crate::error::DnsFailure`] for the convention in-memory services follow).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use agora_rest_core::operation::Operation;
use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{LayerFuture, fail};
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
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = E>,
    E: Into<BoxError>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<ClassifyFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::NotReady { source: e.into() })
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let op = match call_of(&req) {
            Ok(c) => c.op,
            Err(e) => return fail(e),
        };
        Either::Left(ClassifyFuture {
            inner: self.inner.call(req),
            op,
        })
    }
}

pin_project! {
    /// The future of [`ClassifyErrors`]: the inner call, its error made typed. The host and
    /// request id are left out: the failover and request id layers above fill them in, so
    /// nothing is copied from the request on the way down.
    pub struct ClassifyFuture<F> {
        #[pin]
        inner: F,
        op: Operation,
    }
}

impl<F, E> Future for ClassifyFuture<F>
where
    F: Future<Output = Result<Response<Bytes>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<Bytes>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        Poll::Ready(result.map_err(|e| classify_inner(*this.op, "", None, e.into())))
    }
}
