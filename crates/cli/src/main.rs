//! `agora-rest`: a demo of every best practice on the embedded emulator, the standalone
//! emulator, Media Push and Cloud Transcoding task operations, and an NCS webhook listener.
//!
//! Exit codes: 0 success, 1 the service refused or could not be reached, 2 bad input (a field
//! breaking a rule, a missing option) — nothing was sent in that case.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool prints

mod controller_run;
mod demo;
mod metrics_endpoint;
mod ops;
mod output;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Drive Agora's Media Push and Cloud Transcoding REST services reliably — or try everything
/// on the built-in emulator with `agora-rest demo`.
///
/// Credentials come from AGORA_APP_ID, AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET (or the
/// matching options, or --config FILE with KEY=VALUE lines); they are never printed.
/// Exit codes: 0 ok, 1 service error, 2 bad input (nothing sent).
#[derive(Debug, Parser)]
#[command(name = "agora-rest", version)]
struct Cli {
    /// More log output on stderr: -v info, -vv debug (every call, its id and status), -vvv
    /// trace. RUST_LOG (e.g. `RUST_LOG=agora_rest_transport=debug`) overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk a realistic scenario of both services on the embedded emulator (no account needed).
    Demo(demo::DemoArgs),
    /// Run the standalone emulator (same options as `agora-emulator`).
    Emulator {
        #[command(flatten)]
        args: agora_rest_emulator::cli::EmulatorArgs,
    },
    /// Media Push converters.
    Push {
        #[command(flatten)]
        target: ops::Target,
        #[command(subcommand)]
        command: ops::PushCommand,
    },
    /// Cloud Transcoding tasks.
    Transcode {
        #[command(flatten)]
        target: ops::Target,
        #[command(subcommand)]
        command: ops::TranscodeCommand,
    },
    /// Keep declared converters and tasks alive (the long-running command).
    Controller {
        #[command(flatten)]
        target: ops::Target,
        #[command(subcommand)]
        command: controller_run::ControllerCommand,
    },
    /// NCS notifications.
    Webhook {
        #[command(subcommand)]
        command: webhook::WebhookCommand,
    },
}

/// A failure for people: what failed, the rule, the request id; and the exit code. In JSON
/// output it is printed as `{"error":{"message":…,"exitCode":…,"status":…,"requestId":…,
/// "resourceId":…}}`.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
    /// Status, request id and resource id, when the service answered.
    pub(crate) details: serde_json::Map<String, serde_json::Value>,
}

impl Failure {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
            details: serde_json::Map::new(),
        }
    }

    pub(crate) fn service(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
            details: serde_json::Map::new(),
        }
    }

    fn with_ids(
        mut self,
        status: Option<u16>,
        request_id: Option<&str>,
        resource_id: Option<&str>,
    ) -> Self {
        if let Some(s) = status {
            self.details.insert("status".into(), s.into());
        }
        if let Some(id) = request_id {
            self.details.insert("requestId".into(), id.into());
        }
        if let Some(id) = resource_id {
            self.details.insert("resourceId".into(), id.into());
        }
        self
    }

    /// The failure as the JSON document printed with `--output json`.
    fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("message".into(), self.message.clone().into());
        error.insert("exitCode".into(), self.code.into());
        error.extend(self.details.clone());
        serde_json::json!({ "error": error })
    }
}

impl From<agora_rest_mediapush::Error> for Failure {
    fn from(e: agora_rest_mediapush::Error) -> Self {
        use agora_rest_mediapush::Error as E;
        let f = match &e {
            // Operator language: the flag, not the library setting.
            E::NameRequired => Failure::input(
                "--name is required: a create without a name cannot be retried safely (a retry could start a second stream)",
            ),
            E::Invalid(_) | E::UnknownConverter { .. } => Failure::input(e.to_string()),
            _ => Failure::service(e.to_string()),
        };
        f.with_ids(e.status(), e.request_id(), e.resource_id())
    }
}

impl From<agora_rest_transcoder::Error> for Failure {
    fn from(e: agora_rest_transcoder::Error) -> Self {
        let f = match &e {
            agora_rest_transcoder::Error::Invalid(_)
            | agora_rest_transcoder::Error::Tokens { .. } => Failure::input(e.to_string()),
            _ => Failure::service(e.to_string()),
        };
        f.with_ids(e.status(), e.request_id(), e.resource_id())
    }
}

impl From<agora_rest_transport::Error> for Failure {
    fn from(e: agora_rest_transport::Error) -> Self {
        let f = match &e {
            agora_rest_transport::Error::Config { .. }
            | agora_rest_transport::Error::InsecureEndpoint { .. } => Failure::input(e.to_string()),
            _ => Failure::service(e.to_string()),
        };
        f.with_ids(e.status(), e.request_id(), e.resource_id())
    }
}

impl From<agora_rest_model::Error> for Failure {
    fn from(e: agora_rest_model::Error) -> Self {
        match e {
            // A body that could not be read is the service's fault, not the input's.
            agora_rest_model::Error::Decode { .. } => Failure::service(e.to_string()),
            _ => Failure::input(e.to_string()),
        }
    }
}

impl From<agora_rest_core::Error> for Failure {
    fn from(e: agora_rest_core::Error) -> Self {
        Failure::input(e.to_string())
    }
}

impl Command {
    /// The output format the command was given (`--output`), for errors too.
    fn output(&self) -> output::OutputFormat {
        match self {
            Command::Push { target, .. }
            | Command::Transcode { target, .. }
            | Command::Controller { target, .. } => target.output(),
            _ => output::OutputFormat::Table,
        }
    }
}

/// Installs the log subscriber on stderr: RUST_LOG if set (`target=level,…`), else the level
/// `-v` asks for (warnings by default; info for the long-running commands).
fn init_logs(verbose: u8, long_running: bool, json: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let base = if long_running { 2 } else { 1 } + verbose;
    let level = match base {
        0 | 1 => LevelFilter::WARN,
        2 => LevelFilter::INFO,
        3 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| match v.parse::<Targets>() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("warning: RUST_LOG {v:?} not understood ({e}); using -v");
                None
            }
        })
        .unwrap_or_else(|| Targets::new().with_default(level));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests in one process) keeps the first subscriber.
    let _ = if json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.command.output();
    let (long_running, json_logs) = match &cli.command {
        Command::Controller { command, .. } => (true, command.json_logs()),
        Command::Emulator { .. } | Command::Webhook { .. } => (true, false),
        _ => (false, false),
    };
    init_logs(cli.verbose, long_running, json_logs);
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Emulator { args } => runtime().and_then(|rt| {
            rt.block_on(agora_rest_emulator::cli::run(args))
                .map_err(|e| Failure::input(e.to_string()))
        }),
        Command::Push { target, command } => {
            runtime().and_then(|rt| rt.block_on(ops::push(target, command)))
        }
        Command::Transcode { target, command } => {
            runtime().and_then(|rt| rt.block_on(ops::transcode(target, command)))
        }
        Command::Controller { target, command } => {
            runtime().and_then(|rt| rt.block_on(controller_run::run(target, command)))
        }
        Command::Webhook { command } => runtime().and_then(|rt| rt.block_on(webhook::run(command))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            match format {
                output::OutputFormat::Json => println!("{}", f.to_json()),
                output::OutputFormat::Table => eprintln!("error: {}", output::escape(&f.message)),
            }
            ExitCode::from(f.code)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::service(format!("cannot start the runtime: {e}")))
}
