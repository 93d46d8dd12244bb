//! The admin API: JSON endpoints under `/_emulator/` on a listener of their own, so that a test
//! suite in any language can script the emulator (LocalStack's `/_localstack/…` endpoints are
//! the model).
//!
//! | method and path | what it does |
//! | --- | --- |
//! | `GET /_emulator/health` | `{"status":"ok","nowMs":…,"speed":…}` |
//! | `GET /metrics` | the emulator's metrics in Prometheus' text format (requests answered by operation, status and fault; converters and tasks held) |
//! | `POST /_emulator/reset` | forgets every converter, task, token, log entry, fault and notice |
//! | `GET /_emulator/converters` | the stored converters |
//! | `GET /_emulator/tasks` | the stored tasks (tokens redacted) |
//! | `GET /_emulator/requests?offset=N&limit=M` | the request log, oldest first, with the fault applied to each |
//! | `POST /_emulator/faults` `{"fault":"push.create:1:504-commit"}` | adds a fault rule (the `--fault` grammar) |
//! | `DELETE /_emulator/faults` | clears every fault rule |
//! | `POST /_emulator/clock` `{"speed":N}` or `{"advanceMs":N}` | changes the clock's speed or moves it forward |
//! | `GET /_emulator/deliveries` | the NCS delivery log |
//! | `POST /_emulator/converters/{id}/fail` | puts a converter in the `failed` state |
//! | `POST /_emulator/converters/{id}/migrate` | makes a converter answer 404 for the HA window |
//! | `POST /_emulator/tasks/{id}/migrate` `{"windowMs":N}` | makes a task answer 404 for N ms |
//! | `POST /_emulator/channels/{name}/publishers` `{"publishers":false}` | empties a channel (its converters and tasks end by idle timeout) |
//!
//! The listener is the same hardened server as the API's (timeouts, connection cap). It takes
//! no credentials: bind it to loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use agora_rest_model::echoed::redact_value;
use agora_rest_transport::server::{HardenedServer, ServerLimits, serve_until};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{Emulator, Error, FaultRule, MAX_SPEED};

/// The most log entries one `requests` page returns.
pub(crate) const MAX_PAGE: usize = 1000;

/// A running admin listener.
#[derive(Debug)]
pub(crate) struct AdminServer {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl AdminServer {
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) async fn start(
    emulator: Emulator,
    addr: SocketAddr,
    limits: ServerLimits,
) -> Result<AdminServer, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Bind {
            addr,
            reason: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| Error::Bind {
        addr,
        reason: e.to_string(),
    })?;
    let server = HardenedServer::new(limits, None).map_err(|e| Error::Option {
        option: "server limits",
        reason: e.to_string(),
    })?;
    let (stop, mut stopped) = watch::channel(false);
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let emulator = emulator.clone();
        async move { Ok::<_, Infallible>(handle(&emulator, req).await) }
    });
    tokio::spawn(serve_until(server, listener, None, svc, async move {
        let _ = stopped.changed().await;
    }));
    Ok(AdminServer { addr: local, stop })
}

fn answer(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn bad(message: impl Into<String>) -> Response<Full<Bytes>> {
    answer(
        StatusCode::BAD_REQUEST,
        &json!({ "message": message.into() }),
    )
}

fn query_number(query: Option<&str>, key: &str) -> Option<usize> {
    crate::wire::query_param(query, key).and_then(|v| v.parse().ok())
}

async fn handle(emulator: &Emulator, req: Request<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let json_body = || serde_json::from_slice::<Value>(&body).ok();
    let path = parts.uri.path();
    let query = parts.uri.query();
    match (&parts.method, path) {
        (&Method::GET, "/metrics") => {
            let mut r = Response::new(Full::new(Bytes::from(emulator.metrics_text())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        (&Method::GET, "/_emulator/health") => answer(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "nowMs": u64::try_from(emulator.clock().now().as_millis()).unwrap_or(u64::MAX),
                "speed": emulator.clock().speed(),
            }),
        ),
        (&Method::POST, "/_emulator/reset") => {
            emulator.reset();
            answer(StatusCode::OK, &json!({ "reset": true }))
        }
        (&Method::GET, "/_emulator/converters") => {
            let items: Vec<Value> = emulator
                .converters()
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "appId": c.app_id,
                        "region": c.region.to_string(),
                        "state": c.state.to_string(),
                        "createTs": c.create_ts,
                        "updateTs": c.update_ts,
                        "sequence": c.sequence.highest(),
                        "converter": redact_value(&serde_json::to_value(&c.converter).unwrap_or_default()),
                    })
                })
                .collect();
            answer(StatusCode::OK, &json!({ "converters": items }))
        }
        (&Method::GET, "/_emulator/tasks") => {
            let items: Vec<Value> = emulator
                .tasks()
                .iter()
                .map(|t| {
                    json!({
                        "taskId": t.id,
                        "appId": t.app_id,
                        "instanceId": t.instance_id,
                        "phase": format!("{:?}", t.phase),
                        "createTs": t.create_ts,
                        "sequenceId": t.sequence.highest(),
                        "config": redact_value(&serde_json::to_value(t.request.transcoder()).unwrap_or_default()),
                    })
                })
                .collect();
            answer(StatusCode::OK, &json!({ "tasks": items }))
        }
        (&Method::GET, "/_emulator/requests") => {
            let log = emulator.request_log();
            let offset = query_number(query, "offset").unwrap_or(0);
            let limit = query_number(query, "limit").unwrap_or(100).min(MAX_PAGE);
            let entries: Vec<Value> = log
                .iter()
                .skip(offset)
                .take(limit)
                .map(|e| {
                    json!({
                        "atMs": u64::try_from(e.at.as_millis()).unwrap_or(u64::MAX),
                        "host": e.host,
                        "method": e.method,
                        "path": e.path,
                        "op": e.op.map(agora_rest_core::operation::Operation::name),
                        "status": e.status,
                        "requestId": e.request_id,
                        "fault": e.fault,
                    })
                })
                .collect();
            answer(
                StatusCode::OK,
                &json!({ "total": log.len(), "offset": offset, "entries": entries }),
            )
        }
        (&Method::POST, "/_emulator/faults") => {
            let Some(text) = json_body().and_then(|v| v.get("fault")?.as_str().map(str::to_string))
            else {
                return bad(r#"expected {"fault":"<op>:<calls>:<fault>"}"#);
            };
            match text.parse::<FaultRule>() {
                Ok(rule) => {
                    emulator.add_fault(rule);
                    answer(StatusCode::OK, &json!({ "added": text }))
                }
                Err(reason) => bad(format!("fault {text:?}: {reason}")),
            }
        }
        (&Method::DELETE, "/_emulator/faults") => {
            emulator.clear_faults();
            answer(StatusCode::OK, &json!({ "cleared": true }))
        }
        (&Method::POST, "/_emulator/clock") => {
            let Some(v) = json_body() else {
                return bad(r#"expected {"speed":N} or {"advanceMs":N}"#);
            };
            if let Some(speed) = v.get("speed").and_then(Value::as_u64) {
                let speed = u32::try_from(speed).unwrap_or(u32::MAX);
                if speed == 0 || speed > MAX_SPEED {
                    return bad(format!("speed must be from 1 to {MAX_SPEED}"));
                }
                if !emulator.clock().set_speed(speed) {
                    return bad(
                        "this emulator's clock follows the test's clock; it has no speed to set",
                    );
                }
            }
            if let Some(ms) = v.get("advanceMs").and_then(Value::as_u64)
                && !emulator.advance(Duration::from_millis(ms))
            {
                return bad("this emulator's clock follows the test's clock; it cannot be moved");
            }
            answer(
                StatusCode::OK,
                &json!({
                    "nowMs": u64::try_from(emulator.clock().now().as_millis()).unwrap_or(u64::MAX),
                    "speed": emulator.clock().speed(),
                }),
            )
        }
        (&Method::GET, "/_emulator/deliveries") => {
            let items: Vec<Value> = emulator
                .deliveries()
                .iter()
                .map(|d| json!({ "noticeId": d.notice_id, "eventType": d.event_type, "status": d.status }))
                .collect();
            answer(StatusCode::OK, &json!({ "deliveries": items }))
        }
        (&Method::POST, p) => scripted(emulator, p, json_body().as_ref()),
        _ => not_found(),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    answer(
        StatusCode::NOT_FOUND,
        &json!({ "message": "no such admin endpoint; see GET /_emulator/health" }),
    )
}

/// The scripted events of one resource or channel: `POST /_emulator/{kind}/{id}/{what}`.
fn scripted(emulator: &Emulator, path: &str, body: Option<&Value>) -> Response<Full<Bytes>> {
    let parts: Vec<&str> = path.trim_start_matches("/_emulator/").split('/').collect();
    let [kind, id, what] = parts.as_slice() else {
        return not_found();
    };
    let done = |found: bool| {
        if found {
            answer(StatusCode::OK, &json!({ "id": id, "done": what }))
        } else {
            answer(
                StatusCode::NOT_FOUND,
                &json!({ "message": format!("no {kind} {id:?}") }),
            )
        }
    };
    match (*kind, *what) {
        ("converters", "fail") => done(emulator.fail_converter(id)),
        ("converters", "migrate") => done(emulator.migrate_converter(id, None)),
        ("tasks", "migrate") => {
            let Some(ms) = body.and_then(|b| b["windowMs"].as_u64()) else {
                return bad("body: {\"windowMs\": N} is required");
            };
            done(emulator.migrate_task(id, Duration::from_millis(ms)))
        }
        ("channels", "publishers") => {
            let Some(on) = body.and_then(|b| b["publishers"].as_bool()) else {
                return bad("body: {\"publishers\": true|false} is required");
            };
            emulator.set_publishers(id, on);
            done(true)
        }
        _ => not_found(),
    }
}
