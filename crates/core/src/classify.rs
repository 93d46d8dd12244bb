//! Status classifiers: (operation, HTTP status, error-body code) → what to do next.
//!
//! Exists because the guides' troubleshooting tables are the heart of reliable use, and every
//! client re-reads them by hand (docs/vendor-rules.md; the Media Push best-practices guide "Troubleshooting by error code",
//! the Cloud Transcoding service-status guide "Check the Create request response"). Each service has one table, total over every
//! status from 100 to 599; the retry schedules come from [`crate::backoff`].

use crate::backoff::{
    CODE_65_RETRY, MEDIA_PUSH_RETRY, NOT_FOUND_CONFIRMATION, QUERY_SERVER_ERROR, Schedule,
    TRANSCODER_CREATE_RETRY, TRANSCODER_RATE_LIMITED,
};
use crate::operation::{Operation, Service};

/// The body error code that means "network jitter: retry the same request" (docs/vendor-rules.md).
pub const CODE_NETWORK_JITTER: i64 = 65;

/// What the caller should do after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// The call succeeded.
    Success,
    /// Media Push Create 409: a converter with this name exists. Reuse it or delete it.
    AlreadyExists,
    /// Cloud Transcoding Create 409 (or the deprecated 201): the task already started. Adopt it;
    /// no retry is needed.
    AlreadyStarted,
    /// Retry on a schedule, then do what the plan says.
    Retry(RetryPlan),
    /// Media Push Create 504: the converter may have been created. Look it up (List the channel,
    /// match the name) before creating again.
    ConfirmExistence,
    /// A 400 or other 4xx: the request is wrong. Do not retry.
    FixInput,
    /// 401: the customer id or secret is wrong.
    FixCredentials,
    /// 403: the service is not enabled for this project.
    EnableService,
    /// A 429 whose message says a concurrency quota is full ("Resources quota exceeded", "No
    /// available resources"), not the request rate: waiting seconds will not free a stream, so
    /// it is reported at once instead of being retried on the rate schedule.
    QuotaExceeded,
    /// A Delete answered 404: the resource is already gone, which is what a Delete wants.
    /// Settled at once rather than confirmed on the 404 schedule.
    Gone,
    /// Nothing will help (e.g. 501 on Cloud Transcoding, an unexpected 1xx/3xx).
    Failed,
}

/// Why a retry is advised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryReason {
    /// 404: not started yet, failing over, being deleted, or gone.
    NotFound,
    /// 429: request rate or quota exceeded. Throttling: a retry budget charges it less.
    RateLimited,
    /// 5xx: a server-side failure.
    ServerError,
    /// Cloud Transcoding Create 206: the create timed out ("partial success").
    PartialSuccess,
    /// Error code 65: network jitter.
    NetworkJitter,
}

/// What a retry plan concludes when its schedule runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exhausted {
    /// Media Push: three 404/5xx in a row mean the task failed. Check the CDN URL, delete and
    /// re-create (the Media Push best-practices guide).
    TaskFailed,
    /// Cloud Transcoding Create: switch to the backup UID, Acquire a new token, Create again
    /// (the Cloud Transcoding service-status guide).
    NewUidAndAcquire,
    /// The resource is confirmed gone (Cloud Transcoding Query 404 after 5/10/15 s; a Media Push
    /// Delete that keeps finding nothing).
    Gone,
    /// Report the last error to the caller.
    GiveUp,
}

/// A retry schedule and what to conclude when it runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPlan {
    /// The waits before each retry.
    pub schedule: Schedule,
    /// Why the retry is advised.
    pub reason: RetryReason,
    /// The conclusion once the schedule is spent.
    pub then: Exhausted,
}

const fn retry(schedule: Schedule, reason: RetryReason, then: Exhausted) -> Action {
    Action::Retry(RetryPlan {
        schedule,
        reason,
        then,
    })
}

/// Classifies a response of `op` with HTTP `status` and the error body's `code`, if any.
///
/// Total: any status (even outside 100–599) gives an action. Without the body's message a 429
/// counts as a rate limit; [`classify_answer`] tells a full quota apart.
pub fn classify(op: Operation, status: u16, body_code: Option<i64>) -> Action {
    match op.service() {
        Service::MediaPush => classify_media_push(op, status),
        Service::CloudTranscoding => classify_cloud_transcoding(op, status, body_code),
    }
}

/// As [`classify`], reading the error body's `message` too: a 429 that names a quota
/// ("Resources quota exceeded", "No available resources") is [`Action::QuotaExceeded`].
pub fn classify_answer(
    op: Operation,
    status: u16,
    body_code: Option<i64>,
    message: Option<&str>,
) -> Action {
    if status == 429 && body_code != Some(CODE_NETWORK_JITTER) && message.is_some_and(names_quota) {
        return Action::QuotaExceeded;
    }
    classify(op, status, body_code)
}

/// Whether a 429's message names a concurrency quota rather than the request rate. The status
/// table lists "Request rate limit exceeded", "Resources quota exceeded" and "No available
/// resources" under one status; only the first passes with time.
pub fn names_quota(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("quota") || m.contains("no available resource")
}

/// The Media Push table (docs/vendor-rules.md, the Media Push best-practices guide).
fn classify_media_push(op: Operation, status: u16) -> Action {
    // Three 404/5xx in a row on an existing converter mean it failed; on a create or a list
    // there is no task to declare failed, and a delete that keeps finding nothing is done.
    let not_found_then = match op {
        Operation::PushGet | Operation::PushUpdate => Exhausted::TaskFailed,
        _ => Exhausted::GiveUp,
    };
    let server_error_then = match op {
        Operation::PushGet | Operation::PushUpdate => Exhausted::TaskFailed,
        _ => Exhausted::GiveUp,
    };
    match status {
        200..=299 => Action::Success,
        400 => Action::FixInput,
        401 => Action::FixCredentials,
        403 => Action::EnableService,
        404 if op == Operation::PushDelete => Action::Gone,
        404 => retry(MEDIA_PUSH_RETRY, RetryReason::NotFound, not_found_then),
        409 if op == Operation::PushCreate => Action::AlreadyExists,
        409 => Action::Failed,
        429 => retry(
            MEDIA_PUSH_RETRY,
            RetryReason::RateLimited,
            Exhausted::GiveUp,
        ),
        504 if op == Operation::PushCreate => Action::ConfirmExistence,
        402..=499 => Action::FixInput,
        500..=599 => retry(
            MEDIA_PUSH_RETRY,
            RetryReason::ServerError,
            server_error_then,
        ),
        _ => Action::Failed,
    }
}

/// The Cloud Transcoding table (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
fn classify_cloud_transcoding(op: Operation, status: u16, body_code: Option<i64>) -> Action {
    let create = op == Operation::TranscodeCreate;
    let is_error = !(200..=299).contains(&status);
    if is_error && body_code == Some(CODE_NETWORK_JITTER) {
        let then = if create {
            Exhausted::NewUidAndAcquire
        } else {
            Exhausted::GiveUp
        };
        return retry(CODE_65_RETRY, RetryReason::NetworkJitter, then);
    }
    let tracks_task = matches!(op, Operation::TranscodeQuery | Operation::TranscodeUpdate);
    match status {
        201 if create => Action::AlreadyStarted,
        206 if create => retry(
            TRANSCODER_CREATE_RETRY,
            RetryReason::PartialSuccess,
            Exhausted::NewUidAndAcquire,
        ),
        200..=299 => Action::Success,
        400 => Action::FixInput,
        401 => Action::FixCredentials,
        403 => Action::EnableService,
        404 if op == Operation::TranscodeDelete => Action::Gone,
        404 if tracks_task => retry(
            NOT_FOUND_CONFIRMATION,
            RetryReason::NotFound,
            Exhausted::Gone,
        ),
        409 if create => Action::AlreadyStarted,
        429 => retry(
            TRANSCODER_RATE_LIMITED,
            RetryReason::RateLimited,
            Exhausted::GiveUp,
        ),
        402..=499 => Action::FixInput,
        501 => Action::Failed,
        500..=599 if create => retry(
            TRANSCODER_CREATE_RETRY,
            RetryReason::ServerError,
            Exhausted::NewUidAndAcquire,
        ),
        500..=599 => retry(
            QUERY_SERVER_ERROR,
            RetryReason::ServerError,
            Exhausted::GiveUp,
        ),
        _ => Action::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mp(op: Operation, status: u16) -> Action {
        classify(op, status, None)
    }

    fn plan(a: Action) -> RetryPlan {
        match a {
            Action::Retry(p) => p,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    /// the Media Push best-practices guide "Troubleshooting by error code", row by row.
    #[test]
    fn media_push_seed_table() {
        use Operation::*;
        for op in [PushCreate, PushUpdate, PushDelete, PushGet, PushList] {
            assert_eq!(mp(op, 200), Action::Success, "{op}");
            assert_eq!(mp(op, 400), Action::FixInput);
            assert_eq!(mp(op, 401), Action::FixCredentials);
            assert_eq!(mp(op, 403), Action::EnableService);
            for s in [404, 429, 500, 501, 503] {
                if op == PushDelete && s == 404 {
                    continue;
                }
                let p = plan(mp(op, s));
                assert_eq!(p.schedule, MEDIA_PUSH_RETRY, "{op} {s}");
            }
        }
        assert_eq!(mp(PushCreate, 409), Action::AlreadyExists);
        assert_eq!(mp(PushCreate, 504), Action::ConfirmExistence);
        assert_eq!(plan(mp(PushGet, 504)).schedule, MEDIA_PUSH_RETRY);
        assert_eq!(plan(mp(PushGet, 404)).then, Exhausted::TaskFailed);
        assert_eq!(plan(mp(PushGet, 503)).then, Exhausted::TaskFailed);
        assert_eq!(mp(PushDelete, 404), Action::Gone);
        assert_eq!(plan(mp(PushGet, 429)).then, Exhausted::GiveUp);
        assert_eq!(plan(mp(PushGet, 429)).reason, RetryReason::RateLimited);
    }

    /// the Cloud Transcoding service-status guide and docs/vendor-rules.md, row by row.
    #[test]
    fn cloud_transcoding_seed_table() {
        use Operation::*;
        let ct = |op, s| classify(op, s, None);
        assert_eq!(ct(TranscodeCreate, 200), Action::Success);
        assert_eq!(ct(TranscodeCreate, 201), Action::AlreadyStarted);
        assert_eq!(ct(TranscodeCreate, 202), Action::Success);
        let p = plan(ct(TranscodeCreate, 206));
        assert_eq!(
            (p.schedule, p.then),
            (TRANSCODER_CREATE_RETRY, Exhausted::NewUidAndAcquire)
        );
        assert_eq!(ct(TranscodeCreate, 409), Action::AlreadyStarted);
        for s in [400, 404, 405, 422] {
            assert_eq!(ct(TranscodeCreate, s), Action::FixInput, "{s}");
        }
        for s in [500, 502, 503, 504] {
            let p = plan(ct(TranscodeCreate, s));
            assert_eq!(
                (p.schedule, p.then),
                (TRANSCODER_CREATE_RETRY, Exhausted::NewUidAndAcquire)
            );
            let p = plan(ct(TranscodeQuery, s));
            assert_eq!(
                (p.schedule, p.then),
                (QUERY_SERVER_ERROR, Exhausted::GiveUp)
            );
        }
        assert_eq!(ct(TranscodeCreate, 501), Action::Failed);
        let p = plan(ct(TranscodeQuery, 404));
        assert_eq!(
            (p.schedule, p.then),
            (NOT_FOUND_CONFIRMATION, Exhausted::Gone)
        );
        assert_eq!(ct(TranscodeQuery, 401), Action::FixCredentials);
        assert_eq!(ct(TranscodeQuery, 403), Action::EnableService);
        assert_eq!(plan(ct(Acquire, 429)).schedule, TRANSCODER_RATE_LIMITED);
        assert_eq!(ct(TranscodeDelete, 404), Action::Gone);
        // Code 65 wins over the status, on any error status.
        for s in [400, 500, 503] {
            let p = plan(classify(TranscodeCreate, s, Some(65)));
            assert_eq!(
                (p.schedule, p.reason),
                (CODE_65_RETRY, RetryReason::NetworkJitter)
            );
        }
        assert_eq!(classify(TranscodeCreate, 200, Some(65)), Action::Success);
    }

    /// The status table's three 429 texts: only the rate one is retried.
    #[test]
    fn quota_429_is_not_a_rate_limit() {
        use Operation::*;
        for op in [PushCreate, PushGet, TranscodeCreate, Acquire] {
            for text in [
                "Resources quota exceeded.",
                "No available resources.",
                "Resource quota limit exceeded.",
            ] {
                assert_eq!(
                    classify_answer(op, 429, None, Some(text)),
                    Action::QuotaExceeded,
                    "{op} {text}"
                );
            }
            assert!(matches!(
                classify_answer(op, 429, None, Some("Request rate limit exceeded.")),
                Action::Retry(p) if p.reason == RetryReason::RateLimited
            ));
            assert!(matches!(
                classify_answer(op, 429, None, None),
                Action::Retry(_)
            ));
        }
        // Only a 429 is read for a quota.
        assert_eq!(
            classify_answer(PushGet, 503, None, Some("quota")),
            classify(PushGet, 503, None)
        );
    }

    proptest! {
        #[test]
        fn classifiers_are_total_and_consistent(
            op_i in 0usize..Operation::ALL.len(),
            status in 0u16..=999,
            code in proptest::option::of(-5i64..100),
        ) {
            let op = Operation::ALL[op_i];
            let action = classify(op, status, code);
            let oracle_success = (200..=299).contains(&status)
                && !(op == Operation::TranscodeCreate && (status == 201 || status == 206));
            prop_assert_eq!(action == Action::Success, oracle_success, "{} {} -> {:?}", op, status, action);
            if !(100..=599).contains(&status) || (300..=399).contains(&status) || status < 200 {
                prop_assert!(matches!(action, Action::Failed | Action::Retry(_)) || code == Some(65));
            }
            if let Action::Retry(p) = action {
                prop_assert!(p.schedule.retries().is_some_and(|n| n >= 2));
                prop_assert!(status == 404 || status == 429 || status >= 500
                    || status == 206 || code == Some(65));
            }
            // A create is never told to blindly retry after a Media Push gateway timeout.
            if op == Operation::PushCreate && status == 504 {
                prop_assert_eq!(action, Action::ConfirmExistence);
            }
        }
    }
}
