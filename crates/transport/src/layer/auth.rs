//! Adds `Authorization: Basic …` from a [`CredentialSource`].
//!
//! Not tower-http's `AddAuthorization`: that one is fixed at construction, while credentials
//! here come from an async source on each request (so they can rotate). The header value is
//! marked sensitive, so it never shows in `Debug` output or traces.

use std::sync::Arc;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, always_ready};
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
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, mut req: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        if let Some(creds) = self.source.ready() {
            req.headers_mut()
                .insert(AUTHORIZATION, creds.authorization().clone());
            return Box::pin(inner.oneshot(req));
        }
        let source = Arc::clone(&self.source);
        Box::pin(async move {
            let creds = source.credentials().await?;
            req.headers_mut()
                .insert(AUTHORIZATION, creds.authorization().clone());
            inner.oneshot(req).await
        })
    }
}
