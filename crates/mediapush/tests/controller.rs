//! The converter controller against the in-process emulator under tokio's paused clock: the
//! defects of the old `supervise`, each as a scenario. Every test runs under an overall limit of
//! paused time, so a regression fails instead of hanging.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::region::PathRegion;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_mediapush::MediaPush;
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterEvent, ConverterSpec, Stores,
};
use agora_rest_model::mediapush::{
    AudioOptions, Converter, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_model::ncs::{MediaPushEventKind, Notification};
use agora_rest_transport::controller::store::ObservedState;
use agora_rest_transport::{Client, Config, Credentials};

fn push(emu: &Emulator) -> MediaPush {
    let c = Config::new("app", Credentials::new("cid", "csecret").unwrap()).with_jitter(|| 0.0);
    MediaPush::new(
        Client::builder(c)
            .with_service(emu.service())
            .build()
            .unwrap(),
    )
}

fn converter(name: &str, url: &str) -> Converter {
    ConverterBuilder::transcoded("show68", url)
        .name(name)
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(640, 360, 800).with_layout(vec![LayoutElement::stream(
                1,
                LayoutRegion::new(0, 0, 640, 360),
            )]),
        )
        .build()
        .unwrap()
}

fn spec(name: &str, url: &str) -> ConverterSpec {
    ConverterSpec::new(PathRegion::Na, converter(name, url)).unwrap()
}

fn config() -> ConverterControllerConfig {
    ConverterControllerConfig::default().poll_jitter(0.0)
}

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(6 * 3600), f)
        .await
        .expect("done within six hours of paused time")
}

/// Lets the controller run for `d` of paused time.
async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

fn gets(emu: &Emulator, id: &str) -> usize {
    emu.request_log()
        .iter()
        .filter(|l| l.op == Some(Operation::PushGet) && l.path.contains(id))
        .count()
}

fn count(emu: &Emulator, op: Operation) -> usize {
    emu.request_log()
        .iter()
        .filter(|l| l.op == Some(op))
        .count()
}

/// `supervise` of a converter that already existed emitted `NameTaken` and stopped; the
/// controller adopts it, and its first update is applied (not stale).
#[tokio::test(start_paused = true)]
async fn a_running_converter_is_adopted_and_updated() {
    bounded(async {
        let emu = Emulator::builder().build();
        let made = push(&emu)
            .create(PathRegion::Na, converter("show68_h", "rtmp://a/x"))
            .await
            .unwrap();
        let ctl = ConverterController::start(push(&emu), config());
        let mut events = ctl.events();
        ctl.apply(spec("show68_h", "rtmp://b/x")).await.unwrap();
        run_for(Duration::from_secs(30)).await;
        assert_eq!(emu.converters().len(), 1, "no duplicate");
        assert_eq!(emu.converters()[0].id, made.converter.id);
        assert_eq!(
            emu.converters()[0].converter.rtmp_url.as_deref(),
            Some("rtmp://b/x")
        );
        let mut seen = Vec::new();
        while let Ok(e) = events.try_recv() {
            seen.push(e);
        }
        assert!(
            seen.iter()
                .any(|e| matches!(e, ConverterEvent::Adopted { .. })),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|e| matches!(e, ConverterEvent::Updated { .. })),
            "{seen:?}"
        );
        ctl.shutdown().await;
    })
    .await;
}

/// A re-create used the original body, reverting every update; the controller re-creates from
/// the latest spec.
#[tokio::test(start_paused = true)]
async fn a_recreate_uses_the_latest_spec() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("k1", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        ctl.apply(spec("k1", "rtmp://b/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let first = emu.converters()[0].id.clone();
        assert!(emu.fail_converter(&first));
        run_for(Duration::from_secs(300)).await;
        let now: Vec<_> = emu.converters();
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now[0].id, first, "re-created");
        assert_eq!(now[0].converter.rtmp_url.as_deref(), Some("rtmp://b/x"));
        ctl.shutdown().await;
    })
    .await;
}

/// A converter that ended by idle timeout was re-created forever (19 times an hour); the
/// controller leaves it ended.
#[tokio::test(start_paused = true)]
async fn an_idle_timeout_end_is_not_recreated() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("idle", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        emu.set_publishers("show68", false);
        for _ in 0..60 {
            run_for(Duration::from_secs(60)).await;
            for n in emu.take_notices() {
                if let Notification::MediaPush(ev) = n.notification {
                    ctl.notify(&ev);
                }
            }
        }
        assert_eq!(
            count(&emu, Operation::PushCreate),
            1,
            "created once, never again"
        );
        let st = ctl.status("idle").await.unwrap().unwrap();
        assert_eq!(st.observed, ObservedState::EndedIdle);
        ctl.shutdown().await;
    })
    .await;
}

/// Every notice restarted the poll timer (0 polls in an hour of notices); a notice now moves
/// only its own converter, and polls keep their cadence.
#[tokio::test(start_paused = true)]
async fn notices_never_delay_polls() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("a", "rtmp://a/x")).await.unwrap();
        ctl.apply(spec("b", "rtmp://b/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let a = ctl.status("a").await.unwrap().unwrap().resource_id.unwrap();
        let b = ctl.status("b").await.unwrap().unwrap().resource_id.unwrap();
        let (a0, b0) = (gets(&emu, &a), gets(&emu, &b));
        let updated = agora_rest_model::ncs::MediaPushEvent {
            kind: MediaPushEventKind::Updated,
            payload: serde_json::from_value(serde_json::json!({"converter": {"id": a}, "lts": 1}))
                .unwrap(),
        };
        for _ in 0..60 {
            ctl.notify(&updated);
            run_for(Duration::from_secs(60)).await;
        }
        // An hour at one poll per 2 minutes: about 30 Gets each.
        assert!(gets(&emu, &a) - a0 >= 28, "{}", gets(&emu, &a) - a0);
        assert!(gets(&emu, &b) - b0 >= 28, "{}", gets(&emu, &b) - b0);
        ctl.shutdown().await;
    })
    .await;
}

/// Held but unread event streams stalled the supervisor after 64 events; dropping the stream
/// ended it. Neither matters to the controller.
#[tokio::test(start_paused = true)]
async fn unread_or_dropped_event_streams_stop_nothing() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl =
            ConverterController::start(push(&emu), config().settings(|s| s.event_capacity(4)));
        let mut held = ctl.events();
        drop(ctl.events());
        // 18: under the documented SD cap of the area (20).
        for i in 0..18 {
            ctl.apply(spec(&format!("n{i}"), "rtmp://a/x"))
                .await
                .unwrap();
        }
        run_for(Duration::from_secs(120)).await;
        assert_eq!(emu.converters().len(), 18);
        assert!(matches!(
            held.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
        ));
        ctl.shutdown().await;
    })
    .await;
}

/// `stop` was ignored while creates kept failing (327 creates in the hour after it); removal
/// and shutdown take effect within one step, and failing creates back off.
#[tokio::test(start_paused = true)]
async fn removal_and_shutdown_work_while_creates_fail() {
    bounded(async {
        let emu = Emulator::builder()
            .fault(FaultRule::always(Operation::PushCreate, Fault::Status(500)))
            .build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("doomed", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(3600)).await;
        let creates = count(&emu, Operation::PushCreate);
        // Each failed create waits 5, 10, 20, … up to 300 s (each try is the transport's
        // bounded retries too): a handful of tries in an hour, never a tight loop.
        assert!(creates < 100, "{creates} creates in an hour");
        ctl.remove("doomed").await.unwrap();
        run_for(Duration::from_secs(5)).await;
        let after = count(&emu, Operation::PushCreate);
        run_for(Duration::from_secs(3600)).await;
        assert_eq!(
            count(&emu, Operation::PushCreate),
            after,
            "no create after removal"
        );
        assert!(ctl.status("doomed").await.unwrap().is_none(), "forgotten");
        ctl.shutdown().await;
    })
    .await;
}

/// A forgotten converter (HA window off) spun at 239 creates per hour; re-creations are capped
/// per hour now.
#[tokio::test(start_paused = true)]
async fn recreations_are_capped_per_hour() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(
            push(&emu),
            config().settings(|s| s.recreations_per_hour(3)),
        );
        ctl.apply(spec("flaky", "rtmp://a/x")).await.unwrap();
        for _ in 0..60 {
            run_for(Duration::from_secs(60)).await;
            for c in emu.converters() {
                emu.fail_converter(&c.id);
            }
        }
        let creates = count(&emu, Operation::PushCreate);
        assert!(
            creates <= 1 + 3 + 1,
            "{creates} creates in an hour with a cap of 3"
        );
        ctl.shutdown().await;
    })
    .await;
}

/// After a restart with the same stores, the new controller resumes: no duplicate, and an
/// update after the restart is applied.
#[tokio::test(start_paused = true)]
async fn a_new_controller_resumes_from_the_stores() {
    bounded(async {
        let emu = Emulator::builder().build();
        let stores = Stores::default();
        let first = ConverterController::start_with(push(&emu), config(), stores.clone());
        first.apply(spec("keep", "rtmp://a/x")).await.unwrap();
        first.apply(spec("keep", "rtmp://b/x")).await.unwrap();
        run_for(Duration::from_secs(30)).await;
        first.shutdown().await;
        drop(first);
        // The converter fails while no controller runs; the new one finds the key in the
        // stores on its own (nothing is applied to it) and re-creates it.
        let old = emu.converters()[0].id.clone();
        assert!(emu.fail_converter(&old));
        let second = ConverterController::start_with(push(&emu), config(), stores);
        run_for(Duration::from_secs(600)).await;
        assert_eq!(emu.converters().len(), 1);
        assert_ne!(emu.converters()[0].id, old, "resumed and re-created");
        assert_eq!(
            emu.converters()[0].converter.rtmp_url.as_deref(),
            Some("rtmp://b/x")
        );
        second.apply(spec("keep", "rtmp://c/x")).await.unwrap();
        run_for(Duration::from_secs(30)).await;
        assert_eq!(emu.converters().len(), 1);
        assert_eq!(
            emu.converters()[0].converter.rtmp_url.as_deref(),
            Some("rtmp://c/x")
        );
        second.shutdown().await;
    })
    .await;
}

/// A re-create whose status write was lost (a store outage, a replica killed before it
/// recorded) leaves the stores naming a converter that is gone while one of the same name
/// runs. The first 404 looks the name up and adopts the running one at once, instead of taking
/// the 404s for an HA migration and waiting two minutes (the converter was fine all along).
#[tokio::test(start_paused = true)]
async fn a_lost_status_write_is_mended_by_the_name() {
    bounded(async {
        let emu = Emulator::builder().build();
        let stores = Stores::default();
        let first = ConverterController::start_with(push(&emu), config(), stores.clone());
        first.apply(spec("lost", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        first.shutdown().await;
        drop(first);
        // What the lost write would have recorded: the old converter gone, a new one running
        // under the same name.
        let p = push(&emu);
        let old = emu.converters()[0].id.clone();
        p.locate(&old, PathRegion::Na).unwrap();
        p.delete(&old).await.unwrap();
        let made = p
            .create(PathRegion::Na, converter("lost", "rtmp://a/x"))
            .await
            .unwrap();
        let creates = count(&emu, Operation::PushCreate);
        let second = ConverterController::start_with(push(&emu), config(), stores);
        second.apply(spec("lost", "rtmp://b/x")).await.unwrap();
        run_for(Duration::from_secs(20)).await;
        assert_eq!(
            second.status("lost").await.unwrap().unwrap().resource_id,
            Some(made.converter.id.clone()),
            "the running converter was adopted"
        );
        assert_eq!(
            count(&emu, Operation::PushCreate),
            creates,
            "nothing re-created"
        );
        let now = emu.converters();
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].converter.rtmp_url.as_deref(), Some("rtmp://b/x"));
        second.shutdown().await;
    })
    .await;
}

/// A late notice of a replaced converter must not move its successor: after a re-create, the
/// old id no longer routes to the key.
#[tokio::test(start_paused = true)]
async fn a_replaced_converters_late_notice_moves_nothing() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("late", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let old = ctl
            .status("late")
            .await
            .unwrap()
            .unwrap()
            .resource_id
            .unwrap();
        let destroyed = |id: &str, reason: &str| agora_rest_model::ncs::MediaPushEvent {
            kind: MediaPushEventKind::Destroyed,
            payload: serde_json::from_value(serde_json::json!({
                "converter": {"id": id}, "lts": 1, "destroyReason": reason
            }))
            .unwrap(),
        };
        // Destroyed by a failure (gone from the service): re-created.
        let other = push(&emu);
        other.locate(&old, PathRegion::Na).unwrap();
        other.delete(&old).await.unwrap();
        ctl.notify(&destroyed(&old, "Internal Error"));
        run_for(Duration::from_secs(30)).await;
        let new = ctl
            .status("late")
            .await
            .unwrap()
            .unwrap()
            .resource_id
            .unwrap();
        assert_ne!(new, old);
        // The old converter's late "idle timeout" notice.
        ctl.notify(&destroyed(&old, "Idle Timeout"));
        run_for(Duration::from_secs(30)).await;
        let st = ctl.status("late").await.unwrap().unwrap();
        assert_eq!(st.resource_id.as_deref(), Some(new.as_str()));
        assert_ne!(st.observed, ObservedState::EndedIdle);
        ctl.shutdown().await;
    })
    .await;
}

/// A spec with a CDN priority field pushes with `priority=1`, and its re-create (after a
/// `failed` state) with `priority=2`; an update keeps the number in use.
#[tokio::test(start_paused = true)]
async fn recreates_raise_the_cdn_priority() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("prio", "rtmp://a/live/x").priority_field("priority"))
            .await
            .unwrap();
        run_for(Duration::from_secs(10)).await;
        let first = emu.converters()[0].clone();
        assert_eq!(
            first.converter.rtmp_url.as_deref(),
            Some("rtmp://a/live/x?priority=1")
        );
        assert!(emu.fail_converter(&first.id));
        run_for(Duration::from_secs(300)).await;
        let now = emu.converters();
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now[0].id, first.id);
        assert_eq!(
            now[0].converter.rtmp_url.as_deref(),
            Some("rtmp://a/live/x?priority=2")
        );
        // A changed URL keeps the priority in use.
        ctl.apply(spec("prio", "rtmp://b/live/x").priority_field("priority"))
            .await
            .unwrap();
        run_for(Duration::from_secs(10)).await;
        assert_eq!(
            emu.converters()[0].converter.rtmp_url.as_deref(),
            Some("rtmp://b/live/x?priority=2")
        );
        // A bad field is refused before anything is sent.
        let err = ctl
            .apply(spec("prio2", "rtmp://a/live/x").priority_field("a b"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("spec.priorityField"), "{err}");
        ctl.shutdown().await;
    })
    .await;
}

/// Three 503s in a row on Get (past the retry schedule) destroy and re-create the converter:
/// the failed one is deleted, exactly one runs.
#[tokio::test(start_paused = true)]
async fn three_server_errors_in_a_row_recreate() {
    bounded(async {
        let emu = Emulator::builder()
            .fault(FaultRule::calls(
                Operation::PushGet,
                1,
                3,
                Fault::Status(503),
            ))
            .build();
        let ctl = ConverterController::start(push(&emu), config());
        let mut events = ctl.events();
        ctl.apply(spec("sup", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let first = emu.converters()[0].id.clone();
        run_for(Duration::from_secs(600)).await;
        let now = emu.converters();
        assert_eq!(now.len(), 1, "the failed one was deleted: {now:?}");
        assert_ne!(now[0].id, first);
        let mut recreated = false;
        while let Ok(e) = events.try_recv() {
            recreated |=
                matches!(e, ConverterEvent::Recreated { old: Some(ref o), .. } if *o == first);
        }
        assert!(recreated);
        ctl.shutdown().await;
    })
    .await;
}

/// An HA migration (404s for less than the window) is waited out: no re-create, no duplicate.
#[tokio::test(start_paused = true)]
async fn an_ha_migration_is_waited_out() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(
            push(&emu),
            config().settings(|s| s.poll_every(Duration::from_secs(10))),
        );
        ctl.apply(spec("ha", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(15)).await;
        let id = emu.converters()[0].id.clone();
        assert!(emu.migrate_converter(&id, None));
        run_for(Duration::from_secs(600)).await;
        assert_eq!(emu.converters().len(), 1);
        assert_eq!(emu.converters()[0].id, id);
        assert_eq!(count(&emu, Operation::PushCreate), 1);
        ctl.shutdown().await;
    })
    .await;
}

/// A converter adopted after a restart keeps the CDN priority it pushes with; its re-create
/// goes one higher.
#[tokio::test(start_paused = true)]
async fn an_adopted_converter_keeps_its_priority() {
    bounded(async {
        let emu = Emulator::builder().build();
        push(&emu)
            .create(
                PathRegion::Na,
                converter("prio_a", "rtmp://a/live/x?priority=4"),
            )
            .await
            .unwrap();
        let ctl = ConverterController::start(push(&emu), config());
        ctl.apply(spec("prio_a", "rtmp://a/live/x").priority_field("priority"))
            .await
            .unwrap();
        run_for(Duration::from_secs(30)).await;
        let c = emu.converters()[0].clone();
        assert_eq!(
            c.converter.rtmp_url.as_deref(),
            Some("rtmp://a/live/x?priority=4")
        );
        assert!(emu.fail_converter(&c.id));
        run_for(Duration::from_secs(300)).await;
        assert_eq!(
            emu.converters()[0].converter.rtmp_url.as_deref(),
            Some("rtmp://a/live/x?priority=5")
        );
        ctl.shutdown().await;
    })
    .await;
}

/// A controller started with an absurd, unchecked poll interval holds it within bounds: the
/// converter is created once and its status recorded (an overflowing instant used to panic
/// inside the reconcile, before anything was recorded).
#[tokio::test(start_paused = true)]
async fn an_unchecked_huge_poll_interval_is_held_within_bounds() {
    bounded(async {
        let emu = Emulator::builder().build();
        let ctl = ConverterController::start(
            push(&emu),
            config().settings(|s| s.poll_every(Duration::MAX)),
        );
        ctl.apply(spec("huge", "rtmp://a/x")).await.unwrap();
        run_for(Duration::from_secs(600)).await;
        assert_eq!(count(&emu, Operation::PushCreate), 1);
        let st = ctl
            .status("huge")
            .await
            .unwrap()
            .expect("a status was recorded");
        assert_eq!(
            st.resource_id.as_deref(),
            Some(emu.converters()[0].id.as_str())
        );
        ctl.shutdown().await;
    })
    .await;
}
