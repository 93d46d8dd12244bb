//! A tower `Service` that receives NCS notifications: any hyper or axum server can mount it.
//!
//! It checks `Agora-Signature-V2` (HMAC-SHA256) or `Agora-Signature` (HMAC-SHA1) over the raw
//! body with core's constant-time verifier, answers 200 with a JSON body at once (NCS resends
//! when it gets no 200 within 10 s), drops duplicates with core's de-duplication window, and
//! hands each new notice on through a channel. When the channel is full it answers 503, so NCS
//! resends later instead of the notice being lost.
//!
//! Delivery is exactly once: a notice is remembered as seen only in the same step that hands it
//! to the channel, so a notice refused with 503 is delivered on its resend, and a resend of a
//! delivered one is acknowledged and dropped. An optional freshness window refuses notices
//! whose `notifyMs` is too far from the receiver's wall clock (replays).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use agora_rest_core::ncs::{
    Deduplicator, Envelope, HEADER_SIGNATURE_V1, HEADER_SIGNATURE_V2, SignatureKind, is_fresh,
    verify,
};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;

use crate::clock::TokioClock;

/// The largest notification body accepted.
pub const MAX_NOTIFICATION_BYTES: usize = 1024 * 1024;

/// A verified, de-duplicated notification.
#[derive(Debug, Clone)]
pub struct ReceivedNotice {
    /// The envelope (its payload as raw JSON; `agora_rest_model::ncs::Notification` types it).
    pub envelope: Envelope,
    /// Which signature was checked.
    pub signature: SignatureKind,
    /// The raw body, as signed.
    pub raw: Bytes,
}

/// Unix milliseconds now, for the freshness window.
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The receiver service.
#[derive(Clone)]
pub struct WebhookReceiver {
    secret: Arc<SecretString>,
    dedupe: Arc<Mutex<Deduplicator>>,
    clock: TokioClock,
    tx: mpsc::Sender<ReceivedNotice>,
    freshness: Option<(std::time::Duration, WallClock)>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookReceiver { secret: <redacted>, .. }")
    }
}

impl WebhookReceiver {
    /// A receiver checking signatures with `secret`, queueing up to `capacity` notices.
    ///
    /// An empty (or all-blank) secret is refused: every signature would be checked against a
    /// key anyone can use.
    pub fn new(
        secret: impl Into<String>,
        capacity: usize,
    ) -> Result<(Self, mpsc::Receiver<ReceivedNotice>), crate::Error> {
        Self::with_dedupe(secret, capacity, Deduplicator::default())
    }

    /// As [`new`](Self::new) with a custom de-duplicator (window, capacity, key).
    pub fn with_dedupe(
        secret: impl Into<String>,
        capacity: usize,
        dedupe: Deduplicator,
    ) -> Result<(Self, mpsc::Receiver<ReceivedNotice>), crate::Error> {
        let secret = secret.into();
        if secret.trim().is_empty() {
            return Err(crate::Error::Config {
                field: "secret",
                rule: "the NCS secret must not be empty".into(),
            });
        }
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let recv = WebhookReceiver {
            secret: Arc::new(SecretString::from(secret)),
            dedupe: Arc::new(Mutex::new(dedupe)),
            clock: TokioClock::new(),
            tx,
            freshness: None,
        };
        Ok((recv, rx))
    }

    /// Refuses (401) notices whose `notifyMs` is more than `window` away from the system's
    /// wall clock, so that a captured notice cannot be replayed later. Off by default: NCS
    /// resends carry a new `notifyMs`, but a receiver whose clock is off would refuse all.
    pub fn with_freshness(self, window: std::time::Duration) -> Self {
        self.with_freshness_clock(window, Arc::new(crate::clock::system_unix_ms))
    }

    /// As [`with_freshness`](Self::with_freshness) with another wall clock (tests).
    pub fn with_freshness_clock(mut self, window: std::time::Duration, now_ms: WallClock) -> Self {
        self.freshness = Some((window, now_ms));
        self
    }

    /// Handles one notification body with its signature headers; the status and JSON answer.
    pub fn handle(
        &self,
        v2: Option<&str>,
        v1: Option<&str>,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let Ok(signature) = verify(self.secret.expose_secret().as_bytes(), &body, v2, v1) else {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"message":"bad or missing signature"}"#,
            );
        };
        let Ok(envelope) = Envelope::parse(&body) else {
            return (
                StatusCode::BAD_REQUEST,
                r#"{"message":"not an NCS envelope"}"#,
            );
        };
        if let Some((window, now_ms)) = &self.freshness
            && !is_fresh(envelope.notify_ms, now_ms(), *window)
        {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"message":"notifyMs outside the freshness window"}"#,
            );
        }
        // One lock over look, hand-over and record: two copies arriving together cannot both
        // pass, and a notice is recorded only once the channel holds it.
        let now = self.clock.now();
        let mut dedupe = self
            .dedupe
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if dedupe.seen(&envelope.notice_id, envelope.notify_ms, now) {
            return (StatusCode::OK, r#"{"ok":true,"duplicate":true}"#);
        }
        let Ok(permit) = self.tx.try_reserve() else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"message":"busy, resend later"}"#,
            );
        };
        dedupe.check_envelope(&envelope, now);
        drop(dedupe);
        permit.send(ReceivedNotice {
            envelope,
            signature,
            raw: body,
        });
        (StatusCode::OK, r#"{"ok":true}"#)
    }
}

/// The receiver's answer to a request head alone: 405 for anything but POST, 401 when neither
/// signature header is present. `None` lets the body be read and verified.
fn refuse_head(method: &Method, headers: &http::HeaderMap) -> Option<(StatusCode, &'static str)> {
    if method != Method::POST {
        return Some((StatusCode::METHOD_NOT_ALLOWED, r#"{"message":"POST only"}"#));
    }
    let signed =
        headers.contains_key(HEADER_SIGNATURE_V2) || headers.contains_key(HEADER_SIGNATURE_V1);
    (!signed).then_some((
        StatusCode::UNAUTHORIZED,
        r#"{"message":"bad or missing signature"}"#,
    ))
}

#[cfg(feature = "server")]
impl WebhookReceiver {
    /// A gate for [`crate::server`]: unsigned or non-POST notices are refused from their head,
    /// so the server never reads their bodies. (The signature itself covers the body, so it is
    /// checked after.)
    pub fn head_gate() -> crate::server::Gate {
        Arc::new(|parts: &http::request::Parts| {
            refuse_head(&parts.method, &parts.headers).map(|(status, text)| reply(status, text))
        })
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

impl<B> tower::Service<Request<B>> for WebhookReceiver
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if let Some((status, text)) = refuse_head(req.method(), req.headers()) {
                return Ok(reply(status, text));
            }
            let (v2, v1) = {
                let header = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                (header(HEADER_SIGNATURE_V2), header(HEADER_SIGNATURE_V1))
            };
            let body = req.into_body();
            let body = match Limited::new(body, MAX_NOTIFICATION_BYTES).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return Ok(reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        r#"{"message":"body too large"}"#,
                    ));
                }
            };
            let (status, text) = this.handle(v2.as_deref(), v1.as_deref(), body);
            Ok(reply(status, text))
        })
    }
}
