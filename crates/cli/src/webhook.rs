//! `agora-rest webhook listen`: receive NCS notifications, verify them, print typed events.

use std::net::SocketAddr;

use agora_rest_model::ncs::Notification;
use agora_rest_transport::webhook::WebhookReceiver;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;

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
    },
}

pub(crate) async fn run(command: WebhookCommand) -> Result<(), Failure> {
    let WebhookCommand::Listen { port, secret } = command;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::input(format!("cannot listen on {addr}: {e}")))?;
    let (receiver, mut notices) =
        WebhookReceiver::new(secret, 1024).map_err(|e| Failure::input(format!("--secret: {e}")))?;
    println!("listening on http://{addr}");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let svc = TowerToHyperService::new(receiver.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
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
