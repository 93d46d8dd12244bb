//! Helpers for the emulator's tests: requests through the in-memory service.

#![allow(dead_code, clippy::unwrap_used)]

use agora_rest_emulator::{Emulator, EmulatorService};
use agora_rest_model::mediapush::{
    AudioOptions, ConverterBuilder, CreateConverterRequest, LayoutElement, LayoutRegion,
    VideoOptions,
};
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use serde_json::Value;
use tower::ServiceExt;

/// Basic base64("cid:csecret").
pub(crate) const AUTH: &str = "Basic Y2lkOmNzZWNyZXQ=";

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) raw: Bytes,
    pub(crate) headers: HeaderMap,
}

pub(crate) struct T {
    pub(crate) emu: Emulator,
    svc: EmulatorService,
}

impl T {
    pub(crate) fn new(emu: Emulator) -> Self {
        let svc = emu.service();
        T { emu, svc }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("https://api.agora.io{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body
            .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap()))
            .unwrap_or_default();
        let resp = self
            .svc
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp.into_body();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            raw,
            headers,
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, &[("authorization", AUTH)])
            .await
    }
}

pub(crate) fn converter(name: &str, channel: &str, w: u32, h: u32) -> Value {
    let c = ConverterBuilder::transcoded(channel, "rtmp://push.example.com/live/x")
        .name(name)
        .audio(AudioOptions::default())
        .video(
            VideoOptions::new(w, h, 1000).with_layout(vec![LayoutElement::stream(
                1,
                LayoutRegion::new(0, 0, w, h),
            )]),
        )
        .build()
        .unwrap();
    serde_json::to_value(CreateConverterRequest::new(c)).unwrap()
}

pub(crate) const PUSH: &str = "/na/v1/projects/app/rtmp-converters";

pub(crate) async fn create(t: &T, name: &str) -> String {
    let a = t
        .call(
            Method::POST,
            PUSH,
            Some(converter(name, "show68", 640, 360)),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["converter"]["id"].as_str().unwrap().to_string()
}
