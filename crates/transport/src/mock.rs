//! A scripted mock of the services, for tests of code built on the transport.
//!
//! It answers requests with responses queued per host or globally, or with the failures an
//! in-memory service reports (refused connection, unresolvable host, reset, no answer), and it
//! records every request it receives with the (tokio) time it arrived, so that a test under a
//! paused clock can assert the exact retry schedule.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};

use crate::clock::TokioClock;
use crate::error::{BoxError, DnsFailure};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum MockResponse {
    /// An HTTP response after `delay`.
    Http {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(&'static str, String)>,
        /// Body.
        body: Bytes,
        /// Wait before answering.
        delay: Duration,
    },
    /// The host refuses the connection (not sent).
    Refused,
    /// The host name does not resolve (not sent).
    Unresolvable,
    /// The connection drops after the request was sent.
    Reset,
    /// No answer, ever (for timeouts).
    Hang,
}

impl MockResponse {
    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        MockResponse::Http {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
        }
    }

    /// A status with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        MockResponse::Http {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let MockResponse::Http { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }

    /// Answers after `delay`.
    pub fn after(mut self, d: Duration) -> Self {
        if let MockResponse::Http { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }
}

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: Method,
    /// Absolute URI.
    pub uri: Uri,
    /// Headers (the `Authorization` value is marked sensitive).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// When it arrived, on tokio's clock since the mock was made.
    pub at: Duration,
}

impl RecordedRequest {
    /// The host it was sent to.
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }
}

#[derive(Debug, Default)]
struct State {
    by_host: HashMap<String, VecDeque<MockResponse>>,
    script: VecDeque<MockResponse>,
    fallback: Option<MockResponse>,
    requests: Vec<RecordedRequest>,
}

/// The mock service: clone it, give one clone to the client, script and inspect with another.
#[derive(Debug, Clone)]
pub struct MockService {
    state: Arc<Mutex<State>>,
    clock: TokioClock,
}

impl Default for MockService {
    fn default() -> Self {
        MockService {
            state: Arc::default(),
            clock: TokioClock::new(),
        }
    }
}

impl MockService {
    /// A mock with nothing scripted (every request fails until scripted).
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an answer for the next request to any host.
    pub fn push(&self, r: MockResponse) -> &Self {
        self.state().script.push_back(r);
        self
    }

    /// Queues an answer for the next request to `host` (checked before the global queue).
    pub fn push_for_host(&self, host: &str, r: MockResponse) -> &Self {
        self.state()
            .by_host
            .entry(host.to_string())
            .or_default()
            .push_back(r);
        self
    }

    /// The answer when nothing is queued.
    pub fn fallback(&self, r: MockResponse) -> &Self {
        self.state().fallback = Some(r);
        self
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// How many requests arrived.
    pub fn calls(&self) -> usize {
        self.state().requests.len()
    }
}

fn io(kind: std::io::ErrorKind) -> BoxError {
    Box::new(std::io::Error::from(kind))
}

impl tower::Service<Request<Bytes>> for MockService {
    type Response = Response<Bytes>;
    type Error = BoxError;
    type Future = crate::shared::InnerFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let host = req.uri().host().unwrap_or_default().to_string();
        let answer = {
            let mut st = self.state();
            st.requests.push(RecordedRequest {
                method: req.method().clone(),
                uri: req.uri().clone(),
                headers: req.headers().clone(),
                body: req.body().clone(),
                at: self.clock.now(),
            });
            let from_host = st.by_host.get_mut(&host).and_then(VecDeque::pop_front);
            from_host
                .or_else(|| st.script.pop_front())
                .or_else(|| st.fallback.clone())
        };
        Box::pin(async move {
            match answer {
                None => {
                    Err(format!("mock: nothing scripted for {} {}", req.method(), req.uri()).into())
                }
                Some(MockResponse::Refused) => Err(io(std::io::ErrorKind::ConnectionRefused)),
                Some(MockResponse::Unresolvable) => Err(Box::new(DnsFailure { host }) as BoxError),
                Some(MockResponse::Reset) => Err(io(std::io::ErrorKind::ConnectionReset)),
                Some(MockResponse::Hang) => std::future::pending().await,
                Some(MockResponse::Http {
                    status,
                    headers,
                    body,
                    delay,
                }) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let mut resp = Response::builder().status(status).body(body)?;
                    for (k, v) in headers {
                        resp.headers_mut().append(k, HeaderValue::from_str(&v)?);
                    }
                    Ok(resp)
                }
            }
        })
    }
}
