//! Cloud Transcoding: tokens, tasks, statuses, updates, limits and faults, under paused time.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_model::transcoder::{
    AudioInput, CreateTaskRequest, Output, TranscoderConfigBuilder, VideoOption,
};
use common::T;
use http::Method;
use serde_json::{Value, json};

const BASE: &str = "/v1/projects/app/rtsc/cloud-transcoder";

fn config(out_uid: u32, w: u32, h: u32) -> Value {
    let c = TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "in-token"))
        .output(Output::rtc("mix", out_uid, "out-token").with_video(VideoOption::new(w, h, 1000)))
        .build()
        .unwrap();
    serde_json::to_value(CreateTaskRequest::new(c)).unwrap()
}

async fn acquire(t: &T, instance: &str) -> String {
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/builderTokens"),
            Some(json!({"instanceId": instance})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["instanceId"], instance);
    a.body["tokenName"].as_str().unwrap().to_string()
}

async fn start(t: &T, instance: &str) -> (String, String) {
    let token = acquire(t, instance).await;
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={token}"),
            Some(config(1001, 640, 360)),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    (a.body["taskId"].as_str().unwrap().to_string(), token)
}

#[tokio::test(start_paused = true)]
async fn acquire_and_create_rules() {
    let t = T::new(Emulator::builder().build());
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/builderTokens"),
            Some(json!({"instanceId": "bad id!"})),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"].as_str().unwrap().contains("instanceId"),
        "{}",
        a.body
    );
    let token = acquire(&t, "inst-1").await;
    // No token, unknown token, invalid body.
    assert_eq!(
        t.call(
            Method::POST,
            &format!("{BASE}/tasks"),
            Some(config(1, 640, 360))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        t.call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken=nope"),
            Some(config(1, 640, 360))
        )
        .await
        .status,
        400
    );
    let mut bad = config(1, 640, 360);
    bad["services"]["cloudTranscoder"]["config"]["transcoder"]["idleTimeout"] = json!(0);
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={token}"),
            Some(bad),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"].as_str().unwrap().contains("idleTimeout"),
        "{}",
        a.body
    );
    // Good create: the task object as documented.
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={token}"),
            Some(config(1001, 640, 360)),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        (a.body["status"].as_str(), a.body["sequenceId"].as_str()),
        (Some("STARTED"), Some("0"))
    );
    assert_eq!(
        a.body["services"]["cloudTranscoder"]["status"],
        "serviceReady"
    );
    let task = a.body["taskId"].as_str().unwrap().to_string();
    // The same token again → 409 naming the running task; a new token for the same instance too.
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={token}"),
            Some(config(1001, 640, 360)),
        )
        .await;
    assert_eq!(
        (a.status, a.body["taskId"].as_str()),
        (409, Some(task.as_str()))
    );
    let second = acquire(&t, "inst-1").await;
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={second}"),
            Some(config(1002, 640, 360)),
        )
        .await;
    assert_eq!(a.status, 409);
    // A token is valid five minutes.
    let late = acquire(&t, "inst-2").await;
    tokio::time::sleep(Duration::from_secs(299)).await;
    let fresh = acquire(&t, "inst-3").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a = t
        .call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={late}"),
            Some(config(1003, 640, 360)),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].as_str().unwrap().contains("expired"));
    assert_eq!(
        t.call(
            Method::POST,
            &format!("{BASE}/tasks?builderToken={fresh}"),
            Some(config(1004, 640, 360))
        )
        .await
        .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn query_update_delete() {
    let t = T::new(
        Emulator::builder()
            .in_progress_after(Duration::from_secs(3))
            .build(),
    );
    let (task, token) = start(&t, "q").await;
    let one = format!("{BASE}/tasks/{task}?builderToken={token}");
    assert_eq!(
        t.call(Method::GET, &one, None).await.body["status"],
        "STARTED"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let a = t.call(Method::GET, &one, None).await;
    assert_eq!(
        (
            a.body["status"].as_str(),
            a.body["services"]["cloudTranscoder"]["status"].as_str()
        ),
        (Some("IN_PROGRESS"), Some("serviceInProgress"))
    );
    assert_eq!(
        t.call(
            Method::GET,
            &format!("{BASE}/tasks/{task}?builderToken=other"),
            None
        )
        .await
        .status,
        400
    );
    assert_eq!(
        t.call(
            Method::GET,
            &format!("{BASE}/tasks/ffff?builderToken={token}"),
            None
        )
        .await
        .status,
        404
    );
    // (10 requests a second per account: keep under it.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Update: the full body; only allowed changes; sequenceId highest wins; empty 2xx.
    let upd = |seq: u64| {
        format!(
            "{BASE}/tasks/{task}?builderToken={token}&sequenceId={seq}&updateMask=services.cloudTranscoder.config"
        )
    };
    let mut new = config(1001, 640, 360);
    new["services"]["cloudTranscoder"]["config"]["transcoder"]["outputs"][0]["videoOption"]["bitrate"] =
        json!(800);
    let a = t.call(Method::PATCH, &upd(1), Some(new.clone())).await;
    assert_eq!((a.status, a.raw.len()), (200, 0));
    assert_eq!(
        t.call(Method::PATCH, &upd(1), Some(new.clone()))
            .await
            .status,
        200,
        "a resend"
    );
    assert_eq!(
        t.call(Method::PATCH, &upd(0), Some(new.clone()))
            .await
            .status,
        409,
        "stale"
    );
    let mut fixed = new.clone();
    fixed["services"]["cloudTranscoder"]["config"]["transcoder"]["idleTimeout"] = json!(600);
    let a = t.call(Method::PATCH, &upd(2), Some(fixed)).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"].as_str().unwrap().contains("idleTimeout"),
        "{}",
        a.body
    );
    let no_mask = format!("{BASE}/tasks/{task}?builderToken={token}&sequenceId=3");
    assert_eq!(t.call(Method::PATCH, &no_mask, Some(new)).await.status, 400);
    assert_eq!(
        t.call(Method::GET, &one, None).await.body["sequenceId"],
        "1"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Delete → STOPPED; then 404.
    let a = t.call(Method::DELETE, &one, None).await;
    assert_eq!(
        (a.status, a.body["status"].as_str()),
        (200, Some("STOPPED"))
    );
    assert_eq!(
        a.body["services"]["cloudTranscoder"]["status"],
        "serviceCompleted"
    );
    assert_eq!(t.call(Method::GET, &one, None).await.status, 404);
    let kinds: Vec<u32> = t
        .emu
        .take_notices()
        .iter()
        .map(|n| n.notification.to_envelope("x", 0).unwrap().event_type)
        .collect();
    assert_eq!(kinds, [110, 112, 113, 111]);
}

#[tokio::test(start_paused = true)]
async fn account_rate_and_concurrency() {
    let t = T::new(Emulator::builder().build());
    for i in 0..11 {
        let a = t
            .call(
                Method::POST,
                &format!("{BASE}/builderTokens"),
                Some(json!({"instanceId": format!("r{i}")})),
            )
            .await;
        assert_eq!(a.status, if i < 10 { 200 } else { 429 }, "call {i}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Americas: two FHD outputs, the third is refused.
    for i in 0..3 {
        let token = acquire(&t, &format!("fhd{i}")).await;
        let a = t
            .call(
                Method::POST,
                &format!("{BASE}/tasks?builderToken={token}"),
                Some(config(2000 + i, 1920, 1080)),
            )
            .await;
        assert_eq!(
            a.status,
            if i < 2 { 200 } else { 429 },
            "task {i}: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn faults_idle_timeout_and_migration() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(
            Operation::TranscodeCreate,
            1,
            Fault::Partial206,
        ))
        .fault(FaultRule::nth(
            Operation::TranscodeCreate,
            2,
            Fault::Code65(503),
        ))
        .build();
    let t = T::new(emu);
    let token = acquire(&t, "f").await;
    let create = format!("{BASE}/tasks?builderToken={token}");
    assert_eq!(
        t.call(Method::POST, &create, Some(config(1, 640, 360)))
            .await
            .status,
        206
    );
    let a = t
        .call(Method::POST, &create, Some(config(1, 640, 360)))
        .await;
    assert_eq!((a.status, a.body["code"].as_i64()), (503, Some(65)));
    assert!(t.emu.tasks().is_empty(), "neither fault created a task");
    let a = t
        .call(Method::POST, &create, Some(config(1, 640, 360)))
        .await;
    assert_eq!(a.status, 200);
    let task = a.body["taskId"].as_str().unwrap().to_string();
    let one = format!("{BASE}/tasks/{task}?builderToken={token}");
    // HA: 404 within the window, back after it.
    t.emu.migrate_task(&task, Duration::from_secs(90));
    assert_eq!(t.call(Method::GET, &one, None).await.status, 404);
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(t.call(Method::GET, &one, None).await.status, 200);
    // Idle: no publishers for idleTimeout (300 s default) → the task is gone.
    t.emu.set_publishers("show68", false);
    tokio::time::sleep(Duration::from_secs(299)).await;
    assert_eq!(t.call(Method::GET, &one, None).await.status, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(t.call(Method::GET, &one, None).await.status, 404);
}
