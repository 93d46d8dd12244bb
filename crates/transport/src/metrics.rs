//! The metrics the client and the controllers record, through the `metrics` facade.
//!
//! Nothing is exported unless the application installs a recorder (for example
//! `metrics-exporter-prometheus`, which `agora-rest controller run --metrics ADDR` serves);
//! without one every record is a no-op. The names and labels are listed here, once, and in
//! `docs/metrics.md`.
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `agora_rest_calls_total` | counter | `op`, `outcome` | whole calls, retries included: `outcome` is the final status (`200`, `404`…) or an error kind (`network`, `timeout`, `rate_limit_wait`, …) |
//! | `agora_rest_requests_total` | counter | `op`, `status`, `host` | each HTTP attempt, by the status answered (or `network`, `timeout`) and the host it went to |
//! | `agora_rest_retries_total` | counter | `op`, `status` | attempts sent again after an advised status (the guide's schedules) |
//! | `agora_rest_failovers_total` | counter | `op`, `to` | domain switches, by the host switched to |
//! | `agora_rest_rate_limit_wait_seconds` | histogram | `op`, `limiter` | waits for a rate-limit permit (`limiter` = `local` or `shared`), only of calls that waited |
//! | `agora_rest_throttled_total` | counter | `op`, `kind` | 429 answers: `kind` = `rate` (QPS) or `quota` (concurrency cap) |
//! | `agora_rest_retry_budget_tokens` | gauge | — | tokens left in the client's retry budget |
//! | `agora_rest_reconcile_actions_total` | counter | `service`, `action` | what the controllers did (`create`, `update`, `recreate`, `poll`…) |
//! | `agora_rest_resources` | gauge | `service`, `state` | declared converters and tasks by observed state (`healthy`, `failed`…) |

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use agora_rest_core::operation::Operation;
use metrics::Counter;

/// Whole calls, by operation and outcome.
pub const CALLS: &str = "agora_rest_calls_total";
/// HTTP attempts, by operation, status and host.
pub const REQUESTS: &str = "agora_rest_requests_total";
/// Attempts sent again after an advised status.
pub const RETRIES: &str = "agora_rest_retries_total";
/// Domain switches.
pub const FAILOVERS: &str = "agora_rest_failovers_total";
/// Waits for a rate-limit permit, in seconds.
pub const RATE_LIMIT_WAIT: &str = "agora_rest_rate_limit_wait_seconds";
/// 429 answers by kind.
pub const THROTTLED: &str = "agora_rest_throttled_total";
/// Tokens left in the retry budget.
pub const RETRY_BUDGET: &str = "agora_rest_retry_budget_tokens";
/// Controller actions.
pub const RECONCILE_ACTIONS: &str = "agora_rest_reconcile_actions_total";
/// Declared resources by observed state.
pub const RESOURCES: &str = "agora_rest_resources";

/// A status as a metric label: the common codes without an allocation, others formatted.
/// Shared with the emulator's metrics, so that both label statuses alike.
pub fn status_label(status: u16) -> metrics::SharedString {
    const KNOWN: [(u16, &str); 12] = [
        (200, "200"),
        (201, "201"),
        (206, "206"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (409, "409"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
        (504, "504"),
    ];
    match KNOWN.iter().find(|(s, _)| *s == status) {
        Some((_, label)) => metrics::SharedString::const_str(label),
        None => metrics::SharedString::from(status.to_string()),
    }
}

/// How a call or an attempt ended: a status, or the kind of error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Outcome {
    /// The service answered.
    Status(u16),
    /// No answer: the error's kind (`network`, `timeout`, …).
    Kind(&'static str),
}

impl Outcome {
    pub(crate) fn of(outcome: Result<u16, &'static str>) -> Self {
        match outcome {
            Ok(status) => Outcome::Status(status),
            Err(kind) => Outcome::Kind(kind),
        }
    }

    fn label(self) -> metrics::SharedString {
        match self {
            Outcome::Status(status) => status_label(status),
            Outcome::Kind(kind) => metrics::SharedString::const_str(kind),
        }
    }
}

/// The most counter handles one client keeps (operations × outcomes × hosts are few; the cap
/// only bounds a pathological server answering ever new statuses). Beyond it, counts still
/// go to the recorder, only without a cached handle.
const MAX_CACHED: usize = 1024;

/// The counter handles of one client, registered at first use and then reused.
///
/// Why: building a metric key allocates (its label list, the host's name), and that cost on
/// every request was a tenth of the whole stack's. A cached handle costs a read lock and a
/// hash lookup of a small key. Handles are registered with the recorder installed when they
/// are first used: install the recorder before the first call (as with any `metrics` handle).
#[derive(Debug, Default)]
pub struct ClientMetrics {
    calls: RwLock<Counters>,
    /// By host, then operation and outcome (a host is looked up by `&str`, no allocation).
    requests: RwLock<HashMap<Box<str>, Counters>>,
}

/// Counter handles by operation and outcome.
type Counters = HashMap<(Operation, Outcome), Counter>;

impl ClientMetrics {
    /// Counts a whole call's outcome: its final status, or the kind of error that ended it.
    pub(crate) fn call(&self, op: Operation, outcome: Outcome) {
        let key = (op, outcome);
        if let Some(c) = self
            .calls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            c.increment(1);
            return;
        }
        let counter = metrics::counter!(CALLS, "op" => op.name(), "outcome" => outcome.label());
        counter.increment(1);
        let mut calls = self.calls.write().unwrap_or_else(PoisonError::into_inner);
        if calls.len() < MAX_CACHED {
            calls.insert(key, counter);
        }
    }

    /// Counts one HTTP attempt to `host`.
    pub(crate) fn request(&self, op: Operation, outcome: Outcome, host: &str) {
        let key = (op, outcome);
        if let Some(c) = self
            .requests
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .and_then(|m| m.get(&key))
        {
            c.increment(1);
            return;
        }
        let counter = metrics::counter!(
            REQUESTS,
            "op" => op.name(),
            "status" => outcome.label(),
            "host" => host.to_string()
        );
        counter.increment(1);
        let mut requests = self
            .requests
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let cached: usize = requests.values().map(HashMap::len).sum();
        if cached < MAX_CACHED {
            requests
                .entry(host.into())
                .or_default()
                .insert(key, counter);
        }
    }
}

/// Counts a retry after `status`.
pub(crate) fn retry(op: Operation, status: u16) {
    metrics::counter!(RETRIES, "op" => op.name(), "status" => status_label(status)).increment(1);
}

/// Counts a domain switch to `to`.
pub(crate) fn failover(op: Operation, to: &str) {
    metrics::counter!(FAILOVERS, "op" => op.name(), "to" => to.to_string()).increment(1);
}

/// Records a wait for a rate-limit permit.
pub(crate) fn rate_limit_wait(op: Operation, limiter: &'static str, waited: Duration) {
    metrics::histogram!(RATE_LIMIT_WAIT, "op" => op.name(), "limiter" => limiter)
        .record(waited.as_secs_f64());
}

/// Counts a 429, by kind: `quota` when a concurrency cap refused, else `rate`.
pub(crate) fn throttled(op: Operation, quota: bool) {
    let kind = if quota { "quota" } else { "rate" };
    metrics::counter!(THROTTLED, "op" => op.name(), "kind" => kind).increment(1);
}

/// Sets the retry budget's tokens left.
pub(crate) fn retry_budget(tokens: u32) {
    metrics::gauge!(RETRY_BUDGET).set(f64::from(tokens));
}

/// Counts a controller action on one resource. For the controllers of the service crates.
pub fn reconcile_action(service: &'static str, action: &'static str) {
    metrics::counter!(RECONCILE_ACTIONS, "service" => service, "action" => action).increment(1);
}

/// Moves one resource between observed states in the [`RESOURCES`] gauge: `from` is its state
/// before (`None` for a new key), `to` after (`None` when the key is forgotten). For the
/// controllers of the service crates; a move to the same state records nothing.
pub fn resource_state(service: &'static str, from: Option<&'static str>, to: Option<&'static str>) {
    if from == to {
        return;
    }
    if let Some(from) = from {
        metrics::gauge!(RESOURCES, "service" => service, "state" => from).decrement(1.0);
    }
    if let Some(to) = to {
        metrics::gauge!(RESOURCES, "service" => service, "state" => to).increment(1.0);
    }
}
