//! `agora-rest controller run --spec FILE`: keep the converters and tasks a file declares
//! alive, until SIGTERM.
//!
//! The file is the desired state: on start and on every SIGHUP it is read again, checked as a
//! whole (a bad file changes nothing and is reported), its specs applied, and the keys it no
//! longer holds removed (deleted or stopped). SIGTERM or Ctrl-C stops reconciling and exits 0,
//! leaving every converter and task running: the next run adopts them. Events go to stdout
//! (lines, or NDJSON with `--output json`); logs go to stderr (structured, `--log-format`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use agora_rest_mediapush::MediaPush;
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterEvent, ConverterSpec,
};
use agora_rest_model::RtcToken;
use agora_rest_model::ncs::Notification;
use agora_rest_transcoder::controller::{TaskController, TaskControllerConfig, TaskSpec};
use agora_rest_transcoder::{OutputTokens, Transcoder};
use agora_rest_transport::controller::Settings;
use agora_rest_transport::controller::store::Stores;
use agora_rest_transport::server::{HardenedServer, serve_until};
use agora_rest_transport::shared_limit::WhenUnreachable;
use agora_rest_transport::store::SequenceKind;
use agora_rest_transport::webhook::WebhookReceiver;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::Failure;
use crate::ops::{OutputFormat, Target};
use crate::webhook::ServerLimitArgs;

/// The largest spec file read (a file is a list of specs, not a data set).
pub(crate) const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// Controller commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ControllerCommand {
    /// Keep the converters and tasks declared in a spec file alive, until SIGTERM.
    ///
    /// The file (YAML or JSON) lists converters (keyed by name) and tasks (keyed by instance
    /// id):
    ///
    ///   converters:
    ///     - region: na
    ///       converter:
    ///         name: show68_main
    ///         rtmpUrl: rtmp://push.example.com/live/show68
    ///         idleTimeOut: 300
    ///         rawOptions: { rtcChannel: show68, rtcStreamUid: 1001 }
    ///       priorityField: priority        # optional: CDN priority, rising per re-create
    ///       recreateAfterIdle: false       # optional
    ///   tasks:
    ///     - instanceId: show68-mix
    ///       uids: [1001, 1002]             # primary and backup output UIDs
    ///       config: { ... }                # a Cloud Transcoding transcoder config
    ///
    /// Output tokens of task UIDs come from AGORA_RTC_OUTPUT_TOKEN_ and the UID (e.g.
    /// AGORA_RTC_OUTPUT_TOKEN_1002), else from the config's own output for its UID.
    /// SIGHUP reloads the file; SIGTERM exits 0 and leaves everything running.
    #[command(verbatim_doc_comment)]
    Run(RunArgs),
}

impl ControllerCommand {
    /// Whether logs are asked for as JSON lines (`--log-format json`).
    pub(crate) fn json_logs(&self) -> bool {
        let ControllerCommand::Run(args) = self;
        args.log_format == LogFormat::Json
    }
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `time level message key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `controller run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The spec file (YAML or JSON).
    #[arg(long)]
    spec: PathBuf,
    /// Seconds between checks of a healthy converter or task (the guides say 120; fractions
    /// down to 0.1 for load tests against the emulator).
    #[arg(long, default_value_t = 120.0)]
    poll_every: f64,
    /// This replica's name in leases (default: host name and process id).
    #[arg(long, env = "AGORA_CONTROLLER_HOLDER")]
    holder: Option<String>,
    /// Also listen for NCS notices on 127.0.0.1:PORT (secret from AGORA_NCS_SECRET) and route
    /// them to the converters and tasks they name.
    #[arg(long)]
    ncs_port: Option<u16>,
    /// The NCS secret (Console → Notifications); never printed.
    #[arg(long, env = "AGORA_NCS_SECRET", hide_env_values = true)]
    ncs_secret: Option<String>,
    #[command(flatten)]
    limits: ServerLimitArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Share rate limits, sequences, declared specs, statuses and leases with other replicas
    /// through this Redis (`redis://[:password@]host:port[/db]`; the password is never
    /// printed). Run the same command on every replica.
    #[arg(long, env = "AGORA_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
    /// How many replicas share the quota: while Redis is unreachable, each limits itself to
    /// this share of every rate.
    #[arg(long, default_value_t = 1)]
    replicas_hint: u32,
    /// While Redis is unreachable, refuse calls instead of limiting to the local share.
    #[arg(long)]
    fail_closed: bool,
    /// Seconds a lease on a converter or task lasts (renewed while acting; a dead replica's
    /// resources are taken over within this plus one poll).
    #[arg(long, default_value_t = 30)]
    lease_ttl: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464): calls,
    /// attempts, retries, failovers, rate-limit waits, 429s, the retry budget, controller
    /// actions and resources by state (docs/metrics.md).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Converters (and, separately, tasks) reconciled at once. Keep it above the number a
    /// replica owns: a key waits for a free slot before it can even check its lease.
    #[arg(long, default_value_t = 64)]
    max_parallel: usize,
}

/// The spec file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    converters: Vec<ConverterSpec>,
    #[serde(default)]
    tasks: Vec<TaskSpec>,
}

/// Reads and checks a spec file as a whole: size, syntax, each spec's fields, unique keys.
fn read_specs(path: &Path) -> Result<SpecFile, Failure> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| Failure::input(format!("--spec {shown}: {e}")))?;
    if meta.len() > MAX_SPEC_BYTES {
        return Err(Failure::input(format!(
            "--spec {shown}: {} bytes; the limit is {MAX_SPEC_BYTES}",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("--spec {shown}: {e}")))?;
    let file: SpecFile = serde_yaml_ng::from_str(&text)
        .map_err(|e| Failure::input(format!("--spec {shown}: {e}")))?;
    let mut keys = BTreeSet::new();
    for (i, c) in file.converters.iter().enumerate() {
        ConverterSpec::new(c.region, c.converter.clone())
            .map_err(|e| Failure::input(format!("--spec {shown}: converters[{i}]: {e}")))?;
        if !keys.insert(c.key().to_string()) {
            return Err(Failure::input(format!(
                "--spec {shown}: converters[{i}]: the name {:?} is declared twice",
                c.key()
            )));
        }
    }
    let mut instances = BTreeSet::new();
    for (i, t) in file.tasks.iter().enumerate() {
        t.config
            .validate()
            .map_err(|e| Failure::input(format!("--spec {shown}: tasks[{i}]: {e}")))?;
        if !instances.insert(t.instance_id.clone()) {
            return Err(Failure::input(format!(
                "--spec {shown}: tasks[{i}]: the instanceId {:?} is declared twice",
                t.instance_id
            )));
        }
    }
    Ok(file)
}

/// Output tokens for the task controller: `AGORA_RTC_OUTPUT_TOKEN_<UID>` first, else the
/// token a declared config carries for that channel and UID. Replaced on every reload.
#[derive(Clone, Default)]
struct SpecTokens {
    from_specs: Arc<RwLock<HashMap<(String, u32), RtcToken>>>,
}

impl std::fmt::Debug for SpecTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecTokens").finish_non_exhaustive()
    }
}

impl SpecTokens {
    fn load(&self, tasks: &[TaskSpec]) {
        let mut map = HashMap::new();
        for t in tasks {
            for rtc in t.config.outputs.iter().filter_map(|o| o.rtc.as_ref()) {
                map.insert(
                    (rtc.rtc_channel.clone(), rtc.rtc_uid),
                    rtc.rtc_token.clone(),
                );
            }
        }
        *self
            .from_specs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
    }
}

impl OutputTokens for SpecTokens {
    fn output_token(&self, channel: &str, uid: u32) -> Result<RtcToken, String> {
        if let Ok(t) = std::env::var(format!("AGORA_RTC_OUTPUT_TOKEN_{uid}"))
            && !t.is_empty()
        {
            return Ok(t.as_str().into());
        }
        self.from_specs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(channel.to_string(), uid))
            .cloned()
            .ok_or_else(|| {
                format!("no output token for UID {uid}: set AGORA_RTC_OUTPUT_TOKEN_{uid}")
            })
    }
}

/// What one run holds: both controllers and the keys the file declared last.
struct Running {
    push: ConverterController,
    tasks: TaskController,
    tokens: SpecTokens,
    converters: BTreeSet<String>,
    instances: BTreeSet<String>,
}

impl Running {
    /// Applies a checked file: every spec, then removal of the keys it no longer declares.
    async fn apply(&mut self, file: SpecFile) -> Result<(), Failure> {
        self.tokens.load(&file.tasks);
        // The file is the whole desired state: what the stores declare beyond it (an earlier
        // file, through Redis) goes too.
        self.converters.extend(self.push.declared().await?);
        self.instances.extend(self.tasks.declared().await?);
        let mut converters = BTreeSet::new();
        for spec in file.converters {
            converters.insert(spec.key().to_string());
            self.push.apply(spec).await?;
        }
        let mut instances = BTreeSet::new();
        for spec in file.tasks {
            instances.insert(spec.instance_id.clone());
            self.tasks.apply(spec).await?;
        }
        for gone in self.converters.difference(&converters) {
            self.push.remove(gone).await?;
        }
        for gone in self.instances.difference(&instances) {
            self.tasks.remove(gone).await?;
        }
        tracing::info!(
            converters = converters.len(),
            tasks = instances.len(),
            "specs applied"
        );
        self.converters = converters;
        self.instances = instances;
        Ok(())
    }
}

fn default_holder() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}

fn print_event(format: OutputFormat, service: &str, mut event: serde_json::Value) {
    match format {
        OutputFormat::Json => {
            if let Some(o) = event.as_object_mut() {
                o.insert("service".into(), service.into());
                o.insert("time".into(), crate::output::now_rfc3339().into());
            }
            println!("{event}");
        }
        OutputFormat::Table => println!(
            "{} {service} {}",
            crate::output::now_rfc3339(),
            crate::output::escape(&event.to_string())
        ),
    }
}

fn event_json<T: serde::Serialize>(e: Result<T, RecvError>) -> Option<serde_json::Value> {
    match e {
        Ok(e) => serde_json::to_value(e).ok(),
        Err(RecvError::Lagged(n)) => Some(serde_json::json!({ "event": "lagged", "missed": n })),
        Err(RecvError::Closed) => None,
    }
}

pub(crate) async fn run(target: Target, command: ControllerCommand) -> Result<(), Failure> {
    let ControllerCommand::Run(args) = command;
    let poll_every = Duration::try_from_secs_f64(args.poll_every)
        .map_err(|_| Failure::input(format!("--poll-every {}: not a duration", args.poll_every)))?;
    let holder = args.holder.clone().unwrap_or_else(default_holder);
    // Both controllers run with the same settings, checked once.
    let shared_settings = |s: Settings| {
        s.max_parallel(args.max_parallel)
            .poll_every(poll_every)
            .lease_ttl(Duration::from_secs(args.lease_ttl))
            .holder(holder.clone())
    };
    let push_config = ConverterControllerConfig::default().settings(shared_settings);
    push_config.validate()?;
    let task_config = TaskControllerConfig::default().settings(shared_settings);
    let file = read_specs(&args.spec)?;
    if let Some(addr) = args.metrics {
        let handle = crate::metrics_endpoint::install()?;
        crate::metrics_endpoint::serve(addr, handle, &args.limits).await?;
    }
    let mut config = target.config()?;
    let tokens = SpecTokens::default();
    let (push, transcoder, push_stores, task_stores) = match &args.redis {
        Some(url) => {
            if args.replicas_hint == 0 {
                return Err(Failure::input("--replicas-hint must be at least 1"));
            }
            let shared = agora_rest_redis::RedisShared::connect(url, &config.app_id).await?;
            let when = if args.fail_closed {
                WhenUnreachable::FailClosed
            } else {
                WhenUnreachable::LocalShare {
                    replicas: args.replicas_hint,
                }
            };
            config = config.with_shared_limiter(Arc::new(shared.rate_limiter()), when);
            let client = agora_rest_transport::Client::builder(config).build()?;
            let update_lock = shared.controller_stores("push-update").leases;
            let push = MediaPush::new(client.clone())
                .with_sequences(Arc::new(shared.sequences(SequenceKind::MediaPush)))
                .with_shared_update_lock(update_lock, holder.clone());
            let transcoder = Transcoder::new(client)
                .with_sequences(Arc::new(shared.sequences(SequenceKind::CloudTranscoding)));
            tracing::info!(
                redis = %agora_rest_transport::redact::redact_url(url),
                replicas_hint = args.replicas_hint,
                "sharing limits and state through Redis"
            );
            (
                push,
                transcoder,
                shared.controller_stores("push"),
                shared.controller_stores("transcoding"),
            )
        }
        None => {
            let client = agora_rest_transport::Client::builder(config).build()?;
            (
                MediaPush::new(client.clone()),
                Transcoder::new(client),
                Stores::default(),
                Stores::default(),
            )
        }
    };
    let mut running = Running {
        push: ConverterController::start_with(push, push_config, push_stores),
        tasks: TaskController::start_with(transcoder, tokens.clone(), task_config, task_stores),
        tokens,
        converters: BTreeSet::new(),
        instances: BTreeSet::new(),
    };
    let mut push_events = running.push.events();
    let mut task_events = running.tasks.events();
    running.apply(file).await?;
    tracing::info!(spec = %args.spec.display(), holder = %holder, "controller running");

    let mut notices = match args.ncs_port {
        Some(port) => Some(listen_ncs(port, args.ncs_secret.clone(), &args.limits).await?),
        None => None,
    };
    let mut hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let format = target.output();
    loop {
        tokio::select! {
            _ = hup.recv() => {
                match read_specs(&args.spec) {
                    Ok(file) => match running.apply(file).await {
                        Ok(()) => tracing::info!("spec file reloaded"),
                        Err(f) => tracing::error!(error = %f.message, "reload failed"),
                    },
                    Err(f) => tracing::error!(error = %f.message, "reload refused; the previous specs stay"),
                }
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            e = push_events.recv() => match event_json::<ConverterEvent>(e) {
                Some(v) => print_event(format, "mediapush", v),
                None => break,
            },
            e = task_events.recv() => match event_json(e) {
                Some(v) => print_event(format, "transcoding", v),
                None => break,
            },
            n = next_notice(&mut notices) => match n {
                Some(Notification::MediaPush(ev)) => running.push.notify(&ev),
                Some(Notification::CloudTranscoding(ev)) => running.tasks.notify(&ev),
                _ => {}
            },
        }
    }
    tracing::info!("stopping; converters and tasks keep running");
    running.push.shutdown().await;
    running.tasks.shutdown().await;
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, Failure> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Failure::service(format!("cannot handle signals: {e}")))
}

type Notices = tokio::sync::mpsc::Receiver<agora_rest_transport::webhook::ReceivedNotice>;

/// The next readable notice (pending for ever without a listener).
async fn next_notice(notices: &mut Option<Notices>) -> Option<Notification> {
    let Some(rx) = notices else {
        return std::future::pending().await;
    };
    loop {
        let n = rx.recv().await?;
        match Notification::from_envelope(&n.envelope) {
            Ok(event) => return Some(event),
            Err(e) => {
                tracing::warn!(notice = %n.envelope.notice_id, error = %e, "unreadable notice");
            }
        }
    }
}

async fn listen_ncs(
    port: u16,
    secret: Option<String>,
    limits: &ServerLimitArgs,
) -> Result<Notices, Failure> {
    let secret = secret.ok_or_else(|| Failure::input("--ncs-port needs AGORA_NCS_SECRET"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = HardenedServer::new(limits.limits(), None)
        .map_err(|e| Failure::input(format!("server limits: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::input(format!("cannot listen on {addr}: {e}")))?;
    let (receiver, notices) = WebhookReceiver::new(secret, 1024)
        .map_err(|e| Failure::input(format!("AGORA_NCS_SECRET: {e}")))?;
    tracing::info!(%addr, "listening for NCS notices");
    tokio::spawn(serve_until(
        server,
        listener,
        Some(WebhookReceiver::head_gate()),
        receiver,
        std::future::pending(),
    ));
    Ok(notices)
}
