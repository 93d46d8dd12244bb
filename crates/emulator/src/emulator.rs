//! The emulator: builder, handle, and the in-memory tower service.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use agora_rest_core::quota::QuotaTable;
use agora_rest_core::rate::RateLimits;
use agora_rest_core::region::Area;
use agora_rest_transport::server::ServerLimits;
use bytes::Bytes;
use http::{Request, Response};

use crate::Error;
use crate::clock::EmulatorClock;
use crate::config::{EmulatorConfig, GetShapeMode, WebhookConfig};
use crate::engine::{Engine, HostFault, Outcome};
use crate::faults::{FaultRule, RandomFaults};
use crate::server::{ListenerMode, Server};
use crate::state::{LogEntry, Outgoing, StoredConverter, StoredTask};
use crate::webhooks::DeliveryRecord;

/// A running emulator, in-process: inspect its state, inject faults, and get an in-memory
/// service for clients that should not open sockets.
///
/// ```
/// use agora_rest_emulator::Emulator;
/// use bytes::Bytes;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let emulator = Emulator::builder().build();
/// let req = http::Request::get("https://api.agora.io/v1/projects/app/rtmp-converters")
///     .header("authorization", "Basic aWQ6c2VjcmV0")
///     .body(Bytes::new())
///     .unwrap();
/// let resp = emulator.service().oneshot(req).await.unwrap();
/// assert_eq!(resp.status(), 200);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Emulator {
    engine: Arc<Engine>,
    deliveries: Arc<Mutex<Vec<DeliveryRecord>>>,
}

/// Configures and starts an [`Emulator`].
#[derive(Debug, Clone, Default)]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
    clock: Option<EmulatorClock>,
    faults: Vec<FaultRule>,
    random: Option<RandomFaults>,
    listen: Vec<SocketAddr>,
    tls: bool,
    server_limits: ServerLimits,
    admin: Option<SocketAddr>,
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

impl EmulatorBuilder {
    /// Accepts only this app id (default: any).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.config.app_id = Some(app_id.into());
        self
    }

    /// Accepts only these credentials (default: any Basic credentials).
    pub fn credentials(
        mut self,
        customer_id: impl Into<String>,
        customer_secret: impl Into<String>,
    ) -> Self {
        self.config.credentials = Some((customer_id.into(), customer_secret.into()));
        self
    }

    /// Seeds ids, tokens and random faults.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Adds a scripted fault.
    pub fn fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// Sets random faults.
    pub fn random_faults(mut self, random: RandomFaults) -> Self {
        self.random = Some(random);
        self
    }

    /// Sends signed NCS notifications to a receiver.
    pub fn webhook(mut self, webhook: WebhookConfig) -> Self {
        self.config.webhook = Some(webhook);
        self
    }

    /// Uses this clock (default: tokio's).
    pub fn clock(mut self, clock: EmulatorClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets how long a converter stays `connecting`.
    pub fn running_after(mut self, d: Duration) -> Self {
        self.config.running_after = d;
        self
    }

    /// Makes tasks report `STARTING` for this long after Create (slow starts).
    pub fn starting_for(mut self, d: Duration) -> Self {
        self.config.starting_for = d;
        self
    }

    /// Sets how long a task stays `STARTED`.
    pub fn in_progress_after(mut self, d: Duration) -> Self {
        self.config.in_progress_after = d;
        self
    }

    /// Sets Get's answer shape.
    pub fn get_shape(mut self, mode: GetShapeMode) -> Self {
        self.config.get_shape = mode;
        self
    }

    /// Sets the List page size (at most 500).
    pub fn list_page_size(mut self, n: usize) -> Self {
        self.config.list_page_size = n;
        self
    }

    /// Replaces the Media Push caps.
    pub fn push_quota(mut self, table: QuotaTable) -> Self {
        self.config.push_quota = table;
        self
    }

    /// Replaces the Cloud Transcoding caps.
    pub fn transcoding_quota(mut self, table: QuotaTable) -> Self {
        self.config.transcoding_quota = table;
        self
    }

    /// Sets the Cloud Transcoding area.
    pub fn transcoding_area(mut self, area: Area) -> Self {
        self.config.transcoding_area = area;
        self
    }

    /// Replaces the request rates.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.config.rate_limits = limits;
        self
    }

    /// Sets the HA migration window.
    pub fn ha_window(mut self, d: Duration) -> Self {
        self.config.ha_window = d;
        self
    }

    /// Listens on `addr` too (default: one listener on 127.0.0.1, any port). Several listeners
    /// share one state: one process can stand for the primary, alternate and region hosts.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Serves HTTPS with a generated certificate for every Agora host.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Refuses numbers sent as strings (off by default).
    pub fn strict(mut self, on: bool) -> Self {
        self.config.strict = on;
        self
    }

    /// Keeps state for at most `n` distinct app ids when no app id is set (default 1,000).
    pub fn max_apps(mut self, n: usize) -> Self {
        self.config.max_apps = n;
        self
    }

    /// Keeps at most `n` request-log entries (default 10,000).
    pub fn log_capacity(mut self, n: usize) -> Self {
        self.config.log_capacity = n;
        self
    }

    /// Serves the admin API (`/_emulator/…`, JSON) on its own listener at `addr`.
    pub fn admin(mut self, addr: SocketAddr) -> Self {
        self.admin = Some(addr);
        self
    }

    /// Sets the socket server's timeouts and connection cap (defaults:
    /// [`ServerLimits::default`]).
    pub fn server_limits(mut self, limits: ServerLimits) -> Self {
        self.server_limits = limits;
        self
    }

    /// The emulator without sockets (use [`Emulator::service`]). Webhooks are not delivered
    /// (read them with [`Emulator::take_notices`]).
    pub fn build(self) -> Emulator {
        let clock = self.clock.unwrap_or_else(EmulatorClock::tokio);
        let engine = Arc::new(Engine::new(self.config, clock));
        {
            let mut st = engine.state();
            for rule in self.faults {
                st.faults.add(rule);
            }
            if let Some(r) = self.random {
                st.faults.set_random(r);
            }
        }
        Emulator {
            engine,
            deliveries: Arc::default(),
        }
    }

    /// Starts listeners (and webhook delivery) on the current tokio runtime.
    pub async fn start(self) -> Result<RunningEmulator, Error> {
        let listen = if self.listen.is_empty() {
            vec![SocketAddr::from(([127, 0, 0, 1], 0))]
        } else {
            self.listen.clone()
        };
        let tls = if self.tls {
            Some(crate::tls::generate()?)
        } else {
            None
        };
        let limits = self.server_limits;
        let admin_addr = self.admin;
        let emulator = self.build();
        if let Some(cfg) = emulator.engine.config.webhook.clone() {
            tokio::spawn(crate::webhooks::run(
                Arc::clone(&emulator.engine),
                cfg,
                Arc::clone(&emulator.deliveries),
            ));
        }
        let server = Server::start(
            Arc::clone(&emulator.engine),
            &listen,
            tls.as_ref().map(|t| Arc::clone(&t.server)),
            limits,
        )
        .await?;
        let admin = match admin_addr {
            Some(addr) => Some(crate::admin::start(emulator.clone(), addr, limits).await?),
            None => None,
        };
        Ok(RunningEmulator {
            emulator,
            server,
            ca_pem: tls.map(|t| t.ca_pem),
            admin,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emulator {
    /// The in-memory service: host-aware (host faults apply), no sockets. Give it to a client
    /// as its innermost service.
    pub fn service(&self) -> EmulatorService {
        EmulatorService {
            engine: Arc::clone(&self.engine),
        }
    }

    /// The emulator's clock.
    pub fn clock(&self) -> &EmulatorClock {
        &self.engine.clock
    }

    /// Moves a manual or adjustable clock forward; `false` for a clock that follows tokio's.
    pub fn advance(&self, by: Duration) -> bool {
        self.engine.clock.advance(by)
    }

    /// Forgets all state (converters, tasks, tokens, the request and delivery logs, faults,
    /// pending notices), as a fresh emulator with the same settings.
    pub fn reset(&self) {
        self.engine.reset();
        lock(&self.deliveries).clear();
    }

    /// The emulator's metrics in Prometheus' text format (what `GET /metrics` on the admin
    /// listener answers).
    pub fn metrics_text(&self) -> String {
        let (converters, tasks) = {
            let st = self.engine.state();
            (st.converters.len(), st.tasks.len())
        };
        self.engine.metrics.render(converters, tasks)
    }

    /// Every converter.
    pub fn converters(&self) -> Vec<StoredConverter> {
        let mut v: Vec<_> = self.engine.state().converters.values().cloned().collect();
        v.sort_by_key(|c| c.order);
        v
    }

    /// Every running task.
    pub fn tasks(&self) -> Vec<StoredTask> {
        self.engine.state().tasks.values().cloned().collect()
    }

    /// The request log, oldest first.
    pub fn request_log(&self) -> Vec<LogEntry> {
        self.engine.state().log.iter().cloned().collect()
    }

    /// Notices not (yet) delivered, oldest first, removing them.
    pub fn take_notices(&self) -> Vec<Outgoing> {
        self.engine.state().outbox.drain(..).collect()
    }

    /// Webhook delivery attempts so far.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.deliveries).clone()
    }

    /// Adds a scripted fault.
    pub fn add_fault(&self, rule: FaultRule) {
        self.engine.state().faults.add(rule);
    }

    /// Sets random faults.
    pub fn set_random_faults(&self, random: RandomFaults) {
        self.engine.state().faults.set_random(random);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.engine.state().faults.clear();
    }

    /// Marks a converter `failed` (emits event 3). False if there is no such converter.
    pub fn fail_converter(&self, id: &str) -> bool {
        self.engine.with_ctx(|ctx| crate::mediapush::fail(ctx, id))
    }

    /// Makes a converter answer 404 for the HA window (or `window`), then come back.
    pub fn migrate_converter(&self, id: &str, window: Option<Duration>) -> bool {
        let w = window.unwrap_or(self.engine.config.ha_window);
        self.engine
            .with_ctx(|ctx| crate::mediapush::migrate(ctx, id, w))
    }

    /// Makes a task answer 404 for `window`, then come back.
    pub fn migrate_task(&self, id: &str, window: Duration) -> bool {
        self.engine
            .with_ctx(|ctx| crate::transcoder::migrate(ctx, id, window))
    }

    /// Says whether `channel` has publishers now (default: it has). Converters and tasks of a
    /// channel without publishers are destroyed after their idle timeout.
    pub fn set_publishers(&self, channel: &str, publishers: bool) {
        let now = self.engine.clock.now();
        self.engine.state().set_publishers(channel, publishers, now);
    }

    /// Makes `host` refuse connections (in-memory clients).
    pub fn refuse_host(&self, host: &str) {
        self.engine.set_host_fault(host, Some(HostFault::Refuse));
    }

    /// Makes `host` accept and never answer (in-memory clients).
    pub fn stall_host(&self, host: &str) {
        self.engine.set_host_fault(host, Some(HostFault::Stall));
    }

    /// Makes `host` fail to resolve (in-memory clients).
    pub fn unresolvable_host(&self, host: &str) {
        self.engine
            .set_host_fault(host, Some(HostFault::Unresolvable));
    }

    /// Clears a host fault.
    pub fn restore_host(&self, host: &str) {
        self.engine.set_host_fault(host, None);
    }
}

/// The emulator as a tower service, host-aware: the in-memory innermost service of a client.
#[derive(Debug, Clone)]
pub struct EmulatorService {
    engine: Arc<Engine>,
}

fn io(kind: std::io::ErrorKind, what: &str) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(std::io::Error::new(kind, what.to_string()))
}

impl tower::Service<Request<Bytes>> for EmulatorService {
    type Response = Response<Bytes>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Bytes>, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let host = req
            .uri()
            .host()
            .unwrap_or("api.agora.io")
            .to_ascii_lowercase();
        let outcome = self.engine.handle(&host, &req);
        let real = |d| self.engine.clock.real(d);
        match outcome {
            Outcome::Respond { response, delay } => {
                let delay = real(delay);
                Box::pin(async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok(response)
                })
            }
            Outcome::Reset => Box::pin(async {
                Err(io(
                    std::io::ErrorKind::ConnectionReset,
                    "emulator: connection reset",
                ))
            }),
            Outcome::Host(HostFault::Refuse) => Box::pin(async {
                Err(io(
                    std::io::ErrorKind::ConnectionRefused,
                    "emulator: connection refused",
                ))
            }),
            Outcome::Host(HostFault::Unresolvable) => Box::pin(async move {
                Err(io(
                    std::io::ErrorKind::NotFound,
                    &format!("emulator: {host} does not resolve"),
                ))
            }),
            Outcome::Host(HostFault::Stall) => Box::pin(std::future::pending()),
        }
    }
}

/// An emulator listening on sockets.
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: Emulator,
    server: Server,
    ca_pem: Option<String>,
    admin: Option<crate::admin::AdminServer>,
}

impl std::ops::Deref for RunningEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

impl RunningEmulator {
    /// The bound addresses, in the order given.
    pub fn addrs(&self) -> &[SocketAddr] {
        self.server.addrs()
    }

    /// The base URL of the first listener, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.server.addrs()[0])
    }

    /// The admin API's base URL (`http://127.0.0.1:PORT`), when one was asked for.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.as_ref().map(|a| format!("http://{}", a.addr))
    }

    /// What the socket server has seen: connections accepted, refused at the cap, closed for
    /// idleness, accept errors, open now.
    pub fn server_stats(&self) -> &std::sync::Arc<agora_rest_transport::server::ServerStats> {
        self.server.stats()
    }

    /// The CA certificate (PEM) clients must trust, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Makes listener `index` refuse connections, stall, or serve normally again.
    pub async fn set_listener_mode(&self, index: usize, mode: ListenerMode) {
        self.server.set_mode(index, mode).await;
    }

    /// The in-process handle.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops every listener (the admin API's too).
    pub fn shutdown(self) {
        self.server.shutdown();
        if let Some(a) = &self.admin {
            a.stop();
        }
    }
}
