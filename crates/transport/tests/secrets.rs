//! The customer secret, the Basic header and RTC tokens never appear in Debug, Display, errors
//! or captured tracing output.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::io::Write;
use std::sync::{Arc, Mutex};

use agora_rest_core::operation::Operation;
use agora_rest_transport::mock::{MockResponse, MockService};
use agora_rest_transport::{Call, Client, Config, Credentials};
use bytes::Bytes;
use http::Method;

const SECRET: &str = "csecret-XYZ-42";
const BASIC: &str = "Y2lkOmNzZWNyZXQtWFlaLTQy"; // base64("cid:csecret-XYZ-42")
const TOKEN: &str = "rtc-token-SECRET-7";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn secrets_never_leak() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = MockService::new();
    mock.push(MockResponse::json(200, "{}"));
    mock.push(MockResponse::json(
        401,
        r#"{"message":"Invalid authentication credentials"}"#,
    ));
    mock.fallback(MockResponse::json(503, "{}"));
    let config = Config::new("app", Credentials::new("cid", SECRET).unwrap()).with_jitter(|| 0.0);
    let config_dbg = format!("{config:?}");
    let client = Client::builder(config)
        .with_service(mock.clone())
        .build()
        .unwrap();

    let body = Bytes::from(format!(r#"{{"rtc":{{"rtcToken":"{TOKEN}"}}}}"#));
    let mut texts = vec![config_dbg, format!("{client:?}")];
    for op in [
        Operation::TranscodeQuery,
        Operation::PushGet,
        Operation::PushGet,
    ] {
        let req = client
            .request(
                Call::new(op, "/t"),
                Method::POST,
                "/v1/x",
                Some(body.clone()),
            )
            .unwrap();
        match client.send(req).await {
            Ok(resp) => texts.push(format!("{resp:?}")),
            Err(e) => {
                texts.push(format!("{e}"));
                texts.push(format!("{e:?}"));
            }
        }
    }
    for r in mock.requests() {
        texts.push(format!("{:?}", r.headers));
    }
    texts.push(String::from_utf8(capture.0.lock().unwrap().clone()).unwrap());
    let all = texts.join("\n");
    assert!(
        all.contains("agora.call"),
        "tracing captured nothing: {all}"
    );
    for secret in [SECRET, BASIC, TOKEN] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}
