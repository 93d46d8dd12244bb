//! Domain failover: walks core's [`FailoverPlan`] when a host cannot be reached.
//!
//! On a DNS failure the next host is the alternate suffix, on a network failure the adjacent
//! region, with the guide's 1 s / 3 s / 6 s waits (docs/vendor-rules.md). A host that worked is kept
//! for later calls ([`HostPreference`]) and the primary is probed again after a while. A
//! request that may have reached the service (a timeout, a reset mid-request) is resent only
//! when it is idempotent; a create then fails with an error that says it may have been applied.
//! Each failover attempt takes a token from the retry budget, so an outage cannot turn into a
//! storm of attempts.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use agora_rest_core::failover::{FailoverPlan, HostPreference};
use agora_rest_core::retry_quota::{RetryCause, RetryPermit};
use bytes::Bytes;
use futures_util::future::Either;
use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tower::{Layer, Service, ServiceExt};

use super::{
    LayerFuture, StateHandle, copy_without_extensions, fail, ready_when_inner_is, take_ready,
};
use crate::Error;
use crate::budget::RetryBudget;
use crate::call::call_of;
use crate::clock::TokioClock;

/// Where requests go.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The Agora API hosts over HTTPS, with the failover plan.
    Agora {
        /// The plan.
        plan: FailoverPlan,
        /// The sticky host choice, shared by the client's clones.
        preference: Arc<Mutex<HostPreference>>,
    },
    /// One fixed base URL (e.g. the emulator at `http://127.0.0.1:PORT`); no failover.
    Fixed {
        /// `http` or `https`.
        scheme: Scheme,
        /// Host and port.
        authority: Authority,
    },
}

/// What the failover layer shares across calls: where to send, the retry budget its attempts
/// draw on, and the clock for the host preference.
#[derive(Debug)]
pub struct FailoverState {
    endpoint: Endpoint,
    quota: Arc<RetryBudget>,
    clock: TokioClock,
}

impl FailoverState {
    /// Sends requests to `endpoint`, charging failover attempts to `quota`.
    pub fn new(endpoint: Endpoint, quota: Arc<RetryBudget>, clock: TokioClock) -> Self {
        FailoverState {
            endpoint,
            quota,
            clock,
        }
    }
}

/// Layer for [`Failover`].
#[derive(Debug, Clone)]
pub struct FailoverLayer<H = Arc<FailoverState>> {
    state: H,
}

impl<H: StateHandle<FailoverState>> FailoverLayer<H> {
    /// Fails over as `state` says.
    pub fn new(state: H) -> Self {
        FailoverLayer { state }
    }
}

impl<S, H: Clone> Layer<S> for FailoverLayer<H> {
    type Service = Failover<S, H>;

    fn layer(&self, inner: S) -> Failover<S, H> {
        Failover {
            inner,
            state: self.state.clone(),
        }
    }
}

/// Picks the host of each attempt and fails over between hosts.
#[derive(Debug, Clone)]
pub struct Failover<S, H = Arc<FailoverState>> {
    inner: S,
    state: H,
}

/// Points `req` at `scheme://authority`, keeping its path and query.
fn set_authority(
    req: &mut Request<Bytes>,
    scheme: Scheme,
    authority: Authority,
) -> Result<(), Error> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme);
    parts.authority = Some(authority);
    parts.path_and_query = Some(
        req.uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    *req.uri_mut() = Uri::from_parts(parts).map_err(|e| Error::Config {
        field: "request uri",
        rule: e.to_string(),
    })?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S, H> Service<Request<Bytes>> for Failover<S, H>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
    H: StateHandle<FailoverState>,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<FixedHostFuture<S::Future, H>>;

    ready_when_inner_is!();

    fn call(&mut self, mut req: Request<Bytes>) -> Self::Future {
        if let Endpoint::Fixed { scheme, authority } = &self.state.state().endpoint {
            return match set_authority(&mut req, scheme.clone(), authority.clone()) {
                Ok(()) => Either::Left(FixedHostFuture {
                    inner: self.inner.call(req),
                    state: self.state.clone(),
                }),
                Err(e) => fail(e),
            };
        }
        let mut inner = take_ready(&mut self.inner);
        let handle = self.state.clone();
        Either::Right(Box::pin(async move {
            let layer = handle.state();
            let (op, idempotent) = {
                let call = call_of(&req)?;
                (call.op, call.idempotent)
            };
            let Endpoint::Agora { plan, preference } = &layer.endpoint else {
                return Err(Error::Config {
                    field: "endpoint",
                    rule: "a fixed endpoint has no failover plan".into(),
                });
            };
            let (mut host, current) = {
                let preference = lock(preference);
                (
                    preference.host_for_call(layer.clock.now()),
                    preference.current(),
                )
            };
            let mut cursor = plan.cursor();
            // The first attempt sends the request itself; a copy without extensions is kept
            // for any further attempt (the extensions map would cost three allocations).
            let template = copy_without_extensions(&req);
            let call = call_of(&req)?.clone();
            let mut next = Some(req);
            let mut permits: Vec<RetryPermit> = Vec::new();
            loop {
                let mut attempt = next.take().unwrap_or_else(|| {
                    let mut copy = copy_without_extensions(&template);
                    copy.extensions_mut().insert(call.clone());
                    copy
                });
                let authority = Authority::from_static(host.as_str());
                set_authority(&mut attempt, Scheme::HTTPS, authority)?;
                let err = match inner.ready().await?.call(attempt).await {
                    Ok(resp) => {
                        // Nothing to record when the call stayed on the host it started on.
                        if host != current {
                            lock(preference).record_success(host, layer.clock.now());
                        }
                        // A host answered: the failover attempts paid off, their tokens return
                        // (as smithy-rs refunds a retry that succeeded).
                        if !permits.is_empty() {
                            layer.quota.refund(permits.drain(..));
                        }
                        return Ok(resp);
                    }
                    Err(mut e) => {
                        e.fill_host(host.as_str());
                        e
                    }
                };
                let Some(kind) = err.failure_kind() else {
                    return Err(err);
                };
                if !(err.not_sent() || idempotent) {
                    return Err(err);
                }
                let Some(step) = cursor.next_after(kind) else {
                    return Err(err);
                };
                let Some(permit) = layer.quota.try_acquire(RetryCause::Transport) else {
                    return Err(Error::RetryBudgetExhausted {
                        op,
                        request_id: call.request_id().map(str::to_string),
                        last: Box::new(err),
                    });
                };
                permits.push(permit);
                tracing::debug!(from = %host, to = %step.host, delay = ?step.delay, stage = ?step.stage, "domain failover");
                crate::metrics::failover(op, step.host.as_str());
                tokio::time::sleep(step.delay).await;
                host = step.host;
            }
        }))
    }
}

pin_project! {
    /// The future of a call to a fixed endpoint: the inner call, with the host named in its
    /// error. It holds the layer's state handle rather than a copy of the host: the host is
    /// needed only on an error, and the client's handle is bumped on every call anyway.
    pub struct FixedHostFuture<F, H> {
        #[pin]
        inner: F,
        state: H,
    }
}

impl<F, H> Future for FixedHostFuture<F, H>
where
    F: Future<Output = Result<Response<Bytes>, Error>>,
    H: StateHandle<FailoverState>,
{
    type Output = Result<Response<Bytes>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        Poll::Ready(result.map_err(|mut e| {
            if let Endpoint::Fixed { authority, .. } = &this.state.state().endpoint {
                e.fill_host(authority.as_str());
            }
            e
        }))
    }
}
