//! The metrics the stack records, read back through a Prometheus recorder installed for this
//! thread only: counts checked against the calls made, on the mock under the paused clock.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::region::Area;
use agora_rest_transport::mock::{MockResponse, MockService};
use agora_rest_transport::{Call, Client, Config, Credentials};
use http::Method;
use metrics_exporter_prometheus::PrometheusBuilder;

/// The value of the sample `name{labels}` in Prometheus text, if present. Labels are given in
/// the exporter's order (alphabetical isn't guaranteed, so each must appear).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' '))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn client(mock: &MockService) -> Client {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_area(Area::Eu)
        .with_jitter(|| 0.0);
    Client::builder(config)
        .with_service(mock.clone())
        .build()
        .unwrap()
}

async fn get(client: &Client, id: &str) -> u16 {
    let req = client
        .request(
            Call::new(
                Operation::PushGet,
                "/{region}/v1/projects/{appId}/rtmp-converters/{converterId}",
            ),
            Method::GET,
            &format!("/eu/v1/projects/app/rtmp-converters/{id}"),
            None,
        )
        .unwrap();
    match client.send(req).await {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.status().unwrap_or(0),
    }
}

#[test]
fn calls_attempts_retries_throttling_and_budget_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(600), async {
                let mock = MockService::new();
                let c = client(&mock);
                // 1: answered at once.
                mock.push(MockResponse::json(200, "{}"));
                assert_eq!(get(&c, "c-1").await, 200);
                // 2: a 503, retried after the guide's 5 s, then answered.
                mock.push(MockResponse::json(503, "{}"));
                mock.push(MockResponse::json(200, "{}"));
                assert_eq!(get(&c, "c-2").await, 200);
                // 3: a rate 429 (retried on the schedule), then answered.
                mock.push(MockResponse::json(
                    429,
                    r#"{"message":"Request rate limit exceeded"}"#,
                ));
                mock.push(MockResponse::json(200, "{}"));
                assert_eq!(get(&c, "c-3").await, 200);
                // A quota 429: waiting does not free a stream, so it ends the call.
                mock.push(MockResponse::json(
                    429,
                    r#"{"message":"Resources quota exceeded"}"#,
                ));
                assert_eq!(get(&c, "c-5").await, 429);
                // 4: a 400, never retried.
                mock.push(MockResponse::json(400, r#"{"message":"bad"}"#));
                assert_eq!(get(&c, "c-4").await, 400);
                assert_eq!(mock.requests().len(), 7);
            })
            .await
            .expect("bounded");
        });
    });
    let text = handle.render();
    let get = [("op", "push.get")];
    let calls = |outcome| {
        sample(
            &text,
            "agora_rest_calls_total",
            &[get[0], ("outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(calls("200"), 3.0, "{text}");
    assert_eq!(calls("400"), 1.0, "{text}");
    assert_eq!(calls("429"), 1.0, "{text}");
    let requests = |status| {
        sample(
            &text,
            "agora_rest_requests_total",
            &[get[0], ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(requests("200"), 3.0, "{text}");
    assert_eq!(requests("503"), 1.0, "{text}");
    assert_eq!(requests("429"), 2.0, "{text}");
    assert!(
        text.contains("host=\"api.agora.io\"") || text.contains("host=\"api-eu"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "agora_rest_retries_total",
            &[get[0], ("status", "503")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "agora_rest_retries_total",
            &[get[0], ("status", "429")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "agora_rest_throttled_total",
            &[get[0], ("kind", "rate")]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "agora_rest_throttled_total",
            &[get[0], ("kind", "quota")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "agora_rest_retry_budget_tokens", &[]).is_some(),
        "{text}"
    );
}
