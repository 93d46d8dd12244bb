//! One `X-Request-ID` per logical call, the same on every retry.
//!
//! The vendor asks for the id on every request and for it (with `X-Resource-ID`) when
//! contacting support (docs/vendor-rules.md). A caller-set id is kept; otherwise a UUID v4 is made.
//! This layer sits above retry and chooses the id once per call, recording it in the call's
//! [`Call`] descriptor; the [`headers`](super::headers) layer, below retry and failover, writes
//! it on every attempt. Errors carry the id; responses keep the server's `X-Request-ID`, `X-Custom-Request-ID` and
//! `X-Resource-ID` headers, read with [`crate::ResponseIds`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::ready_when_inner_is;
use crate::Error;
use crate::call::Call;

/// The request id header.
pub const X_REQUEST_ID: &str = "x-request-id";
/// [`X_REQUEST_ID`] as a pre-parsed header name (no parsing per request).
pub const X_REQUEST_ID_NAME: http::HeaderName = http::HeaderName::from_static(X_REQUEST_ID);

/// The echo header the service returns for troubleshooting (docs/vendor-rules.md).
pub const X_CUSTOM_REQUEST_ID: &str = "x-custom-request-id";
/// The resource id header (the converter id on Media Push).
pub const X_RESOURCE_ID: &str = "x-resource-id";

/// Layer for [`SetRequestId`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> SetRequestId<S> {
        SetRequestId { inner }
    }
}

/// Sets `X-Request-ID` when the caller did not.
#[derive(Debug, Clone)]
pub struct SetRequestId<S> {
    inner: S,
}

/// A new request id: a UUID v4 without dashes, like the vendor's own ids.
///
/// Its random bits come from `fastrand` rather than the OS: a request id must be unique, not
/// secret, and a system call per request would cost more than the rest of the stack.
pub fn new_request_id() -> String {
    let bytes = fastrand::u128(..).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .simple()
        .to_string()
}

impl<S> Service<Request<Bytes>> for SetRequestId<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = RequestIdFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> Self::Future {
        let id = match req.headers_mut().remove(&X_REQUEST_ID_NAME) {
            Some(given) => RequestId::Given(given),
            None => {
                let mut buf = [0u8; 32];
                uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
                    .into_uuid()
                    .simple()
                    .encode_lower(&mut buf);
                RequestId::Made(buf)
            }
        };
        // The id travels in the call's descriptor; the headers layer writes it on each
        // attempt. Without a descriptor (a stack used without our client), as a header.
        match req.extensions_mut().get_mut::<Call>() {
            Some(call) => call.request_id = Some(id.clone()),
            None => {
                if let Some(v) = id.header_value() {
                    req.headers_mut().insert(X_REQUEST_ID_NAME, v);
                }
            }
        }
        RequestIdFuture {
            inner: self.inner.call(req),
            id,
        }
    }
}

/// The id of one call: in its [`Call`] for the headers layer, and in its future for errors.
///
/// Ours is kept inline (copying 32 bytes is cheaper than sharing a reference-counted header
/// value between the call, the retry copy and each attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestId {
    /// Ours: 32 lowercase hex digits.
    Made([u8; 32]),
    /// The caller's.
    Given(HeaderValue),
}

impl RequestId {
    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            RequestId::Made(buf) => std::str::from_utf8(buf).unwrap_or_default(),
            RequestId::Given(v) => v.to_str().unwrap_or_default(),
        }
    }

    /// The id as a header value (a copy of ours; the caller's as given).
    pub(crate) fn header_value(&self) -> Option<HeaderValue> {
        match self {
            RequestId::Made(buf) => HeaderValue::from_bytes(buf).ok(),
            RequestId::Given(v) => Some(v.clone()),
        }
    }
}

pin_project! {
    /// The future of [`SetRequestId`]: the inner call, with the request id named in its error
    /// (the layers below leave it out rather than copy it for every request).
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        id: RequestId,
    }
}

impl<F> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
{
    type Output = Result<Response<Bytes>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        Poll::Ready(result.map_err(|mut e| {
            e.fill_request_id(this.id.as_str());
            e
        }))
    }
}
