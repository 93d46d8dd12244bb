//! `agora-rest demo`: every best practice at work on the embedded emulator, in seconds.
//!
//! The emulator runs in-process as an in-memory service with a fixed seed, and the whole
//! scenario runs on tokio's paused clock: the guide's waits (5–16 s retries, 2-minute polls,
//! startup confirmation) happen in simulated time, so the run takes well under 30 s while every
//! schedule is followed exactly. The "time" column is simulated time.

use std::io::IsTerminal;
use std::time::Duration;

use agora_rest_core::name::UidPair;
use agora_rest_core::ncs::{HEADER_SIGNATURE_V1, HEADER_SIGNATURE_V2, SignatureKind, sign};
use agora_rest_core::operation::Operation;
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_emulator::{Emulator, Fault, FaultRule};
use agora_rest_mediapush::controller::{
    ConverterController, ConverterControllerConfig, ConverterEvent, ConverterSpec,
};
use agora_rest_mediapush::{MediaPush, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, Converter, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions,
};
use agora_rest_model::transcoder::{AudioInput, Output, TranscoderConfigBuilder, VideoOption};
use agora_rest_transcoder::{StartSpec, Transcoder, UidTokens};
use agora_rest_transport::webhook::WebhookReceiver;
use agora_rest_transport::{Client, Config, Credentials};
use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt;

use crate::Failure;

/// Options of the demo.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Plain lines even on a terminal (no progress spinner).
    #[arg(long)]
    plain: bool,
    /// After the summary, print what the demo's clients and controller recorded, in
    /// Prometheus' text format (as `controller run --metrics ADDR` serves it).
    #[arg(long)]
    metrics: bool,
}

const APP: &str = "demo-app";
const NCS_SECRET: &str = "demo-ncs-secret";

struct Row {
    name: &'static str,
    outcome: Result<String, String>,
    requests: usize,
    retries: usize,
    time: Duration,
}

fn converter(name: &str, channel: &str) -> Result<Converter, String> {
    ConverterBuilder::transcoded(channel, format!("rtmp://push.example.com/live/{name}"))
        .name(name)
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(1280, 720, 2000).with_layout(vec![LayoutElement::stream(
                1001,
                LayoutRegion::new(0, 0, 1280, 720),
            )]),
        )
        .idle_timeout(300)
        .build()
        .map_err(|e| e.to_string())
}

async fn create_named(push: &MediaPush, emu: &Emulator) -> Result<String, String> {
    let c = push
        .create(PathRegion::Eu, converter("show68_horizontal", "show68")?)
        .await
        .map_err(|e| e.to_string())?;
    if emu.converters().len() != 1 {
        return Err("expected exactly one converter".into());
    }
    Ok(format!("{} is {} in eu", c.converter.id, c.converter.state))
}

async fn recover_504(push: &MediaPush, emu: &Emulator) -> Result<String, String> {
    emu.add_fault(FaultRule::nth(
        Operation::PushCreate,
        2,
        Fault::CommitThen504,
    ));
    let c = push
        .create(PathRegion::Eu, converter("show68_vertical", "show68")?)
        .await
        .map_err(|e| e.to_string())?;
    let same_name = emu
        .converters()
        .iter()
        .filter(|s| s.converter.name.as_deref() == Some("show68_vertical"))
        .count();
    if !c.adopted || same_name != 1 {
        return Err(format!(
            "adopted={} converters named show68_vertical={same_name}",
            c.adopted
        ));
    }
    Ok("504 after commit: listed the channel, found it, no duplicate".into())
}

async fn sequenced_updates(push: &MediaPush, emu: &Emulator, id: &str) -> Result<String, String> {
    push.update(
        id,
        Update::new().canvas(Canvas {
            width: 720,
            height: 1280,
            color: None,
        }),
    )
    .await
    .map_err(|e| e.to_string())?;
    push.update(
        id,
        Update::new().rtmp_url("rtmp://backup.example.com/live/show68"),
    )
    .await
    .map_err(|e| e.to_string())?;
    let before = emu.request_log().len();
    let rename = Converter {
        name: Some("renamed".into()),
        ..Converter::default()
    };
    let refused = push.update(id, Update::from_parts(rename, ["name"])).await;
    if refused.is_ok() || emu.request_log().len() != before {
        return Err("an immutable-field update went out".into());
    }
    Ok("sequence 0 and 1 applied; a name change refused before sending".into())
}

async fn burst(push: &MediaPush, emu: &Emulator, id: &str) -> Result<String, String> {
    let before = emu.request_log().len();
    let calls: Vec<_> = (0..120)
        .map(|_| {
            let (push, id) = (push.clone(), id.to_string());
            tokio::spawn(async move { push.get(&id).await.map(|_| ()) })
        })
        .collect();
    for c in calls {
        c.await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    let throttled = emu.request_log()[before..]
        .iter()
        .filter(|l| l.status == 429)
        .count();
    if throttled > 0 {
        return Err(format!("{throttled} requests drew a 429"));
    }
    Ok("120 concurrent Gets spaced to 50/s: zero 429s".into())
}

async fn failover(push: &MediaPush, emu: &Emulator, id: &str) -> Result<String, String> {
    emu.refuse_host("api.agora.io");
    let result = push.get(id).await;
    emu.restore_host("api.agora.io");
    result.map_err(|e| e.to_string())?;
    let host = emu
        .request_log()
        .last()
        .map(|l| l.host.clone())
        .unwrap_or_default();
    Ok(format!(
        "api.agora.io refused; answered by {host} after 1 s and 3 s waits"
    ))
}

async fn kept_alive(push: &MediaPush, emu: &Emulator) -> Result<String, String> {
    let controller = ConverterController::start(push.clone(), ConverterControllerConfig::default());
    let mut events = controller.events();
    let spec = ConverterSpec::new(PathRegion::Eu, converter("show68_declared", "show68")?)
        .map_err(|e| e.to_string())?;
    controller.apply(spec).await.map_err(|e| e.to_string())?;
    let mut failed_once = false;
    let mut detail = String::new();
    // Bounded: an hour of simulated time at most.
    let until = tokio::time::Instant::now() + Duration::from_secs(3600);
    while let Ok(Ok(event)) = tokio::time::timeout_at(until, events.recv()).await {
        match event {
            ConverterEvent::Created { id, .. } if !failed_once => {
                failed_once = true;
                emu.fail_converter(&id);
            }
            ConverterEvent::Recreated { key, old, new } => {
                let old = old.unwrap_or_default();
                detail = format!(
                    "{} failed; deleted and re-created as {} from the declared spec",
                    &old[..old.len().min(8)],
                    &new[..new.len().min(8)]
                );
                controller.remove(&key).await.map_err(|e| e.to_string())?;
            }
            ConverterEvent::Deleted { .. } => break,
            _ => {}
        }
    }
    controller.shutdown().await;
    if detail.is_empty() {
        return Err("the controller did not re-create the failed converter".into());
    }
    Ok(detail)
}

async fn transcoding(transcoder: &Transcoder, emu: &Emulator) -> Result<String, String> {
    emu.add_fault(FaultRule::calls(
        Operation::TranscodeCreate,
        1,
        4,
        Fault::Partial206,
    ));
    let config = TranscoderConfigBuilder::new()
        .audio_input(AudioInput::rtc("show68", 0, "demo-input-token"))
        .output(
            Output::rtc("show68-mix", 1001, "demo-output-token")
                .with_video(VideoOption::new(640, 360, 800)),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let uids = UidPair::new(1001, 1002).map_err(|e| e.to_string())?;
    let tokens = UidTokens::new()
        .with(1001, "demo-output-token-1001")
        .with(1002, "demo-output-token-1002");
    let spec = StartSpec::new("show68-mix", uids, config, tokens).map_err(|e| e.to_string())?;
    let task = transcoder.start(spec).await.map_err(|e| e.to_string())?;
    let uid = task.uid();
    task.stop().await.map_err(|e| e.to_string())?;
    if uid != 1002 {
        return Err(format!("expected the backup UID, got {uid}"));
    }
    Ok("206 at 0/3/9/18 s, backup UID 1002 with a new token, confirmed started at +5 s".into())
}

async fn webhooks(emu: &Emulator) -> Result<String, String> {
    let (receiver, mut notices) =
        WebhookReceiver::new(NCS_SECRET, 1024).map_err(|e| e.to_string())?;
    let post = |body: Vec<u8>, secret: &str| {
        let v2 = sign(SignatureKind::V2Sha256, secret.as_bytes(), &body);
        let v1 = sign(SignatureKind::V1Sha1, secret.as_bytes(), &body);
        http::Request::post("/ncs")
            .header(HEADER_SIGNATURE_V2, v2)
            .header(HEADER_SIGNATURE_V1, v1)
            .body(Full::new(Bytes::from(body)))
    };
    let outgoing = emu.take_notices();
    let mut bodies = Vec::new();
    for (i, n) in outgoing.iter().enumerate() {
        let env = n
            .notification
            .to_envelope(format!("demo-{i}"), n.at_ms)
            .map_err(|e| e.to_string())?;
        bodies.push(serde_json::to_vec(&env).map_err(|e| e.to_string())?);
    }
    let first = bodies
        .first()
        .cloned()
        .ok_or("no notifications were emitted")?;
    for body in bodies.iter().cloned().chain([first.clone()]) {
        let req = post(body, NCS_SECRET).map_err(|e| e.to_string())?;
        let resp = receiver
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() != 200 {
            return Err(format!("a genuine notice got {}", resp.status()));
        }
    }
    let forged = post(first, "wrong-secret").map_err(|e| e.to_string())?;
    let rejected = receiver
        .clone()
        .oneshot(forged)
        .await
        .map_err(|e| e.to_string())?
        .status()
        == 401;
    let mut verified = 0;
    while notices.try_recv().is_ok() {
        verified += 1;
    }
    if verified != bodies.len() || !rejected {
        return Err(format!(
            "verified {verified} of {}, forged rejected: {rejected}",
            bodies.len()
        ));
    }
    Ok(format!(
        "{verified} events 1–4/110–113 verified, 1 resend dropped, 1 forged rejected"
    ))
}

pub(crate) fn run(args: &DemoArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| Failure::service(format!("cannot start the runtime: {e}")))?;
    let fancy = !args.plain && std::io::stdout().is_terminal();
    // Before any client is built: clients register their counters at first use.
    let metrics = args
        .metrics
        .then(crate::metrics_endpoint::install)
        .transpose()?;
    let rows = rt.block_on(scenario(fancy))?;
    println!();
    println!(
        "{:<48} {:<8} {:>8} {:>8} {:>9}",
        "step", "outcome", "requests", "retries", "time"
    );
    for r in &rows {
        println!(
            "{:<48} {:<8} {:>8} {:>8} {:>8.1}s",
            r.name,
            if r.outcome.is_ok() { "ok" } else { "FAILED" },
            r.requests,
            r.retries,
            r.time.as_secs_f64()
        );
    }
    let failed = rows.iter().filter(|r| r.outcome.is_err()).count();
    println!();
    println!(
        "demo: {} passed, {failed} failed (time is simulated; the guide's waits are real schedules)",
        rows.len() - failed
    );
    if let Some(handle) = metrics {
        println!();
        println!("# metrics (Prometheus text format)");
        print!("{}", handle.render());
    }
    if failed > 0 {
        return Err(Failure::service(format!("{failed} demo steps misbehaved")));
    }
    Ok(())
}

async fn scenario(fancy: bool) -> Result<Vec<Row>, Failure> {
    let emu = Emulator::builder()
        .seed(42)
        .app_id(APP)
        .credentials("demo-customer", "demo-secret")
        .build();
    let config = Config::new(APP, Credentials::new("demo-customer", "demo-secret")?)
        .with_area(Area::Eu)
        .with_jitter(|| 0.5);
    let client = Client::builder(config)
        .with_service(emu.service())
        .build()?;
    let push = MediaPush::new(client.clone());
    let transcoder = Transcoder::new(client);
    let bar = fancy.then(|| {
        let b = indicatif::ProgressBar::new(8);
        b.set_draw_target(indicatif::ProgressDrawTarget::stdout());
        b
    });
    let mut rows = Vec::new();
    let mut main_id = String::new();
    for (i, name) in [
        "a named converter is created",
        "a 504 after commit recovers without a duplicate",
        "sequenced updates; immutable field refused",
        "a burst is smoothed under the QPS limit",
        "domain failover from a refusing host",
        "a declared converter is kept alive",
        "transcoding through 206 and the backup UID",
        "signed webhooks are verified",
    ]
    .into_iter()
    .enumerate()
    {
        match &bar {
            Some(b) => b.set_message(name),
            None => println!("[{}/8] {name} ...", i + 1),
        }
        let log_before = emu.request_log().len();
        let start = tokio::time::Instant::now();
        let outcome = match i {
            0 => {
                let r = create_named(&push, &emu).await;
                if let Ok(d) = &r {
                    main_id = d.split(' ').next().unwrap_or_default().to_string();
                }
                r
            }
            1 => recover_504(&push, &emu).await,
            2 => sequenced_updates(&push, &emu, &main_id).await,
            3 => burst(&push, &emu, &main_id).await,
            4 => failover(&push, &emu, &main_id).await,
            5 => kept_alive(&push, &emu).await,
            6 => transcoding(&transcoder, &emu).await,
            _ => webhooks(&emu).await,
        };
        let log = emu.request_log();
        let step_log = &log[log_before.min(log.len())..];
        let retries = step_log
            .iter()
            .filter(|l| l.status == 0 || l.status >= 400 || l.status == 206)
            .count();
        let row = Row {
            name,
            requests: step_log.len(),
            retries,
            time: start.elapsed(),
            outcome,
        };
        match (&bar, &row.outcome) {
            (Some(b), _) => b.inc(1),
            (None, Ok(detail)) => println!("      ok: {detail}"),
            (None, Err(e)) => println!("      FAILED: {e}"),
        }
        rows.push(row);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
        for r in &rows {
            match &r.outcome {
                Ok(d) => println!("ok      {}: {d}", r.name),
                Err(e) => println!("FAILED  {}: {e}", r.name),
            }
        }
    }
    Ok(rows)
}
