//! The headers every attempt carries: `User-Agent`, `Content-Type` for a JSON body, and the
//! call's `X-Request-ID`.
//!
//! Not set when the request is built but here, below retry and failover: both keep a copy of
//! each request for a possible resend, and a request with no headers yet copies without
//! allocating a header map. Headers the caller set are kept.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::ready_when_inner_is;
use super::request_id::X_REQUEST_ID_NAME;
use crate::Error;
use crate::call::Call;

/// `application/json`, the type of every request body of both services.
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Layer for [`SetHeaders`].
#[derive(Debug, Clone)]
pub struct HeadersLayer {
    user_agent: HeaderValue,
}

impl HeadersLayer {
    /// Sends `user_agent` as the `User-Agent`.
    pub fn new(user_agent: HeaderValue) -> Self {
        HeadersLayer { user_agent }
    }
}

impl<S> Layer<S> for HeadersLayer {
    type Service = SetHeaders<S>;

    fn layer(&self, inner: S) -> SetHeaders<S> {
        SetHeaders {
            inner,
            user_agent: self.user_agent.clone(),
        }
    }
}

/// Sets the per-attempt headers.
#[derive(Debug, Clone)]
pub struct SetHeaders<S> {
    inner: S,
    user_agent: HeaderValue,
}

impl<S> Service<Request<Bytes>> for SetHeaders<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = S::Future;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> S::Future {
        let request_id = req
            .extensions()
            .get::<Call>()
            .and_then(|c| c.request_id.as_ref())
            .and_then(super::request_id::RequestId::header_value);
        let has_body = !req.body().is_empty();
        let headers = req.headers_mut();
        if let Some(id) = request_id {
            headers.entry(X_REQUEST_ID_NAME).or_insert(id);
        }
        headers
            .entry(USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        if has_body {
            headers.entry(CONTENT_TYPE).or_insert(JSON);
        }
        self.inner.call(req)
    }
}
