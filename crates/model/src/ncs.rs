//! Typed NCS notification payloads: Media Push events 1–4 and Cloud Transcoding events 110–113
//! (docs/vendor-rules.md), on core's envelope.
//!
//! Exists so that a webhook receiver, the supervisors and the emulator agree on what each event
//! carries. Reading is tolerant (both `lts` units, the legacy `"seiOptions": ""`), and an unknown
//! event type is kept rather than refused.

use agora_rest_core::ncs::{Envelope, PRODUCT_MEDIA_PUSH};
use serde::{Deserialize, Serialize};
use serde_json::value::to_raw_value;

use crate::error::Error;
use crate::mediapush::ConverterInfo;
use crate::wire::{opt_u64_lenient, u64_lenient, wire_enum};

/// The product id the emulator puts on Cloud Transcoding notices. The docs are SILENT on it
/// (docs/vendor-rules.md); receivers here dispatch on `eventType` (110–113 belong to no other product),
/// so the value is informational only.
pub const PRODUCT_CLOUD_TRANSCODING_EMULATED: u32 = 0;

/// Media Push event types (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaPushEventKind {
    /// 1: converter created.
    Created,
    /// 2: converter configuration changed (Update).
    Updated,
    /// 3: converter state changed.
    StateChanged,
    /// 4: converter destroyed.
    Destroyed,
}

impl MediaPushEventKind {
    /// The `eventType` number.
    pub const fn event_type(self) -> u32 {
        match self {
            MediaPushEventKind::Created => 1,
            MediaPushEventKind::Updated => 2,
            MediaPushEventKind::StateChanged => 3,
            MediaPushEventKind::Destroyed => 4,
        }
    }

    /// The kind for an `eventType`, if it is a Media Push one.
    pub const fn from_event_type(t: u32) -> Option<Self> {
        match t {
            1 => Some(MediaPushEventKind::Created),
            2 => Some(MediaPushEventKind::Updated),
            3 => Some(MediaPushEventKind::StateChanged),
            4 => Some(MediaPushEventKind::Destroyed),
            _ => None,
        }
    }
}

wire_enum!(
    /// Why a converter was destroyed (event 4).
    DestroyReason {
        /// A Delete call.
        DeleteRequest => "Delete Request",
        /// No publisher for `idleTimeOut` seconds.
        IdleTimeout => "Idle Timeout",
        /// A service failure.
        InternalError => "Internal Error",
    }
);

/// The payload of a Media Push event.
///
/// One shape serves all four events: `converter` carries what each event documents (the full
/// converter for 1, id/times/state plus the changed subtree for 2, id/times/state for 3,
/// id/name/times for 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverterEventPayload {
    /// The converter, as much as the event carries.
    pub converter: ConverterInfo,
    /// Event time. Described as Unix ms, but every example is seconds (docs/vendor-rules.md AMBIGUOUS):
    /// kept as sent.
    #[serde(default, with = "u64_lenient")]
    pub lts: u64,
    /// The `X-Request-ID` of the call that caused it (events 1 and 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_request_id: Option<String>,
    /// Which converter fields are present (events 2–4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
    /// Why it was destroyed (event 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroy_reason: Option<DestroyReason>,
}

/// A Media Push notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPushEvent {
    /// Which event.
    pub kind: MediaPushEventKind,
    /// What it carries.
    pub payload: ConverterEventPayload,
}

wire_enum!(
    /// `details.event` of a Cloud Transcoding notification.
    TranscoderEventName {
        /// 110.
        Started => "cloud_transcoder_started",
        /// 111.
        Stopped => "cloud_transcoder_stopped",
        /// 112.
        Status => "cloud_transcoder_status",
        /// 113.
        Updated => "cloud_transcoder_updated",
    }
);

/// Cloud Transcoding event types (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TranscoderEventKind {
    /// 110: started.
    Started,
    /// 111: stopped.
    Stopped,
    /// 112: status (connecting/running/failed).
    Status,
    /// 113: updated.
    Updated,
}

impl TranscoderEventKind {
    /// The `eventType` number.
    pub const fn event_type(self) -> u32 {
        match self {
            TranscoderEventKind::Started => 110,
            TranscoderEventKind::Stopped => 111,
            TranscoderEventKind::Status => 112,
            TranscoderEventKind::Updated => 113,
        }
    }

    /// The kind for an `eventType`, if it is a Cloud Transcoding one.
    pub const fn from_event_type(t: u32) -> Option<Self> {
        match t {
            110 => Some(TranscoderEventKind::Started),
            111 => Some(TranscoderEventKind::Stopped),
            112 => Some(TranscoderEventKind::Status),
            113 => Some(TranscoderEventKind::Updated),
            _ => None,
        }
    }
}

/// `details` of a Cloud Transcoding notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderEventDetails {
    /// The event name.
    pub event: TranscoderEventName,
    /// 110: `"Transcoder success"`; 112: `connecting`, `running` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// 111: e.g. `"Stop request"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// 110 and 113: inputs, outputs and `userConfigDetail` (a JSON string holding the config,
    /// tokens included), kept as sent and printed redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcoder: Option<crate::echoed::EchoedJson>,
    /// Documented as seconds, but the examples are ms (docs/vendor-rules.md AMBIGUOUS): kept as sent.
    #[serde(
        default,
        with = "opt_u64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_ts: Option<u64>,
    /// As `create_ts`.
    #[serde(
        default,
        with = "opt_u64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_ts: Option<u64>,
}

/// The payload of a Cloud Transcoding notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscoderEventPayload {
    /// The task.
    pub task_id: String,
    /// The instance id it was started with.
    #[serde(default)]
    pub instance_id: String,
    /// A rising number per task.
    #[serde(default, with = "u64_lenient")]
    pub sequence: u64,
    /// Unix ms.
    #[serde(default, with = "u64_lenient")]
    pub sendts: u64,
    /// `rtsc/cloud-transcoder`.
    #[serde(default)]
    pub service_scene: String,
    /// The event detail.
    pub details: TranscoderEventDetails,
}

/// The service scene of every Cloud Transcoding notification.
pub const TRANSCODER_SERVICE_SCENE: &str = "rtsc/cloud-transcoder";

/// A Cloud Transcoding notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscoderEvent {
    /// Which event.
    pub kind: TranscoderEventKind,
    /// What it carries.
    pub payload: TranscoderEventPayload,
}

/// A typed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notification {
    /// Events 1–4 (boxed: a full converter is large).
    MediaPush(Box<MediaPushEvent>),
    /// Events 110–113 (boxed, like Media Push events).
    CloudTranscoding(Box<TranscoderEvent>),
    /// Any other event type: acknowledged, not interpreted.
    Other {
        /// The `eventType`.
        event_type: u32,
    },
}

impl Notification {
    /// Reads the payload of a verified envelope.
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, Error> {
        let raw = envelope.payload_json().as_bytes();
        if let Some(kind) = MediaPushEventKind::from_event_type(envelope.event_type) {
            let payload = crate::error::from_json("Media Push notification payload", raw)?;
            return Ok(Notification::MediaPush(Box::new(MediaPushEvent {
                kind,
                payload,
            })));
        }
        if let Some(kind) = TranscoderEventKind::from_event_type(envelope.event_type) {
            let payload = crate::error::from_json("Cloud Transcoding notification payload", raw)?;
            return Ok(Notification::CloudTranscoding(Box::new(TranscoderEvent {
                kind,
                payload,
            })));
        }
        Ok(Notification::Other {
            event_type: envelope.event_type,
        })
    }

    /// Wraps the notification in an envelope (the emulator's side).
    pub fn to_envelope(
        &self,
        notice_id: impl Into<String>,
        notify_ms: u64,
    ) -> Result<Envelope, Error> {
        let (product_id, event_type, payload) = match self {
            Notification::MediaPush(e) => (
                PRODUCT_MEDIA_PUSH,
                e.kind.event_type(),
                to_raw_value(&e.payload),
            ),
            Notification::CloudTranscoding(e) => (
                PRODUCT_CLOUD_TRANSCODING_EMULATED,
                e.kind.event_type(),
                to_raw_value(&e.payload),
            ),
            Notification::Other { event_type } => {
                (0, *event_type, to_raw_value(&serde_json::json!({})))
            }
        };
        let payload = payload.map_err(|e| Error::decode("notification payload", &e))?;
        Ok(Envelope {
            notice_id: notice_id.into(),
            product_id,
            event_type,
            notify_ms,
            payload,
        })
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    /// `webhook listen` prints notifications with `{:?}`: the config in `userConfigDetail`
    /// (a JSON string) shows without its tokens.
    #[test]
    fn a_started_notice_prints_without_tokens() {
        let body = br#"{"noticeId":"n-110","productId":0,"eventType":110,"notifyMs":1,
          "payload":{"taskId":"609f28f2644f1ae1ceb041b7047e3aaa","instanceId":"abc","sequence":1,"sendts":1,
            "details":{"event":"cloud_transcoder_started","state":"Transcoder success","transcoder":{"inputs":[],"outputs":[],
              "userConfigDetail":"{\"transcoder\":{\"outputs\":[{\"rtc\":{\"rtcChannel\":\"c\",\"rtcUid\":7,\"rtcToken\":\"007-SECRET-TOKEN\"}}]}}"},
              "createTs":1,"updateTs":1}}}"#;
        let envelope = Envelope::parse(body).unwrap();
        let n = Notification::from_envelope(&envelope).unwrap();
        let shown = format!("{n:?}");
        assert!(!shown.contains("007-SECRET-TOKEN"), "{shown}");
        assert!(shown.contains("rtcUid"), "{shown}");
    }
}
