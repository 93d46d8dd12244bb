//! Status retries with the vendor's schedules: tower's `Retry` driven by core's classifier.
//!
//! For each non-2xx answer the policy asks [`classify_answer`] what to do. An idempotent call
//! advised to retry waits the schedule's next delay (jittered within the documented window) and
//! goes again, if the retry budget pays for it; when the schedule is spent the result becomes
//! [`Error::RetriesExhausted`] carrying the guide's conclusion (task failed, new UID, gone).
//!
//! The retries of one call are counted together whatever the status: the guide's "three
//! consecutive 404 or 5xx" does not start again when a 404 follows a 503. Each call is also
//! bounded on its own, in attempts ([`RetryShared::max_attempts`]) and in time spent retrying
//! ([`RetryShared::max_retry_time`]), so no single call can drain the budget all calls share.
//! A non-idempotent call (a create) is never resent here: its error carries the advised action
//! (`ConfirmExistence` after a Media Push 504, `Retry` with its schedule otherwise) for the
//! service crate's create procedure to follow. Transport failures are handled below, by
//! failover.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use agora_rest_core::classify::{Action, classify_answer};
use agora_rest_core::retry_quota::{RetryCause, RetryPermit};
use agora_rest_model::ErrorBody;
use bytes::Bytes;
use http::{Request, Response};
use tower::retry::Policy;

use super::StateHandle;
use super::request_id::X_REQUEST_ID;
use crate::Error;
use crate::budget::RetryBudget;
use crate::call::Call;
use crate::error::StatusError;

/// A source of jitter fractions in `[0, 1]`.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// State shared by every call's policy.
pub struct RetryShared {
    /// The retry budget.
    pub quota: Arc<RetryBudget>,
    /// Jitter for the schedules' windows.
    pub jitter: Jitter,
    /// Whether status retries are on at all.
    pub enabled: bool,
    /// The most attempts of one call (first attempt included).
    pub max_attempts: u32,
    /// How long one call may keep retrying, from its first attempt.
    pub max_retry_time: std::time::Duration,
}

impl std::fmt::Debug for RetryShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryShared")
            .field("enabled", &self.enabled)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_time", &self.max_retry_time)
            .finish_non_exhaustive()
    }
}

/// The per-call retry policy (tower clones it for each request).
#[derive(Clone, Debug)]
pub struct VendorRetryPolicy<H = Arc<RetryShared>> {
    shared: H,
    /// The call's descriptor, taken when its request is cloned (see `clone_request`).
    call: Option<Call>,
    attempts: u32,
    /// Retries made so far, of any kind: the index into whichever schedule applies next.
    retries: usize,
    /// When the call's first attempt went out (set with the first copy of the request).
    started: Option<tokio::time::Instant>,
    permits: Vec<RetryPermit>,
}

impl<H: StateHandle<RetryShared>> VendorRetryPolicy<H> {
    /// A fresh policy over `shared`.
    pub fn new(shared: H) -> Self {
        VendorRetryPolicy {
            shared,
            call: None,
            attempts: 0,
            retries: 0,
            started: None,
            permits: Vec::new(),
        }
    }
}

/// Builds the typed error of a non-2xx answer whose body `body` is already parsed.
pub(crate) fn status_error(
    call: &Call,
    req: &Request<Bytes>,
    resp: &Response<Bytes>,
    body: &ErrorBody,
    action: Action,
) -> Error {
    let request_id = call.request_id().map(str::to_string).or_else(|| {
        req.headers()
            .get(X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    Error::Status(Box::new(StatusError::of_answer(
        call.op, resp, body, action, request_id,
    )))
}

type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

impl<H: StateHandle<RetryShared>> Policy<Request<Bytes>, Response<Bytes>, Error>
    for VendorRetryPolicy<H>
{
    type Future = Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Bytes>,
        result: &mut Result<Response<Bytes>, Error>,
    ) -> Option<Sleep> {
        self.attempts += 1;
        let Ok(resp) = result else { return None };
        if resp.status().is_success() {
            let shared = self.shared.state();
            if self.permits.is_empty() {
                shared.quota.reward();
            } else {
                shared.quota.refund(self.permits.drain(..));
            }
            return None;
        }
        let mut call = self.call.clone()?;
        let body = ErrorBody::parse_lenient(resp.body());
        let action = classify_answer(call.op, resp.status().as_u16(), body.code, body.text());
        let error = status_error(&call, req, resp, &body, action);
        if resp.status() == http::StatusCode::TOO_MANY_REQUESTS {
            crate::metrics::throttled(call.op, error.is_quota_exceeded());
        }
        let plan = match action {
            Action::Retry(plan)
                if call.idempotent && call.status_retries && self.shared.state().enabled =>
            {
                plan
            }
            _ => {
                *result = Err(error);
                return None;
            }
        };
        let shared = self.shared.state();
        let delay = plan
            .schedule
            .delay(self.retries, (shared.jitter)())
            .filter(|_| self.attempts < shared.max_attempts.max(1))
            .filter(|d| {
                // A wait that would end past the call's retry time is not started.
                self.started.is_none_or(|t0| {
                    (tokio::time::Instant::now() + *d).saturating_duration_since(t0)
                        <= shared.max_retry_time
                })
            });
        let Some(delay) = delay else {
            *result = Err(Error::RetriesExhausted {
                op: call.op,
                attempts: self.attempts,
                then: plan.then,
                request_id: error.request_id().map(str::to_string),
                last: Box::new(error),
            });
            return None;
        };
        let permit = self.shared.state().quota.try_acquire(RetryCause::Status);
        let Some(permit) = permit else {
            *result = Err(Error::RetryBudgetExhausted {
                op: call.op,
                request_id: error.request_id().map(str::to_string),
                last: Box::new(error),
            });
            return None;
        };
        self.permits.push(permit);
        self.retries += 1;
        crate::metrics::retry(call.op, resp.status().as_u16());
        tracing::debug!(op = %call.op, status = resp.status().as_u16(), ?delay, attempt = self.attempts, "retrying");
        call.attempt = self.attempts.saturating_add(1);
        // The copy goes out again: the layers below need its descriptor.
        req.extensions_mut().insert(call);
        Some(Box::pin(tokio::time::sleep(delay)))
    }

    /// Copies the request for a possible retry, without its extensions: the descriptor is
    /// kept here instead and put back only if the copy is sent. Cloning the extensions map
    /// would cost three allocations on every call for the rare one that is retried.
    ///
    /// tower calls this on the policy just before cloning the policy into the call's future,
    /// so the descriptor kept is always this call's.
    fn clone_request(&mut self, req: &Request<Bytes>) -> Option<Request<Bytes>> {
        self.call = Some(req.extensions().get::<Call>()?.clone());
        if self.started.is_none() {
            self.started = Some(tokio::time::Instant::now());
        }
        Some(super::copy_without_extensions(req))
    }
}
