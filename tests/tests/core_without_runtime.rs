//! A user with their own HTTP stack drives both guides' procedures with `agora-rest-core`
//! alone: scripted responses in, decisions out, time as a plain number.

use std::time::Duration;

use agora_rest_core::classify::{Action, Exhausted, classify};
use agora_rest_core::health::{
    BuilderTokenAge, ConverterHealth, ConverterObservation, ConverterVerdict, StartupCheck,
    StartupObservation, StartupVerdict, TokenVerdict, UidRotation,
};
use agora_rest_core::name::UidPair;
use agora_rest_core::operation::Operation;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Media Push: Get answers 503 three times. The client waits 5–6 s, 10–11 s, 15–16 s between
/// tries and then declares the converter failed: delete and re-create.
#[test]
fn media_push_three_503s_mean_recreate() {
    let responses = [503u16, 503, 503];
    let mut health = ConverterHealth::new();
    let mut now = secs(1000);
    let mut waits = Vec::new();
    let mut verdict = ConverterVerdict::Healthy;
    let mut retry = 0;
    for status in responses {
        verdict = health.observe(ConverterObservation::ServerError, now);
        let Action::Retry(plan) = classify(Operation::PushGet, status, None) else {
            panic!("503 must be retried");
        };
        match plan.schedule.delay(retry, 0.25) {
            Some(wait) => {
                waits.push(wait);
                now += wait;
                retry += 1;
            }
            None => assert_eq!(plan.then, Exhausted::TaskFailed),
        }
    }
    assert_eq!(
        waits,
        [
            Duration::from_millis(5_250),
            Duration::from_millis(10_250),
            Duration::from_millis(15_250)
        ]
    );
    assert!(
        matches!(verdict, ConverterVerdict::Failed(_)),
        "{verdict:?}"
    );
}

/// Cloud Transcoding: a 206 on Create is retried after 3/6/9 s; then the backup UID and a new
/// token; the new token is used within 2 s; startup is confirmed by Query from +5 s.
#[test]
fn transcoder_partial_success_then_backup_uid_then_started() {
    let mut uids = UidRotation::new(UidPair::new(1001, 1002).unwrap());
    let mut now = secs(0);
    let token = BuilderTokenAge::new(now);
    assert_eq!(
        token.for_create(now + Duration::from_millis(300)),
        TokenVerdict::Fresh
    );

    let mut retries = 0;
    let mut waited = Vec::new();
    loop {
        let Action::Retry(plan) = classify(Operation::TranscodeCreate, 206, None) else {
            panic!("206 must be retried")
        };
        match plan.schedule.delay(retries, 0.0) {
            Some(wait) => {
                waited.push(wait.as_secs());
                now += wait;
                retries += 1;
            }
            None => {
                assert_eq!(plan.then, Exhausted::NewUidAndAcquire);
                break;
            }
        }
    }
    assert_eq!(waited, [3, 6, 9]);
    // The old token is stale by now: acquire again, on the backup UID.
    assert_eq!(token.for_create(now), TokenVerdict::AcquireAgain);
    assert_eq!(uids.rotate(), 1002);
    let fresh = BuilderTokenAge::new(now);
    assert_eq!(fresh.for_create(now + secs(1)), TokenVerdict::Fresh);
    assert_eq!(
        classify(Operation::TranscodeCreate, 200, None),
        Action::Success
    );

    // Startup: NotYet twice, then Started.
    let task_id_at = now + secs(1);
    let mut startup = StartupCheck::new(task_id_at, secs(300));
    let first = startup.first_query_at();
    assert_eq!(first, task_id_at + secs(5));
    let StartupVerdict::QueryAt(second) = startup.observe(StartupObservation::NotYet, first) else {
        panic!()
    };
    assert_eq!(second, first + secs(5));
    assert_eq!(
        startup.observe(StartupObservation::Started, second),
        StartupVerdict::Started
    );
}
