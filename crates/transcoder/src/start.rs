//! The startup procedure of SEEDS 004, as one call.
//!
//! Acquire → Create within 2 s (acquire again if the token is older). 206 or 50x → Create again
//! with the same token after 3 s, 6 s, 9 s; then the backup UID, a new Acquire and Create.
//! Error code 65 → the same request after 3 s, 6 s. 409 → the task already started: adopt it.
//! Other 40x → a typed error. Then Query 5 s after the task id and back off until `STARTED` or
//! `IN_PROGRESS`; not started 90 s after the task id is a startup failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_rest_core::backoff::{Schedule, TRANSCODER_CREATE_RETRY};
use agora_rest_core::classify::{Action, Exhausted, classify};
use agora_rest_core::health::{StartupCheck, StartupObservation, StartupVerdict, UidRotation};
use agora_rest_core::name::{UidPair, validate_instance_id};
use agora_rest_core::operation::Operation;
use agora_rest_model::limits::TRANSCODER_IDLE_TIMEOUT_DEFAULT;
use agora_rest_model::transcoder::{CreateTaskRequest, Task, TranscoderConfig};
use agora_rest_transport::Call;

use crate::Error;
use crate::client::{AcquiredToken, TASK_PATH, Transcoder};
use crate::handle::TaskHandle;

/// What to start: the instance id, the transcoder's primary and backup output UIDs, and the
/// config (its RTC outputs get the UID in use).
#[derive(Debug, Clone)]
pub struct StartSpec {
    /// Groups tokens; one task runs per instance id.
    pub instance_id: String,
    /// The output UIDs to alternate between on re-create.
    pub uids: UidPair,
    /// The transcoder config.
    pub config: TranscoderConfig,
    /// How many UID/token rounds Create may take before giving up (default 4).
    pub max_rounds: usize,
}

impl StartSpec {
    /// Validates the instance id and the config before anything is sent.
    pub fn new(
        instance_id: impl Into<String>,
        uids: UidPair,
        config: TranscoderConfig,
    ) -> Result<Self, Error> {
        let instance_id = instance_id.into();
        validate_instance_id(&instance_id)?;
        config.clone().with_output_uid(uids.primary()).validate()?;
        Ok(StartSpec {
            instance_id,
            uids,
            config,
            max_rounds: 4,
        })
    }

    /// The spec with the primary and backup UIDs swapped (a restart starts on the other one).
    pub(crate) fn rotated(&self) -> Self {
        let mut s = self.clone();
        if let Ok(p) = UidPair::new(self.uids.backup(), self.uids.primary()) {
            s.uids = p;
        }
        s
    }
}

/// A created or adopted task, by id.
enum Created {
    Task(String),
    Adopt(String),
}

fn task_id_in(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("taskId")?.as_str().map(str::to_string)
}

impl Transcoder {
    /// Starts a task and confirms it started; see the module doc for the procedure.
    pub async fn start(&self, spec: StartSpec) -> Result<TaskHandle, Error> {
        self.start_inner(spec, None).await
    }

    /// As [`start`](Self::start), beginning with an already acquired token (acquired again
    /// if it is older than 2 s).
    pub async fn start_with_token(
        &self,
        spec: StartSpec,
        token: AcquiredToken,
    ) -> Result<TaskHandle, Error> {
        self.start_inner(spec, Some(token)).await
    }

    async fn start_inner(
        &self,
        spec: StartSpec,
        mut token: Option<AcquiredToken>,
    ) -> Result<TaskHandle, Error> {
        let mut uids = UidRotation::new(spec.uids);
        let mut last: Option<agora_rest_transport::Error> = None;
        for round in 0..spec.max_rounds.max(1) {
            if round > 0 {
                uids.rotate();
                token = None;
            }
            let config = spec.config.clone().with_output_uid(uids.current());
            let request = CreateTaskRequest::new(config.clone());
            request.validate()?;
            let tok = match token.take() {
                Some(t) if t.fresh() => t,
                _ => self.acquire(&spec.instance_id).await?,
            };
            let created = match self.create_with_retries(&tok, &request).await {
                Ok(c) => c,
                Err(CreateFailure::NextRound(e)) => {
                    last = Some(e);
                    continue;
                }
                Err(CreateFailure::Fatal(e)) => return Err(e),
            };
            let task_id = match created {
                Created::Task(id) | Created::Adopt(id) => id,
            };
            let idle = Duration::from_secs(u64::from(
                config
                    .idle_timeout
                    .unwrap_or(TRANSCODER_IDLE_TIMEOUT_DEFAULT),
            ));
            self.confirm_startup(&task_id, &tok, idle).await?;
            return Ok(TaskHandle {
                transcoder: self.clone(),
                task_id,
                token: tok.token,
                instance_id: spec.instance_id.clone(),
                uid: uids.current(),
                config: Arc::new(Mutex::new(config)),
                spec: spec.clone(),
                update_lock: Arc::default(),
            });
        }
        Err(Error::CreateGaveUp {
            rounds: spec.max_rounds.max(1),
            last: Box::new(last.unwrap_or(agora_rest_transport::Error::MissingCall)),
        })
    }

    /// Create with the same token until it works, the plan says "new UID", or it fails for good.
    async fn create_with_retries(
        &self,
        tok: &AcquiredToken,
        request: &CreateTaskRequest,
    ) -> Result<Created, CreateFailure> {
        let mut plan_in_use: Option<Schedule> = None;
        let mut retries = 0;
        loop {
            let outcome = self.create_once(tok, request).await;
            let (action, error) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match classify(Operation::TranscodeCreate, status, None) {
                        Action::Success => {
                            let task: Task = serde_json::from_slice(resp.body()).map_err(|e| {
                                CreateFailure::Fatal(Error::Transport(
                                    agora_rest_transport::Error::Decode {
                                        what: "Create response".into(),
                                        reason: e.to_string(),
                                        request_id: None,
                                    },
                                ))
                            })?;
                            return Ok(Created::Task(task.task_id));
                        }
                        Action::AlreadyStarted => {
                            return match task_id_in(resp.body()) {
                                Some(id) => Ok(Created::Adopt(id)),
                                None => Err(CreateFailure::Fatal(Error::AlreadyStarted {
                                    instance_id: tok.instance_id.clone(),
                                })),
                            };
                        }
                        action => (action, None),
                    }
                }
                Err(e) => {
                    let action = match e.status_error() {
                        Some(s) => s.action,
                        // No answer: it may have been applied; a resend with the same token
                        // meets a 409 naming the task if it was.
                        None if e.maybe_applied() || e.not_sent() => {
                            Action::Retry(agora_rest_core::classify::RetryPlan {
                                schedule: TRANSCODER_CREATE_RETRY,
                                reason: agora_rest_core::classify::RetryReason::ServerError,
                                then: Exhausted::NewUidAndAcquire,
                            })
                        }
                        None => Action::Failed,
                    };
                    (action, Some(e))
                }
            };
            match action {
                Action::AlreadyStarted => {
                    let body = error
                        .as_ref()
                        .and_then(|e| e.status_error())
                        .map(|s| s.body.clone())
                        .unwrap_or_default();
                    return match task_id_in(&body) {
                        Some(id) => Ok(Created::Adopt(id)),
                        None => Err(CreateFailure::Fatal(Error::AlreadyStarted {
                            instance_id: tok.instance_id.clone(),
                        })),
                    };
                }
                Action::Retry(plan) => {
                    if plan_in_use != Some(plan.schedule) {
                        plan_in_use = Some(plan.schedule);
                        retries = 0;
                    }
                    let err = error.unwrap_or(agora_rest_transport::Error::MissingCall);
                    match plan.schedule.delay(retries, self.client.jitter()) {
                        Some(d) => {
                            tracing::debug!(?d, ?plan.reason, "create again with the same token");
                            tokio::time::sleep(d).await;
                            retries += 1;
                        }
                        None if plan.then == Exhausted::NewUidAndAcquire => {
                            return Err(CreateFailure::NextRound(err));
                        }
                        None => return Err(CreateFailure::Fatal(err.into())),
                    }
                }
                _ => {
                    return Err(CreateFailure::Fatal(match error {
                        Some(e) => e.into(),
                        None => Error::AlreadyStarted {
                            instance_id: tok.instance_id.clone(),
                        },
                    }));
                }
            }
        }
    }

    /// Queries from 5 s after the task id until started, or fails at 90 s.
    async fn confirm_startup(
        &self,
        task_id: &str,
        tok: &AcquiredToken,
        idle: Duration,
    ) -> Result<(), Error> {
        let origin = tokio::time::Instant::now();
        let mut check = StartupCheck::new(Duration::ZERO, idle);
        let mut at = check.first_query_at();
        let mut last_status = String::from("none");
        loop {
            tokio::time::sleep_until(origin + at).await;
            let call = Call::new(Operation::TranscodeQuery, TASK_PATH).without_status_retries();
            let observation = match self.query_with(task_id, &tok.token, call).await {
                Ok(task) => {
                    last_status = task.status.to_string();
                    if task.status.is_started() {
                        StartupObservation::Started
                    } else {
                        StartupObservation::NotYet
                    }
                }
                Err(_) => StartupObservation::NotYet,
            };
            match check.observe(observation, origin.elapsed()) {
                StartupVerdict::Started => return Ok(()),
                StartupVerdict::QueryAt(next) => at = next,
                StartupVerdict::TimedOut => {
                    return Err(Error::StartupTimedOut {
                        task_id: task_id.to_string(),
                        last_status,
                    });
                }
            }
        }
    }
}

enum CreateFailure {
    NextRound(agora_rest_transport::Error),
    Fatal(Error),
}
