//! The full stack on the mock under tokio's paused clock: exact schedules, failover, the retry
//! budget, rate limits and the create rules. No sockets, no real sleeps.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_core::backoff::{CODE_65_RETRY, TRANSCODER_CREATE_RETRY};
use agora_rest_core::classify::{Action, Exhausted};
use agora_rest_core::operation::Operation;
use agora_rest_core::region::Area;
use agora_rest_transport::mock::{MockResponse, MockService};
use agora_rest_transport::{Call, Client, Config, Credentials, Error};
use http::Method;

fn client(mock: &MockService, f: impl FnOnce(Config) -> Config) -> Client {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_area(Area::Eu)
        .with_jitter(|| 0.5);
    Client::builder(f(config))
        .with_service(mock.clone())
        .build()
        .unwrap()
}

async fn send(client: &Client, op: Operation) -> Result<http::Response<bytes::Bytes>, Error> {
    let method = match op {
        Operation::PushCreate | Operation::TranscodeCreate | Operation::Acquire => Method::POST,
        _ => Method::GET,
    };
    let req = client
        .request(
            Call::new(op, "/test").for_converter("c1"),
            method,
            "/eu/v1/projects/app/x",
            None,
        )
        .unwrap();
    client.send(req).await
}

fn times(mock: &MockService) -> Vec<f64> {
    mock.requests().iter().map(|r| r.at.as_secs_f64()).collect()
}

fn hosts(mock: &MockService) -> Vec<String> {
    mock.requests()
        .iter()
        .map(|r| r.host().to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn media_push_status_retries_follow_5_10_15_windows() {
    let mock = MockService::new();
    for _ in 0..3 {
        mock.push(MockResponse::json(
            503,
            r#"{"message":"The server is temporarily overloaded."}"#,
        ));
    }
    mock.push(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    let resp = send(&c, Operation::PushGet).await.unwrap();
    assert_eq!(resp.status(), 200);
    // Jitter 0.5 puts each wait in the middle of its documented window: 5.5, 10.5, 15.5 s.
    assert_eq!(times(&mock), [0.0, 5.5, 16.0, 31.5]);
    // One request id for all attempts.
    let ids: Vec<_> = mock
        .requests()
        .iter()
        .map(|r| r.headers["x-request-id"].clone())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test(start_paused = true)]
async fn media_push_exhausted_means_task_failed() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(
        404,
        r#"{"reason":"Resource is not found and destroyed."}"#,
    ));
    let c = client(&mock, |c| c.with_jitter(|| 0.0));
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert_eq!(times(&mock), [0.0, 5.0, 15.0, 30.0]);
    match &err {
        Error::RetriesExhausted {
            attempts,
            then,
            last,
            ..
        } => {
            assert_eq!((*attempts, *then), (4, Exhausted::TaskFailed));
            assert_eq!(last.status(), Some(404));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("request id"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn transcoder_query_code_65_uses_3_6() {
    let mock = MockService::new();
    mock.push(MockResponse::json(500, r#"{"code":65,"reason":"jitter"}"#));
    mock.push(MockResponse::json(500, r#"{"code":65,"reason":"jitter"}"#));
    mock.push(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    send(&c, Operation::TranscodeQuery).await.unwrap();
    assert_eq!(times(&mock), [0.0, 3.0, 9.0]);
}

#[tokio::test(start_paused = true)]
async fn creates_are_never_resent_blindly() {
    // Media Push 504: one request, "confirm existence" for the caller.
    let mock = MockService::new();
    mock.fallback(MockResponse::json(504, r#"{"message":"Gateway timeout."}"#));
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::PushCreate).await.unwrap_err();
    assert_eq!(mock.calls(), 1);
    assert_eq!(err.status_error().unwrap().action, Action::ConfirmExistence);
    assert!(err.maybe_applied());

    // Cloud Transcoding 206: one request; the schedule is handed to the start procedure.
    let mock = MockService::new();
    mock.fallback(MockResponse::status(206));
    let c = client(&mock, |c| c);
    let resp = send(&c, Operation::TranscodeCreate).await;
    // 206 is a 2xx: it comes back as a response for the start procedure to act on.
    assert_eq!(resp.unwrap().status(), 206);
    assert_eq!(mock.calls(), 1);
    assert_eq!(
        agora_rest_core::classify::classify(Operation::TranscodeCreate, 206, None),
        Action::Retry(agora_rest_core::classify::RetryPlan {
            schedule: TRANSCODER_CREATE_RETRY,
            reason: agora_rest_core::classify::RetryReason::PartialSuccess,
            then: Exhausted::NewUidAndAcquire,
        })
    );

    // Code 65 on a create: one request, the 3/6 s plan in the error.
    let mock = MockService::new();
    mock.fallback(MockResponse::json(500, r#"{"code":65}"#));
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::TranscodeCreate).await.unwrap_err();
    assert_eq!(mock.calls(), 1);
    let s = err.status_error().unwrap();
    assert!(
        matches!(s.action, Action::Retry(p) if p.schedule == CODE_65_RETRY) && s.code == Some(65)
    );

    // A create that times out is not resent to another host either.
    let mock = MockService::new();
    mock.fallback(MockResponse::Hang);
    let c = client(&mock, |c| c.with_attempt_timeout(Duration::from_secs(2)));
    let err = send(&c, Operation::PushCreate).await.unwrap_err();
    assert_eq!(mock.calls(), 1);
    assert!(matches!(err, Error::Timeout { .. }) && err.maybe_applied());
}

#[tokio::test(start_paused = true)]
async fn failover_walks_the_plan_for_network_and_dns_failures() {
    // Network failures: primary, primary again after 1 s, adjacent region after 3 s.
    let mock = MockService::new();
    mock.fallback(MockResponse::Refused);
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(
        hosts(&mock),
        ["api.agora.io", "api.agora.io", "api-eu-central-1.agora.io"]
    );
    assert_eq!(times(&mock), [0.0, 1.0, 4.0]);

    // DNS failures: the alternate suffix comes in, then the adjacent region with both suffixes.
    let mock = MockService::new();
    mock.fallback(MockResponse::Unresolvable);
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::Dns { .. }), "{err:?}");
    assert_eq!(
        hosts(&mock),
        [
            "api.agora.io",
            "api.agora.io",
            "api.sd-rtn.com",
            "api-eu-central-1.agora.io",
            "api-eu-central-1.sd-rtn.com"
        ]
    );
    assert_eq!(times(&mock), [0.0, 1.0, 4.0, 10.0, 16.0]);

    // Even a create may fail over when nothing was sent.
    let mock = MockService::new();
    mock.push_for_host("api.agora.io", MockResponse::Refused);
    mock.push(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    send(&c, Operation::PushCreate).await.unwrap();
    assert_eq!(mock.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn failover_keeps_the_working_host_then_returns_to_the_primary() {
    let mock = MockService::new();
    mock.push_for_host("api.agora.io", MockResponse::Refused);
    mock.push_for_host("api.agora.io", MockResponse::Refused);
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    send(&c, Operation::PushGet).await.unwrap();
    assert_eq!(hosts(&mock).last().unwrap(), "api-eu-central-1.agora.io");
    // The next call starts on the host that worked.
    send(&c, Operation::PushGet).await.unwrap();
    assert_eq!(hosts(&mock).last().unwrap(), "api-eu-central-1.agora.io");
    // A minute later the primary is probed again (and now works).
    tokio::time::sleep(Duration::from_secs(61)).await;
    send(&c, Operation::PushGet).await.unwrap();
    assert_eq!(hosts(&mock).last().unwrap(), "api.agora.io");
}

#[tokio::test(start_paused = true)]
async fn retry_budget_stops_retries_in_a_long_outage() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    // 12 tokens: two retries (5 each) of the first call, then nothing.
    let c = client(&mock, |c| c.with_retry_budget(12));
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::RetryBudgetExhausted { .. }), "{err:?}");
    assert_eq!(mock.calls(), 3);
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::RetryBudgetExhausted { .. }));
    assert_eq!(mock.calls(), 4, "the second call fails fast");
}

#[tokio::test(start_paused = true)]
async fn limiter_holds_50_per_second_at_ten_times_the_load() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| {
        c.with_max_rate_limit_wait(Duration::from_secs(600))
    });
    let start = tokio::time::Instant::now();
    let horizon = Duration::from_secs(60);
    // 50 workers each offering 10 requests/s: 500/s, ten times the limit.
    let mut workers = Vec::new();
    for _ in 0..50 {
        let c = c.clone();
        workers.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            while next.duration_since(start) < horizon {
                let _ = send(&c, Operation::PushGet).await;
                next += Duration::from_millis(100);
                tokio::time::sleep_until(next).await;
            }
        }));
    }
    tokio::time::sleep(horizon).await;
    for w in &workers {
        w.abort();
    }
    let t: Vec<Duration> = mock
        .requests()
        .iter()
        .map(|r| r.at)
        .filter(|at| *at < horizon)
        .collect();
    let expected = 50.0 * horizon.as_secs_f64();
    let got = t.len() as f64;
    assert!(
        (got - expected).abs() / expected <= 0.01,
        "{got} requests in 60 s, expected {expected} ± 1 %"
    );
    // No one-second window ever holds a 51st request.
    for w in t.windows(51) {
        assert!(
            w[50] - w[0] >= Duration::from_secs(1),
            "51 requests within {:?}",
            w[50] - w[0]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn per_converter_update_limit_is_two_per_second() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    for _ in 0..5 {
        send(&c, Operation::PushUpdate).await.unwrap();
    }
    assert_eq!(times(&mock), [0.0, 0.5, 1.0, 1.5, 2.0]);
    // Another API is not held up by it.
    send(&c, Operation::PushGet).await.unwrap();
    assert_eq!(*times(&mock).last().unwrap(), 2.0);
}

#[tokio::test(start_paused = true)]
async fn call_deadline_bounds_all_attempts() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    let c = client(&mock, |c| c.with_call_timeout(Duration::from_secs(12)));
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
    assert_eq!(times(&mock), [0.0, 5.5]);
}

#[tokio::test(start_paused = true)]
async fn auth_header_and_ids_are_sent() {
    let mock = MockService::new();
    mock.push(
        MockResponse::json(200, "{}")
            .header("x-request-id", "server-id")
            .header("x-resource-id", "conv-1"),
    );
    let c = client(&mock, |c| c);
    let req = c
        .request(
            Call::new(Operation::PushGet, "/t"),
            Method::GET,
            "/eu/v1/x",
            None,
        )
        .unwrap();
    let resp = c.send(req).await.unwrap();
    let ids = agora_rest_transport::ResponseIds::of(&resp);
    assert_eq!(ids.resource_id.as_deref(), Some("conv-1"));
    let sent = &mock.requests()[0];
    assert_eq!(sent.headers["authorization"], "Basic Y2lkOmNzZWNyZXQ=");
    assert!(sent.headers["authorization"].is_sensitive());
    assert_eq!(sent.headers["x-request-id"].len(), 32);
    assert_eq!(sent.uri.to_string(), "https://api.agora.io/eu/v1/x");
}

/// The request id every attempt of the last call carried (all the same).
fn sent_request_id(mock: &MockService) -> String {
    let ids: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.headers["x-request-id"].to_str().unwrap().to_string())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    ids.last().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn errors_name_the_host_tried_last_and_the_request_id() {
    // Network failures along the plan: the error names the last host.
    let mock = MockService::new();
    mock.fallback(MockResponse::Refused);
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    match &err {
        Error::Connect { host, .. } => assert_eq!(host, "api-eu-central-1.agora.io"),
        other => panic!("{other:?}"),
    }
    let id = sent_request_id(&mock);
    assert_eq!(err.request_id(), Some(id.as_str()));
    assert!(err.to_string().contains(&id), "{err}");

    // A per-attempt timeout, on the primary.
    let mock = MockService::new();
    mock.fallback(MockResponse::Hang);
    let c = client(&mock, |c| c.with_attempt_timeout(Duration::from_secs(2)));
    let err = send(&c, Operation::PushCreate).await.unwrap_err();
    match &err {
        Error::Timeout { host, after, .. } => {
            assert_eq!(
                (host.as_str(), *after),
                ("api.agora.io", Duration::from_secs(2))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.request_id(), Some(sent_request_id(&mock).as_str()));

    // A whole-call deadline.
    let mock = MockService::new();
    mock.fallback(MockResponse::Hang);
    let c = client(&mock, |c| c.with_call_timeout(Duration::from_secs(1)));
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
    assert_eq!(err.request_id(), Some(sent_request_id(&mock).as_str()));

    // Retries spent on a status: the id is on the outer error and on the last answer.
    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    let c = client(&mock, |c| c);
    let err = send(&c, Operation::PushGet).await.unwrap_err();
    let id = sent_request_id(&mock);
    assert!(matches!(err, Error::RetriesExhausted { .. }), "{err:?}");
    assert_eq!(err.request_id(), Some(id.as_str()));
    assert_eq!(
        err.status_error().unwrap().request_id.as_deref(),
        Some(id.as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn every_attempt_carries_the_user_agent_content_type_and_one_request_id() {
    // Three attempts (503 twice, then 200) of a body-less Get, then a create with a body.
    let mock = MockService::new();
    mock.push(MockResponse::json(503, "{}"));
    mock.push(MockResponse::json(503, "{}"));
    mock.push(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c.with_user_agent("my-backend/2.0"));
    send(&c, Operation::PushGet).await.unwrap();
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    let id = sent_request_id(&mock);
    assert_eq!(id.len(), 32);
    for r in &requests {
        assert_eq!(r.headers["user-agent"], "my-backend/2.0");
        assert!(!r.headers.contains_key("content-type"), "no body, no type");
    }

    let mock = MockService::new();
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    let req = c
        .request(
            Call::new(Operation::PushCreate, "/t"),
            Method::POST,
            "/eu/v1/projects/app/rtmp-converters",
            Some(bytes::Bytes::from_static(b"{}")),
        )
        .unwrap();
    c.send(req).await.unwrap();
    let r = &mock.requests()[0];
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.headers["user-agent"],
        agora_rest_transport::config::USER_AGENT
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_id_set_by_the_caller_is_kept_on_every_attempt_and_in_errors() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    let c = client(&mock, |c| c);
    let mut req = c
        .request(
            Call::new(Operation::PushGet, "/t"),
            Method::GET,
            "/eu/v1/x",
            None,
        )
        .unwrap();
    req.headers_mut().insert(
        "x-request-id",
        http::HeaderValue::from_static("my-trace-42"),
    );
    let err = c.send(req).await.unwrap_err();
    assert!(mock.calls() > 1);
    assert_eq!(sent_request_id(&mock), "my-trace-42");
    assert_eq!(err.request_id(), Some("my-trace-42"));
}

#[tokio::test(start_paused = true)]
async fn failover_tokens_come_back_when_a_host_answers() {
    // 10 tokens pay for exactly one failover attempt (a transport retry costs 10).
    let mock = MockService::new();
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c.with_retry_budget(10));
    for call in 1..=3 {
        // Refused once, then the primary again after 1 s answers; the token comes back, so
        // the next call can fail over too.
        mock.push_for_host("api.agora.io", MockResponse::Refused);
        send(&c, Operation::PushGet).await.unwrap();
        assert_eq!(mock.calls(), 2 * call);
    }
}

/// Runs `f` under an overall limit of paused time, so that a regression to an endless retry
/// loop fails instead of hanging the suite.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("the call ended within an hour of paused time")
}

/// 404 and 503 alternating used to reset the schedule on every change of kind: one Get made
/// 101 attempts over 500 s and drained the budget every call shares. Counted across kinds,
/// the guide's "three consecutive 404 or 5xx" ends it after three retries.
#[tokio::test(start_paused = true)]
async fn alternating_404_and_503_count_as_one_run_of_failures() {
    let mock = MockService::new();
    for i in 0..200 {
        let status = if i % 2 == 0 { 404 } else { 503 };
        mock.push(MockResponse::json(status, r#"{"message":"x"}"#));
    }
    let c = client(&mock, |c| c.with_jitter(|| 0.0));
    let err = bounded(send(&c, Operation::PushGet)).await.unwrap_err();
    assert_eq!(times(&mock), [0.0, 5.0, 15.0, 30.0]);
    assert!(
        matches!(
            err,
            Error::RetriesExhausted {
                attempts: 4,
                then: Exhausted::TaskFailed,
                ..
            }
        ),
        "{err:?}"
    );
}

/// The same call on a client whose budget would be drained by an endless loop: another call
/// after it still gets its retries.
#[tokio::test(start_paused = true)]
async fn one_call_cannot_drain_the_shared_budget() {
    let mock = MockService::new();
    for i in 0..200 {
        let status = if i % 2 == 0 { 404 } else { 503 };
        mock.push(MockResponse::json(status, "{}"));
    }
    // A budget of 40 tokens pays for 8 status retries (5 tokens each).
    let c = client(&mock, |c| c.with_retry_budget(40));
    bounded(send(&c, Operation::PushGet)).await.unwrap_err();
    assert_eq!(mock.calls(), 4);
    // The next call (answered 404, then 503, then 200 by the queue) is still retried.
    let resp = bounded(send(&c, Operation::PushGet)).await;
    assert!(
        mock.calls() >= 6,
        "the second call was retried: {} calls",
        mock.calls()
    );
    drop(resp);
}

/// Every call is bounded in attempts and in the time it spends retrying.
#[tokio::test(start_paused = true)]
async fn calls_are_bounded_in_attempts_and_retry_time() {
    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    let c = client(&mock, |c| c.with_jitter(|| 0.0).with_max_attempts(2));
    let err = bounded(send(&c, Operation::TranscodeQuery))
        .await
        .unwrap_err();
    assert_eq!(times(&mock), [0.0, 5.0]);
    assert!(
        matches!(err, Error::RetriesExhausted { attempts: 2, .. }),
        "{err:?}"
    );

    let mock = MockService::new();
    mock.fallback(MockResponse::json(503, "{}"));
    let c = client(&mock, |c| {
        c.with_jitter(|| 0.0)
            .with_max_retry_time(Duration::from_secs(20))
    });
    bounded(send(&c, Operation::PushGet)).await.unwrap_err();
    // 5 s, then 10 s (at 15 s); the next wait of 15 s would end at 30 s > 20 s.
    assert_eq!(times(&mock), [0.0, 5.0, 15.0]);
}

/// A quota 429 is reported at once, typed; a rate 429 is retried.
#[tokio::test(start_paused = true)]
async fn a_quota_429_is_typed_and_not_retried() {
    for text in ["Resources quota exceeded.", "No available resources."] {
        let mock = MockService::new();
        mock.fallback(MockResponse::json(
            429,
            format!(r#"{{"message":"{text}"}}"#),
        ));
        let c = client(&mock, |c| c);
        let err = bounded(send(&c, Operation::PushGet)).await.unwrap_err();
        assert_eq!(mock.calls(), 1, "{text}: not retried");
        assert!(err.is_quota_exceeded() && !err.is_throttled(), "{err:?}");
        assert_eq!(err.status_error().unwrap().action, Action::QuotaExceeded);
    }
    let mock = MockService::new();
    mock.push(MockResponse::json(
        429,
        r#"{"message":"Request rate limit exceeded."}"#,
    ));
    mock.push(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    bounded(send(&c, Operation::PushGet)).await.unwrap();
    assert_eq!(mock.calls(), 2);
}

/// Display names the operation, the final status, the vendor's message, the request id and the
/// resource id; the helpers read them.
#[tokio::test(start_paused = true)]
async fn errors_show_status_message_request_and_resource_ids() {
    let mock = MockService::new();
    mock.fallback(
        MockResponse::json(503, "{\"message\":\"overloaded\\u001b[2J\"}")
            .header("x-resource-id", "conv-77"),
    );
    let c = client(&mock, |c| c);
    let err = bounded(send(&c, Operation::PushGet)).await.unwrap_err();
    let text = err.to_string();
    for part in [
        "push.get",
        "HTTP 503",
        "overloaded",
        "conv-77",
        "request id",
    ] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains(&sent_request_id(&mock)), "{text}");
    assert_eq!(err.resource_id(), Some("conv-77"));
    assert_eq!(err.status(), Some(503));
    assert!(!err.is_not_found());

    // A 2xx whose body does not decode keeps both ids and counts as maybe applied.
    let mock = MockService::new();
    mock.push(MockResponse::json(200, "not json").header("x-resource-id", "conv-8"));
    let c = client(&mock, |c| c);
    let req = c
        .request(
            Call::new(Operation::PushCreate, "/t"),
            Method::POST,
            "/eu/x",
            None,
        )
        .unwrap();
    let err = bounded(c.send_json::<serde_json::Value>(req, "thing"))
        .await
        .unwrap_err();
    assert_eq!(err.resource_id(), Some("conv-8"));
    assert_eq!(err.request_id(), Some(sent_request_id(&mock).as_str()));
    assert!(err.maybe_applied(), "{err:?}");
    assert!(err.to_string().contains("conv-8"), "{err}");
}

/// A password in an endpoint URL never reaches an error or Debug.
#[test]
fn endpoint_passwords_are_redacted() {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_endpoint("http://user:hunter2@10.1.2.3:8080");
    assert!(!format!("{config:?}").contains("hunter2"));
    let err = Client::builder(config).build().unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_endpoint("not a url :hunter2@");
    let err = Client::builder(config).build().unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// An attempt past the call's send-by time is not sent.
#[tokio::test(start_paused = true)]
async fn no_attempt_goes_out_after_the_send_by_time() {
    let mock = MockService::new();
    mock.push(MockResponse::status(503).after(Duration::from_secs(3)));
    mock.fallback(MockResponse::json(200, "{}"));
    let c = client(&mock, |c| c);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let req = c
        .request(
            Call::new(Operation::TranscodeQuery, "/t").send_by(deadline),
            Method::GET,
            "/x",
            None,
        )
        .unwrap();
    let err = bounded(c.send(req)).await.unwrap_err();
    assert_eq!(mock.calls(), 1);
    assert!(
        err.not_sent() && matches!(err.last(), Error::SendByPassed { .. }),
        "{err:?}"
    );
}
