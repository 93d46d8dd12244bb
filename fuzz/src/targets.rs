//! The fuzz targets: each turns bytes into calls of one part of the workspace and must never
//! panic, whatever the bytes.

use std::any::Any;

use agora_rest_core::ncs::{Envelope, SignatureKind, sign, verify};
use agora_rest_emulator::{Emulator, EmulatorService};
use agora_rest_model::ErrorBody;
use agora_rest_model::mediapush::{
    ConverterResponse, CreateConverterRequest, GetConverterResponse, ListConvertersResponse,
    UpdateConverterRequest,
};
use agora_rest_model::ncs::Notification;
use agora_rest_model::transcoder::{AcquireResponse, CreateTaskRequest, Task};
use bytes::Bytes;
use tower::ServiceExt;

/// A fuzz target.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) setup: fn() -> Box<dyn Any>,
    pub(crate) corpus: fn() -> Vec<Vec<u8>>,
    pub(crate) run: fn(&mut Box<dyn Any>, &[u8]),
}

pub(crate) const ALL: &[Target] = &[
    Target {
        name: "emulator",
        setup: emulator_setup,
        corpus: emulator_corpus,
        run: emulator_run,
    },
    Target {
        name: "ncs",
        setup: no_state,
        corpus: crate::corpus::golden,
        run: ncs_run,
    },
    Target {
        name: "decoders",
        setup: no_state,
        corpus: crate::corpus::golden,
        run: decoders_run,
    },
];

fn no_state() -> Box<dyn Any> {
    Box::new(())
}

// ---- the emulator's request handling -------------------------------------------------------

struct EmulatorState {
    runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    service: EmulatorService,
    runs: u64,
}

fn emulator_setup() -> Box<dyn Any> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("a current-thread runtime: {e}"));
    let emulator = runtime.block_on(async { Emulator::builder().build() });
    let service = emulator.service();
    Box::new(EmulatorState {
        runtime,
        emulator,
        service,
        runs: 0,
    })
}

/// The routes, with `{}` where an id or channel goes.
const ROUTES: &[&str] = &[
    "/na/v1/projects/app/rtmp-converters",
    "/eu/v1/projects/app/rtmp-converters/{}",
    "/v1/projects/app/rtmp-converters",
    "/v1/projects/app/channels/{}/rtmp-converters",
    "/v1/projects/app/rtsc/cloud-transcoder/builderTokens",
    "/v1/projects/app/rtsc/cloud-transcoder/tasks?builderToken={}",
    "/v1/projects/app/rtsc/cloud-transcoder/tasks/{}?builderToken={}&sequenceId=1&updateMask=services.cloudTranscoder.config",
    "/na/v1/projects/app/rtmp-converters/{}?sequence={}",
    "//v1/projects/{}/rtmp-converters",
];

const METHODS: &[http::Method] = &[
    http::Method::GET,
    http::Method::POST,
    http::Method::PATCH,
    http::Method::DELETE,
    http::Method::PUT,
];

/// Request bodies (the first three bytes pick the method, route and headers).
fn emulator_corpus() -> Vec<Vec<u8>> {
    crate::corpus::golden()
        .into_iter()
        .map(|body| {
            let mut v = vec![1, 0, 0];
            v.extend(body);
            v
        })
        .collect()
}

/// Percent-encodes what is not a URI path character, so that most inputs form a request.
fn segment(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(80) {
        if b.is_ascii_alphanumeric() || b"-._~%+".contains(b) {
            s.push(char::from(*b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn emulator_run(state: &mut Box<dyn Any>, input: &[u8]) {
    let Some(st) = state.downcast_mut::<EmulatorState>() else {
        return;
    };
    st.runs += 1;
    if st.runs % 5_000 == 0 {
        st.emulator.reset();
    }
    let pick = |i: usize| input.get(i).copied().unwrap_or(0);
    let method = METHODS[usize::from(pick(0)) % METHODS.len()].clone();
    let route = ROUTES[usize::from(pick(1)) % ROUTES.len()];
    let headers = pick(2);
    let rest = input.get(3..).unwrap_or_default();
    let split = rest.len().min(usize::from(headers) % 40);
    let path = route.replace("{}", &segment(&rest[..split]));
    let mut req = http::Request::builder()
        .method(method)
        .uri(format!("https://api.agora.io{path}"));
    if headers & 1 == 0 {
        req = req.header("authorization", "Basic Y2lkOmNzZWNyZXQ=");
    }
    if headers & 2 == 0 {
        req = req.header("content-type", "application/json");
    }
    if headers & 4 != 0 {
        req = req.header("x-request-id", segment(&rest[..split]));
    }
    let Ok(req) = req.body(Bytes::copy_from_slice(&rest[split..])) else {
        return;
    };
    let service = st.service.clone();
    let _ = st.runtime.block_on(service.oneshot(req));
}

// ---- the NCS verifier and parser ---------------------------------------------------------

fn ncs_run(_: &mut Box<dyn Any>, input: &[u8]) {
    let secret = b"fuzz-secret";
    // Half the inputs carry a valid signature, so that parsing goes past the check.
    let v2 = if input.first().is_some_and(|b| b & 1 == 0) {
        sign(SignatureKind::V2Sha256, secret, input)
    } else {
        String::from_utf8_lossy(&input[..input.len().min(64)]).to_string()
    };
    let v1 = String::from_utf8_lossy(&input[input.len().saturating_sub(40)..]).to_string();
    let _ = verify(secret, input, Some(&v2), None);
    let _ = verify(secret, input, None, Some(&v1));
    let _ = verify(secret, input, None, None);
    if let Ok(envelope) = Envelope::parse(input) {
        let _ = envelope.payload_json();
        if let Ok(n) = Notification::from_envelope(&envelope) {
            let _ = format!("{n:?}");
        }
    }
}

// ---- every decoder of a server response (and of the requests the emulator reads) -----------

fn decoders_run(_: &mut Box<dyn Any>, input: &[u8]) {
    let _ = serde_json::from_slice::<ConverterResponse>(input);
    if let Ok(g) = serde_json::from_slice::<GetConverterResponse>(input) {
        let _ = format!("{g:?}");
    }
    let _ = serde_json::from_slice::<ListConvertersResponse>(input);
    let _ = serde_json::from_slice::<AcquireResponse>(input);
    if let Ok(t) = serde_json::from_slice::<Task>(input) {
        let _ = t.status.is_started();
        let _ = format!("{t:?}");
        let _ = serde_json::to_vec(&t);
    }
    let body = ErrorBody::parse_lenient(input);
    let _ = body.text();
    if let Ok(r) = serde_json::from_slice::<CreateConverterRequest>(input) {
        let _ = r.validate();
    }
    if let Ok(r) = serde_json::from_slice::<UpdateConverterRequest>(input) {
        let _ = r.validate(r.converter.shape());
        let _ = serde_json::to_vec(&r);
    }
    if let Ok(r) = serde_json::from_slice::<CreateTaskRequest>(input) {
        let _ = r.validate();
    }
}
