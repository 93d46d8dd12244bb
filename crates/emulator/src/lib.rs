//! A local emulator of Agora's Media Push and Cloud Transcoding REST services.
//!
//! It answers like the real services as documented (docs/vendor-rules.md; its own choices: docs/emulator.md): Basic auth and the
//! gateway's errors, every Media Push and Cloud Transcoding endpoint with the documented field
//! rules (the same `validate()` the clients use), name uniqueness, sequences, state changes,
//! idle timeouts, per-API rate limits and concurrency caps (core's policies), HA migration
//! windows, scripted and random faults (including a create that commits and still answers 504),
//! and signed NCS webhooks. Use it in-process — over loopback sockets, or as an in-memory tower
//! service under tokio's paused clock — or standalone with the `agora-emulator` binary.

mod admin;
mod clock;
mod config;
mod emulator;
mod engine;
mod faults;
mod mediapush;
pub mod metrics;
mod server;
mod state;
mod tls;
mod transcoder;
mod webhooks;
mod wire;

pub mod cli;

pub use agora_rest_transport::server::ServerLimits;
pub use clock::{EmulatorClock, MAX_SPEED};
pub use config::{EmulatorConfig, GetShapeMode, WebhookConfig};
pub use emulator::{Emulator, EmulatorBuilder, EmulatorService, RunningEmulator};
pub use engine::{HostFault, Outcome};
pub use faults::{Calls, Fault, FaultRule, RandomFaults};
pub use server::ListenerMode;
pub use state::{LogEntry, Outgoing, StoredConverter, StoredTask, TaskPhase};
pub use tls::TlsMaterial;
pub use webhooks::DeliveryRecord;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS's reason.
        reason: String,
    },
    /// The TLS material could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// A command-line option is invalid.
    #[error("invalid option {option}: {reason}")]
    Option {
        /// The option.
        option: &'static str,
        /// Why.
        reason: String,
    },
}
