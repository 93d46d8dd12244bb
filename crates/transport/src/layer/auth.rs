//! Adds `Authorization: Basic …` from a [`CredentialSource`].
//!
//! Not tower-http's `AddAuthorization`: that one is fixed at construction, while credentials
//! here come from an async source on each request (so they can rotate). The header value is
//! marked sensitive, so it never shows in `Debug` output or traces.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::Either;
use http::header::AUTHORIZATION;
use http::{Request, Response};
use tower::{Layer, Service};

use super::{LayerFuture, StateHandle, ready_when_inner_is, take_ready};
use crate::Error;
use crate::credentials::CredentialSource;

/// Layer for [`Auth`].
#[derive(Debug, Clone)]
pub struct AuthLayer<H = Arc<dyn CredentialSource>> {
    source: H,
}

impl<H: StateHandle<dyn CredentialSource>> AuthLayer<H> {
    /// Authenticates with credentials from `source`.
    pub fn new(source: H) -> Self {
        AuthLayer { source }
    }
}

impl<S, H: Clone> Layer<S> for AuthLayer<H> {
    type Service = Auth<S, H>;

    fn layer(&self, inner: S) -> Auth<S, H> {
        Auth {
            inner,
            source: self.source.clone(),
        }
    }
}

/// Sets the `Authorization` header.
#[derive(Debug, Clone)]
pub struct Auth<S, H = Arc<dyn CredentialSource>> {
    inner: S,
    source: H,
}

impl<S, H> Service<Request<Bytes>> for Auth<S, H>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
    H: StateHandle<dyn CredentialSource>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> Self::Future {
        if let Some(value) = self.source.state().ready_authorization() {
            req.headers_mut().insert(AUTHORIZATION, value);
            return Either::Left(self.inner.call(req));
        }
        let mut inner = take_ready(&mut self.inner);
        let source = self.source.clone();
        Either::Right(Box::pin(async move {
            let creds = source.state().credentials().await?;
            req.headers_mut()
                .insert(AUTHORIZATION, creds.authorization().clone());
            inner.call(req).await
        }))
    }
}
