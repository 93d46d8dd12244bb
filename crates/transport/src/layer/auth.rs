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

use super::{LayerFuture, ready_when_inner_is, take_ready};
use crate::Error;
use crate::credentials::CredentialSource;

/// Layer for [`Auth`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    source: Arc<dyn CredentialSource>,
}

impl AuthLayer {
    /// Authenticates with credentials from `source`.
    pub fn new(source: Arc<dyn CredentialSource>) -> Self {
        AuthLayer { source }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            source: Arc::clone(&self.source),
        }
    }
}

/// Sets the `Authorization` header.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    source: Arc<dyn CredentialSource>,
}

impl<S> Service<Request<Bytes>> for Auth<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> Self::Future {
        if let Some(creds) = self.source.ready() {
            req.headers_mut()
                .insert(AUTHORIZATION, creds.authorization().clone());
            return Either::Left(self.inner.call(req));
        }
        let mut inner = take_ready(&mut self.inner);
        let source = Arc::clone(&self.source);
        Either::Right(Box::pin(async move {
            let creds = source.credentials().await?;
            req.headers_mut()
                .insert(AUTHORIZATION, creds.authorization().clone());
            inner.call(req).await
        }))
    }
}
