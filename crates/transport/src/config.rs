//! Client configuration: everything a [`Client`](crate::Client) needs, with the vendor's
//! defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::backoff::Schedule;
use agora_rest_core::rate::RateLimits;
use agora_rest_core::region::{Area, Host, RegionPrefix};
use agora_rest_core::retry_quota::RETRY_QUOTA_CAPACITY;

use crate::Error;
use crate::connection::TlsOptions;
use crate::credentials::{CredentialSource, Credentials, StaticCredentials};
use crate::layer::retry::Jitter;
use crate::resolve::Resolver;

/// Per-attempt timeout by default. The community clients use 10 s for a whole call
/// (docs/vendor-rules.md); we bound each attempt instead, and leave the whole call unbounded unless
/// [`Config::with_call_timeout`] is set, because the vendor's retry schedules alone take
/// half a minute.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait for a rate-limit permit before failing with `RateLimitWait`.
pub const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The most attempts one call makes, first attempt and status retries together. The guide's
/// longest schedule (Cloud Transcoding Query 50x: 5, 10, 15, 30 s) has four retries.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// How long one call may go on retrying statuses, counted from its first attempt: a retry whose
/// wait would end later is not made. With the per-attempt timeout and the rate-limit wait this
/// bounds every call in time even when no call deadline is set. The guide's longest schedule
/// takes 60 s of waits.
pub const DEFAULT_MAX_RETRY_TIME: Duration = Duration::from_secs(120);

/// The `User-Agent` we send.
pub const USER_AGENT: &str = concat!("agora-rest-rs/", env!("CARGO_PKG_VERSION"));

/// Client configuration (kube-rs style: a plain struct with defaults; [`crate::ClientBuilder`]
/// turns it into a client).
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The project's app id (part of every path).
    pub app_id: String,
    /// Where credentials come from.
    pub credentials: Arc<dyn CredentialSource>,
    /// The area: picks the primary domain and failover regions.
    pub area: Area,
    /// Overrides the primary host (e.g. `api.sd-rtn.com` for a server whose DNS is in China).
    pub primary: Option<Host>,
    /// The region the primary resolves to (the failover's "adjacent" is its neighbour).
    pub resolved_region: Option<RegionPrefix>,
    /// Replaces the domain-switch waits (default: the guide's 1 s, 3 s, 6 s).
    pub failover_delays: Option<Schedule>,
    /// Sends every request to this base URL instead (e.g. `http://127.0.0.1:8080`); no failover.
    /// Plain `http://` is accepted for loopback only.
    pub endpoint: Option<String>,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Optional deadline of a whole call, retries included.
    pub call_timeout: Option<Duration>,
    /// Client-side rate limits (defaults: core's vendor figures).
    pub rate_limits: RateLimits,
    /// The longest wait for a rate-limit permit.
    pub max_rate_limit_wait: Duration,
    /// Whether status retries follow the vendor's schedules (on by default).
    pub retries: bool,
    /// Tokens in the retry budget (smithy-rs's 500 by default).
    pub retry_budget: u32,
    /// The most attempts of one call (at least 1; default [`DEFAULT_MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// How long one call may keep retrying statuses (default [`DEFAULT_MAX_RETRY_TIME`]).
    pub max_retry_time: Duration,
    /// Jitter fractions for the schedules' windows (random by default; fixed in tests).
    pub jitter: Jitter,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// TLS settings.
    pub tls: TlsOptions,
    /// The host name resolver.
    pub resolver: Resolver,
    /// A rate limiter shared with other replicas (none by default: in-process limits).
    pub shared_limits: Option<crate::shared_limit::SharedLimits>,
}

/// The variable holding the app id ([`Config::from_env`]).
pub const ENV_APP_ID: &str = "AGORA_APP_ID";
/// The variable holding the customer id ([`Config::from_env`]).
pub const ENV_CUSTOMER_ID: &str = "AGORA_CUSTOMER_ID";
/// The variable holding the customer secret ([`Config::from_env`]).
pub const ENV_CUSTOMER_SECRET: &str = "AGORA_CUSTOMER_SECRET";
/// The variable holding the area, optional ([`Config::from_env`]).
pub const ENV_AREA: &str = "AGORA_AREA";
/// The variable holding a base URL replacing the service's hosts, optional
/// ([`Config::from_env`]).
pub const ENV_ENDPOINT: &str = "AGORA_ENDPOINT";

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("credentials", &self.credentials)
            .field("area", &self.area)
            .field("primary", &self.primary)
            .field(
                "endpoint",
                &self.endpoint.as_deref().map(crate::redact::redact_url),
            )
            .field("attempt_timeout", &self.attempt_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("rate_limits", &self.rate_limits)
            .field("retries", &self.retries)
            .field("retry_budget", &self.retry_budget)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_time", &self.max_retry_time)
            .field("user_agent", &self.user_agent)
            .field("resolver", &self.resolver)
            .field("shared_limits", &self.shared_limits)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for `app_id` with fixed credentials and every default.
    pub fn new(app_id: impl Into<String>, credentials: Credentials) -> Self {
        Config::with_credential_source(app_id, Arc::new(StaticCredentials::new(credentials)))
    }

    /// A configuration whose credentials come from `source`.
    pub fn with_credential_source(
        app_id: impl Into<String>,
        source: Arc<dyn CredentialSource>,
    ) -> Self {
        Config {
            app_id: app_id.into(),
            credentials: source,
            area: Area::Us,
            primary: None,
            resolved_region: None,
            failover_delays: None,
            endpoint: None,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            call_timeout: None,
            rate_limits: RateLimits::default(),
            max_rate_limit_wait: DEFAULT_MAX_RATE_LIMIT_WAIT,
            retries: true,
            retry_budget: RETRY_QUOTA_CAPACITY,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_retry_time: DEFAULT_MAX_RETRY_TIME,
            jitter: Arc::new(fastrand::f64),
            user_agent: USER_AGENT.to_string(),
            tls: TlsOptions::default(),
            resolver: Resolver::system(),
            shared_limits: None,
        }
    }

    /// The configuration the environment gives: `AGORA_APP_ID`, `AGORA_CUSTOMER_ID` and
    /// `AGORA_CUSTOMER_SECRET` (required), `AGORA_AREA` (`US`, `EU`, `AP` or `CN`, any case;
    /// default US) and `AGORA_ENDPOINT` (a base URL such as the emulator's; default the
    /// service's own hosts). The variables every `agora-rest` command reads, so that a program
    /// and the CLI are configured alike. An error names the variable, never its value.
    pub fn from_env() -> Result<Self, Error> {
        Config::from_vars(|k| std::env::var(k).ok())
    }

    /// [`Config::from_env`] over any source of variables (a test's map, a secrets manager).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |k: &'static str| var(k).filter(|v| !v.trim().is_empty());
        let need = |k: &'static str| {
            get(k).ok_or(Error::Config {
                field: k,
                rule: "is not set (the app id and customer credentials are required)".into(),
            })
        };
        let app = need(ENV_APP_ID)?;
        let credentials = Credentials::new(need(ENV_CUSTOMER_ID)?, need(ENV_CUSTOMER_SECRET)?)?;
        let mut config = Config::new(app.trim(), credentials);
        if let Some(area) = get(ENV_AREA) {
            config.area = area.trim().parse().map_err(|_| Error::Config {
                field: ENV_AREA,
                rule: "must be one of US, EU, AP, CN".into(),
            })?;
        }
        if let Some(url) = get(ENV_ENDPOINT) {
            config.endpoint = Some(url.trim().to_string());
        }
        Ok(config)
    }

    /// Sets the area.
    pub fn with_area(mut self, area: Area) -> Self {
        self.area = area;
        self
    }

    /// Overrides the primary host.
    pub fn with_primary(mut self, host: Host) -> Self {
        self.primary = Some(host);
        self
    }

    /// Sets the region the primary resolves to.
    pub fn with_resolved_region(mut self, region: RegionPrefix) -> Self {
        self.resolved_region = Some(region);
        self
    }

    /// Replaces the domain-switch waits (tests and demos with a fast clock).
    pub fn with_failover_delays(mut self, delays: Schedule) -> Self {
        self.failover_delays = Some(delays);
        self
    }

    /// Sends every request to `url` (no failover).
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets a deadline for whole calls.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Replaces the rate limits (accounts get raised limits).
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Sets the longest wait for a rate-limit permit.
    pub fn with_max_rate_limit_wait(mut self, wait: Duration) -> Self {
        self.max_rate_limit_wait = wait;
        self
    }

    /// Turns status retries off (one attempt per call; failover still applies).
    pub fn without_retries(mut self) -> Self {
        self.retries = false;
        self
    }

    /// Sets the retry budget's capacity.
    pub fn with_retry_budget(mut self, tokens: u32) -> Self {
        self.retry_budget = tokens;
        self
    }

    /// Sets the most attempts one call makes (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets how long one call may keep retrying statuses.
    pub fn with_max_retry_time(mut self, time: Duration) -> Self {
        self.max_retry_time = time;
        self
    }

    /// Sets the jitter source (a function returning fractions in `[0, 1]`).
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// Sets the `User-Agent`.
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Trusts a PEM certificate besides the webpki roots (e.g. the emulator's CA).
    pub fn with_extra_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_roots_pem.push(pem.into());
        self
    }

    /// Sets the resolver.
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Shares the rate limits with other replicas through `limiter` (e.g. Redis); while it is
    /// unreachable, `when_unreachable` applies.
    pub fn with_shared_limiter(
        mut self,
        limiter: std::sync::Arc<dyn crate::shared_limit::SharedRateLimiter>,
        when_unreachable: crate::shared_limit::WhenUnreachable,
    ) -> Self {
        self.shared_limits = Some(crate::shared_limit::SharedLimits {
            limiter,
            when_unreachable,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 3] = [
        ("AGORA_APP_ID", "app"),
        ("AGORA_CUSTOMER_ID", "cid"),
        ("AGORA_CUSTOMER_SECRET", "top-secret-value"),
    ];

    #[test]
    fn from_env_reads_the_documented_variables() {
        let c = Config::from_vars(vars(&BASE)).unwrap();
        assert_eq!(
            (c.app_id.as_str(), c.area, c.endpoint),
            ("app", Area::Us, None)
        );
        let mut all = BASE.to_vec();
        all.extend([
            ("AGORA_AREA", "eu"),
            ("AGORA_ENDPOINT", "http://127.0.0.1:8080"),
        ]);
        let c = Config::from_vars(vars(&all)).unwrap();
        assert_eq!(c.area, Area::Eu);
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:8080"));
        assert!(!format!("{c:?}").contains("top-secret-value"));
    }

    #[test]
    fn from_env_names_what_is_missing_or_wrong_never_a_value() {
        for missing in ["AGORA_APP_ID", "AGORA_CUSTOMER_ID", "AGORA_CUSTOMER_SECRET"] {
            let rest: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            match Config::from_vars(vars(&rest)) {
                Err(Error::Config { field, .. }) => assert_eq!(field, missing),
                other => panic!("{missing}: {other:?}"),
            }
        }
        let mut bad = BASE.to_vec();
        bad.push(("AGORA_AREA", "mars"));
        let e = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    field: "AGORA_AREA",
                    ..
                }
            ),
            "{e}"
        );
        let mut blank = BASE.to_vec();
        blank[2] = ("AGORA_CUSTOMER_SECRET", "  ");
        let e = Config::from_vars(vars(&blank)).unwrap_err();
        assert!(!e.to_string().contains("top-secret"));
    }
}
