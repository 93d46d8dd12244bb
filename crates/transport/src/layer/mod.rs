//! The middleware of the client stack, one module per layer (an `XLayer` and its `X<S>`).
//!
//! Outermost first: [`trace`] (a span per logical call), [`request_id`] (one `X-Request-ID`
//! for all attempts), [`deadline`] (optional whole-call timeout), [`retry`] (tower's retry with
//! the vendor's schedules and a retry budget), [`failover`] (the domain-switch plan on network
//! failures), [`rate_limit`] (every attempt takes a permit), [`attempt`] (a span and a count
//! per attempt, by host and status), [`timeout`] (per attempt),
//! [`headers`] (user agent, content type, the call's request id), [`auth`] (Basic), and
//! [`classify`] (inner failures → typed errors).
//!
//! The rate limiter sits *inside* retry and failover so that retries and failover attempts
//! consume permits too, as the service counts them.

pub mod attempt;
pub mod auth;
pub mod classify;
pub mod deadline;
pub mod failover;
pub mod headers;
pub mod rate_limit;
pub mod request_id;
pub mod retry;
pub mod timeout;
pub mod trace;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};

use crate::Error;

/// How a layer reaches the state it shares with every clone of the stack.
///
/// `Arc<T>` is the handle of a layer used on its own. The [`Client`](crate::Client) instead
/// gives every layer a handle to *one* allocation holding all their state. Why: the stack is
/// cloned for each call (and again by tower's retry for its future), and each clone bumps the
/// reference count of every handle in it; with calls running on several threads, each of those
/// counts is a cache line the cores pass back and forth. One allocation makes those bumps hit
/// one line, in a burst, instead of one line per layer.
pub trait StateHandle<T: ?Sized>: Clone + Send + Sync + 'static {
    /// The state.
    fn state(&self) -> &T;
}

impl<T: ?Sized + Send + Sync + 'static> StateHandle<T> for std::sync::Arc<T> {
    fn state(&self) -> &T {
        self
    }
}

/// A boxed future of the stack's output: what a layer returns when it has to wait before
/// calling its inner service (a rate-limit permit, credentials, another host) or fails first.
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Error>> + Send>>;

/// The future of a layer: on the fast path the inner service's own future (or a thin concrete
/// wrapper of it), with nothing allocated; a [`BoxFuture`] otherwise.
///
/// Why not box at every layer: a request passes nine layers, and a box (plus the clone of the
/// inner service each boxed future needs to own) per layer was most of the stack's cost.
pub type LayerFuture<F> = Either<F, BoxFuture>;

/// A layer future that fails at once, without calling the inner service.
pub(crate) fn fail<F>(e: Error) -> LayerFuture<F> {
    Either::Right(Box::pin(std::future::ready(Err(e))))
}

/// Takes the inner service out for a future that calls it later, leaving a clone in its place.
///
/// The taken one is the instance whose readiness `poll_ready` just established, so the future
/// may call it without polling again (tower's documented pattern for deferred calls).
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// A copy of `req` without its extensions (cheap: the body and URI share their bytes).
pub(crate) fn copy_without_extensions(req: &Request<Bytes>) -> Request<Bytes> {
    let mut copy = Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// Implements `poll_ready` by asking the inner service, so that `call` may call the inner
/// service at once (no clone, no box) when the layer has nothing to wait for.
macro_rules! ready_when_inner_is {
    () => {
        fn poll_ready(
            &mut self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }
    };
}
pub(crate) use ready_when_inner_is;
