//! Acquire and the task object (docs/vendor-rules.md).

use std::fmt;

use agora_rest_core::error::Error as CoreError;
use agora_rest_core::name::validate_instance_id;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::config::Services;
use crate::echoed::EchoedJson;
use crate::error::Error;
use crate::secret::BuilderToken;
use crate::wire::{u64_lenient, wire_enum};

/// The body of Acquire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcquireRequest {
    /// ≤64 of `[A-Za-z0-9_-]`; one instance id can mint many tokens.
    pub instance_id: String,
    /// The current English page marks it required; the Chinese doc and the Go client send only
    /// `instanceId`. Optional here (docs/vendor-rules.md AMBIGUOUS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Services>,
}

impl AcquireRequest {
    /// An Acquire for `instance_id`.
    pub fn new(instance_id: impl Into<String>) -> Self {
        AcquireRequest {
            instance_id: instance_id.into(),
            services: None,
        }
    }

    /// Checks the instance id.
    pub fn validate(&self) -> Result<(), Error> {
        validate_instance_id(&self.instance_id)?;
        Ok(())
    }
}

/// Reads a string or a number as a string (`instanceId` is "Number" in one doc, a string in
/// every example).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string, got {other}"
        ))),
    }
}

/// The body of an Acquire response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcquireResponse {
    /// Unix seconds.
    #[serde(with = "u64_lenient")]
    pub create_ts: u64,
    /// The instance id the token was minted for.
    #[serde(deserialize_with = "string_or_number")]
    pub instance_id: String,
    /// The builder token (never printed).
    pub token_name: BuilderToken,
}

/// `sequenceId`: a number that travels as a string (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SequenceId(pub u64);

impl fmt::Display for SequenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for SequenceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SequenceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::wire::u64_lenient::deserialize(d).map(SequenceId)
    }
}

impl std::str::FromStr for SequenceId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, CoreError> {
        s.trim()
            .parse()
            .map(SequenceId)
            .map_err(|_| CoreError::InvalidValue {
                field: "sequenceId".into(),
                value: s.to_string(),
                rule: "a non-negative integer",
            })
    }
}

wire_enum!(
    /// A task's top-level `status` (docs/vendor-rules.md).
    TaskStatus {
        /// `IDLE`.
        Idle => "IDLE",
        /// `PREPARED`.
        Prepared => "PREPARED",
        /// `STARTING`.
        Starting => "STARTING",
        /// `CREATED`.
        Created => "CREATED",
        /// `STARTED`: started (Create's answer).
        Started => "STARTED",
        /// `IN_PROGRESS`: running.
        InProgress => "IN_PROGRESS",
        /// `STOPPING`.
        Stopping => "STOPPING",
        /// `STOPPED`: stopped (Delete's answer).
        Stopped => "STOPPED",
        /// `EXIT`.
        Exit => "EXIT",
        /// `FAILURE_STOP`.
        FailureStop => "FAILURE_STOP",
    }
);

impl TaskStatus {
    /// `STARTED` or `IN_PROGRESS`: the guide's definition of a started transcoder (the Cloud Transcoding service-status guide).
    pub fn is_started(&self) -> bool {
        matches!(self, TaskStatus::Started | TaskStatus::InProgress)
    }

    /// `STOPPED`, `EXIT` or `FAILURE_STOP`: the task has ended.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TaskStatus::Stopped | TaskStatus::Exit | TaskStatus::FailureStop
        )
    }
}

wire_enum!(
    /// `services.cloudTranscoder.status`, diagnostic only (docs/vendor-rules.md, the Cloud Transcoding service-status guide).
    ServiceStatus {
        /// Not started.
        Idle => "serviceIdle",
        /// Ready to start.
        Ready => "serviceReady",
        /// Started.
        Started => "serviceStarted",
        /// Running.
        InProgress => "serviceInProgress",
        /// Stopped, all done.
        Completed => "serviceCompleted",
        /// Stopped, partly done.
        PartialCompleted => "servicePartialCompleted",
        /// Parameter validation failed.
        ValidationFailed => "serviceValidationFailed",
        /// Exited unexpectedly.
        Abnormal => "serviceAbnormal",
        /// Unknown.
        Unknown => "serviceUnknown",
    }
);

/// `services.cloudTranscoder` in a task object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskService {
    /// Echo of the request config (the docs' example shows `{}`). It holds the RTC tokens, so
    /// it prints redacted; [`EchoedJson::expose`] gives the raw value.
    #[serde(default)]
    pub config: EchoedJson,
    /// Unix seconds.
    #[serde(default, with = "u64_lenient")]
    pub create_ts: u64,
    /// Reserved.
    #[serde(default)]
    pub details: serde_json::Value,
    /// E.g. `OnSlaveServiceQueryUpdated`.
    #[serde(default)]
    pub message: String,
    /// `cloudTranscoderV2`.
    #[serde(default)]
    pub service_type: String,
    /// The service status (`serviceUnknown` when the answer leaves it out).
    #[serde(default = "unknown_service_status")]
    pub status: ServiceStatus,
}

fn unknown_service_status() -> ServiceStatus {
    ServiceStatus::Unknown
}

impl Default for TaskService {
    fn default() -> Self {
        TaskService {
            config: EchoedJson::default(),
            create_ts: 0,
            details: serde_json::Value::Null,
            message: String::new(),
            service_type: String::new(),
            status: ServiceStatus::Unknown,
        }
    }
}

/// `services` in a task object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskServices {
    /// `cloudTranscoder`.
    #[serde(default)]
    pub cloud_transcoder: TaskService,
}

/// The task object returned by Create, Query and Delete (docs/vendor-rules.md).
///
/// Decoded leniently: only `taskId` and `status` are required, because they are all a client
/// needs, and a Create answered with a bare `{"taskId","status","createTs"}` must not lose the
/// task it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Unix seconds (0 when absent).
    #[serde(default, with = "u64_lenient")]
    pub create_ts: u64,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_handlers: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Value>,
    /// The last applied update's sequence number.
    #[serde(default)]
    pub sequence_id: SequenceId,
    /// The service detail (empty when absent).
    #[serde(default)]
    pub services: TaskServices,
    /// The top-level status: what decides "started".
    pub status: TaskStatus,
    /// 32 hex characters.
    pub task_id: String,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<serde_json::Value>,
    /// Reserved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflows: Option<serde_json::Value>,
}

#[cfg(test)]
mod lenient_tests {
    use super::*;

    /// A Create answered with only what the client needs decodes; nothing else is required.
    #[test]
    fn a_bare_create_answer_decodes() {
        let t: Task = serde_json::from_str(
            r#"{"taskId":"0123456789abcdef0123456789abcdef","status":"STARTED","createTs":1}"#,
        )
        .unwrap();
        assert_eq!(t.task_id, "0123456789abcdef0123456789abcdef");
        assert_eq!(t.status, TaskStatus::Started);
        assert_eq!(t.services.cloud_transcoder.status, ServiceStatus::Unknown);
        let t: Task = serde_json::from_str(r#"{"taskId":"x","status":"IN_PROGRESS"}"#).unwrap();
        assert_eq!((t.create_ts, t.sequence_id.0), (0, 0));
        assert!(serde_json::from_str::<Task>(r#"{"status":"STARTED"}"#).is_err());
    }
}
