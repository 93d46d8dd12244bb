//! The start procedure against a scripted service that answers by path: the defects of the
//! client-correctness review, each reproduced and guarded. Paused clock; every test runs under
//! an overall limit so that a regression fails instead of hanging.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_rest_core::name::UidPair;
use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_transcoder::{Error, StartSpec, Transcoder, UidTokens};
use agora_rest_transport::{Client, Config, Credentials};
use bytes::Bytes;
use common::{config, spec};
use http::{Request, Response};

const TASK: &str = "0123456789abcdef0123456789abcdef";

/// One scripted answer: status, body, and a delay before it.
#[derive(Clone)]
struct Answer(u16, String, Duration);

fn ok(body: &str) -> Answer {
    Answer(200, body.to_string(), Duration::ZERO)
}

fn answer(status: u16, body: &str) -> Answer {
    Answer(status, body.to_string(), Duration::ZERO)
}

#[derive(Default)]
struct Script {
    acquire: VecDeque<Answer>,
    create: VecDeque<Answer>,
    query: VecDeque<Answer>,
    delete: VecDeque<Answer>,
    /// (method, path and query, body, time) of every request.
    seen: Vec<(String, String, String, Duration)>,
    /// When the first request came (times are counted from it).
    origin: Option<tokio::time::Instant>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Script>>);

const ACQUIRE_OK: &str = r#"{"createTs":1,"instanceId":"inst-1","tokenName":"btoken"}"#;

impl Fake {
    fn with(f: impl FnOnce(&mut Script)) -> Self {
        let fake = Fake::default();
        f(&mut fake.0.lock().unwrap());
        fake
    }

    fn seen(&self, method: &str, needle: &str) -> Vec<(String, String, Duration)> {
        self.0
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(m, p, _, _)| m == method && p.contains(needle))
            .map(|(_, p, b, t)| (p.clone(), b.clone(), *t))
            .collect()
    }

    fn creates(&self) -> usize {
        self.seen("POST", "/tasks?").len()
    }
}

type Answered = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Bytes>, std::convert::Infallible>> + Send>,
>;

impl tower::Service<Request<Bytes>> for Fake {
    type Response = Response<Bytes>;
    type Error = std::convert::Infallible;
    type Future = Answered;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Answered {
        let fake = self.clone();
        Box::pin(async move {
            let path = req
                .uri()
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default();
            let method = req.method().to_string();
            let Answer(status, body, delay) = {
                let mut s = fake.0.lock().unwrap();
                let at = s
                    .origin
                    .get_or_insert_with(tokio::time::Instant::now)
                    .elapsed();
                s.seen.push((
                    method.clone(),
                    path.clone(),
                    String::from_utf8_lossy(req.body()).to_string(),
                    at,
                ));
                let queue = if path.contains("/builderTokens") {
                    &mut s.acquire
                } else if method == "POST" {
                    &mut s.create
                } else if method == "DELETE" {
                    &mut s.delete
                } else {
                    &mut s.query
                };
                // The last answer of a queue repeats.
                let next = if queue.len() > 1 {
                    queue.pop_front()
                } else {
                    queue.front().cloned()
                };
                next.unwrap_or(answer(500, "{}"))
            };
            tokio::time::sleep(delay).await;
            let mut r = Response::new(Bytes::from(body));
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok(r)
        })
    }
}

fn transcoder(fake: &Fake) -> Transcoder {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    Transcoder::new(
        Client::builder(c)
            .with_service(fake.clone())
            .build()
            .unwrap(),
    )
}

fn task(status: &str) -> String {
    format!(r#"{{"taskId":"{TASK}","status":"{status}","createTs":1}}"#)
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(3600), f)
        .await
        .expect("done within an hour of paused time")
}

/// 206 and code 65 alternating used to reset the schedule on every change: 41 Creates on one
/// Acquire. Now a round sends at most 4 Creates and a start at most 4 rounds.
#[tokio::test(start_paused = true)]
async fn alternating_206_and_code_65_is_bounded_as_a_whole() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        for i in 0..200 {
            s.create.push_back(if i % 2 == 0 {
                answer(206, "{}")
            } else {
                answer(500, r#"{"code":65,"reason":"jitter"}"#)
            });
        }
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::CreateGaveUp {
                rounds: 4,
                creates: 16,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fake.creates(), 16);
    assert!(
        err.to_string().contains("HTTP"),
        "the last answer is shown: {err}"
    );
}

/// The backup UID goes out with its own token, never the primary's.
#[tokio::test(start_paused = true)]
async fn the_backup_uid_sends_its_own_token() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        for _ in 0..4 {
            s.create.push_back(answer(206, "{}"));
        }
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("IN_PROGRESS")));
    });
    let handle = bounded(transcoder(&fake).start(spec())).await.unwrap();
    assert_eq!(handle.uid(), 1002);
    let creates = fake.seen("POST", "/tasks?");
    for (_, body, _) in &creates[..4] {
        assert!(
            body.contains("\"rtcUid\":1001") && body.contains("token-for-1001"),
            "{body}"
        );
    }
    let last = &creates[4].1;
    assert!(
        last.contains("\"rtcUid\":1002") && last.contains("token-for-1002"),
        "{last}"
    );
    assert!(!last.contains("token-for-1001"), "{last}");
}

/// A provider without the backup's token is refused before anything is sent.
#[test]
fn a_missing_backup_token_is_refused_locally() {
    let only_primary = UidTokens::new().with(1001, "t");
    let err = StartSpec::new(
        "inst-1",
        UidPair::new(1001, 1002).unwrap(),
        config(),
        only_primary,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tokens { uid: 1002, .. }), "{err:?}");
}

/// A task adopted in a later round is recorded with the UID and config it runs: the round that
/// made it. A later bitrate update used to get a 400 for the wrong UID.
#[tokio::test(start_paused = true)]
async fn a_task_adopted_in_a_later_round_keeps_the_uid_it_runs_with() {
    let emu = Emulator::builder()
        .fault(FaultRule::calls(
            Operation::TranscodeCreate,
            1,
            3,
            Fault::Partial206,
        ))
        .fault(FaultRule::nth(
            Operation::TranscodeCreate,
            4,
            Fault::CommitThen504,
        ))
        .build();
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    let t = Transcoder::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    );
    let handle = bounded(t.start(spec())).await.unwrap();
    assert_eq!(emu.tasks().len(), 1, "no duplicate");
    let running = emu.tasks()[0].request.transcoder().outputs[0]
        .rtc
        .clone()
        .unwrap();
    assert_eq!(running.rtc_uid, 1001, "the round-1 Create was applied");
    assert_eq!(handle.uid(), 1001);
    assert_eq!(
        handle.config().outputs[0].rtc.as_ref().unwrap().rtc_uid,
        1001
    );
    let mut new = handle.config();
    new.outputs[0].video_option.as_mut().unwrap().bitrate = Some(600);
    bounded(handle.update(new)).await.unwrap();
}

/// A 409 with the documented body (a message only) is a typed AlreadyStarted naming the
/// instance, and the task id when an earlier attempt learnt it.
#[tokio::test(start_paused = true)]
async fn a_409_without_a_task_id_is_typed() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(answer(409, r#"{"message":"Conflict"}"#));
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    match &err {
        Error::AlreadyStarted {
            instance_id,
            task_id,
        } => {
            assert_eq!((instance_id.as_str(), task_id.as_deref()), ("inst-1", None));
        }
        other => panic!("{other:?}"),
    }
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create
            .push_back(answer(206, &format!(r#"{{"taskId":"{TASK}"}}"#)));
        s.create.push_back(answer(409, r#"{"message":"Conflict"}"#));
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert_eq!(err.task_id(), Some(TASK), "{err:?}");
    assert!(err.to_string().contains(TASK), "{err}");
}

/// A 200 Create holding only taskId, status and createTs starts the task (it used to fail to
/// decode, losing the task).
#[tokio::test(start_paused = true)]
async fn a_bare_create_answer_is_enough() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("IN_PROGRESS")));
    });
    let handle = bounded(transcoder(&fake).start(spec())).await.unwrap();
    assert_eq!(handle.task_id(), TASK);
    assert_eq!(fake.creates(), 1);
}

/// A 401 on every startup Query is reported at once with the task id, not swallowed into a
/// 90 s timeout.
#[tokio::test(start_paused = true)]
async fn startup_query_refusals_are_reported() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(answer(
            401,
            r#"{"message":"Invalid authentication credentials"}"#,
        ));
    });
    let started = tokio::time::Instant::now();
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert!(matches!(err, Error::StartupQueryFailed { .. }), "{err:?}");
    assert_eq!(err.task_id(), Some(TASK));
    assert_eq!(err.status(), Some(401));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // An answer that cannot be decoded is reported too.
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok("[1,2,3]"));
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert!(matches!(err, Error::StartupQueryFailed { .. }), "{err:?}");
}

/// A final status ends startup at once.
#[tokio::test(start_paused = true)]
async fn a_final_status_ends_startup_at_once() {
    for status in ["FAILURE_STOP", "EXIT"] {
        let fake = Fake::with(|s| {
            s.acquire.push_back(ok(ACQUIRE_OK));
            s.create.push_back(ok(&task("STARTED")));
            s.query.push_back(ok(&task(status)));
        });
        let started = tokio::time::Instant::now();
        let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
        assert!(
            matches!(&err, Error::StartupEnded { status: s, .. } if s == status),
            "{err:?}"
        );
        assert_eq!(err.task_id(), Some(TASK));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(fake.seen("GET", "/tasks/").len(), 1);
    }
}

/// After the 90 s timeout the task is stopped (by default) and the error names it.
#[tokio::test(start_paused = true)]
async fn a_task_that_never_starts_is_stopped_after_90_s() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("STARTING")));
        s.delete.push_back(ok(&task("STOPPED")));
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert!(
        matches!(err, Error::StartupTimedOut { stopped: true, .. }),
        "{err:?}"
    );
    assert_eq!(err.task_id(), Some(TASK));
    assert_eq!(fake.seen("DELETE", TASK).len(), 1);

    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("STARTING")));
    });
    let err = bounded(transcoder(&fake).start(spec().keep_unstarted_task()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::StartupTimedOut { stopped: false, .. }),
        "{err:?}"
    );
    assert!(fake.seen("DELETE", TASK).is_empty());
}

/// The 2-second window counts from the Acquire request: a token answered after 2.5 s is never
/// sent; and the loop that replaces it is bounded.
#[tokio::test(start_paused = true)]
async fn a_token_past_its_window_is_replaced_never_sent() {
    let fake = Fake::with(|s| {
        s.acquire
            .push_back(Answer(200, ACQUIRE_OK.into(), Duration::from_millis(2500)));
    });
    let err = bounded(transcoder(&fake).start(spec())).await.unwrap_err();
    assert_eq!(fake.creates(), 0, "no Create with a stale token");
    assert!(matches!(err, Error::CreateGaveUp { .. }), "{err:?}");
    assert!(fake.seen("POST", "/builderTokens").len() <= 16);

    // A token answered after 1.5 s is still sent (0.5 s of window left).
    let fake = Fake::with(|s| {
        s.acquire
            .push_back(Answer(200, ACQUIRE_OK.into(), Duration::from_millis(1500)));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("IN_PROGRESS")));
    });
    bounded(transcoder(&fake).start(spec())).await.unwrap();
    assert_eq!(fake.creates(), 1);
    let acquire_at = fake.seen("POST", "/builderTokens")[0].2;
    let create_at = fake.seen("POST", "/tasks?")[0].2;
    assert!(
        create_at - acquire_at <= Duration::from_secs(2),
        "{acquire_at:?} {create_at:?}"
    );
}

/// Stopping a task that is already gone settles at once, typed as `None`.
#[tokio::test(start_paused = true)]
async fn stopping_a_gone_task_settles_at_once() {
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.create.push_back(ok(&task("STARTED")));
        s.query.push_back(ok(&task("IN_PROGRESS")));
        s.delete
            .push_back(answer(404, r#"{"message":"not found"}"#));
    });
    let handle = bounded(transcoder(&fake).start(spec())).await.unwrap();
    let before = tokio::time::Instant::now();
    assert!(bounded(handle.stop()).await.unwrap().is_none());
    assert!(
        before.elapsed() < Duration::from_secs(1),
        "{:?}",
        before.elapsed()
    );
    assert_eq!(fake.seen("DELETE", TASK).len(), 1);
}

/// Query output never shows a token, in Debug or in redacted JSON.
#[tokio::test(start_paused = true)]
async fn queried_tasks_print_without_tokens() {
    let echo = format!(
        r#"{{"taskId":"{TASK}","status":"IN_PROGRESS","createTs":1,"services":{{"cloudTranscoder":{{"status":"serviceInProgress","config":{{"transcoder":{{"outputs":[{{"rtc":{{"rtcChannel":"c","rtcUid":1001,"rtcToken":"SECRET-TOKEN"}}}}]}}}}}}}}}}"#
    );
    let fake = Fake::with(|s| {
        s.acquire.push_back(ok(ACQUIRE_OK));
        s.query.push_back(ok(&echo));
    });
    let t = transcoder(&fake);
    let tok = bounded(t.acquire("inst-1")).await.unwrap();
    let task = bounded(t.query(TASK, &tok.token)).await.unwrap();
    assert!(!format!("{task:?}").contains("SECRET-TOKEN"));
    let printed =
        agora_rest_model::echoed::redact_value(&serde_json::to_value(&task).unwrap()).to_string();
    assert!(!printed.contains("SECRET-TOKEN"), "{printed}");
    assert!(printed.contains("rtcUid"), "{printed}");
}

/// Ids that would change the URL path are refused before any request.
#[tokio::test(start_paused = true)]
async fn dot_segment_task_ids_are_refused_locally() {
    let fake = Fake::with(|s| s.acquire.push_back(ok(ACQUIRE_OK)));
    let t = transcoder(&fake);
    let tok = bounded(t.acquire("inst-1")).await.unwrap();
    for id in ["", ".", ".."] {
        let err = bounded(t.query(id, &tok.token)).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{id:?}: {err:?}");
    }
    assert!(fake.seen("GET", "/tasks").is_empty());
}

/// A huge watch interval used to panic on instant arithmetic inside the watch task (and the
/// CLI then exited 0): the controller's interval is checked, naming the setting. (A controller
/// started with an unchecked one: `mediapush/tests/controller.rs`.)
#[tokio::test(start_paused = true)]
async fn an_absurd_poll_interval_is_refused() {
    use agora_rest_transcoder::controller::TaskControllerConfig;
    use agora_rest_transport::controller::MAX_POLL_EVERY;
    for bad in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::ZERO] {
        let err = TaskControllerConfig::default()
            .settings(|s| s.poll_every(bad))
            .validate()
            .err()
            .unwrap();
        assert!(err.to_string().contains("poll_every"), "{err}");
    }
    assert!(
        TaskControllerConfig::default()
            .settings(|s| s.poll_every(MAX_POLL_EVERY))
            .validate()
            .is_ok()
    );
}
