//! One `X-Request-ID` per logical call, the same on every retry.
//!
//! The vendor asks for the id on every request and for it (with `X-Resource-ID`) when
//! contacting support (REFERENCE §1.3). A caller-set id is kept; otherwise a UUID v4 is made.
//! Errors carry the id; responses keep the server's `X-Request-ID`, `X-Custom-Request-ID` and
//! `X-Resource-ID` headers, read with [`crate::ResponseIds`].

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::ready_when_inner_is;
use crate::Error;

/// The request id header.
pub const X_REQUEST_ID: &str = "x-request-id";
/// [`X_REQUEST_ID`] as a pre-parsed header name (no parsing per request).
pub const X_REQUEST_ID_NAME: http::HeaderName = http::HeaderName::from_static(X_REQUEST_ID);

/// The echo header the service returns for troubleshooting (REFERENCE §1.3).
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
    type Future = S::Future;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> S::Future {
        if !req.headers().contains_key(&X_REQUEST_ID_NAME) {
            let bytes = fastrand::u128(..).to_le_bytes();
            let mut buf = [0u8; 32];
            let id = uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .simple()
                .encode_lower(&mut buf);
            if let Ok(v) = HeaderValue::from_str(id) {
                req.headers_mut().insert(X_REQUEST_ID_NAME, v);
            }
        }
        self.inner.call(req)
    }
}
