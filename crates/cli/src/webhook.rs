//! `agora-rest webhook listen`: receive NCS notifications, verify them, print typed events.

use std::net::SocketAddr;
use std::time::Duration;

use agora_rest_model::ncs::Notification;
use agora_rest_transport::server::{HardenedServer, ServerLimits, serve_until};
use agora_rest_transport::webhook::WebhookReceiver;

use crate::Failure;

/// Webhook commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WebhookCommand {
    /// Listen on 127.0.0.1:PORT; verify signatures; print each new event until interrupted.
    Listen {
        /// The port.
        #[arg(long, default_value_t = 8090)]
        port: u16,
        /// The NCS secret (Console → Notifications); never printed.
        #[arg(long, env = "AGORA_NCS_SECRET", hide_env_values = true)]
        secret: String,
        /// Refuse notices whose notifyMs is further than this many seconds from this machine's
        /// clock (replays); off by default.
        #[arg(long)]
        freshness_secs: Option<u64>,
        #[command(flatten)]
        limits: ServerLimitArgs,
    },
}

/// Timeouts and the connection cap of a server facing clients that may be slow or hostile.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServerLimitArgs {
    /// Milliseconds a client has to send a request's head.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body.
    #[arg(long, default_value_t = 30_000)]
    body_timeout_ms: u64,
    /// Milliseconds after which a connection with nothing in flight is closed.
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Connections served at once; more are closed at once.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
}

impl ServerLimitArgs {
    pub(crate) fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(self.header_timeout_ms),
            body_read_timeout: Duration::from_millis(self.body_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections,
            ..ServerLimits::default()
        }
    }
}

pub(crate) async fn run(command: WebhookCommand) -> Result<(), Failure> {
    let WebhookCommand::Listen {
        port,
        secret,
        freshness_secs,
        limits,
    } = command;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = HardenedServer::new(limits.limits(), None)
        .map_err(|e| Failure::input(format!("server limits: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::input(format!("cannot listen on {addr}: {e}")))?;
    let (mut receiver, mut notices) =
        WebhookReceiver::new(secret, 1024).map_err(|e| Failure::input(format!("--secret: {e}")))?;
    if let Some(secs) = freshness_secs {
        receiver = receiver.with_freshness(Duration::from_secs(secs));
    }
    println!("listening on http://{addr}");
    // Accept errors (EMFILE at the fd limit) are waited out inside the server; the loop ends
    // only when this command does.
    tokio::spawn(serve_until(
        server,
        listener,
        Some(WebhookReceiver::head_gate()),
        receiver,
        std::future::pending(),
    ));
    loop {
        tokio::select! {
            notice = notices.recv() => {
                let Some(n) = notice else { break };
                match Notification::from_envelope(&n.envelope) {
                    Ok(event) => println!("{} {:?} {event:?}", n.envelope.notice_id, n.signature),
                    Err(e) => println!("{} unreadable payload: {e}", n.envelope.notice_id),
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}
