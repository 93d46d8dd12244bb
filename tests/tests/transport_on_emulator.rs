//! The real transport stack against the emulator: in memory under tokio's paused clock, and
//! over TLS on loopback with the emulator's CA and the real host names.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::time::Duration;

use agora_rest_core::classify::Action;
use agora_rest_core::operation::Operation;
use agora_rest_core::region::Area;
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_model::mediapush::{ConverterBuilder, ConverterResponse, CreateConverterRequest};
use agora_rest_transport::{Call, Client, Config, Credentials, Error, StaticResolver};
use bytes::Bytes;
use http::Method;

const PUSH: &str = "/na/v1/projects/app/rtmp-converters";

fn body(name: &str) -> Bytes {
    let c = ConverterBuilder::raw("show68", 7, "rtmp://push.example.com/live/x")
        .name(name)
        .build()
        .unwrap();
    Bytes::from(serde_json::to_vec(&CreateConverterRequest::new(c)).unwrap())
}

fn client(emu: &Emulator) -> Client {
    let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
        .with_area(Area::Eu)
        .with_jitter(|| 0.0);
    Client::builder(config)
        .with_service(emu.service())
        .build()
        .unwrap()
}

async fn create(c: &Client, name: &str) -> Result<ConverterResponse, Error> {
    let req = c.request(
        Call::new(
            Operation::PushCreate,
            "/{region}/v1/projects/{appId}/rtmp-converters",
        ),
        Method::POST,
        PUSH,
        Some(body(name)),
    )?;
    c.send_json(req, "create").await.map(|(r, _)| r)
}

#[tokio::test(start_paused = true)]
async fn commit_then_504_surfaces_as_confirm_existence() {
    let emu = Emulator::builder()
        .fault(FaultRule::nth(
            Operation::PushCreate,
            1,
            Fault::CommitThen504,
        ))
        .build();
    let c = client(&emu);
    let err = create(&c, "once").await.unwrap_err();
    assert_eq!(err.status_error().unwrap().action, Action::ConfirmExistence);
    assert!(err.maybe_applied());
    assert_eq!(
        emu.converters().len(),
        1,
        "created, and the client was told to look before creating again"
    );
    // Creating blindly again meets the unique name: 409 "already exists".
    let err = create(&c, "once").await.unwrap_err();
    assert_eq!(err.status_error().unwrap().action, Action::AlreadyExists);
    assert_eq!(emu.converters().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn refused_primary_fails_over_to_a_region_host() {
    let emu = Emulator::builder().build();
    emu.refuse_host("api.agora.io");
    let c = client(&emu);
    let resp = create(&c, "fo").await.unwrap();
    assert_eq!(resp.converter.state.as_str(), "connecting");
    let hosts: Vec<String> = emu.request_log().iter().map(|l| l.host.clone()).collect();
    assert_eq!(
        hosts,
        ["api.agora.io", "api.agora.io", "api-eu-central-1.agora.io"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_is_smoothed_under_the_limit_with_no_429() {
    let emu = Emulator::builder().build();
    let c = client(&emu);
    let id = create(&c, "burst").await.unwrap().converter.id;
    let path = format!("{PUSH}/{id}");
    let calls: Vec<_> = (0..120)
        .map(|_| {
            let c = c.clone();
            let path = path.clone();
            tokio::spawn(async move {
                let req = c
                    .request(
                        Call::new(Operation::PushGet, "/t"),
                        Method::GET,
                        &path,
                        None,
                    )
                    .unwrap();
                c.send(req).await.map(|r| r.status().as_u16())
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    assert!(emu.request_log().iter().all(|l| l.status != 429));
}

#[tokio::test(start_paused = true)]
async fn three_503s_then_exhausted_with_task_failed() {
    let emu = Emulator::builder().build();
    let c = client(&emu);
    let id = create(&c, "sick").await.unwrap().converter.id;
    emu.add_fault(FaultRule::always(Operation::PushGet, Fault::Status(503)));
    let req = c
        .request(
            Call::new(Operation::PushGet, "/t"),
            Method::GET,
            &format!("{PUSH}/{id}"),
            None,
        )
        .unwrap();
    let err = c.send(req).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RetriesExhausted {
                then: agora_rest_core::classify::Exhausted::TaskFailed,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let gets: Vec<Duration> = emu
        .request_log()
        .iter()
        .filter(|l| l.op == Some(Operation::PushGet))
        .map(|l| l.at)
        .collect();
    let gaps: Vec<u64> = gets.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert_eq!(gaps, [5, 10, 15]);
}

#[tokio::test]
async fn tls_with_real_host_names_on_loopback() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let emu = Emulator::builder()
            .tls(true)
            .credentials("cid", "csecret")
            .start()
            .await
            .unwrap();
        let config = Config::new("app", Credentials::new("cid", "csecret").unwrap())
            .with_resolver(
                StaticResolver::new()
                    .all_agora_hosts(emu.addrs()[0])
                    .into_resolver(),
            )
            .with_extra_root_certificate(emu.ca_pem().unwrap().as_bytes().to_vec());
        let c = Client::builder(config).build().unwrap();
        let created = create(&c, "tls").await.unwrap();
        assert_eq!(created.converter.id.len(), 32);
        assert_eq!(emu.request_log()[0].host, "api.agora.io");
        // Wrong credentials are refused with the gateway's 401.
        let bad = Client::builder(
            Config::new("app", Credentials::new("cid", "wrong").unwrap())
                .with_resolver(
                    StaticResolver::new()
                        .all_agora_hosts(emu.addrs()[0])
                        .into_resolver(),
                )
                .with_extra_root_certificate(emu.ca_pem().unwrap().as_bytes().to_vec()),
        )
        .build()
        .unwrap();
        let err = create(&bad, "x").await.unwrap_err();
        let s = err.status_error().unwrap();
        assert_eq!(
            (s.status, s.message.as_deref()),
            (401, Some("Invalid authentication credentials"))
        );
        assert!(!err.to_string().contains("wrong"));
    })
    .await
    .unwrap();
}
