//! The standalone emulator's options and main loop, shared by `agora-emulator` and
//! `agora-rest emulator`.

use std::net::SocketAddr;
use std::time::Duration;

use agora_rest_core::quota::{QuotaTable, Tier, TierCaps};
use agora_rest_core::rate::{Rate, RateLimits};
use agora_rest_core::region::Area;

use crate::faults::{Fault, FaultRule, RandomFaults};
use crate::{Emulator, EmulatorClock, Error, ServerLimits, WebhookConfig};

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
    /// Run the emulator's clock this many times faster than real time (1 to 1000; the admin
    /// API can change it while running).
    #[arg(long, env = "AGORA_EMULATOR_SPEED", default_value_t = 1)]
    pub speed: u32,
    /// Serve the admin API (`/_emulator/…`, JSON) on this address, e.g. 127.0.0.1:8081.
    #[arg(long, env = "AGORA_EMULATOR_ADMIN")]
    pub admin: Option<SocketAddr>,
    /// Refuse numbers sent as strings (`"rtcStreamUid": "201"`), which are accepted by default,
    /// so that a client can be checked against the documented types.
    #[arg(long, env = "AGORA_EMULATOR_STRICT")]
    pub strict: bool,
    /// `docs` enforces the vendor's documented request rates and stream caps; `off` none of
    /// them (a test suite at full speed). The overrides below apply on top.
    #[arg(long, env = "AGORA_EMULATOR_LIMITS", default_value = "docs", value_parser = ["docs", "off"])]
    pub limits: String,
    /// Media Push requests per second per API and project.
    #[arg(long)]
    pub qps_per_api: Option<u32>,
    /// Media Push Updates per second per converter.
    #[arg(long)]
    pub update_qps_per_converter: Option<u32>,
    /// Cloud Transcoding requests per second per account.
    #[arg(long)]
    pub qps_per_account: Option<u32>,
    /// A concurrent-stream cap: `push|transcode:AREA:TIER=N`, e.g. `push:eu:hd=10`
    /// (AREA us, eu, ap, cn; TIER sd, hd, fhd). Repeatable.
    #[arg(long = "pcw")]
    pub pcw: Vec<String>,
    /// Milliseconds a client has to send a request's head.
    #[arg(long, default_value_t = 10_000)]
    pub header_timeout_ms: u64,
    /// Milliseconds a client has to send a request's body.
    #[arg(long, default_value_t = 30_000)]
    pub body_timeout_ms: u64,
    /// Milliseconds after which a connection with nothing in flight is closed.
    #[arg(long, default_value_t = 60_000)]
    pub idle_timeout_ms: u64,
    /// Milliseconds a client has to finish a TLS handshake.
    #[arg(long, default_value_t = 10_000)]
    pub tls_timeout_ms: u64,
    /// Connections served at once; more are closed at once.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Distinct app ids kept without --app-id; more are refused.
    #[arg(long, default_value_t = 1_000)]
    pub max_apps: usize,
}

/// One `--pcw` override.
fn parse_pcw(text: &str) -> Result<(bool, Area, Tier, u32), String> {
    let rule = "expected push|transcode:AREA:TIER=N, e.g. push:eu:hd=10";
    let (left, n) = text.split_once('=').ok_or(rule)?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("{rule}: N is not a number"))?;
    let mut parts = left.split(':');
    let (Some(service), Some(area), Some(tier), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(rule.into());
    };
    let push = match service.to_ascii_lowercase().as_str() {
        "push" => true,
        "transcode" => false,
        _ => return Err(format!("{rule}: service must be push or transcode")),
    };
    let area: Area = area.parse().map_err(|e| format!("{rule}: {e}"))?;
    let tier = match tier.to_ascii_lowercase().as_str() {
        "sd" => Tier::Sd,
        "hd" => Tier::Hd,
        "fhd" => Tier::Fhd,
        _ => return Err(format!("{rule}: TIER must be sd, hd or fhd")),
    };
    Ok((push, area, tier, n))
}

fn with_cap(table: QuotaTable, area: Area, tier: Tier, n: u32) -> QuotaTable {
    let caps = table.caps(area);
    let caps = match tier {
        Tier::Sd => TierCaps::new(Some(n), caps.hd, caps.fhd),
        Tier::Hd => TierCaps::new(caps.sd, Some(n), caps.fhd),
        Tier::Fhd => TierCaps::new(caps.sd, caps.hd, Some(n)),
    };
    table.with_caps(area, caps)
}

/// A table with no cap that a test suite would meet.
fn no_caps(mut table: QuotaTable) -> QuotaTable {
    const HUGE: u32 = u32::MAX / 4;
    for area in Area::ALL {
        table = table.with_caps(area, TierCaps::new(Some(HUGE), Some(HUGE), Some(HUGE)));
    }
    table.with_project_total(None)
}

fn webhook_url_ok(url: &str) -> bool {
    url.parse::<http::Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty())
    })
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
            (Some(url), Some(_)) if !webhook_url_ok(url) => {
                return Err(Error::Option {
                    option: "--webhook-url",
                    reason: "must be an http:// or https:// URL with a host".into(),
                });
            }
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
        if !(1..=crate::MAX_SPEED).contains(&self.speed) {
            return Err(Error::Option {
                option: "--speed",
                reason: format!("must be from 1 to {}", crate::MAX_SPEED),
            });
        }
        b = b.clock(EmulatorClock::adjustable(self.speed));
        let (mut rates, mut push_caps, mut transcode_caps) = match self.limits.as_str() {
            "off" => {
                let any = Rate::per_second(u32::MAX / 4);
                (
                    RateLimits {
                        media_push_per_api: any,
                        media_push_update_per_converter: any,
                        cloud_transcoding_per_account: any,
                    },
                    no_caps(QuotaTable::media_push()),
                    no_caps(QuotaTable::cloud_transcoding()),
                )
            }
            _ => (
                RateLimits::default(),
                QuotaTable::media_push(),
                QuotaTable::cloud_transcoding(),
            ),
        };
        for (value, slot) in [
            (self.qps_per_api, &mut rates.media_push_per_api),
            (
                self.update_qps_per_converter,
                &mut rates.media_push_update_per_converter,
            ),
            (
                self.qps_per_account,
                &mut rates.cloud_transcoding_per_account,
            ),
        ] {
            if let Some(n) = value {
                if n == 0 {
                    return Err(Error::Option {
                        option: "--qps-*",
                        reason: "a rate must be at least 1 per second".into(),
                    });
                }
                *slot = Rate::per_second(n);
            }
        }
        for text in &self.pcw {
            let (push, area, tier, n) = parse_pcw(text).map_err(|reason| Error::Option {
                option: "--pcw",
                reason,
            })?;
            if push {
                push_caps = with_cap(push_caps, area, tier, n);
            } else {
                transcode_caps = with_cap(transcode_caps, area, tier, n);
            }
        }
        b = b
            .rate_limits(rates)
            .push_quota(push_caps)
            .transcoding_quota(transcode_caps)
            .strict(self.strict)
            .max_apps(self.max_apps)
            .server_limits(ServerLimits {
                header_read_timeout: Duration::from_millis(self.header_timeout_ms),
                body_read_timeout: Duration::from_millis(self.body_timeout_ms),
                idle_timeout: Duration::from_millis(self.idle_timeout_ms),
                tls_handshake_timeout: Duration::from_millis(self.tls_timeout_ms),
                max_connections: self.max_connections,
                ..ServerLimits::default()
            });
        if let Some(addr) = self.admin {
            b = b.admin(addr);
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
        if let Some(admin) = running.admin_url() {
            let _ = writeln!(out, "admin API on {admin}/_emulator/health");
        }
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
