//! One `X-Request-ID` per logical call, the same on every retry.
//!
//! The vendor asks for the id on every request and for it (with `X-Resource-ID`) when
//! contacting support (REFERENCE §1.3). A caller-set id is kept; otherwise a UUID v4 is made.
//! Errors carry the id; responses keep the server's `X-Request-ID`, `X-Custom-Request-ID` and
//! `X-Resource-ID` headers, read with [`crate::ResponseIds`].

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, always_ready};
use crate::Error;

/// The request id header.
pub const X_REQUEST_ID: &str = "x-request-id";
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
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl<S> Service<Request<Bytes>> for SetRequestId<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, mut req: Request<Bytes>) -> BoxFuture {
        if !req.headers().contains_key(X_REQUEST_ID) {
            let id = new_request_id();
            if let Ok(v) = HeaderValue::from_str(&id) {
                req.headers_mut().insert(X_REQUEST_ID, v);
            }
        }
        let inner = self.inner.clone();
        Box::pin(inner.oneshot(req))
    }
}
