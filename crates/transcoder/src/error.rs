//! The one error type of `agora-rest-transcoder`.

/// Why a Cloud Transcoding call or procedure failed.
///
/// Exists so that an application can tell bad input (nothing sent) from a refusal, a startup
/// that never confirmed, and a network failure; Display includes the request id where there is
/// one, and every error that concerns a task names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field breaks a rule of the service; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] agora_rest_model::Error),

    /// The task did not reach `STARTED` or `IN_PROGRESS` within 90 s of its task id.
    #[error(
        "task {task_id} did not start within 90 s (last status {last_status}){}",
        if *stopped { "; it was stopped" } else { "; it was left as it is" }
    )]
    StartupTimedOut {
        /// The task.
        task_id: String,
        /// The last status Query showed.
        last_status: String,
        /// Whether the task was stopped afterwards ([`StartSpec::stop_on_startup_timeout`](crate::StartSpec)).
        stopped: bool,
    },

    /// The task reached a final status (`FAILURE_STOP`, `EXIT`, `STOPPED`) before it started.
    #[error("task {task_id} ended with status {status} before it started")]
    StartupEnded {
        /// The task.
        task_id: String,
        /// The final status.
        status: String,
    },

    /// A startup Query was refused for good (a 40x other than 404 and 429, or an answer that
    /// cannot be decoded): waiting the 90 s out would not help.
    #[error("task {task_id}: startup check failed: {source}")]
    StartupQueryFailed {
        /// The task.
        task_id: String,
        /// The refusal.
        #[source]
        source: Box<agora_rest_transport::Error>,
    },

    /// The service says a task already runs for this instance (409) without naming it.
    #[error("a task already runs for instance {instance_id}{}", task_id.as_ref().map(|t| format!(" (task {t}, known from an earlier attempt)")).unwrap_or_else(|| " and the service did not name it".into()))]
    AlreadyStarted {
        /// The instance id.
        instance_id: String,
        /// The task id, when an earlier attempt of the same start learnt it.
        task_id: Option<String>,
    },

    /// Create failed on every UID and token the procedure allows.
    #[error("create gave up after {rounds} rounds and {creates} Creates: {last}")]
    CreateGaveUp {
        /// Rounds (UID and token changes) tried.
        rounds: usize,
        /// Create requests sent in all.
        creates: usize,
        /// The last failure.
        #[source]
        last: Box<agora_rest_transport::Error>,
    },

    /// The output token provider has no token for a UID; nothing was sent with that UID.
    #[error("no output token for UID {uid}: {reason}")]
    Tokens {
        /// The UID.
        uid: u32,
        /// The provider's reason.
        reason: String,
    },

    /// The transport failed or the service refused; see the inner error.
    #[error(transparent)]
    Transport(#[from] agora_rest_transport::Error),
}

impl Error {
    /// The transport error behind this one, if any.
    fn transport(&self) -> Option<&agora_rest_transport::Error> {
        match self {
            Error::Transport(e) => Some(e),
            Error::CreateGaveUp { last, .. } => Some(last),
            Error::StartupQueryFailed { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The request id of the failed call, if the service was reached.
    pub fn request_id(&self) -> Option<&str> {
        self.transport()
            .and_then(agora_rest_transport::Error::request_id)
    }

    /// The `X-Resource-ID` of the last answer, if any.
    pub fn resource_id(&self) -> Option<&str> {
        self.transport()
            .and_then(agora_rest_transport::Error::resource_id)
    }

    /// The HTTP status of the service's last answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.transport()
            .and_then(agora_rest_transport::Error::status)
    }

    /// The task the error concerns, when one is known.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Error::StartupTimedOut { task_id, .. }
            | Error::StartupEnded { task_id, .. }
            | Error::StartupQueryFailed { task_id, .. } => Some(task_id),
            Error::AlreadyStarted { task_id, .. } => task_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the service said the task does not exist.
    pub fn is_not_found(&self) -> bool {
        self.transport()
            .is_some_and(agora_rest_transport::Error::is_not_found)
    }

    /// Whether the request rate held the call back (waiting helps).
    pub fn is_throttled(&self) -> bool {
        self.transport()
            .is_some_and(agora_rest_transport::Error::is_throttled)
    }

    /// Whether a concurrency quota is full (ending a task helps, waiting does not).
    pub fn is_quota_exceeded(&self) -> bool {
        self.transport()
            .is_some_and(agora_rest_transport::Error::is_quota_exceeded)
    }
}

impl From<agora_rest_core::Error> for Error {
    fn from(e: agora_rest_core::Error) -> Self {
        Error::Invalid(agora_rest_model::Error::Invalid(e))
    }
}
