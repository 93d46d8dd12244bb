//! The emulator's request handling, free of sockets: a request and its host in, an outcome out.
//!
//! Both the hyper server and the in-memory tower service call [`Engine::handle`]; the gateway
//! part (host faults, request ids, auth, routing, app id, rate limits, scripted faults) lives
//! here, the service rules in [`crate::mediapush`] and [`crate::transcoder`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use agora_rest_core::operation::{Operation, Service};
use agora_rest_core::rate::SlidingWindow;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, Response};

use crate::clock::EmulatorClock;
use crate::config::EmulatorConfig;
use crate::faults::Fault;
use crate::state::{LogEntry, State};
use crate::wire::{Route, message, route, status_text, text};

/// What a host does, for in-memory clients (the server has per-listener modes instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFault {
    /// Refuses connections (nothing is sent).
    Refuse,
    /// Accepts and never answers.
    Stall,
    /// Does not resolve.
    Unresolvable,
}

/// What the emulator does with one request.
#[derive(Debug)]
pub enum Outcome {
    /// Answer `response` after `delay`.
    Respond {
        /// The answer.
        response: Response<Bytes>,
        /// Injected latency.
        delay: Duration,
    },
    /// Drop the connection without answering (the request may have been read).
    Reset,
    /// A host fault.
    Host(HostFault),
}

/// The per-request view handlers work with.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) config: &'a EmulatorConfig,
    pub(crate) clock: &'a EmulatorClock,
    pub(crate) now: Duration,
    pub(crate) request_id: String,
    /// The fault injected into this request, if any (for the request log).
    pub(crate) fault: Option<Fault>,
}

impl Ctx<'_> {
    pub(crate) fn unix(&self) -> u64 {
        self.clock.unix_at(self.now)
    }

    pub(crate) fn unix_ms(&self) -> u64 {
        self.clock.unix_ms_at(self.now)
    }
}

/// The emulator's brain: configuration, clock and state.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) config: EmulatorConfig,
    pub(crate) clock: EmulatorClock,
    state: Mutex<State>,
    hosts: Mutex<HashMap<String, HostFault>>,
    pub(crate) metrics: crate::metrics::EmulatorMetrics,
}

fn basic_credentials(req: &Request<Bytes>) -> Option<(String, String)> {
    basic_credentials_of(req.headers())
}

fn basic_credentials_of(headers: &http::HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Whether two credentials are equal, in time that does not depend on where they differ.
fn same_credentials(want: &(String, String), given: &(String, String)) -> bool {
    use subtle::ConstantTimeEq;
    let id = want.0.as_bytes().ct_eq(given.0.as_bytes());
    let secret = want.1.as_bytes().ct_eq(given.1.as_bytes());
    bool::from(id & secret)
}

/// The longest path, host and request id a log entry keeps (bytes, cut at a character
/// boundary): the log is capped in entries *and* in bytes per entry.
const LOG_FIELD_MAX: usize = 512;

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Engine {
    /// Whether the emulator answers this request from its head alone (no route, no or wrong
    /// credentials, a foreign app id), so that its body need not be read: a client that does
    /// not authenticate never makes the server buffer a body.
    ///
    /// Takes no lock: it runs on every request before the engine's own. (A host fault still
    /// applies: the engine's answer to the head is then a dropped or stalled connection, which
    /// the server's gate passes on to the full handler.)
    pub(crate) fn refuses_head(&self, parts: &http::request::Parts) -> bool {
        let Some(route) = route(parts.uri.path()) else {
            return true;
        };
        if route.operation(&parts.method).is_none() {
            return true;
        }
        match &self.config.credentials {
            // Any credentials do: only their absence is refused from the head (a malformed
            // header is answered 401 by the engine, after a body read within the limits).
            None if !parts.headers.contains_key(http::header::AUTHORIZATION) => return true,
            None => {}
            Some(want) => match basic_credentials_of(&parts.headers) {
                Some(given) if same_credentials(want, &given) => {}
                _ => return true,
            },
        }
        self.config
            .app_id
            .as_deref()
            .is_some_and(|a| a != route.app())
    }

    pub(crate) fn new(config: EmulatorConfig, clock: EmulatorClock) -> Self {
        Engine {
            state: Mutex::new(State::new(config.seed)),
            hosts: Mutex::new(HashMap::new()),
            metrics: crate::metrics::EmulatorMetrics::new(),
            config,
            clock,
        }
    }

    /// The state, after applying every time-driven change due by now.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let clock = &self.clock;
        st.advance(&self.config, clock.now(), |d| clock.unix_at(d));
        st
    }

    /// Runs `f` with a handler context at the current time.
    pub(crate) fn with_ctx<T>(&self, f: impl FnOnce(&mut Ctx<'_>) -> T) -> T {
        let mut st = self.state();
        let mut ctx = Ctx {
            state: &mut st,
            config: &self.config,
            clock: &self.clock,
            now: self.clock.now(),
            request_id: String::new(),
            fault: None,
        };
        f(&mut ctx)
    }

    /// Forgets every converter, task, token, log entry, fault and pending notice.
    pub(crate) fn reset(&self) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *st = State::new(self.config.seed);
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn set_host_fault(&self, host: &str, fault: Option<HostFault>) {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        match fault {
            Some(f) => hosts.insert(host.to_ascii_lowercase(), f),
            None => hosts.remove(&host.to_ascii_lowercase()),
        };
    }

    fn host_fault(&self, host: &str) -> Option<HostFault> {
        let hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        hosts.get(&host.to_ascii_lowercase()).copied()
    }

    /// Handles one request sent to `host`.
    pub(crate) fn handle(&self, host: &str, req: &Request<Bytes>) -> Outcome {
        let mut st = self.state();
        let now = self.clock.now();
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let mut log = LogEntry {
            at: now,
            host: cut(host, LOG_FIELD_MAX),
            method: cut(req.method().as_str(), 16),
            path: cut(&path, LOG_FIELD_MAX),
            op: None,
            status: 0,
            request_id: String::new(),
            fault: None,
        };
        if let Some(fault) = self.host_fault(host) {
            push_log(&mut st, log, self.config.log_capacity);
            return Outcome::Host(fault);
        }
        let sent_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let request_id = sent_id
            .clone()
            .unwrap_or_else(|| format!("{:032x}", st.rng.u128(..)));
        log.request_id = cut(&request_id, 128);
        let mut ctx = Ctx {
            state: &mut st,
            config: &self.config,
            clock: &self.clock,
            now,
            request_id: request_id.clone(),
            fault: None,
        };
        let (outcome, op) = gateway(&mut ctx, req);
        log.op = op;
        log.fault = ctx.fault.as_ref().map(ToString::to_string);
        let outcome = match outcome {
            Outcome::Respond {
                mut response,
                delay,
            } => {
                let headers = response.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&request_id) {
                    headers.insert("x-request-id", v);
                }
                if let Some(v) = sent_id.and_then(|s| HeaderValue::from_str(&s).ok()) {
                    headers.insert("x-custom-request-id", v);
                }
                log.status = response.status().as_u16();
                Outcome::Respond { response, delay }
            }
            other => other,
        };
        let counted = log.op.map(|op| (op, log.status, log.fault.clone()));
        push_log(&mut st, log, self.config.log_capacity);
        // Counted after the state lock is released: metrics never lengthen it.
        drop(st);
        if let Some((op, status, fault)) = counted {
            self.metrics.request(op.name(), status, fault.as_deref());
        }
        outcome
    }
}

fn push_log(st: &mut State, entry: LogEntry, cap: usize) {
    if st.log.len() >= cap.max(1) {
        st.log.pop_front();
    }
    st.log.push_back(entry);
}

fn respond(response: Response<Bytes>) -> Outcome {
    Outcome::Respond {
        response,
        delay: Duration::ZERO,
    }
}

/// Takes a permit of the rate window `op` counts against in `app`.
fn rate_ok(ctx: &mut Ctx<'_>, app: &str, op: Operation) -> bool {
    let now = ctx.now;
    let limits = ctx.config.rate_limits;
    let window = match op.service() {
        Service::MediaPush => ctx
            .state
            .windows
            .entry((app.to_string(), op))
            .or_insert_with(|| SlidingWindow::new(limits.media_push_per_api)),
        Service::CloudTranscoding => ctx
            .state
            .transcoding_windows
            .entry(app.to_string())
            .or_insert_with(|| SlidingWindow::new(limits.cloud_transcoding_per_account)),
    };
    window.try_acquire(now).is_ok()
}

fn gateway(ctx: &mut Ctx<'_>, req: &Request<Bytes>) -> (Outcome, Option<Operation>) {
    let Some(route) = route(req.uri().path()) else {
        return (respond(message(404, text::NO_ROUTE)), None);
    };
    let Some(op) = route.operation(req.method()) else {
        return (respond(message(404, text::NO_ROUTE)), None);
    };
    match basic_credentials(req) {
        None => return (respond(message(401, text::UNAUTHORIZED)), Some(op)),
        Some(given) => {
            if ctx
                .config
                .credentials
                .as_ref()
                .is_some_and(|want| !same_credentials(want, &given))
            {
                return (respond(message(401, text::BAD_CREDENTIALS)), Some(op));
            }
        }
    }
    if ctx
        .config
        .app_id
        .as_deref()
        .is_some_and(|a| a != route.app())
    {
        return (respond(message(400, text::APP_ID)), Some(op));
    }
    // Without --app-id, state is kept per app id: at most `max_apps` of them.
    if ctx.config.app_id.is_none() && !ctx.state.apps.contains(route.app()) {
        if ctx.state.apps.len() >= ctx.config.max_apps.max(1) {
            return (respond(message(400, text::APP_ID)), Some(op));
        }
        ctx.state.apps.insert(route.app().to_string());
    }
    if !rate_ok(ctx, route.app(), op) {
        return (respond(message(429, text::RATE_LIMITED)), Some(op));
    }
    let fault = ctx.state.faults.next(op);
    ctx.fault.clone_from(&fault);
    let mut delay = Duration::ZERO;
    match &fault {
        Some(Fault::Status(s)) => return (respond(message(*s, status_text(*s))), Some(op)),
        Some(Fault::Code65(s)) => {
            let body = serde_json::json!({"code": 65, "reason": "Network jitter. Retry with the same parameters."});
            return (respond(crate::wire::json(*s, &body)), Some(op));
        }
        Some(Fault::RateLimited) => return (respond(message(429, text::RATE_LIMITED)), Some(op)),
        Some(Fault::Reset) => return (Outcome::Reset, Some(op)),
        Some(Fault::Partial206) if op == Operation::TranscodeCreate => {
            return (
                respond(crate::wire::json(206, &serde_json::json!({}))),
                Some(op),
            );
        }
        Some(Fault::Latency(d)) => delay = *d,
        _ => {}
    }
    if ctx.config.strict
        && let Some(field) = crate::wire::number_sent_as_string(req.body())
    {
        let text = format!("Invalid parameter: {field}. A number is required, not a string.");
        return (respond(message(400, &text)), Some(op));
    }
    let mut response = dispatch(ctx, &route, req);
    if fault == Some(Fault::CommitThen504) && response.status().is_success() {
        response = message(504, text::GATEWAY_TIMEOUT);
    }
    (Outcome::Respond { response, delay }, Some(op))
}

fn dispatch(ctx: &mut Ctx<'_>, route: &Route, req: &Request<Bytes>) -> Response<Bytes> {
    let query = req.uri().query();
    let body = req.body();
    let method = req.method();
    match route {
        Route::PushCreate { region, app } => crate::mediapush::create(ctx, *region, app, body),
        Route::PushOne { region, app, id } => match *method {
            http::Method::GET => crate::mediapush::get(ctx, *region, app, id),
            http::Method::DELETE => crate::mediapush::delete(ctx, *region, app, id),
            _ => crate::mediapush::update(ctx, *region, app, id, query, body),
        },
        Route::PushList { app, channel } => {
            crate::mediapush::list(ctx, app, channel.as_deref(), query)
        }
        Route::Acquire { app } => crate::transcoder::acquire(ctx, app, body),
        Route::TaskCreate { app } => crate::transcoder::create(ctx, app, query, body),
        Route::TaskOne { app, id } => match *method {
            http::Method::GET => crate::transcoder::query(ctx, app, id, query),
            http::Method::DELETE => crate::transcoder::delete(ctx, app, id, query),
            _ => crate::transcoder::update(ctx, app, id, query, body),
        },
    }
}
