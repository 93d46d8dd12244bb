//! The one error type of `agora-rest-transcoder`.

/// Why a Cloud Transcoding call or procedure failed.
///
/// Exists so that an application can tell bad input (nothing sent) from a refusal, a startup
/// that never confirmed, and a network failure; Display includes the request id where there is
/// one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field breaks a rule of the service; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] agora_rest_model::Error),

    /// The task did not reach `STARTED` or `IN_PROGRESS` within 90 s of its task id.
    #[error("task {task_id} did not start within 90 s (last status {last_status})")]
    StartupTimedOut {
        /// The task.
        task_id: String,
        /// The last status Query showed.
        last_status: String,
    },

    /// The service says a task already runs for this instance, without naming it.
    #[error("a task already runs for instance {instance_id} and the service did not name it")]
    AlreadyStarted {
        /// The instance id.
        instance_id: String,
    },

    /// Create failed on every UID and token the procedure allows.
    #[error("create failed on both UIDs after {rounds} rounds")]
    CreateGaveUp {
        /// Rounds tried.
        rounds: usize,
        /// The last failure.
        #[source]
        last: Box<agora_rest_transport::Error>,
    },

    /// The transport failed or the service refused; see the inner error.
    #[error(transparent)]
    Transport(#[from] agora_rest_transport::Error),
}

impl Error {
    /// The request id of the failed call, if the service was reached.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Transport(e) => e.request_id(),
            Error::CreateGaveUp { last, .. } => last.request_id(),
            _ => None,
        }
    }
}

impl From<agora_rest_core::Error> for Error {
    fn from(e: agora_rest_core::Error) -> Self {
        Error::Invalid(agora_rest_model::Error::Invalid(e))
    }
}
