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

use std::time::Duration;

use agora_rest_core::operation::Operation;

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

/// Status labels of the common codes without an allocation; others are formatted.
fn status_label(status: u16) -> metrics::SharedString {
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

/// Counts a whole call's outcome: its final status, or the kind of error that ended it.
pub(crate) fn call_outcome(op: Operation, outcome: Result<u16, &'static str>) {
    let outcome = match outcome {
        Ok(status) => status_label(status),
        Err(kind) => metrics::SharedString::const_str(kind),
    };
    metrics::counter!(CALLS, "op" => op.name(), "outcome" => outcome).increment(1);
}

/// Counts one HTTP attempt.
pub(crate) fn request(op: Operation, outcome: Result<u16, &'static str>, host: &str) {
    let status = match outcome {
        Ok(status) => status_label(status),
        Err(kind) => metrics::SharedString::const_str(kind),
    };
    metrics::counter!(REQUESTS, "op" => op.name(), "status" => status, "host" => host.to_string())
        .increment(1);
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
