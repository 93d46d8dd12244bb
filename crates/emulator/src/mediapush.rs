//! The Media Push endpoints (docs/vendor-rules.md).

use std::time::Duration;

use agora_rest_core::quota::{QuotaLedger, Tier};
use agora_rest_core::rate::SlidingWindow;
use agora_rest_core::region::PathRegion;
use agora_rest_core::sequence::{HighestWins, MAX_SEQUENCE, SequenceVerdict};
use agora_rest_model::mediapush::{
    Converter, ConverterInfo, ConverterResponse, ConverterState, ConverterStatus,
    CreateConverterRequest, GetConverterResponse, GetShape, ListConvertersResponse, ListMember,
    ListPage, UpdateConverterRequest,
};
use agora_rest_model::ncs::{ConverterEventPayload, DestroyReason, MediaPushEventKind};
use bytes::Bytes;
use http::{HeaderValue, Response};

use crate::config::GetShapeMode;
use crate::engine::Ctx;
use crate::state::{StoredConverter, media_push_notice};
use crate::wire::{invalid_parameter, json, message, parse_body, query_param, text};

/// The resolution tier a converter counts against: its canvas, or SD when it has no video
/// (audio-only and raw converters; *derived*, the docs tier by video resolution only).
fn tier_of(c: &Converter) -> Tier {
    c.transcode_options
        .as_ref()
        .and_then(|t| t.video_options.as_ref())
        .and_then(|v| v.canvas.as_ref())
        .and_then(|canvas| Tier::for_resolution(canvas.width, canvas.height).ok())
        .unwrap_or(Tier::Sd)
}

fn with_resource_id(mut r: Response<Bytes>, id: &str) -> Response<Bytes> {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-resource-id", v);
    }
    r
}

fn status_body(c: &StoredConverter) -> ConverterResponse {
    ConverterResponse::new(ConverterStatus {
        id: c.id.clone(),
        create_ts: c.create_ts,
        update_ts: c.update_ts,
        state: c.state.clone(),
    })
}

/// Takes a per-converter Update permit.
fn converter_window(ctx: &mut Ctx<'_>, id: &str) -> bool {
    let rate = ctx.config.rate_limits.media_push_update_per_converter;
    let now = ctx.now;
    ctx.state
        .converter_windows
        .entry(id.to_string())
        .or_insert_with(|| SlidingWindow::new(rate))
        .try_acquire(now)
        .is_ok()
}

pub(crate) fn create(
    ctx: &mut Ctx<'_>,
    region: PathRegion,
    app: &str,
    body: &Bytes,
) -> Response<Bytes> {
    let req: CreateConverterRequest = match parse_body(body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if let Err(e) = req.validate() {
        return invalid_parameter(&e);
    }
    let mut converter = req.converter;
    converter.normalize();
    let name = converter.name.clone().filter(|n| !n.is_empty());
    if let Some(n) = &name
        && ctx.state.names.contains_key(&(app.to_string(), n.clone()))
    {
        return message(409, text::NAME_TAKEN);
    }
    let tier = tier_of(&converter);
    let table = ctx.config.push_quota.clone();
    let ledger = ctx
        .state
        .push_ledgers
        .entry(app.to_string())
        .or_insert_with(|| QuotaLedger::new(table));
    if ledger.admit(region.area(), tier).is_err() {
        return message(429, text::QUOTA);
    }
    let id = ctx.state.new_id();
    let unix = ctx.unix();
    ctx.state.order += 1;
    let stored = StoredConverter {
        id: id.clone(),
        app_id: app.to_string(),
        region,
        converter,
        create_ts: unix,
        update_ts: unix,
        created_at: ctx.now,
        state: ConverterState::Connecting,
        sequence: HighestWins::new(),
        tier,
        ha_until: None,
        order: ctx.state.order,
    };
    if let Some(n) = name {
        ctx.state.names.insert((app.to_string(), n), id.clone());
    }
    let mut info = stored.info();
    info.id = Some(id.clone());
    let payload = ConverterEventPayload {
        converter: info,
        lts: unix,
        x_request_id: Some(ctx.request_id.clone()),
        fields: None,
        destroy_reason: None,
    };
    let at = ctx.unix_ms();
    ctx.state
        .emit(media_push_notice(MediaPushEventKind::Created, payload), at);
    let resp = json(200, &status_body(&stored));
    let running_after = ctx.config.running_after;
    ctx.state.converter_created(&stored, running_after);
    ctx.state.converters.insert(id.clone(), stored);
    with_resource_id(resp, &id)
}

/// The converter `id` of `app` in `region`, or the 404 the service gives when it is absent,
/// in another region, or migrating.
#[allow(clippy::result_large_err)] // the error is the answer to send, built once per request
fn find<'a>(
    ctx: &'a mut Ctx<'_>,
    region: PathRegion,
    app: &str,
    id: &str,
) -> Result<&'a mut StoredConverter, Response<Bytes>> {
    let now = ctx.now;
    match ctx.state.converters.get_mut(id) {
        Some(c) if c.app_id == app && c.region == region && c.ha_until.is_none_or(|t| now >= t) => {
            Ok(c)
        }
        _ => Err(with_resource_id(message(404, text::NOT_FOUND), id)),
    }
}

/// Get's 404: the status table's `message`, and the `reason` key the Get example shows.
fn get_not_found(id: &str) -> Response<Bytes> {
    let body = serde_json::json!({ "message": text::NOT_FOUND, "reason": text::NOT_FOUND });
    with_resource_id(json(404, &body), id)
}

pub(crate) fn get(ctx: &mut Ctx<'_>, region: PathRegion, app: &str, id: &str) -> Response<Bytes> {
    let mode = ctx.config.get_shape;
    let Ok(c) = find(ctx, region, app, id) else {
        return get_not_found(id);
    };
    let shape = match mode {
        GetShapeMode::TopLevel => GetShape::TopLevel,
        GetShapeMode::Wrapped => GetShape::Wrapped,
        GetShapeMode::ByKind if c.converter.raw_options.is_some() => GetShape::Wrapped,
        GetShapeMode::ByKind => GetShape::TopLevel,
    };
    with_resource_id(
        json(
            200,
            &GetConverterResponse {
                converter: c.info(),
                shape,
            },
        ),
        id,
    )
}

pub(crate) fn delete(
    ctx: &mut Ctx<'_>,
    region: PathRegion,
    app: &str,
    id: &str,
) -> Response<Bytes> {
    if let Err(r) = find(ctx, region, app, id) {
        return r;
    }
    let (unix, ms) = (ctx.unix(), ctx.unix_ms());
    ctx.state
        .destroy_converter(id, DestroyReason::DeleteRequest, unix, ms);
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = http::StatusCode::OK;
    with_resource_id(r, id)
}

/// Copies the value at each dotted `path` of `from` into `into`.
fn apply_paths(into: &mut serde_json::Value, from: &serde_json::Value, paths: &[String]) {
    for path in paths {
        let keys: Vec<&str> = path.split('.').collect();
        let Some(value) = keys.iter().try_fold(from, |v, k| v.get(*k)) else {
            continue;
        };
        let mut cur = &mut *into;
        for k in &keys[..keys.len() - 1] {
            if !cur.get(*k).is_some_and(serde_json::Value::is_object) {
                cur[*k] = serde_json::json!({});
            }
            cur = &mut cur[*k];
        }
        if let Some(last) = keys.last() {
            cur[*last] = value.clone();
        }
    }
}

/// The paths an Update body changes, at the granularity of the documented masks: top-level
/// fields, `transcodeOptions.rtcChannel`, and each field under `audioOptions`, `videoOptions`
/// and `rawOptions` (e.g. `transcodeOptions.videoOptions.canvas`).
fn derived_fields(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let Some(converter) = v.get("converter").and_then(serde_json::Value::as_object) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for (key, value) in converter {
        match (key.as_str(), value.as_object()) {
            ("fields", _) => {}
            ("transcodeOptions", Some(t)) => {
                for (k, v) in t {
                    match (k.as_str(), v.as_object()) {
                        ("audioOptions" | "videoOptions", Some(o)) => paths
                            .extend(o.keys().map(|leaf| format!("transcodeOptions.{k}.{leaf}"))),
                        _ => paths.push(format!("transcodeOptions.{k}")),
                    }
                }
            }
            ("rawOptions", Some(r)) => paths.extend(r.keys().map(|k| format!("rawOptions.{k}"))),
            _ => paths.push(key.clone()),
        }
    }
    paths
}

pub(crate) fn update(
    ctx: &mut Ctx<'_>,
    region: PathRegion,
    app: &str,
    id: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Bytes> {
    if let Err(r) = find(ctx, region, app, id) {
        return r;
    }
    let Some(sequence) = query_param(query, "sequence")
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s <= MAX_SEQUENCE)
    else {
        return message(
            400,
            &format!(
                "Invalid parameter: sequence. An integer from 0 to {MAX_SEQUENCE} is required."
            ),
        );
    };
    if !converter_window(ctx, id) {
        return message(429, text::RATE_LIMITED);
    }
    let mut req: UpdateConverterRequest = match parse_body(body) {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    // The docs never say `fields` is required (the vendor's own middleware leaves it out):
    // without it, the changed paths are read from the body.
    if req.fields.trim().is_empty() {
        req.fields = derived_fields(body).join(",");
    }
    let (shape, tier_before, area) = {
        let Ok(c) = find(ctx, region, app, id) else {
            return message(404, text::NOT_FOUND);
        };
        (c.converter.shape(), c.tier, c.region.area())
    };
    if let Err(e) = req.validate(shape) {
        return invalid_parameter(&e);
    }
    let unix = ctx.unix();
    let request_id = ctx.request_id.clone();
    let verdict = {
        let Ok(c) = find(ctx, region, app, id) else {
            return message(404, text::NOT_FOUND);
        };
        // Judge without recording: the sequence counts as applied only once the update is.
        let mut probe = c.sequence;
        probe.offer(sequence)
    };
    match verdict {
        SequenceVerdict::Stale { highest } => {
            return message(
                409,
                &format!(
                    "sequence {sequence} is lower than the last applied {highest}: the update was not applied"
                ),
            );
        }
        SequenceVerdict::Repeated => {
            let Ok(c) = find(ctx, region, app, id) else {
                return message(404, text::NOT_FOUND);
            };
            return with_resource_id(json(200, &status_body(c)), id);
        }
        SequenceVerdict::Accepted => {}
    }
    let paths: Vec<String> = req.paths().map(str::to_string).collect();
    let (updated, changed) = {
        let Ok(c) = find(ctx, region, app, id) else {
            return message(404, text::NOT_FOUND);
        };
        let mut current = serde_json::to_value(&c.converter).unwrap_or_default();
        let incoming = serde_json::to_value(&req.converter).unwrap_or_default();
        apply_paths(&mut current, &incoming, &paths);
        let mut next: Converter = match serde_json::from_value(current) {
            Ok(n) => n,
            Err(e) => return message(400, &format!("Invalid parameter: body. {e}")),
        };
        next.normalize();
        if let Err(e) = next.validate_create() {
            return invalid_parameter(&e);
        }
        let mut changed = serde_json::json!({});
        apply_paths(&mut changed, &incoming, &paths);
        (next, changed)
    };
    // A canvas change may move the converter to another tier.
    let tier_after = tier_of(&updated);
    if tier_after != tier_before {
        let table = ctx.config.push_quota.clone();
        let ledger = ctx
            .state
            .push_ledgers
            .entry(app.to_string())
            .or_insert_with(|| QuotaLedger::new(table));
        ledger.release(area, tier_before);
        if ledger.admit(area, tier_after).is_err() {
            ledger.record_existing(area, tier_before);
            return message(429, text::QUOTA);
        }
    }
    let Ok(c) = find(ctx, region, app, id) else {
        return message(404, text::NOT_FOUND);
    };
    c.sequence.offer(sequence);
    c.converter = updated;
    c.tier = tier_after;
    c.update_ts = unix;
    let body = status_body(c);
    let mut info: ConverterInfo = serde_json::from_value(changed).unwrap_or_default();
    info.id = Some(c.id.clone());
    info.create_ts = Some(c.create_ts);
    info.update_ts = Some(unix);
    info.state = Some(c.state.clone());
    let payload = ConverterEventPayload {
        converter: info,
        lts: unix,
        x_request_id: Some(request_id),
        fields: Some(format!("id,createTs,updateTs,state,{}", paths.join(","))),
        destroy_reason: None,
    };
    let at = ctx.unix_ms();
    ctx.state
        .emit(media_push_notice(MediaPushEventKind::Updated, payload), at);
    with_resource_id(json(200, &body), id)
}

pub(crate) fn list(
    ctx: &mut Ctx<'_>,
    app: &str,
    channel: Option<&str>,
    query: Option<&str>,
) -> Response<Bytes> {
    let start: usize = match query_param(query, "cursor").map(|c| c.parse::<usize>()) {
        None => 0,
        Some(Ok(c)) => c,
        Some(Err(_)) => {
            return message(
                400,
                "Invalid parameter: cursor. A non-negative integer is required.",
            );
        }
    };
    let mut all: Vec<&StoredConverter> = ctx
        .state
        .converters
        .values()
        .filter(|c| {
            c.app_id == app && channel.is_none_or(|ch| c.converter.rtc_channel() == Some(ch))
        })
        .collect();
    all.sort_by_key(|c| c.order);
    let page = ctx
        .config
        .list_page_size
        .clamp(1, agora_rest_model::limits::PUSH_LIST_PAGE_MAX);
    let members: Vec<ListMember> = all
        .iter()
        .skip(start)
        .take(page)
        .map(|c| ListMember {
            rtc_channel: c.converter.rtc_channel().unwrap_or_default().to_string(),
            status: Some("200".into()),
            converter_name: c.converter.name.clone().unwrap_or_default(),
            update_ts: c.update_ts,
            app_id: c.app_id.clone(),
            rtmp_url: c.converter.rtmp_url.clone().unwrap_or_default(),
            ip: Some("127.0.0.1".into()),
            converter_id: c.id.clone(),
            create: c.create_ts,
            idle_timeout: u64::from(c.idle_timeout()),
            state: c.state.clone(),
        })
        .collect();
    let next = start + members.len();
    let cursor = if next < all.len() { next as u64 } else { 0 };
    json(
        200,
        &ListConvertersResponse {
            success: true,
            data: ListPage {
                total_count: all.len() as u64,
                cursor,
                members,
            },
        },
    )
}

/// Marks converter `id` failed (an injected fault) and emits event 3.
pub(crate) fn fail(ctx: &mut Ctx<'_>, id: &str) -> bool {
    let unix = ctx.unix();
    let ms = ctx.unix_ms();
    let Some(c) = ctx.state.converters.get_mut(id) else {
        return false;
    };
    c.state = ConverterState::Failed;
    c.update_ts = unix;
    let c = c.clone();
    ctx.state.converter_state_event(&c, ms);
    true
}

/// Makes converter `id` answer 404 for `window` (an HA migration).
pub(crate) fn migrate(ctx: &mut Ctx<'_>, id: &str, window: Duration) -> bool {
    let until = ctx.now + window;
    match ctx.state.converters.get_mut(id) {
        Some(c) => {
            c.ha_until = Some(until);
            true
        }
        None => false,
    }
}
