//! NCS delivery: signed POSTs of the emulator's notices to a configured URL, with resends,
//! optional duplicates and out-of-order delivery (docs/vendor-rules.md: "duplicates and out-of-order
//! delivery are possible"; resent up to 3 times).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_rest_core::ncs::{
    HEADER_SIGNATURE_V1, HEADER_SIGNATURE_V2, MAX_RESENDS, SignatureKind, sign,
};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::WebhookConfig;
use crate::engine::Engine;
use crate::state::Outgoing;

/// One delivery attempt, for inspection in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The notice id.
    pub notice_id: String,
    /// The event type.
    pub event_type: u32,
    /// The receiver's status, or 0 when it could not be reached.
    pub status: u16,
}

/// How many delivery records are kept (the oldest are dropped first).
pub(crate) const DELIVERY_LOG_CAPACITY: usize = 10_000;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client() -> HttpsClient {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(https)
}

/// Delivers notices as they appear, until the engine is dropped.
pub(crate) async fn run(
    engine: Arc<Engine>,
    cfg: WebhookConfig,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
) {
    let client = client();
    let mut rng = fastrand::Rng::with_seed(engine.config.seed ^ 0x9e37_79b9);
    let mut held: Option<Outgoing> = None;
    let mut counter: u64 = 0;
    loop {
        tokio::time::sleep(engine.clock.real(Duration::from_millis(100))).await;
        if Arc::strong_count(&engine) == 1 {
            return;
        }
        let batch: Vec<Outgoing> = engine.state().outbox.drain(..).collect();
        for notice in batch {
            // Out of order: hold one notice back and send it after the next.
            let (first, second) = if cfg.out_of_order && rng.bool() {
                match held.take() {
                    Some(h) => (notice, Some(h)),
                    None => {
                        held = Some(notice);
                        continue;
                    }
                }
            } else {
                (notice, held.take())
            };
            for n in std::iter::once(first).chain(second) {
                counter += 1;
                let id = format!("{}:{}:{counter}", engine.config.seed, n.at_ms);
                let dup = rng.f64() < cfg.duplicate_rate;
                let (client, engine, cfg, log) = (
                    client.clone(),
                    Arc::clone(&engine),
                    cfg.clone(),
                    Arc::clone(&log),
                );
                tokio::spawn(async move {
                    deliver(&client, &engine, &cfg, &log, &id, &n).await;
                    if dup {
                        deliver(&client, &engine, &cfg, &log, &id, &n).await;
                    }
                });
            }
        }
    }
}

/// Sends one notice, resending up to three times (at once, then at growing intervals) until
/// the receiver answers 200.
async fn deliver(
    client: &HttpsClient,
    engine: &Engine,
    cfg: &WebhookConfig,
    log: &Mutex<Vec<DeliveryRecord>>,
    id: &str,
    n: &Outgoing,
) {
    for attempt in 0..=MAX_RESENDS {
        if attempt > 1 {
            let wait = Duration::from_secs(1 << (attempt - 1));
            tokio::time::sleep(engine.clock.real(wait)).await;
        }
        let notify_ms = engine.clock.unix_ms_at(engine.clock.now()).max(n.at_ms);
        let Ok(envelope) = n.notification.to_envelope(id, notify_ms) else {
            return;
        };
        let Ok(body) = serde_json::to_vec(&envelope) else {
            return;
        };
        let secret = cfg.secret.as_bytes();
        let req = Request::builder()
            .method(Method::POST)
            .uri(&cfg.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                HEADER_SIGNATURE_V2,
                sign(SignatureKind::V2Sha256, secret, &body),
            )
            .header(
                HEADER_SIGNATURE_V1,
                sign(SignatureKind::V1Sha1, secret, &body),
            )
            .body(Full::new(Bytes::from(body)));
        let Ok(req) = req else { return };
        let status = match tokio::time::timeout(Duration::from_secs(10), client.request(req)).await
        {
            Ok(Ok(resp)) => resp.status().as_u16(),
            _ => 0,
        };
        {
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            // Bounded: the oldest records go first.
            if log.len() >= DELIVERY_LOG_CAPACITY {
                log.remove(0);
            }
            log.push(DeliveryRecord {
                notice_id: id.to_string(),
                event_type: envelope.event_type,
                status,
            });
        }
        if status == 200 {
            return;
        }
    }
}
