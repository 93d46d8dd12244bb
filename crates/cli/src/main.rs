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

/// A failure for people: what failed, the rule, the request id; and the exit code.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl Failure {
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }

    pub(crate) fn service(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<agora_rest_mediapush::Error> for Failure {
    fn from(e: agora_rest_mediapush::Error) -> Self {
        use agora_rest_mediapush::Error as E;
        match &e {
            E::Invalid(_) | E::NameRequired | E::UnknownConverter { .. } => {
                Failure::input(e.to_string())
            }
            _ => Failure::service(e.to_string()),
        }
    }
}

impl From<agora_rest_transcoder::Error> for Failure {
    fn from(e: agora_rest_transcoder::Error) -> Self {
        match &e {
            agora_rest_transcoder::Error::Invalid(_)
            | agora_rest_transcoder::Error::Tokens { .. } => Failure::input(e.to_string()),
            _ => Failure::service(e.to_string()),
        }
    }
}

impl From<agora_rest_transport::Error> for Failure {
    fn from(e: agora_rest_transport::Error) -> Self {
        match &e {
            agora_rest_transport::Error::Config { .. }
            | agora_rest_transport::Error::InsecureEndpoint { .. } => Failure::input(e.to_string()),
            _ => Failure::service(e.to_string()),
        }
    }
}

impl From<agora_rest_model::Error> for Failure {
    fn from(e: agora_rest_model::Error) -> Self {
        Failure::input(e.to_string())
    }
}

impl From<agora_rest_core::Error> for Failure {
    fn from(e: agora_rest_core::Error) -> Self {
        Failure::input(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("error: {}", f.message);
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
