//! The Cloud Transcoding endpoints (docs/vendor-rules.md).

use std::time::Duration;

use agora_rest_core::health::BUILDER_TOKEN_VALIDITY;
use agora_rest_core::quota::{QuotaLedger, Tier};
use agora_rest_core::sequence::{HighestWins, SequenceVerdict};
use agora_rest_model::limits::TRANSCODER_SERVICE_TYPE;
use agora_rest_model::ncs::{TranscoderEventDetails, TranscoderEventKind, TranscoderEventName};
use agora_rest_model::transcoder::{
    AcquireRequest, AcquireResponse, CreateTaskRequest, SequenceId, ServiceStatus, Task,
    TaskService, TaskServices, TaskStatus,
};
use bytes::Bytes;
use http::Response;

use crate::engine::Ctx;
use crate::state::{StoredTask, TaskPhase, Token, transcoder_notice};
use crate::wire::{invalid_parameter, message, parse_body, query_param};

/// The mask Update requires (docs/vendor-rules.md).
const UPDATE_MASK: &str = "services.cloudTranscoder.config";

/// The highest output tier of a config (audio-only outputs count as SD, *derived*).
fn tier_of(req: &CreateTaskRequest) -> Tier {
    req.transcoder()
        .outputs
        .iter()
        .filter_map(|o| o.video_option.as_ref())
        .filter_map(|v| Tier::for_resolution(v.width, v.height).ok())
        .max()
        .unwrap_or(Tier::Sd)
}

fn task_body(t: &StoredTask, status: TaskStatus, service: ServiceStatus, msg: &str) -> Task {
    Task {
        create_ts: t.create_ts,
        event_handlers: Some(serde_json::json!({})),
        execution: Some(serde_json::json!({ "workflows": {} })),
        properties: Some(serde_json::json!({})),
        sequence_id: SequenceId(t.sequence.highest().unwrap_or(0)),
        services: TaskServices {
            cloud_transcoder: TaskService {
                config: agora_rest_model::EchoedJson::new(
                    serde_json::to_value(&t.request.services.cloud_transcoder.config)
                        .unwrap_or_default(),
                ),
                create_ts: t.create_ts,
                details: serde_json::json!({}),
                message: msg.to_string(),
                service_type: TRANSCODER_SERVICE_TYPE.to_string(),
                status: service,
            },
        },
        status,
        task_id: t.id.clone(),
        variables: Some(serde_json::json!({})),
        workflows: Some(serde_json::json!({})),
    }
}

fn running_body(t: &StoredTask) -> Task {
    match t.phase {
        TaskPhase::Started => task_body(t, TaskStatus::Started, ServiceStatus::Ready, ""),
        TaskPhase::InProgress => task_body(
            t,
            TaskStatus::InProgress,
            ServiceStatus::InProgress,
            "OnSlaveServiceQueryUpdated",
        ),
    }
}

pub(crate) fn acquire(ctx: &mut Ctx<'_>, app: &str, body: &Bytes) -> Response<Bytes> {
    let req: AcquireRequest = match parse_body(body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if let Err(e) = req.validate() {
        return invalid_parameter(&e);
    }
    let name = ctx.state.new_token();
    ctx.state.tokens.insert(
        name.clone(),
        Token {
            instance_id: req.instance_id.clone(),
            app_id: app.to_string(),
            acquired_at: ctx.now,
            used_by: None,
        },
    );
    crate::wire::json(
        200,
        &AcquireResponse {
            create_ts: ctx.unix(),
            instance_id: req.instance_id,
            token_name: name.into(),
        },
    )
}

/// A 409 naming the running task, so that a client can adopt it.
fn already_started(task_id: &str) -> Response<Bytes> {
    crate::wire::json(
        409,
        &serde_json::json!({ "message": "The task already started for this instanceId; no retry is needed.", "taskId": task_id }),
    )
}

/// Create. `commit` false answers as if it timed out (206) without creating.
pub(crate) fn create(
    ctx: &mut Ctx<'_>,
    app: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Bytes> {
    let Some(token) = query_param(query, "builderToken") else {
        return message(
            400,
            "Invalid parameter: builderToken. The query parameter is required.",
        );
    };
    let Some(t) = ctx.state.tokens.get(&token).cloned() else {
        return message(400, "Invalid parameter: builderToken. Unknown token.");
    };
    if t.app_id != app {
        return message(
            400,
            "Invalid parameter: builderToken. The token belongs to another project.",
        );
    }
    if let Some(task) = &t.used_by {
        return if ctx.state.tasks.contains_key(task) {
            already_started(task)
        } else {
            message(
                400,
                "Invalid parameter: builderToken. A token serves one task only; acquire a new one.",
            )
        };
    }
    if ctx.now.saturating_sub(t.acquired_at) >= BUILDER_TOKEN_VALIDITY {
        return message(
            400,
            "Invalid parameter: builderToken. The token has expired (valid 5 minutes); acquire a new one.",
        );
    }
    if let Some(running) = ctx
        .state
        .instances
        .get(&(app.to_string(), t.instance_id.clone()))
    {
        return already_started(&running.clone());
    }
    let req: CreateTaskRequest = match parse_body(body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if let Err(e) = req.validate() {
        return invalid_parameter(&e);
    }
    let tier = tier_of(&req);
    let area = ctx.config.transcoding_area;
    let table = ctx.config.transcoding_quota.clone();
    let ledger = ctx
        .state
        .transcoding_ledgers
        .entry(app.to_string())
        .or_insert_with(|| QuotaLedger::new(table));
    if ledger.admit(area, tier).is_err() {
        return message(429, crate::wire::text::QUOTA);
    }
    let id = ctx.state.new_id();
    let task = StoredTask {
        id: id.clone(),
        app_id: app.to_string(),
        instance_id: t.instance_id.clone(),
        token: token.clone(),
        request: req,
        create_ts: ctx.unix(),
        created_at: ctx.now,
        phase: TaskPhase::Started,
        sequence: HighestWins::new(),
        tier,
        ha_until: None,
        notices: 1,
    };
    if let Some(tok) = ctx.state.tokens.get_mut(&token) {
        tok.used_by = Some(id.clone());
    }
    ctx.state
        .instances
        .insert((app.to_string(), t.instance_id), id.clone());
    let ms = ctx.unix_ms();
    let details = TranscoderEventDetails {
        event: TranscoderEventName::Started,
        state: Some("Transcoder success".into()),
        stop_reason: None,
        transcoder: Some(agora_rest_model::EchoedJson::new(serde_json::json!({
            "inputs": [], "outputs": [],
            "userConfigDetail": serde_json::to_string(task.request.transcoder()).unwrap_or_default(),
        }))),
        create_ts: Some(ms),
        update_ts: Some(ms),
    };
    ctx.state.emit(
        transcoder_notice(&task, TranscoderEventKind::Started, details, ms),
        ms,
    );
    let body = task_body(&task, TaskStatus::Started, ServiceStatus::Ready, "");
    let in_progress_after = ctx.config.in_progress_after;
    ctx.state.task_created(&task, in_progress_after);
    ctx.state.tasks.insert(id, task);
    crate::wire::json(200, &body)
}

/// The running task `id` of `app`, checked against the token, or the service's answer.
#[allow(clippy::result_large_err)] // the error is the answer to send, built once per request
fn find<'a>(
    ctx: &'a mut Ctx<'_>,
    app: &str,
    id: &str,
    query: Option<&str>,
) -> Result<&'a mut StoredTask, Response<Bytes>> {
    let now = ctx.now;
    // Any token minted for the task's instance id is accepted (the docs are SILENT; the
    // clients reuse a token for the whole task, and one that adopts a running task after a
    // 409 only holds its own token for the same instance).
    let token_instance = query_param(query, "builderToken")
        .and_then(|t| ctx.state.tokens.get(&t))
        .map(|t| (t.app_id.clone(), t.instance_id.clone()));
    match ctx.state.tasks.get_mut(id) {
        Some(t) if t.app_id == app && t.ha_until.is_none_or(|u| now >= u) => {
            if token_instance.as_ref() == Some(&(t.app_id.clone(), t.instance_id.clone())) {
                Ok(t)
            } else {
                Err(message(
                    400,
                    "Invalid parameter: builderToken. It was not minted for this task's instanceId.",
                ))
            }
        }
        _ => Err(message(
            404,
            "The transcoder was not found: it never started, or it exited.",
        )),
    }
}

pub(crate) fn query(
    ctx: &mut Ctx<'_>,
    app: &str,
    id: &str,
    query: Option<&str>,
) -> Response<Bytes> {
    let (now, starting_for) = (ctx.now, ctx.config.starting_for);
    match find(ctx, app, id, query) {
        Ok(t) if now < t.created_at + starting_for => crate::wire::json(
            200,
            &task_body(t, TaskStatus::Starting, ServiceStatus::Ready, ""),
        ),
        Ok(t) => crate::wire::json(200, &running_body(t)),
        Err(r) => r,
    }
}

pub(crate) fn update(
    ctx: &mut Ctx<'_>,
    app: &str,
    id: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Bytes> {
    if let Err(r) = find(ctx, app, id, query) {
        return r;
    }
    let Some(seq) = query_param(query, "sequenceId")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s <= agora_rest_core::sequence::MAX_SEQUENCE)
    else {
        return message(
            400,
            &format!(
                "Invalid parameter: sequenceId. An integer from 0 to {} is required.",
                agora_rest_core::sequence::MAX_SEQUENCE
            ),
        );
    };
    if query_param(query, "updateMask").as_deref() != Some(UPDATE_MASK) {
        return message(
            400,
            "Invalid parameter: updateMask. It must be services.cloudTranscoder.config.",
        );
    }
    let req: CreateTaskRequest = match parse_body(body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let Ok(t) = find(ctx, app, id, query) else {
        return message(404, "gone");
    };
    if let Err(e) = t.request.transcoder().validate_update_to(req.transcoder()) {
        return invalid_parameter(&e);
    }
    match t.sequence.offer(seq) {
        SequenceVerdict::Stale { highest } => {
            return message(
                409,
                &format!(
                    "sequenceId {seq} is lower than the last applied {highest}: the update was not applied"
                ),
            );
        }
        SequenceVerdict::Repeated => return Response::new(Bytes::new()),
        SequenceVerdict::Accepted => {}
    }
    t.request = req;
    t.notices += 1;
    let t = t.clone();
    let ms = ctx.unix_ms();
    let details = TranscoderEventDetails {
        event: TranscoderEventName::Updated,
        state: None,
        stop_reason: None,
        transcoder: Some(agora_rest_model::EchoedJson::new(serde_json::json!({
            "inputs": [], "outputs": [],
            "userConfigDetail": serde_json::to_string(t.request.transcoder()).unwrap_or_default(),
        }))),
        create_ts: Some(t.create_ts * 1000),
        update_ts: Some(ms),
    };
    ctx.state.emit(
        transcoder_notice(&t, TranscoderEventKind::Updated, details, ms),
        ms,
    );
    Response::new(Bytes::new())
}

pub(crate) fn delete(
    ctx: &mut Ctx<'_>,
    app: &str,
    id: &str,
    query: Option<&str>,
) -> Response<Bytes> {
    if let Err(r) = find(ctx, app, id, query) {
        return r;
    }
    let area = ctx.config.transcoding_area;
    let ms = ctx.unix_ms();
    match ctx.state.stop_task(id, "Stop request", area, ms) {
        Some(t) => crate::wire::json(
            200,
            &task_body(
                &t,
                TaskStatus::Stopped,
                ServiceStatus::Completed,
                "OnSlaveServiceStopped",
            ),
        ),
        None => message(404, "The transcoder was not found."),
    }
}

/// Makes task `id` answer 404 for `window` (an HA migration, docs/vendor-rules.md: within 90 s).
pub(crate) fn migrate(ctx: &mut Ctx<'_>, id: &str, window: Duration) -> bool {
    let until = ctx.now + window;
    match ctx.state.tasks.get_mut(id) {
        Some(t) => {
            t.ha_until = Some(until);
            true
        }
        None => false,
    }
}
