//! The admin API on its own loopback listener: every endpoint, as a test suite in another
//! language would use it (plain HTTP and JSON).

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_emulator::Emulator;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const AUTH: &str = "Basic Y2lkOmNzZWNyZXQ=";

async fn call(url: &str, method: Method, body: Option<Value>, auth: bool) -> (u16, Value) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    if auth {
        req = req.header("authorization", AUTH);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(req.body(Full::new(body)).unwrap()),
    )
    .await
    .unwrap()
    .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The body of a GET, as text.
async fn text(url: &str) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::get(url).body(Full::new(Bytes::new())).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(5), client.request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_endpoint_works() {
    let emu = Emulator::builder()
        .clock(agora_rest_emulator::EmulatorClock::adjustable(1))
        .admin("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let api = emu.url();
    let admin = emu.admin_url().unwrap();
    let a = |path: &str| format!("{admin}/_emulator/{path}");

    let (s, health) = call(&a("health"), Method::GET, None, false).await;
    assert_eq!((s, health["status"].as_str()), (200, Some("ok")));

    // State made through the API shows in the admin lists.
    let converter = json!({"converter": {"name": "adm", "rawOptions": {"rtcChannel": "c", "rtcStreamUid": 1}, "rtmpUrl": "rtmp://h/x"}});
    let (s, created) = call(
        &format!("{api}/na/v1/projects/app/rtmp-converters"),
        Method::POST,
        Some(converter),
        true,
    )
    .await;
    assert_eq!(s, 200, "{created}");
    let (_, list) = call(&a("converters"), Method::GET, None, false).await;
    assert_eq!(list["converters"][0]["id"], created["converter"]["id"]);
    let (_, tasks) = call(&a("tasks"), Method::GET, None, false).await;
    assert_eq!(tasks["tasks"], json!([]));

    // Faults at run time, in the --fault grammar; the request log pages and names them.
    let (s, _) = call(
        &a("faults"),
        Method::POST,
        Some(json!({"fault": "push.get:1:503"})),
        false,
    )
    .await;
    assert_eq!(s, 200);
    let id = created["converter"]["id"].as_str().unwrap();
    let one = format!("{api}/na/v1/projects/app/rtmp-converters/{id}");
    assert_eq!(call(&one, Method::GET, None, true).await.0, 503);
    let (s, _) = call(
        &a("faults"),
        Method::POST,
        Some(json!({"fault": "nonsense"})),
        false,
    )
    .await;
    assert_eq!(s, 400);
    let (_, page) = call(&a("requests?offset=1&limit=1"), Method::GET, None, false).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    assert_eq!(page["entries"][0]["fault"], "503");
    assert_eq!(page["entries"][0]["op"], "push.get");
    let (s, _) = call(&a("faults"), Method::DELETE, None, false).await;
    assert_eq!(s, 200);
    assert_eq!(call(&one, Method::GET, None, true).await.0, 200);

    // Prometheus metrics: the calls made so far, by op, status and fault; what it holds.
    let metrics = text(&format!("{admin}/metrics")).await;
    for line in [
        r#"agora_emulator_requests_total{op="push.create",status="200",fault=""} 1"#,
        r#"agora_emulator_requests_total{op="push.get",status="503",fault="503"} 1"#,
        r#"agora_emulator_requests_total{op="push.get",status="200",fault=""} 1"#,
        "agora_emulator_converters 1",
        "agora_emulator_tasks 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }

    // The clock: speed and jumps.
    let (_, before) = call(&a("health"), Method::GET, None, false).await;
    let (s, after) = call(
        &a("clock"),
        Method::POST,
        Some(json!({"advanceMs": 3_600_000})),
        false,
    )
    .await;
    assert_eq!(s, 200);
    assert!(after["nowMs"].as_u64().unwrap() >= before["nowMs"].as_u64().unwrap() + 3_600_000);
    let (s, sped) = call(&a("clock"), Method::POST, Some(json!({"speed": 50})), false).await;
    assert_eq!((s, sped["speed"].as_u64()), (200, Some(50)));
    assert_eq!(
        call(&a("clock"), Method::POST, Some(json!({"speed": 0})), false)
            .await
            .0,
        400
    );

    // The NCS delivery log (no webhook configured: empty), then a reset.
    let (s, d) = call(&a("deliveries"), Method::GET, None, false).await;
    assert_eq!((s, d["deliveries"].clone()), (200, json!([])));
    let (s, _) = call(&a("reset"), Method::POST, None, false).await;
    assert_eq!(s, 200);
    let (_, list) = call(&a("converters"), Method::GET, None, false).await;
    assert_eq!(list["converters"], json!([]));
    assert_eq!(call(&one, Method::GET, None, true).await.0, 404);
    assert_eq!(call(&a("nope"), Method::GET, None, false).await.0, 404);
}

/// Scripted events through the admin API: a converter failed or migrated, a task migrated, a
/// channel emptied; an unknown id is a 404 and a missing body field a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_events_move_resources() {
    let emu = Emulator::builder()
        .admin("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let api = emu.url();
    let admin = emu.admin_url().unwrap();
    let a = |path: &str| format!("{admin}/_emulator/{path}");
    let converter = json!({"converter": {"name": "scr", "rawOptions": {"rtcChannel": "c", "rtcStreamUid": 1}, "rtmpUrl": "rtmp://h/x"}});
    let (_, created) = call(
        &format!("{api}/na/v1/projects/app/rtmp-converters"),
        Method::POST,
        Some(converter),
        true,
    )
    .await;
    let id = created["converter"]["id"].as_str().unwrap().to_string();
    let one = format!("{api}/na/v1/projects/app/rtmp-converters/{id}");
    let (s, _) = call(
        &a(&format!("converters/{id}/migrate")),
        Method::POST,
        None,
        false,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(&one, Method::GET, None, true).await;
    assert_eq!(s, 404, "migrating");
    let (s, _) = call(
        &a(&format!("converters/{id}/fail")),
        Method::POST,
        None,
        false,
    )
    .await;
    assert_eq!(s, 200);
    let (_, list) = call(&a("converters"), Method::GET, None, false).await;
    assert_eq!(list["converters"][0]["state"], "failed", "{list}");
    let (s, _) = call(&a("converters/nope/fail"), Method::POST, None, false).await;
    assert_eq!(s, 404);
    let (s, _) = call(&a("tasks/nope/migrate"), Method::POST, None, false).await;
    assert_eq!(s, 400, "windowMs is required");
    let (s, _) = call(
        &a("tasks/nope/migrate"),
        Method::POST,
        Some(json!({"windowMs": 1000})),
        false,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &a("channels/c/publishers"),
        Method::POST,
        Some(json!({"publishers": false})),
        false,
    )
    .await;
    assert_eq!(s, 200);
}
