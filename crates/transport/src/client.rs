//! The client: [`Config`] → [`ClientBuilder`] → [`Client`] over a type-erased tower stack.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use agora_rest_core::failover::{FailoverPlan, HostPreference};
use agora_rest_core::retry_quota::RetryQuota;
use bytes::Bytes;
use http::uri::Scheme;
use http::{HeaderValue, Method, Request, Response, Uri};
use serde::de::DeserializeOwned;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::Error;
use crate::budget::RetryBudget;
use crate::call::Call;
use crate::clock::TokioClock;
use crate::config::Config;
use crate::connection::HyperConnection;
use crate::credentials::CredentialSource;
use crate::error::BoxError;
use crate::layer::StateHandle;
use crate::layer::attempt::{Attempt, AttemptLayer};
use crate::layer::auth::{Auth, AuthLayer};
use crate::layer::classify::{ClassifyErrors, ClassifyErrorsLayer};
use crate::layer::deadline::{Deadline, DeadlineLayer};
use crate::layer::failover::{Endpoint, Failover, FailoverLayer, FailoverState};
use crate::layer::headers::{HeadersLayer, SetHeaders};
use crate::layer::rate_limit::{Limiters, RateLimit, RateLimitLayer};
use crate::layer::request_id::{
    RequestIdLayer, SetRequestId, X_CUSTOM_REQUEST_ID, X_REQUEST_ID, X_RESOURCE_ID,
};
use crate::layer::retry::{RetryShared, VendorRetryPolicy};
use crate::layer::timeout::{AttemptTimeout, AttemptTimeoutLayer};
use crate::layer::trace::{Trace, TraceLayer};
use crate::shared::{InnerFuture, SharedService};
use tower::retry::Retry;

/// The full stack, outermost layer first. Private: the connection below it is type-erased
/// ([`SharedService`]), so one `Client` type serves the real connection, the mock and the
/// emulator alike, and no layer type leaks into the API. Kept concrete rather than boxed so
/// that [`Client::send`] needs no allocation of its own.
type Stack = Trace<
    SetRequestId<
        Deadline<
            Retry<
                VendorRetryPolicy<Shared>,
                Failover<
                    RateLimit<
                        Attempt<
                            AttemptTimeout<SetHeaders<Auth<ClassifyErrors<Connection>, Shared>>>,
                            Shared,
                        >,
                        Shared,
                    >,
                    Shared,
                >,
            >,
        >,
    >,
    Shared,
>;

/// Everything the layers of one client share, in one allocation (see [`StateHandle`]).
struct LayerState {
    retry: RetryShared,
    failover: FailoverState,
    limiters: Limiters,
    credentials: Arc<dyn CredentialSource>,
    connection: SharedService,
    metrics: crate::metrics::ClientMetrics,
}

/// The handle every layer of a client holds: one reference count for all of them.
#[derive(Clone)]
struct Shared(Arc<LayerState>);

impl StateHandle<RetryShared> for Shared {
    fn state(&self) -> &RetryShared {
        &self.0.retry
    }
}

impl StateHandle<FailoverState> for Shared {
    fn state(&self) -> &FailoverState {
        &self.0.failover
    }
}

impl StateHandle<Limiters> for Shared {
    fn state(&self) -> &Limiters {
        &self.0.limiters
    }
}

impl StateHandle<crate::metrics::ClientMetrics> for Shared {
    fn state(&self) -> &crate::metrics::ClientMetrics {
        &self.0.metrics
    }
}

impl StateHandle<dyn CredentialSource> for Shared {
    fn state(&self) -> &(dyn CredentialSource + 'static) {
        &*self.0.credentials
    }
}

/// The innermost service, reached through the shared handle rather than its own `Arc`.
#[derive(Clone)]
struct Connection(Shared);

impl Service<Request<Bytes>> for Connection {
    type Response = Response<Bytes>;
    type Error = BoxError;
    type Future = InnerFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> InnerFuture {
        self.0.0.connection.call_ref(req)
    }
}

/// What the clones of a client share.
struct ClientInner {
    stack: Stack,
    app_id: Box<str>,
    /// The layers' shared state (the jitter source lives there).
    shared: Shared,
}

/// A client of both REST services: cheap to clone, `Send + Sync`.
///
/// It knows no API paths: the service crates build requests (path and query only) with a
/// [`Call`] describing the operation, and the client adds the host, credentials, request id,
/// rate limiting, retries and failover.
///
/// ```
/// use agora_rest_core::operation::Operation;
/// use agora_rest_transport::{Call, Client, Config, Credentials, mock::{MockService, MockResponse}};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mock = MockService::new();
/// mock.push(MockResponse::json(200, r#"{"ok":true}"#));
/// let config = Config::new("my-app-id", Credentials::new("id", "secret")?);
/// let client = Client::builder(config).with_service(mock.clone()).build()?;
/// let req = client.request(Call::new(Operation::PushGet, "/{region}/v1/projects/{appId}/rtmp-converters/{id}"),
///     http::Method::GET, "/na/v1/projects/my-app-id/rtmp-converters/abc", None)?;
/// let resp = client.send(req).await?;
/// assert_eq!(resp.status(), 200);
/// assert!(mock.requests()[0].headers.contains_key("x-request-id"));
/// # Ok::<(), agora_rest_transport::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.inner.app_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`] from a [`Config`], optionally on another innermost service.
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    inner: Option<SharedService>,
}

impl Client {
    /// Starts building a client.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            inner: None,
        }
    }

    /// A jitter fraction in `[0, 1]` from the configured source, for procedures above the
    /// transport (create confirmation, supervisors) that wait on the vendor's schedules.
    pub fn jitter(&self) -> f64 {
        (self.inner.shared.0.retry.jitter)().clamp(0.0, 1.0)
    }

    /// The app id the client was built for.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// A request for `path_and_query` (no host: the client picks it) with the [`Call`]
    /// descriptor. The stack adds the host, the credentials, the request id, our user agent
    /// and, when there is a body, the JSON content type, on each attempt.
    pub fn request(
        &self,
        call: Call,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<Request<Bytes>, Error> {
        let uri: Uri =
            path_and_query
                .parse()
                .map_err(|e: http::uri::InvalidUri| Error::Config {
                    field: "path",
                    rule: e.to_string(),
                })?;
        let mut req = Request::new(body.unwrap_or_default());
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        req.extensions_mut().insert(call);
        Ok(req)
    }

    /// Sends a request through the stack. Non-2xx answers come back as [`Error::Status`] (after
    /// any advised retries); 2xx answers as the response.
    pub async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, Error> {
        self.inner.stack.clone().oneshot(req).await
    }

    /// Sends a request and decodes a 2xx JSON body as `T`.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        req: Request<Bytes>,
        what: &'static str,
    ) -> Result<(T, ResponseIds), Error> {
        // The id is chosen here (the request id layer keeps a given one) so that a decode
        // error names it even when the service does not echo it.
        let mut req = req;
        let our_id = match req.headers().get(X_REQUEST_ID) {
            Some(v) => v.to_str().ok().map(str::to_string),
            None => {
                let id = crate::layer::request_id::new_request_id();
                if let Ok(v) = HeaderValue::from_str(&id) {
                    req.headers_mut().insert(X_REQUEST_ID, v);
                }
                Some(id)
            }
        };
        let resp = self.send(req).await?;
        let ids = ResponseIds::of(&resp);
        let value = serde_json::from_slice(resp.body()).map_err(|e| Error::Decode {
            what: what.to_string(),
            status: resp.status().as_u16(),
            reason: e.to_string(),
            request_id: our_id.or_else(|| ids.request_id.clone()),
            resource_id: ids.resource_id.clone(),
        })?;
        Ok((value, ids))
    }
}

impl Service<Request<Bytes>> for Client {
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = crate::layer::BoxFuture;

    /// Always ready: each call runs on its own copy of the stack.
    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        Box::pin(self.inner.stack.clone().oneshot(req))
    }
}

/// The ids a response carries, for logs and support tickets (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseIds {
    /// `X-Request-ID`.
    pub request_id: Option<String>,
    /// `X-Custom-Request-ID`.
    pub custom_request_id: Option<String>,
    /// `X-Resource-ID` (the converter id on Media Push).
    pub resource_id: Option<String>,
}

impl ResponseIds {
    /// Reads the id headers of a response.
    pub fn of<B>(resp: &Response<B>) -> Self {
        let get = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        ResponseIds {
            request_id: get(X_REQUEST_ID),
            custom_request_id: get(X_CUSTOM_REQUEST_ID),
            resource_id: get(X_RESOURCE_ID),
        }
    }
}

/// Whether a host is loopback (the only place plain HTTP may go).
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn fixed_endpoint(url: &str) -> Result<Endpoint, Error> {
    let uri: Uri = url.parse().map_err(|_| Error::Config {
        field: "endpoint",
        rule: format!("{:?} is not a URL", crate::redact::redact_url(url)),
    })?;
    let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
        return Err(Error::Config {
            field: "endpoint",
            rule: "needs a scheme and a host, e.g. http://127.0.0.1:8080".into(),
        });
    };
    if scheme == Scheme::HTTP && !is_loopback(authority.host()) {
        return Err(Error::InsecureEndpoint {
            url: crate::redact::redact_url(url),
        });
    }
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
        return Err(Error::Config {
            field: "endpoint",
            rule: "the scheme must be http (loopback only) or https".into(),
        });
    }
    Ok(Endpoint::Fixed { scheme, authority })
}

impl ClientBuilder {
    /// Runs the stack on `service` instead of a real connection: the mock, or the emulator's
    /// in-memory service. Every layer stays the same.
    pub fn with_service<S, E>(mut self, service: S) -> Self
    where
        S: Service<Request<Bytes>, Response = Response<Bytes>, Error = E>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        self.inner = Some(SharedService::new(service));
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let config = self.config;
        if config.app_id.is_empty() {
            return Err(Error::Config {
                field: "app_id",
                rule: "must not be empty".into(),
            });
        }
        let clock = TokioClock::new();
        let endpoint = match &config.endpoint {
            Some(url) => fixed_endpoint(url)?,
            None => {
                let mut plan = FailoverPlan::for_area(config.area);
                if let Some(p) = config.primary {
                    plan = plan.with_primary(p);
                }
                if let Some(r) = config.resolved_region {
                    plan = plan.resolved_to(r);
                }
                if let Some(d) = config.failover_delays {
                    plan = plan.with_delays(d);
                }
                let preference = Arc::new(Mutex::new(HostPreference::new(plan.primary())));
                Endpoint::Agora { plan, preference }
            }
        };
        let inner = match self.inner {
            Some(s) => s,
            None => HyperConnection::new(config.resolver.clone(), &config.tls)?.into_shared(),
        };
        let quota = Arc::new(RetryBudget::new(RetryQuota::new(config.retry_budget)));
        let shared = Shared(Arc::new(LayerState {
            retry: RetryShared {
                quota: Arc::clone(&quota),
                jitter: Arc::clone(&config.jitter),
                enabled: config.retries,
                max_attempts: config.max_attempts.max(1),
                max_retry_time: config.max_retry_time,
            },
            failover: FailoverState::new(endpoint, quota, clock),
            limiters: {
                let local = Limiters::new(config.rate_limits, config.max_rate_limit_wait, clock)?;
                match config.shared_limits.clone() {
                    Some(shared) => local.with_shared(shared)?,
                    None => local,
                }
            },
            credentials: Arc::clone(&config.credentials),
            connection: inner,
            metrics: crate::metrics::ClientMetrics::default(),
        }));
        // The default user agent is a static string: no reference count to bump per request.
        let user_agent = if config.user_agent == crate::config::USER_AGENT {
            HeaderValue::from_static(crate::config::USER_AGENT)
        } else {
            HeaderValue::from_str(&config.user_agent).map_err(|_| Error::Config {
                field: "user_agent",
                rule: "not a valid header value".into(),
            })?
        };
        // Outermost first.
        let stack = ServiceBuilder::new()
            .layer(TraceLayer::new(shared.clone()))
            .layer(RequestIdLayer)
            .layer(DeadlineLayer::new(config.call_timeout))
            .layer(tower::retry::RetryLayer::new(VendorRetryPolicy::new(
                shared.clone(),
            )))
            .layer(FailoverLayer::new(shared.clone()))
            .layer(RateLimitLayer::new(shared.clone()))
            .layer(AttemptLayer::new(shared.clone()))
            .layer(AttemptTimeoutLayer::new(config.attempt_timeout))
            .layer(HeadersLayer::new(user_agent))
            .layer(AuthLayer::new(shared.clone()))
            .layer(ClassifyErrorsLayer)
            .service(Connection(shared.clone()));
        Ok(Client {
            inner: Arc::new(ClientInner {
                stack,
                app_id: config.app_id.into(),
                shared,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(fixed_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(fixed_endpoint("http://localhost:1").is_ok());
        assert!(fixed_endpoint("http://[::1]:9").is_ok());
        assert!(matches!(
            fixed_endpoint("http://api.agora.io"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(matches!(
            fixed_endpoint("http://10.0.0.1:80"),
            Err(Error::InsecureEndpoint { .. })
        ));
        assert!(fixed_endpoint("https://api.agora.io").is_ok());
        assert!(fixed_endpoint("ftp://x").is_err());
    }
}
