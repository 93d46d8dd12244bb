//! The NCS webhook receiver as a tower service: signatures, duplicates, back-pressure.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use agora_rest_core::ncs::{HEADER_SIGNATURE_V1, HEADER_SIGNATURE_V2, SignatureKind, sign};
use agora_rest_transport::webhook::WebhookReceiver;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;

const SECRET: &str = "ncs-secret";

fn notice(id: &str, notify_ms: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"noticeId":"{id}","productId":5,"eventType":3,"notifyMs":{notify_ms},"payload":{{"converter":{{"id":"c1","state":"running"}},"lts":1}}}}"#
    ))
}

async fn post(
    rx: &WebhookReceiver,
    body: Bytes,
    header: Option<(&str, String)>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(Method::POST).uri("/ncs");
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let resp = rx
        .clone()
        .oneshot(req.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, text)
}

#[tokio::test(start_paused = true)]
async fn verifies_dedupes_and_pushes_back() {
    let (svc, mut notices) = WebhookReceiver::new(SECRET, 1).unwrap();
    let body = notice("n-1", 100);
    let v2 = sign(SignatureKind::V2Sha256, SECRET.as_bytes(), &body);
    let (status, text) = post(&svc, body.clone(), Some((HEADER_SIGNATURE_V2, v2.clone()))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
        "the answer is JSON"
    );
    let got = notices.recv().await.unwrap();
    assert_eq!(
        (got.envelope.notice_id.as_str(), got.signature),
        ("n-1", SignatureKind::V2Sha256)
    );

    // A resend (new notifyMs, same noticeId) is acknowledged and dropped.
    let resent = notice("n-1", 200);
    let v1 = sign(SignatureKind::V1Sha1, SECRET.as_bytes(), &resent);
    let (status, _) = post(&svc, resent, Some((HEADER_SIGNATURE_V1, v1))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(notices.try_recv().is_err());

    // Wrong secret, no signature, wrong method.
    let forged = sign(SignatureKind::V2Sha256, b"other", &notice("n-2", 1));
    assert_eq!(
        post(&svc, notice("n-2", 1), Some((HEADER_SIGNATURE_V2, forged)))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&svc, notice("n-2", 1), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let get = Request::builder()
        .method(Method::GET)
        .uri("/ncs")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        svc.clone().oneshot(get).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );

    // Signed garbage is a 400, never a panic.
    let junk = Bytes::from_static(b"{\"noticeId\":");
    let sig = sign(SignatureKind::V2Sha256, SECRET.as_bytes(), &junk);
    assert_eq!(
        post(&svc, junk, Some((HEADER_SIGNATURE_V2, sig))).await.0,
        StatusCode::BAD_REQUEST
    );

    // A full queue answers 503 so that NCS resends later.
    for (i, expected) in [(3, StatusCode::OK), (4, StatusCode::SERVICE_UNAVAILABLE)] {
        let b = notice(&format!("n-{i}"), 1);
        let s = sign(SignatureKind::V2Sha256, SECRET.as_bytes(), &b);
        assert_eq!(
            post(&svc, b, Some((HEADER_SIGNATURE_V2, s))).await.0,
            expected
        );
    }
}

/// A receiver whose `recv` gives up after a minute of (paused) time.
struct Bounded<'a>(
    &'a mut tokio::sync::mpsc::Receiver<agora_rest_transport::webhook::ReceivedNotice>,
);

impl Bounded<'_> {
    async fn recv(&mut self) -> Option<agora_rest_transport::webhook::ReceivedNotice> {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.0.recv())
            .await
            .expect("a notice within a minute")
    }

    fn try_recv(
        &mut self,
    ) -> Result<agora_rest_transport::webhook::ReceivedNotice, tokio::sync::mpsc::error::TryRecvError>
    {
        self.0.try_recv()
    }
}

fn signed(id: &str, notify_ms: u64) -> (Bytes, Option<(&'static str, String)>) {
    let b = notice(id, notify_ms);
    let s = sign(SignatureKind::V2Sha256, SECRET.as_bytes(), &b);
    (b, Some((HEADER_SIGNATURE_V2, s)))
}

/// A notice refused with 503 (queue full) is delivered on its resend, once: 5 of 5 used to be
/// lost, answered "200 duplicate" on resend because they were recorded before the hand-over.
#[tokio::test(start_paused = true)]
async fn a_notice_refused_for_back_pressure_is_delivered_on_resend_exactly_once() {
    let (svc, mut notices) = WebhookReceiver::new(SECRET, 1).unwrap();
    let (b, h) = signed("first", 1);
    assert_eq!(post(&svc, b, h).await.0, StatusCode::OK);
    for i in 0..5 {
        let (b, h) = signed(&format!("busy-{i}"), 1);
        assert_eq!(post(&svc, b, h).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
    // Bounded: a regression fails instead of waiting for a notice that never comes.
    let mut notices = Bounded(&mut notices);
    let mut got = vec![notices.recv().await.unwrap().envelope.notice_id];
    for i in 0..5 {
        // NCS resends with a new notifyMs.
        let (b, h) = signed(&format!("busy-{i}"), 2);
        assert_eq!(post(&svc, b, h).await.0, StatusCode::OK, "resend {i}");
        got.push(notices.recv().await.unwrap().envelope.notice_id);
        // A second resend of a delivered notice is a duplicate.
        let (b, h) = signed(&format!("busy-{i}"), 3);
        let (status, text) = post(&svc, b, h).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("duplicate"), "{text}");
        assert!(notices.try_recv().is_err());
    }
    assert_eq!(
        got,
        ["first", "busy-0", "busy-1", "busy-2", "busy-3", "busy-4"]
    );
}

#[test]
fn an_empty_secret_is_refused() {
    for s in ["", "   "] {
        let e = WebhookReceiver::new(s, 1).unwrap_err();
        assert!(e.to_string().contains("secret"), "{e}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_freshness_window_refuses_replays() {
    let now_ms = 1_700_000_000_000u64;
    let (svc, mut notices) = WebhookReceiver::new(SECRET, 4).unwrap();
    let svc = svc.with_freshness_clock(
        std::time::Duration::from_secs(300),
        std::sync::Arc::new(move || now_ms),
    );
    let (b, h) = signed("old", now_ms - 301_000);
    assert_eq!(post(&svc, b, h).await.0, StatusCode::UNAUTHORIZED);
    let (b, h) = signed("new", now_ms - 299_000);
    assert_eq!(post(&svc, b, h).await.0, StatusCode::OK);
    let mut notices = Bounded(&mut notices);
    assert_eq!(notices.recv().await.unwrap().envelope.notice_id, "new");
    assert!(notices.try_recv().is_err());
}
