//! Media Push and the gateway: the good, the bad and the edge request for each rule, under
//! tokio's paused clock with the in-memory service.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_emulator::{Emulator, Fault, FaultRule, GetShapeMode};
use common::{AUTH, PUSH, T, converter, create};
use http::Method;
use serde_json::json;

fn advance(d: u64) -> impl std::future::Future<Output = ()> {
    tokio::time::sleep(Duration::from_secs(d))
}

#[tokio::test(start_paused = true)]
async fn gateway_auth_routes_and_ids() {
    let t = T::new(
        Emulator::builder()
            .app_id("app")
            .credentials("cid", "csecret")
            .build(),
    );
    let a = t
        .send(Method::GET, PUSH.trim_start_matches("/na"), None, &[])
        .await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (401, Some("Unauthorized"))
    );
    let a = t
        .send(
            Method::GET,
            "/v1/projects/app/rtmp-converters",
            None,
            &[("authorization", "Basic Zm9vOmJhcg==")],
        )
        .await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (401, Some("Invalid authentication credentials"))
    );
    let a = t.call(Method::GET, "/v1/projects/app/nowhere", None).await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (404, Some("no Route matched with those values"))
    );
    let a = t
        .call(
            Method::POST,
            "/NA/v1/projects/app/rtmp-converters",
            Some(converter("a", "c", 640, 360)),
        )
        .await;
    assert_eq!(a.status, 404, "an upper-case region matches no route");
    let a = t.call(Method::PUT, PUSH, None).await;
    assert_eq!(a.status, 404, "an undocumented method matches no route");
    let a = t
        .call(Method::GET, "/v1/projects/other/rtmp-converters", None)
        .await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (400, Some("appid is invalid"))
    );
    // X-Request-ID echoed, X-Custom-Request-ID set when the client sent one; generated otherwise.
    let a = t
        .send(
            Method::GET,
            "/v1/projects/app/rtmp-converters",
            None,
            &[("authorization", AUTH), ("x-request-id", "rid-7")],
        )
        .await;
    assert_eq!(a.headers["x-request-id"], "rid-7");
    assert_eq!(a.headers["x-custom-request-id"], "rid-7");
    let a = t
        .call(Method::GET, "/v1/projects/app/rtmp-converters", None)
        .await;
    assert_eq!(a.headers["x-request-id"].len(), 32);
    assert!(!a.headers.contains_key("x-custom-request-id"));
    assert_eq!(t.emu.request_log().len(), 8);
}

#[tokio::test(start_paused = true)]
async fn create_validates_and_names_are_unique() {
    let t = T::new(Emulator::builder().build());
    let a = t
        .call(
            Method::POST,
            PUSH,
            Some(converter("show68_h", "show68", 1280, 720)),
        )
        .await;
    assert_eq!(a.status, 200);
    let id = a.body["converter"]["id"].as_str().unwrap();
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a.body["converter"]["state"], "connecting");
    assert_eq!(a.body["fields"], "id,createTs,updateTs,state");
    assert_eq!(a.headers["x-resource-id"], id);
    // Same name → 409; empty names may repeat.
    let a = t
        .call(
            Method::POST,
            PUSH,
            Some(converter("show68_h", "show68", 640, 360)),
        )
        .await;
    assert_eq!(a.status, 409);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Resource with the same name already exists")
    );
    for _ in 0..2 {
        let mut c = converter("x", "show68", 640, 360);
        c["converter"]["name"] = json!("");
        assert_eq!(t.call(Method::POST, PUSH, Some(c)).await.status, 200);
    }
    // Bad field → 400 naming it; malformed JSON → 400; unknown fields tolerated.
    let mut bad = converter("bad", "show68", 640, 360);
    bad["converter"]["rtmpUrl"] = json!("http://not-rtmp");
    let a = t.call(Method::POST, PUSH, Some(bad)).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter: rtmpUrl."),
        "{}",
        a.body
    );
    let mut edge = converter("edge", "show68", 640, 360);
    edge["converter"]["idleTimeOut"] = json!(601);
    assert!(
        t.call(Method::POST, PUSH, Some(edge.clone())).await.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter: idleTimeOut.")
    );
    edge["converter"]["idleTimeOut"] = json!(600);
    edge["converter"]["someFutureField"] = json!({"x": 1});
    assert_eq!(t.call(Method::POST, PUSH, Some(edge)).await.status, 200);
    let a = t
        .send(Method::POST, PUSH, None, &[("authorization", AUTH)])
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter: body.")
    );
}

#[tokio::test(start_paused = true)]
async fn state_runs_after_the_delay_and_get_has_both_shapes() {
    let t = T::new(
        Emulator::builder()
            .running_after(Duration::from_secs(2))
            .build(),
    );
    let id = create(&t, "a").await;
    let get = format!("{PUSH}/{id}");
    let a = t.call(Method::GET, &get, None).await;
    assert_eq!(
        (a.status, a.body["state"].as_str()),
        (200, Some("connecting")),
        "transcoded: top level"
    );
    advance(2).await;
    assert_eq!(
        t.call(Method::GET, &get, None).await.body["state"],
        "running"
    );
    // Another region → 404 with the documented `reason`.
    let a = t
        .call(Method::GET, &get.replace("/na/", "/eu/"), None)
        .await;
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (404, Some("Resource is not found and destroyed."))
    );
    // Wrapped shape on request.
    let t = T::new(Emulator::builder().get_shape(GetShapeMode::Wrapped).build());
    let id = create(&t, "b").await;
    let a = t.call(Method::GET, &format!("{PUSH}/{id}"), None).await;
    assert_eq!(a.body["converter"]["state"], "connecting");
    // Events 1 then 3 were emitted.
    advance(3).await;
    let kinds: Vec<u32> = t
        .emu
        .take_notices()
        .iter()
        .map(|n| n.notification.to_envelope("x", 0).unwrap().event_type)
        .collect();
    assert_eq!(kinds, [1, 3]);
}

#[tokio::test(start_paused = true)]
async fn update_sequence_mask_and_immutables() {
    let t = T::new(Emulator::builder().build());
    let id = create(&t, "u").await;
    let url = |seq: Option<u64>| match seq {
        Some(s) => format!("{PUSH}/{id}?sequence={s}"),
        None => format!("{PUSH}/{id}"),
    };
    let canvas = json!({"converter": {"transcodeOptions": {"videoOptions": {"canvas": {"width": 360, "height": 640}}},
        "rtmpUrl": "rtmp://sneaky.example.com/x"}, "fields": "transcodeOptions.videoOptions.canvas"});
    let a = t
        .call(Method::PATCH, &url(None), Some(canvas.clone()))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].as_str().unwrap().contains("sequence"));
    let a = t
        .call(Method::PATCH, &url(Some(5)), Some(canvas.clone()))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let got = t.call(Method::GET, &url(None), None).await.body;
    assert_eq!(
        got["transcodeOptions"]["videoOptions"]["canvas"]["width"],
        360
    );
    assert_eq!(
        got["rtmpUrl"], "rtmp://push.example.com/live/x",
        "only masked paths apply"
    );
    // The same sequence again: a resend, 200 and no change; a lower one: 409, not applied.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        t.call(Method::PATCH, &url(Some(5)), Some(canvas.clone()))
            .await
            .status,
        200
    );
    let a = t
        .call(Method::PATCH, &url(Some(4)), Some(canvas.clone()))
        .await;
    assert_eq!(a.status, 409);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("lower than the last applied 5")
    );
    // Immutable fields → 400 naming the path.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let name = json!({"converter": {"name": "other"}, "fields": "name"});
    let a = t.call(Method::PATCH, &url(Some(6)), Some(name)).await;
    assert_eq!(a.status, 400);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter: name."),
        "{}",
        a.body
    );
    // Two updates a second per converter; the third in the same second is refused.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rtmp = json!({"converter": {"rtmpUrl": "rtmp://b.example.com/x"}, "fields": "rtmpUrl"});
    assert_eq!(
        t.call(Method::PATCH, &url(Some(7)), Some(rtmp.clone()))
            .await
            .status,
        200
    );
    assert_eq!(
        t.call(Method::PATCH, &url(Some(8)), Some(rtmp.clone()))
            .await
            .status,
        200
    );
    let a = t.call(Method::PATCH, &url(Some(9)), Some(rtmp)).await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (429, Some("Request rate limit exceeded."))
    );
}

#[tokio::test(start_paused = true)]
async fn delete_list_and_paging() {
    let t = T::new(Emulator::builder().list_page_size(2).build());
    let mut ids = Vec::new();
    for i in 0..5 {
        let ch = if i % 2 == 0 { "even" } else { "odd ch" };
        let a = t
            .call(
                Method::POST,
                PUSH,
                Some(converter(&format!("c{i}"), ch, 640, 360)),
            )
            .await;
        ids.push(a.body["converter"]["id"].as_str().unwrap().to_string());
    }
    let mut cursor = None::<u64>;
    let mut seen = Vec::new();
    loop {
        let path = match cursor {
            None => "/v1/projects/app/rtmp-converters".to_string(),
            Some(c) => format!("/v1/projects/app/rtmp-converters?cursor={c}"),
        };
        let a = t.call(Method::GET, &path, None).await;
        assert_eq!(a.body["data"]["total_count"], 5);
        for m in a.body["data"]["members"].as_array().unwrap() {
            seen.push(m["converterId"].as_str().unwrap().to_string());
            assert!(
                m["updateTs"].is_string() && m["idleTimeout"].is_string(),
                "strings as in the example"
            );
        }
        match a.body["data"]["cursor"].as_u64().unwrap() {
            0 => break,
            c => cursor = Some(c),
        }
    }
    assert_eq!(seen, ids);
    let a = t
        .call(
            Method::GET,
            "/v1/projects/app/channels/odd%20ch/rtmp-converters",
            None,
        )
        .await;
    assert_eq!(a.body["data"]["total_count"], 2);
    // Delete: 200 with an empty body; then 404; the name is free again.
    let a = t
        .call(Method::DELETE, &format!("{PUSH}/{}", ids[0]), None)
        .await;
    assert_eq!((a.status, a.raw.len()), (200, 0));
    assert_eq!(
        t.call(Method::GET, &format!("{PUSH}/{}", ids[0]), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.call(Method::DELETE, &format!("{PUSH}/{}", ids[0]), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.call(Method::POST, PUSH, Some(converter("c0", "even", 640, 360)))
            .await
            .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn rate_and_concurrency_limits() {
    let t = T::new(Emulator::builder().build());
    let id = create(&t, "r").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..51 {
        let a = t.call(Method::GET, &format!("{PUSH}/{id}"), None).await;
        let expected = if i < 50 { 200 } else { 429 };
        assert_eq!(a.status, expected, "call {i}");
    }
    // Europe: five HD streams, the sixth is refused; SD still fits under the total of 20.
    let eu = "/eu/v1/projects/app/rtmp-converters";
    for i in 0..5 {
        assert_eq!(
            t.call(
                Method::POST,
                eu,
                Some(converter(&format!("hd{i}"), "c", 1280, 720))
            )
            .await
            .status,
            200
        );
    }
    let a = t
        .call(Method::POST, eu, Some(converter("hd5", "c", 1280, 720)))
        .await;
    assert_eq!(
        (a.status, a.body["message"].as_str()),
        (429, Some("Resources quota exceeded."))
    );
    assert_eq!(
        t.call(Method::POST, eu, Some(converter("sd0", "c", 640, 360)))
            .await
            .status,
        200
    );
    let a = t
        .call(Method::POST, eu, Some(converter("fhd", "c", 1920, 1080)))
        .await;
    assert_eq!(a.status, 429, "FHD outside China needs support");
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_and_ha_migration() {
    let t = T::new(Emulator::builder().build());
    let mut c = converter("idle", "quiet", 640, 360);
    c["converter"]["idleTimeOut"] = json!(30);
    let id = t.call(Method::POST, PUSH, Some(c)).await.body["converter"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = format!("{PUSH}/{id}");
    t.emu.set_publishers("quiet", false);
    advance(29).await;
    assert_eq!(t.call(Method::GET, &get, None).await.status, 200);
    advance(1).await;
    assert_eq!(t.call(Method::GET, &get, None).await.status, 404);
    let last = t
        .emu
        .take_notices()
        .pop()
        .unwrap()
        .notification
        .to_envelope("x", 0)
        .unwrap();
    assert_eq!(last.event_type, 4);
    assert!(last.payload_json().contains("Idle Timeout"));

    // HA migration: 404 for 120 s, then back, same converter.
    let id = create(&t, "ha").await;
    let get = format!("{PUSH}/{id}");
    assert!(t.emu.migrate_converter(&id, None));
    assert_eq!(t.call(Method::GET, &get, None).await.status, 404);
    advance(119).await;
    assert_eq!(t.call(Method::GET, &get, None).await.status, 404);
    advance(1).await;
    assert_eq!(t.call(Method::GET, &get, None).await.status, 200);
    assert!(t.emu.fail_converter(&id));
    assert_eq!(
        t.call(Method::GET, &get, None).await.body["state"],
        "failed"
    );
}

#[tokio::test(start_paused = true)]
async fn faults_commit_then_504_and_friends() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(
            Operation::PushCreate,
            1,
            Fault::CommitThen504,
        ))
        .fault(FaultRule::nth(Operation::PushCreate, 2, Fault::Status(503)))
        .fault(FaultRule::nth(Operation::PushCreate, 3, Fault::Code65(500)))
        .fault(FaultRule::nth(
            Operation::PushList,
            1,
            Fault::Latency(Duration::from_secs(3)),
        ))
        .build();
    let t = T::new(emu);
    let a = t
        .call(Method::POST, PUSH, Some(converter("once", "c", 640, 360)))
        .await;
    assert_eq!(a.status, 504);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Gateway timeout. Check whether the resource is created")
    );
    assert_eq!(t.emu.converters().len(), 1, "the 504 came after the commit");
    let a = t
        .call(Method::POST, PUSH, Some(converter("two", "c", 640, 360)))
        .await;
    assert_eq!(a.status, 503);
    let a = t
        .call(Method::POST, PUSH, Some(converter("three", "c", 640, 360)))
        .await;
    assert_eq!((a.status, a.body["code"].as_i64()), (500, Some(65)));
    assert_eq!(t.emu.converters().len(), 1, "failed calls are not applied");
    let before = tokio::time::Instant::now();
    assert_eq!(
        t.call(Method::GET, "/v1/projects/app/rtmp-converters", None)
            .await
            .status,
        200
    );
    assert_eq!(before.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn host_faults_for_in_memory_clients() {
    let t = T::new(Emulator::builder().build());
    let svc = t.emu.service();
    let req = |host: &str| {
        http::Request::get(format!("https://{host}/v1/projects/app/rtmp-converters"))
            .header("authorization", AUTH)
            .body(bytes::Bytes::new())
            .unwrap()
    };
    use tower::ServiceExt;
    t.emu.refuse_host("api.agora.io");
    let e = svc.clone().oneshot(req("api.agora.io")).await.unwrap_err();
    assert_eq!(
        e.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    assert_eq!(
        svc.clone()
            .oneshot(req("api.sd-rtn.com"))
            .await
            .unwrap()
            .status(),
        200
    );
    t.emu.unresolvable_host("api.sd-rtn.com");
    let e = svc
        .clone()
        .oneshot(req("api.sd-rtn.com"))
        .await
        .unwrap_err();
    assert_eq!(
        e.downcast_ref::<std::io::Error>().unwrap().kind(),
        std::io::ErrorKind::NotFound
    );
    t.emu.stall_host("api-us-east-1.agora.io");
    let stalled = tokio::time::timeout(
        Duration::from_secs(30),
        svc.clone().oneshot(req("api-us-east-1.agora.io")),
    )
    .await;
    assert!(stalled.is_err());
    t.emu.restore_host("api.agora.io");
    assert_eq!(
        svc.oneshot(req("api.agora.io")).await.unwrap().status(),
        200
    );
}
