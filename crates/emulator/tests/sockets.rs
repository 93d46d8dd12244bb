//! The emulator over loopback sockets (real time, bounded): listeners sharing state, listener
//! modes, TLS with the generated CA, signed webhooks, and the standalone binary.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_rest_core::ncs::{HEADER_SIGNATURE_V1, HEADER_SIGNATURE_V2, verify};
use agora_rest_emulator::{Emulator, ListenerMode, WebhookConfig};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;

const AUTH: &str = "Basic Y2lkOmNzZWNyZXQ=";
const LIMIT: Duration = Duration::from_secs(20);

fn http_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(url: &str, method: Method, body: &str) -> Result<(u16, String), String> {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", AUTH)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(3), http_client().request(req))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Ok((status, text))
}

const CONVERTER: &str = r#"{"converter":{"name":"sock","rawOptions":{"rtcChannel":"c","rtcStreamUid":1},"rtmpUrl":"rtmp://h/x"}}"#;

#[tokio::test]
async fn listeners_share_state_and_change_modes() {
    tokio::time::timeout(LIMIT, async {
        let emu = Emulator::builder()
            .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
            .start()
            .await
            .unwrap();
        let [a, b] = [emu.addrs()[0], emu.addrs()[1]];
        let (status, _) = send(
            &format!("http://{a}/na/v1/projects/app/rtmp-converters"),
            Method::POST,
            CONVERTER,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let (status, body) = send(
            &format!("http://{b}/v1/projects/app/rtmp-converters"),
            Method::GET,
            "",
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("\"converterName\":\"sock\""), "{body}");
        // Refuse: the port is closed; Serve: open again on the same port; Stall: no answer.
        emu.set_listener_mode(1, ListenerMode::Refuse).await;
        let err = send(
            &format!("http://{b}/v1/projects/app/rtmp-converters"),
            Method::GET,
            "",
        )
        .await
        .unwrap_err();
        assert!(err.contains("onnect") || err.contains("refused"), "{err}");
        emu.set_listener_mode(1, ListenerMode::Serve).await;
        assert_eq!(
            send(
                &format!("http://{b}/v1/projects/app/rtmp-converters"),
                Method::GET,
                ""
            )
            .await
            .unwrap()
            .0,
            200
        );
        emu.set_listener_mode(0, ListenerMode::Stall).await;
        assert_eq!(
            send(
                &format!("http://{a}/v1/projects/app/rtmp-converters"),
                Method::GET,
                ""
            )
            .await
            .unwrap_err(),
            "timeout"
        );
        emu.shutdown();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn tls_with_the_generated_ca() {
    tokio::time::timeout(LIMIT, async {
        let emu = Emulator::builder().tls(true).start().await.unwrap();
        let pem = emu.ca_pem().unwrap().to_string();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(emu.addrs()[0])
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("api.agora.io").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get("/v1/projects/app/rtmp-converters")
            .header("host", "api.agora.io")
            .header("authorization", AUTH)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(emu.url().starts_with("https://"));
    })
    .await
    .unwrap();
}

/// A webhook receiver on loopback: `answer(headers, body)` gives the status to reply with.
async fn receiver(
    answer: impl Fn(&http::HeaderMap, &Bytes) -> u16 + Send + Sync + 'static,
) -> SocketAddr {
    let answer = Arc::new(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let answer = Arc::clone(&answer);
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let answer = Arc::clone(&answer);
                async move {
                    let headers = req.headers().clone();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let mut resp = http::Response::new(Full::new(Bytes::from_static(b"{}")));
                    *resp.status_mut() =
                        http::StatusCode::from_u16(answer(&headers, &body)).unwrap();
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn webhooks_are_signed_and_delivered() {
    tokio::time::timeout(LIMIT, async {
        // A receiver that checks both signatures and hands each event type to the test.
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let addr = receiver(move |headers, body| {
            let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string());
            assert!(verify(b"ncs-secret", body, h(HEADER_SIGNATURE_V2).as_deref(), None).is_ok());
            assert!(verify(b"ncs-secret", body, None, h(HEADER_SIGNATURE_V1).as_deref()).is_ok());
            let env = agora_rest_core::ncs::Envelope::parse(body).unwrap();
            let _ = tx.send(env.event_type);
            200
        })
        .await;
        let emu = Emulator::builder()
            .running_after(Duration::from_millis(100))
            .webhook(WebhookConfig {
                url: format!("http://{addr}/ncs"),
                secret: "ncs-secret".into(),
                duplicate_rate: 0.0,
                out_of_order: false,
            })
            .start()
            .await
            .unwrap();
        let base = emu.url();
        let (status, body) = send(
            &format!("{base}/na/v1/projects/app/rtmp-converters"),
            Method::POST,
            CONVERTER,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["converter"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // Created (1), then running (3): only then delete, which notifies destroyed (4).
        let mut kinds = vec![events.recv().await.unwrap(), events.recv().await.unwrap()];
        send(
            &format!("{base}/na/v1/projects/app/rtmp-converters/{id}"),
            Method::DELETE,
            "",
        )
        .await
        .unwrap();
        kinds.push(events.recv().await.unwrap());
        kinds.sort_unstable();
        assert_eq!(kinds, [1, 3, 4]);
        assert!(emu.deliveries().iter().all(|d| d.status == 200));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn webhooks_are_resent_and_duplicated() {
    tokio::time::timeout(LIMIT, async {
        // A receiver that fails the first attempt of every notice and records notice ids.
        let ids: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&ids);
        let addr = receiver(move |_, body| {
            let env = agora_rest_core::ncs::Envelope::parse(body).unwrap();
            let mut seen = seen.lock().unwrap();
            let first = !seen.contains(&env.notice_id);
            seen.push(env.notice_id);
            if first { 500 } else { 200 }
        })
        .await;
        let emu = Emulator::builder()
            .running_after(Duration::from_secs(3600))
            .webhook(WebhookConfig {
                url: format!("http://{addr}/ncs"),
                secret: "s".into(),
                duplicate_rate: 1.0,
                out_of_order: false,
            })
            .start()
            .await
            .unwrap();
        let (status, _) = send(
            &format!("{}/na/v1/projects/app/rtmp-converters", emu.url()),
            Method::POST,
            CONVERTER,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        while emu.deliveries().len() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let d = emu.deliveries();
        // One notice (event 1): a failed attempt, the resend at once, then the duplicate.
        assert_eq!(
            d.iter().map(|r| r.status).collect::<Vec<_>>(),
            [500, 200, 200]
        );
        assert!(
            d.iter()
                .all(|r| r.notice_id == d[0].notice_id && r.event_type == 1)
        );
        assert_eq!(ids.lock().unwrap().len(), 3);
    })
    .await
    .unwrap();
}

#[test]
fn standalone_binary_prints_one_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--app-id",
            "app",
            "--customer-id",
            "cid",
            "--customer-secret",
            "csecret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(async {
        let (s, _) = send(
            &format!("{url}/na/v1/projects/app/rtmp-converters"),
            Method::POST,
            CONVERTER,
        )
        .await?;
        let (g, body) = send(
            &format!("{url}/v1/projects/app/rtmp-converters"),
            Method::GET,
            "",
        )
        .await?;
        Ok::<_, String>((s, g, body))
    });
    // SIGTERM stops it cleanly (exit status 0); wait for it on a thread, bounded.
    let pid = child.id().to_string();
    let term = Command::new("kill").args(["-TERM", &pid]).status();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let exited = rx
        .recv_timeout(Duration::from_secs(10))
        .ok()
        .and_then(Result::ok);
    if exited.is_none() {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    assert!(term.is_ok_and(|s| s.success()), "kill -TERM failed");
    let (created, listed, body) = result.unwrap();
    assert!(exited.is_some_and(|s| s.success()), "SIGTERM: {exited:?}");
    assert_eq!((created, listed), (200, 200));
    assert!(body.contains("sock"));
}
