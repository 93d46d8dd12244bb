//! The operations of both services, as one closed set.
//!
//! Exists so that rate limits, classifiers and the transport's per-request descriptor all name an
//! operation the same way (docs/vendor-rules.md), instead of passing paths or strings around.

use std::fmt;

/// One of the two REST services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Media Push (RTMP converters), docs/vendor-rules.md
    MediaPush,
    /// Cloud Transcoding, docs/vendor-rules.md
    CloudTranscoding,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::MediaPush => "Media Push",
            Service::CloudTranscoding => "Cloud Transcoding",
        })
    }
}

/// One API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Media Push Create (`POST …/rtmp-converters`).
    PushCreate,
    /// Media Push Update (`PATCH …/rtmp-converters/{id}?sequence=N`).
    PushUpdate,
    /// Media Push Delete.
    PushDelete,
    /// Media Push Get.
    PushGet,
    /// Media Push List (per project or per channel).
    PushList,
    /// Cloud Transcoding Acquire (`POST …/builderTokens`).
    Acquire,
    /// Cloud Transcoding Create (`POST …/tasks?builderToken=`).
    TranscodeCreate,
    /// Cloud Transcoding Query.
    TranscodeQuery,
    /// Cloud Transcoding Update (`PATCH …/tasks/{id}?…&sequenceId=N`).
    TranscodeUpdate,
    /// Cloud Transcoding Delete.
    TranscodeDelete,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 10] = [
        Operation::PushCreate,
        Operation::PushUpdate,
        Operation::PushDelete,
        Operation::PushGet,
        Operation::PushList,
        Operation::Acquire,
        Operation::TranscodeCreate,
        Operation::TranscodeQuery,
        Operation::TranscodeUpdate,
        Operation::TranscodeDelete,
    ];

    /// The service the operation belongs to.
    pub const fn service(self) -> Service {
        match self {
            Operation::PushCreate
            | Operation::PushUpdate
            | Operation::PushDelete
            | Operation::PushGet
            | Operation::PushList => Service::MediaPush,
            _ => Service::CloudTranscoding,
        }
    }

    /// A short stable name, e.g. for span names and metrics: `push.create`, `transcode.query`.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::PushCreate => "push.create",
            Operation::PushUpdate => "push.update",
            Operation::PushDelete => "push.delete",
            Operation::PushGet => "push.get",
            Operation::PushList => "push.list",
            Operation::Acquire => "transcode.acquire",
            Operation::TranscodeCreate => "transcode.create",
            Operation::TranscodeQuery => "transcode.query",
            Operation::TranscodeUpdate => "transcode.update",
            Operation::TranscodeDelete => "transcode.delete",
        }
    }

    /// Whether sending the same request twice has the effect of sending it once.
    ///
    /// Creates are not: a second Media Push Create may start a second stream (or meet a 409),
    /// and a Cloud Transcoding Create may start a second task. Updates are, because they carry a
    /// sequence number and the highest one wins. Acquire only mints a spare token.
    pub const fn idempotent(self) -> bool {
        !matches!(self, Operation::PushCreate | Operation::TranscodeCreate)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
