//! The task controller against the in-process emulator under tokio's paused clock. Every test
//! runs under an overall limit of paused time.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

mod common;

use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_model::ncs::Notification;
use agora_rest_transcoder::Transcoder;
use agora_rest_transcoder::controller::{TaskController, TaskSpec};
use agora_rest_transport::controller::store::ObservedState;
use agora_rest_transport::{Client, Config, Credentials};
use common::{config, tokens};

fn transcoder(emu: &Emulator) -> Transcoder {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    Transcoder::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    )
}

fn spec(instance: &str) -> TaskSpec {
    TaskSpec {
        instance_id: instance.into(),
        uids: [1001, 1002],
        config: config(),
        recreate_after_idle: false,
    }
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(6 * 3600), f)
        .await
        .expect("done within six hours of paused time")
}

fn count(emu: &Emulator, op: Operation) -> usize {
    emu.request_log()
        .iter()
        .filter(|l| l.op == Some(op))
        .count()
}

fn feed(emu: &Emulator, ctl: &TaskController) {
    for n in emu.take_notices() {
        if let Notification::CloudTranscoding(ev) = n.notification {
            ctl.notify(&ev);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_is_started_watched_and_its_id_readable() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = TaskController::start(transcoder(&emu), tokens());
        ctl.apply(spec("mix1")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let id = ctl.task_id("mix1").await.unwrap().unwrap();
        assert_eq!(emu.tasks()[0].id, id);
        let q0 = count(&emu, Operation::TranscodeQuery);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let polls = count(&emu, Operation::TranscodeQuery) - q0;
        assert!(
            (28..=32).contains(&polls),
            "{polls} Queries in an hour (one per 2 min)"
        );
        assert_eq!(emu.tasks().len(), 1);
        ctl.shutdown().await;
    })
    .await;
}

/// The old watch restarted on the UID the exited task held, and the caller's handle kept the
/// dead task id. The controller restarts on the other UID and the new id is readable.
#[tokio::test(start_paused = true)]
async fn an_exited_task_restarts_on_the_other_uid() {
    bounded(async {
        let emu = Emulator::builder().build();
        let t = transcoder(&emu);
        let ctl = TaskController::start(t.clone(), tokens());
        ctl.apply(spec("mix2")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let old = ctl.task_id("mix2").await.unwrap().unwrap();
        assert_eq!(
            ctl.status("mix2").await.unwrap().unwrap().uid_in_use,
            Some(1001)
        );
        // Stopped behind the controller's back.
        let tok = t.acquire("mix2").await.unwrap();
        t.query(&old, &tok.token).await.unwrap();
        let h = t.adopt(&old, "mix2", None).await.unwrap();
        h.stop().await.unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
        let new = ctl.task_id("mix2").await.unwrap().unwrap();
        assert_ne!(new, old);
        // A late "stopped (idle)" notice of the old task must not end the new one.
        let late = agora_rest_model::ncs::TranscoderEvent {
            kind: agora_rest_model::ncs::TranscoderEventKind::Stopped,
            payload: serde_json::from_value(serde_json::json!({
                "taskId": old, "instanceId": "mix2", "sequence": 9, "sendts": 1,
                "details": {"event": "cloud_transcoder_stopped", "stopReason": "Idle timeout"}
            }))
            .unwrap(),
        };
        ctl.notify(&late);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            ctl.task_id("mix2").await.unwrap().as_deref(),
            Some(new.as_str())
        );
        assert_ne!(
            ctl.status("mix2").await.unwrap().unwrap().observed,
            ObservedState::EndedIdle,
            "the old task's notice routed to the new one"
        );
        let st = ctl.status("mix2").await.unwrap().unwrap();
        assert_eq!(
            st.uid_in_use,
            Some(1002),
            "not the UID the exited task held"
        );
        let running = emu.tasks();
        assert_eq!(running.len(), 1);
        let rtc = running[0].request.transcoder().outputs[0]
            .rtc
            .clone()
            .unwrap();
        assert_eq!(
            (rtc.rtc_uid, rtc.rtc_token.expose()),
            (1002, "token-for-1002")
        );
        ctl.shutdown().await;
    })
    .await;
}

/// A 90 s HA migration used to be taken for an exit.
#[tokio::test(start_paused = true)]
async fn an_ha_migration_is_not_an_exit() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = TaskController::start(transcoder(&emu), tokens());
        ctl.apply(spec("mix3")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let id = ctl.task_id("mix3").await.unwrap().unwrap();
        // Polls fall about every 2 minutes (≈127 s, ≈247 s, …): an 85 s window from 200 s
        // covers one, and its 5/10/15 s confirmations.
        tokio::time::sleep(Duration::from_secs(140)).await;
        let q0 = emu.request_log().len();
        assert!(emu.migrate_task(&id, Duration::from_secs(85)));
        tokio::time::sleep(Duration::from_secs(1200)).await;
        let not_found = emu.request_log()[q0..]
            .iter()
            .filter(|l| l.op == Some(Operation::TranscodeQuery) && l.status == 404)
            .count();
        assert!(
            not_found >= 3,
            "the window was seen: {not_found} Queries answered 404"
        );
        assert_eq!(
            ctl.task_id("mix3").await.unwrap().unwrap(),
            id,
            "the same task"
        );
        assert_eq!(count(&emu, Operation::TranscodeCreate), 1);
        ctl.shutdown().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_changed_config_is_a_sequenced_update() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = TaskController::start(transcoder(&emu), tokens());
        ctl.apply(spec("mix4")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut changed = spec("mix4");
        changed.config.outputs[0]
            .video_option
            .as_mut()
            .unwrap()
            .bitrate = Some(600);
        ctl.apply(changed).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let task = &emu.tasks()[0];
        // The update carries the running UID and its own token, not the spec's placeholder.
        let rtc = task.request.transcoder().outputs[0].rtc.clone().unwrap();
        assert_eq!(
            (rtc.rtc_uid, rtc.rtc_token.expose()),
            (1001, "token-for-1001")
        );
        assert_eq!(
            task.request.transcoder().outputs[0]
                .video_option
                .as_ref()
                .unwrap()
                .bitrate,
            Some(600)
        );
        assert_eq!(count(&emu, Operation::TranscodeCreate), 1);
        ctl.shutdown().await;
    })
    .await;
}

/// An idle-timeout end is left ended; a removal stops the task.
#[tokio::test(start_paused = true)]
async fn idle_ends_are_left_ended_and_removal_stops() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = TaskController::start(transcoder(&emu), tokens());
        ctl.apply(spec("mix5")).await.unwrap();
        ctl.apply(spec("mix6")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        emu.set_publishers("show68", false);
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(60)).await;
            feed(&emu, &ctl);
        }
        assert_eq!(
            ctl.status("mix5").await.unwrap().unwrap().observed,
            ObservedState::EndedIdle
        );
        assert_eq!(count(&emu, Operation::TranscodeCreate), 2, "not restarted");
        ctl.remove("mix5").await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(ctl.status("mix5").await.unwrap().is_none());
        ctl.shutdown().await;
    })
    .await;
}

/// Create failures on the primary UID move the start to the backup UID, with its own token.
#[tokio::test(start_paused = true)]
async fn the_backup_uid_starts_with_its_own_token() {
    bounded(async {
        let emu = Emulator::builder()
            .fault(FaultRule::calls(
                Operation::TranscodeCreate,
                1,
                4,
                Fault::Partial206,
            ))
            .build();
        let ctl = TaskController::start(transcoder(&emu), tokens());
        ctl.apply(spec("mix7")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        let rtc = emu.tasks()[0].request.transcoder().outputs[0]
            .rtc
            .clone()
            .unwrap();
        assert_eq!(
            (rtc.rtc_uid, rtc.rtc_token.expose()),
            (1002, "token-for-1002")
        );
        ctl.shutdown().await;
    })
    .await;
}

/// An exit is confirmed the guide's way before a restart: the 404s of one check fall 5, 10 and
/// 15 s apart, and only then (past the 90 s HA window) does a new task start.
#[tokio::test(start_paused = true)]
async fn a_404_is_confirmed_at_5_10_15_before_a_restart() {
    bounded(async {
        let emu = Emulator::builder().build();
        let t = transcoder(&emu);
        let ctl = TaskController::start(t.clone(), tokens());
        ctl.apply(spec("mix404")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let old = ctl.task_id("mix404").await.unwrap().unwrap();
        let h = t.adopt(&old, "mix404", None).await.unwrap();
        h.stop().await.unwrap();
        let q0 = emu.request_log().len();
        tokio::time::sleep(Duration::from_secs(900)).await;
        let log = emu.request_log();
        let not_found: Vec<f64> = log[q0..]
            .iter()
            .filter(|l| l.op == Some(Operation::TranscodeQuery) && l.status == 404)
            .map(|l| l.at.as_secs_f64())
            .collect();
        assert!(not_found.len() >= 4, "{not_found:?}");
        let gaps: Vec<u64> = not_found
            .windows(2)
            .take(3)
            .map(|w| (w[1] - w[0]).round() as u64)
            .collect();
        assert_eq!(gaps, [5, 10, 15], "{not_found:?}");
        let first_create_after = log[q0..]
            .iter()
            .find(|l| l.op == Some(Operation::TranscodeCreate))
            .map(|l| l.at.as_secs_f64())
            .unwrap();
        assert!(
            first_create_after - not_found[0] >= 90.0,
            "restarted {}s after the first 404, inside the HA window",
            first_create_after - not_found[0]
        );
        assert_ne!(ctl.task_id("mix404").await.unwrap().unwrap(), old);
        ctl.shutdown().await;
    })
    .await;
}

/// A task that started on the backup UID (after four 206s) and exited restarts on the primary,
/// never on the UID the exited task held; removing the key afterwards stops the task running
/// now, not the dead one (the old watch's handle kept naming the dead task).
#[tokio::test(start_paused = true)]
async fn a_restart_after_a_backup_start_uses_the_primary_and_removal_stops_it() {
    bounded(async {
        let emu = Emulator::builder()
            .fault(FaultRule::calls(
                Operation::TranscodeCreate,
                1,
                4,
                Fault::Partial206,
            ))
            .build();
        let t = transcoder(&emu);
        let ctl = TaskController::start(t.clone(), tokens());
        ctl.apply(spec("mix8")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        let old = ctl.task_id("mix8").await.unwrap().unwrap();
        assert_eq!(
            ctl.status("mix8").await.unwrap().unwrap().uid_in_use,
            Some(1002)
        );
        t.adopt(&old, "mix8", None)
            .await
            .unwrap()
            .stop()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(900)).await;
        let new = ctl.task_id("mix8").await.unwrap().unwrap();
        assert_ne!(new, old);
        let running = emu.tasks();
        assert_eq!(running.len(), 1);
        assert_eq!(
            running[0].request.transcoder().outputs[0]
                .rtc
                .as_ref()
                .unwrap()
                .rtc_uid,
            1001,
            "not the UID the exited task held"
        );
        ctl.remove("mix8").await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(emu.tasks().is_empty(), "the running task was stopped");
        ctl.shutdown().await;
    })
    .await;
}
