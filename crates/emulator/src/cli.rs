//! The standalone emulator's options and main loop, shared by `agora-emulator` and
//! `agora-rest emulator`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::faults::{Fault, FaultRule, RandomFaults};
use crate::{Emulator, EmulatorClock, Error, WebhookConfig};

/// Options of the standalone emulator. Each also reads `AGORA_EMULATOR_*` from the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (repeat for several listeners sharing one state).
    #[arg(
        long,
        env = "AGORA_EMULATOR_LISTEN",
        default_value = "127.0.0.1:8080",
        value_delimiter = ','
    )]
    pub listen: Vec<SocketAddr>,
    /// The only app id accepted (default: any).
    #[arg(long, env = "AGORA_EMULATOR_APP_ID")]
    pub app_id: Option<String>,
    /// The customer id accepted (with --customer-secret; default: any credentials).
    #[arg(long, env = "AGORA_EMULATOR_CUSTOMER_ID", hide_env_values = true)]
    pub customer_id: Option<String>,
    /// The customer secret accepted.
    #[arg(long, env = "AGORA_EMULATOR_CUSTOMER_SECRET", hide_env_values = true)]
    pub customer_secret: Option<String>,
    /// Serve HTTPS with a generated certificate for every Agora host.
    #[arg(long, env = "AGORA_EMULATOR_TLS")]
    pub tls: bool,
    /// Write the CA certificate (PEM) here when serving TLS.
    #[arg(long, env = "AGORA_EMULATOR_CA_OUT")]
    pub ca_out: Option<std::path::PathBuf>,
    /// Seed of ids, tokens and random faults.
    #[arg(long, env = "AGORA_EMULATOR_SEED", default_value_t = 0x5eed)]
    pub seed: u64,
    /// A scripted fault ROUTE:CALLS:FAULT, e.g. push.create:1:504-commit (repeatable).
    #[arg(long = "fault", env = "AGORA_EMULATOR_FAULT", value_delimiter = ';')]
    pub faults: Vec<String>,
    /// Fail this share (0–1) of calls at random with 500/503/504/429 or code 65.
    #[arg(long, env = "AGORA_EMULATOR_FAULT_RATE")]
    pub fault_rate: Option<f64>,
    /// Send signed NCS notifications here.
    #[arg(long, env = "AGORA_EMULATOR_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// The NCS secret for the signatures.
    #[arg(long, env = "AGORA_EMULATOR_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Run the emulator's clock this many times faster than real time (demos).
    #[arg(long, env = "AGORA_EMULATOR_SPEED", default_value_t = 1)]
    pub speed: u32,
}

impl EmulatorArgs {
    /// The emulator these options describe.
    pub fn builder(&self) -> Result<crate::EmulatorBuilder, Error> {
        let mut b = Emulator::builder().seed(self.seed);
        for addr in &self.listen {
            b = b.listen(*addr);
        }
        if let Some(app) = &self.app_id {
            b = b.app_id(app.clone());
        }
        match (&self.customer_id, &self.customer_secret) {
            (Some(id), Some(secret)) => b = b.credentials(id.clone(), secret.clone()),
            (None, None) => {}
            _ => {
                return Err(Error::Option {
                    option: "--customer-id/--customer-secret",
                    reason: "give both or neither".into(),
                });
            }
        }
        for f in &self.faults {
            let rule: FaultRule = f.parse().map_err(|reason| Error::Option {
                option: "--fault",
                reason,
            })?;
            b = b.fault(rule);
        }
        if let Some(rate) = self.fault_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::Option {
                    option: "--fault-rate",
                    reason: "must be between 0 and 1".into(),
                });
            }
            b = b.random_faults(RandomFaults::new(
                self.seed,
                rate,
                vec![
                    Fault::Status(500),
                    Fault::Status(503),
                    Fault::Status(504),
                    Fault::RateLimited,
                    Fault::Code65(503),
                ],
            ));
        }
        match (&self.webhook_url, &self.webhook_secret) {
            (Some(url), Some(secret)) => {
                b = b.webhook(WebhookConfig {
                    url: url.clone(),
                    secret: secret.clone(),
                    duplicate_rate: 0.0,
                    out_of_order: false,
                });
            }
            (None, None) => {}
            _ => {
                return Err(Error::Option {
                    option: "--webhook-url/--webhook-secret",
                    reason: "give both or neither".into(),
                });
            }
        }
        if self.speed > 1 {
            b = b.clock(EmulatorClock::scaled(self.speed));
        }
        Ok(b.tls(self.tls))
    }
}

/// Starts the emulator, prints exactly one line `listening on URL`, and runs until Ctrl-C or
/// SIGTERM.
pub async fn run(args: EmulatorArgs) -> Result<(), Error> {
    let running = args.builder()?.start().await?;
    if let (Some(path), Some(pem)) = (&args.ca_out, running.ca_pem()) {
        std::fs::write(path, pem).map_err(|e| Error::Option {
            option: "--ca-out",
            reason: e.to_string(),
        })?;
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", running.url());
        let _ = out.flush();
    }
    shutdown_signal().await;
    running.shutdown();
    // Give in-flight connections a moment to finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
