//! Every branch of `start`, updates and the watch, against the in-process emulator under
//! tokio's paused clock.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::time::Duration;

use agora_rest_core::name::UidPair;
use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_transcoder::{Error, StartSpec, Transcoder};
use agora_rest_transport::{Client, Config, Credentials};
use common::{config, spec, tokens};

fn transcoder(emu: &Emulator) -> Transcoder {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    Transcoder::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    )
}

/// Request times of `op`, in seconds since the first Create (rounded to 0.1 s). The account's
/// 10 requests/s limit spaces calls 100 ms apart, so Create follows Acquire by 0.1 s.
fn times(emu: &Emulator, op: Operation) -> Vec<f64> {
    let log = emu.request_log();
    let origin = log
        .iter()
        .find(|l| l.op == Some(Operation::TranscodeCreate))
        .map_or(Duration::ZERO, |l| l.at);
    log.iter()
        .filter(|l| l.op == Some(op))
        .map(|l| ((l.at.as_secs_f64() - origin.as_secs_f64()) * 10.0).round() / 10.0)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn happy_path_acquire_create_confirm() {
    let emu = Emulator::builder().build();
    let t = transcoder(&emu);
    let handle = t.start(spec()).await.unwrap();
    assert_eq!(handle.uid(), 1001);
    assert_eq!(
        times(&emu, Operation::Acquire),
        [-0.1],
        "Create follows Acquire at once (well within 2 s)"
    );
    assert_eq!(times(&emu, Operation::TranscodeCreate), [0.0]);
    assert_eq!(
        times(&emu, Operation::TranscodeQuery),
        [5.0],
        "the first Query 5 s after the task id"
    );
    assert_eq!(emu.tasks().len(), 1);
    assert!(
        !format!("{handle:?}").contains("in-token"),
        "tokens never print"
    );
}

#[tokio::test(start_paused = true)]
async fn partial_success_retries_then_backup_uid() {
    let emu = Emulator::builder()
        .fault(FaultRule::calls(
            Operation::TranscodeCreate,
            1,
            4,
            Fault::Partial206,
        ))
        .build();
    let t = transcoder(&emu);
    let handle = t.start(spec()).await.unwrap();
    // 3, 6 and 9 s apart, each after a new Acquire (0.1 s at 10 requests/s): a token is never
    // sent past its 2-second window.
    assert_eq!(
        times(&emu, Operation::TranscodeCreate),
        [0.0, 3.1, 9.2, 18.3, 18.5]
    );
    assert_eq!(
        times(&emu, Operation::Acquire),
        [-0.1, 3.0, 9.1, 18.2, 18.4],
        "a new token for every Create past the window, and for the backup UID"
    );
    every_create_within_two_seconds_of_an_acquire(&emu);
    assert_eq!(handle.uid(), 1002);
    let task = &emu.tasks()[0];
    assert_eq!(
        task.request.transcoder().outputs[0]
            .rtc
            .as_ref()
            .unwrap()
            .rtc_uid,
        1002
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_retry_on_3_6_9_with_fresh_tokens() {
    let emu = Emulator::builder()
        .fault(FaultRule::calls(
            Operation::TranscodeCreate,
            1,
            3,
            Fault::Status(503),
        ))
        .build();
    let t = transcoder(&emu);
    let handle = t.start(spec()).await.unwrap();
    assert_eq!(
        times(&emu, Operation::TranscodeCreate),
        [0.0, 3.1, 9.2, 18.3]
    );
    assert_eq!(times(&emu, Operation::Acquire).len(), 4);
    every_create_within_two_seconds_of_an_acquire(&emu);
    assert_eq!(handle.uid(), 1001);
}

#[tokio::test(start_paused = true)]
async fn code_65_retries_after_3_and_6() {
    let emu = Emulator::builder()
        .fault(FaultRule::calls(
            Operation::TranscodeCreate,
            1,
            2,
            Fault::Code65(500),
        ))
        .build();
    let t = transcoder(&emu);
    t.start(spec()).await.unwrap();
    assert_eq!(times(&emu, Operation::TranscodeCreate), [0.0, 3.1, 9.2]);
}

/// Each Create went out within 2 s of the Acquire before it.
fn every_create_within_two_seconds_of_an_acquire(emu: &Emulator) {
    let acquires = times(emu, Operation::Acquire);
    for c in times(emu, Operation::TranscodeCreate) {
        let last = acquires
            .iter()
            .copied()
            .filter(|a| *a <= c)
            .fold(f64::MIN, f64::max);
        assert!(c - last <= 2.0, "Create at {c} s, last Acquire at {last} s");
    }
}

#[tokio::test(start_paused = true)]
async fn a_commit_then_504_is_adopted_not_duplicated() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(
            Operation::TranscodeCreate,
            1,
            Fault::CommitThen504,
        ))
        .build();
    let t = transcoder(&emu);
    let handle = t.start(spec()).await.unwrap();
    assert_eq!(emu.tasks().len(), 1, "no duplicate task");
    assert_eq!(handle.task_id(), emu.tasks()[0].id);
    assert_eq!(
        times(&emu, Operation::TranscodeCreate),
        [0.0, 3.1],
        "the resend met a 409 naming the task"
    );
}

#[tokio::test(start_paused = true)]
async fn an_already_started_instance_is_adopted() {
    let emu = Emulator::builder().build();
    let t = transcoder(&emu);
    let first = t.start(spec()).await.unwrap();
    let second = t.start(spec()).await.unwrap();
    assert_eq!(first.task_id(), second.task_id());
    assert_eq!(emu.tasks().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_slow_start_times_out_at_90_seconds() {
    let emu = Emulator::builder()
        .starting_for(Duration::from_secs(600))
        .build();
    let t = transcoder(&emu);
    match t.start(spec()).await {
        Err(Error::StartupTimedOut { last_status, .. }) => assert_eq!(last_status, "STARTING"),
        other => panic!("{other:?}"),
    }
    let q = times(&emu, Operation::TranscodeQuery);
    assert_eq!(q.first(), Some(&5.0));
    assert_eq!(q.last(), Some(&90.0));
    // A start that takes 20 s is confirmed by the backed-off Queries.
    let emu = Emulator::builder()
        .starting_for(Duration::from_secs(20))
        .build();
    transcoder(&emu).start(spec()).await.unwrap();
    assert_eq!(times(&emu, Operation::TranscodeQuery), [5.0, 10.0, 20.0]);
}

#[tokio::test(start_paused = true)]
async fn a_token_older_than_two_seconds_is_acquired_again() {
    let emu = Emulator::builder().build();
    let t = transcoder(&emu);
    let old = t.acquire("inst-1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!old.fresh());
    t.start_with_token(spec(), old).await.unwrap();
    assert_eq!(
        times(&emu, Operation::Acquire),
        [-3.1, -0.1],
        "the old token was replaced"
    );
    let fresh = t.acquire("inst-2").await.unwrap();
    let mut s = spec();
    s.instance_id = "inst-2".into();
    t.start_with_token(s, fresh).await.unwrap();
    assert_eq!(
        times(&emu, Operation::Acquire).len(),
        3,
        "a fresh token is used as is"
    );
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_before_any_request() {
    let mut bad = config();
    bad.idle_timeout = Some(0);
    let pair = UidPair::new(1001, 1002).unwrap();
    let err = StartSpec::new("inst", pair, bad, tokens()).unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref e) if e.field() == Some("transcoder.idleTimeout")),
        "{err}"
    );
    assert!(StartSpec::new("bad id!", pair, config(), tokens()).is_err());
    // The output names UID 1001: a start on another pair would publish as other UIDs than
    // the config says, so it is refused, naming the field, instead of silently overwritten.
    let err = StartSpec::new("inst", UidPair::new(1, 2).unwrap(), config(), tokens()).unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ref e) if e.field() == Some("outputs[0].rtc.rtcUid")),
        "{err}"
    );
    // The backup UID is accepted (a spec rebuilt from a task running as the backup).
    let mut on_backup = config();
    on_backup = on_backup.with_output_uid(1002);
    assert!(StartSpec::new("inst", pair, on_backup, tokens()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn updates_and_stop() {
    let emu = Emulator::builder().build();
    let t = transcoder(&emu);
    let handle = t.start(spec()).await.unwrap();
    let mut new = handle.config();
    new.outputs[0].video_option.as_mut().unwrap().bitrate = Some(600);
    handle.update(new.clone()).await.unwrap();
    new.outputs[0].video_option.as_mut().unwrap().bitrate = Some(500);
    handle.update(new.clone()).await.unwrap();
    let seqs: Vec<String> = emu
        .request_log()
        .iter()
        .filter(|l| l.op == Some(Operation::TranscodeUpdate))
        .map(|l| {
            l.path
                .split("sequenceId=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(seqs, ["0", "1"]);
    assert_eq!(handle.query().await.unwrap().sequence_id.0, 1);
    // A change the service does not apply is refused before sending.
    let before = emu.request_log().len();
    let mut fixed = new.clone();
    fixed.idle_timeout = Some(900);
    assert!(matches!(handle.update(fixed).await, Err(Error::Invalid(_))));
    assert_eq!(emu.request_log().len(), before);
    // The config as built for the start (the primary UID, a placeholder token) updates the
    // task as it runs: its output keeps the UID and token it publishes with.
    let mut as_built = common::config();
    as_built.outputs[0].video_option.as_mut().unwrap().bitrate = Some(700);
    handle.update(as_built).await.unwrap();
    let running = handle.config();
    let rtc = running.outputs[0].rtc.as_ref().unwrap();
    assert_eq!(
        (rtc.rtc_uid, rtc.rtc_token.expose()),
        (1001, "token-for-1001")
    );
    assert_eq!(
        running.outputs[0].video_option.as_ref().unwrap().bitrate,
        Some(700)
    );
    // Another output channel is still an immutable change, refused before sending.
    let mut moved = common::config();
    moved.outputs[0].rtc.as_mut().unwrap().rtc_channel = "elsewhere".into();
    let before = emu.request_log().len();
    assert!(matches!(handle.update(moved).await, Err(Error::Invalid(_))));
    assert_eq!(emu.request_log().len(), before);
    let stopped = handle.stop().await.unwrap().unwrap();
    assert_eq!(stopped.status.as_str(), "STOPPED");
    assert!(handle.stop().await.unwrap().is_none(), "already gone");
}
