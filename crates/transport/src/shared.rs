//! The innermost service of a client, type-erased behind one `Arc`.
//!
//! Exists so that one `Client` type runs on hyper, the mock or the in-memory emulator, and so
//! that a copy of the stack (one per call, one in each retry future) costs one reference count
//! for the connection instead of a deep clone: `BoxCloneSyncService` would allocate and clone
//! the connection each time. The client reaches it through its shared layer state and calls it
//! by reference ([`SharedService::call_ref`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Service, ServiceExt};

use crate::error::BoxError;

/// The future of the innermost service.
pub type InnerFuture = Pin<Box<dyn Future<Output = Result<Response<Bytes>, BoxError>> + Send>>;

type CallFn = dyn Fn(Request<Bytes>) -> InnerFuture + Send + Sync;

/// The innermost service of a client: hyper, the mock, or the in-memory emulator.
#[derive(Clone)]
pub struct SharedService {
    call: Arc<CallFn>,
}

impl std::fmt::Debug for SharedService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedService")
    }
}

impl SharedService {
    /// Wraps any cloneable service (cloned once per request).
    pub fn new<S, E>(svc: S) -> Self
    where
        S: Service<Request<Bytes>, Response = Response<Bytes>, Error = E>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        SharedService::from_fn(move |req| {
            let svc = svc.clone();
            Box::pin(async move { svc.oneshot(req).await.map_err(Into::into) })
        })
    }

    /// Wraps a function from request to response future.
    pub fn from_fn(f: impl Fn(Request<Bytes>) -> InnerFuture + Send + Sync + 'static) -> Self {
        SharedService { call: Arc::new(f) }
    }
}

impl SharedService {
    /// Calls the service through a shared reference (it needs no readiness and no `&mut`).
    pub fn call_ref(&self, req: Request<Bytes>) -> InnerFuture {
        (self.call)(req)
    }
}

impl Service<Request<Bytes>> for SharedService {
    type Response = Response<Bytes>;
    type Error = BoxError;
    type Future = InnerFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> InnerFuture {
        (self.call)(req)
    }
}
