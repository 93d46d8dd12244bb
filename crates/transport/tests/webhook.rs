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
    let (svc, mut notices) = WebhookReceiver::new(SECRET, 1);
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
