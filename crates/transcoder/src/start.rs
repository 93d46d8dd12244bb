//! The startup procedure of the Cloud Transcoding guide (`docs/vendor-rules.md`), as one call.
//!
//! Acquire → Create within 2 s of the Acquire *request*; every Create attempt is checked
//! against that window just before it goes out (failover included), and a token past it is
//! replaced by a new Acquire, never sent. 206 or 50x → Create again after 3 s, 6 s, 9 s; then
//! the backup UID (with its own output token), a new Acquire and Create. Error code 65 → the
//! same request after 3 s, 6 s. 409 → the task already started: adopt it. Other 40x → a typed
//! error. Then Query 5 s after the task id and back off until `STARTED` or `IN_PROGRESS`; a
//! final status ends startup at once; not started 90 s after the task id is a startup failure,
//! after which the task is stopped (configurable).
//!
//! Every loop is bounded: a round (one UID) sends at most
//! [`StartSpec::max_creates_per_round`] Creates, whatever mix of 206, 50x and code 65 comes
//! back (the retries count across kinds), and a start makes at most [`StartSpec::max_rounds`]
//! rounds.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_rest_core::backoff::TRANSCODER_CREATE_RETRY;
use agora_rest_core::classify::{Action, Exhausted, RetryPlan, RetryReason, classify};
use agora_rest_core::health::{StartupCheck, StartupObservation, StartupVerdict, UidRotation};
use agora_rest_core::name::{UidPair, validate_instance_id};
use agora_rest_core::operation::Operation;
use agora_rest_model::limits::TRANSCODER_IDLE_TIMEOUT_DEFAULT;
use agora_rest_model::transcoder::{CreateTaskRequest, Output, Task, TranscoderConfig};
use agora_rest_transport::{Call, ResponseIds, StatusError};

use crate::Error;
use crate::client::{AcquiredToken, TASK_PATH, Transcoder};
use crate::handle::TaskHandle;
use crate::tokens::OutputTokens;

/// Creates one round (one UID) sends at most, by default: the first and the guide's three
/// retries.
pub const DEFAULT_MAX_CREATES_PER_ROUND: usize = 4;

/// Rounds (UID and token changes) one start makes at most, by default.
pub const DEFAULT_MAX_ROUNDS: usize = 4;

/// What to start: the instance id, the transcoder's primary and backup output UIDs, the
/// config (its RTC outputs name the primary UID and publish as the UID in use: a re-create
/// switches them to the backup), and where each UID's output token comes from.
#[derive(Clone)]
pub struct StartSpec {
    /// Groups tokens; one task runs per instance id.
    pub instance_id: String,
    /// The output UIDs to alternate between on re-create.
    pub uids: UidPair,
    /// The transcoder config. Its RTC outputs' UID and token are set per round.
    pub config: TranscoderConfig,
    /// The output token of each UID.
    pub tokens: Arc<dyn OutputTokens>,
    /// How many UID/token rounds Create may take before giving up (default 4).
    pub max_rounds: usize,
    /// How many Creates one round may send, retries of every kind together (default 4).
    pub max_creates_per_round: usize,
    /// Stop a task that did not start within 90 s (default true), so that it does not run on
    /// unseen, holding its UID and quota.
    pub stop_on_startup_timeout: bool,
}

impl fmt::Debug for StartSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartSpec")
            .field("instance_id", &self.instance_id)
            .field("uids", &self.uids)
            .field("config", &self.config)
            .field("max_rounds", &self.max_rounds)
            .field("max_creates_per_round", &self.max_creates_per_round)
            .field("stop_on_startup_timeout", &self.stop_on_startup_timeout)
            .finish_non_exhaustive()
    }
}

impl StartSpec {
    /// Validates the instance id, the config and the tokens of both UIDs before anything is
    /// sent.
    pub fn new(
        instance_id: impl Into<String>,
        uids: UidPair,
        config: TranscoderConfig,
        tokens: impl OutputTokens + 'static,
    ) -> Result<Self, Error> {
        let spec = StartSpec {
            instance_id: instance_id.into(),
            uids,
            config,
            tokens: Arc::new(tokens),
            max_rounds: DEFAULT_MAX_ROUNDS,
            max_creates_per_round: DEFAULT_MAX_CREATES_PER_ROUND,
            stop_on_startup_timeout: true,
        };
        validate_instance_id(&spec.instance_id)?;
        // The start procedure publishes as the pair's UIDs: an output naming another UID
        // would be silently overwritten, so it is refused instead.
        for (i, uid) in spec
            .config
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| Some((i, o.rtc_uid()?)))
        {
            if uid != uids.primary() && uid != uids.backup() {
                return Err(agora_rest_core::Error::InvalidValue {
                    field: format!("outputs[{i}].rtc.rtcUid").into(),
                    value: uid.to_string(),
                    rule: "must be the UID pair's primary or backup UID: the task publishes as those",
                }
                .into());
            }
        }
        for uid in [uids.primary(), uids.backup()] {
            spec.config_for(uid)?.validate()?;
        }
        Ok(spec)
    }

    /// Leaves a task that did not start within 90 s running instead of stopping it.
    pub fn keep_unstarted_task(mut self) -> Self {
        self.stop_on_startup_timeout = false;
        self
    }

    /// The config as sent with `uid`: every RTC output publishes as `uid` with its own token.
    pub(crate) fn config_for(&self, uid: u32) -> Result<TranscoderConfig, Error> {
        let mut config = self.config.clone().with_output_uid(uid);
        for rtc in config.outputs.iter_mut().filter_map(|o| o.rtc.as_mut()) {
            rtc.rtc_token = self
                .tokens
                .output_token(&rtc.rtc_channel, uid)
                .map_err(|reason| Error::Tokens { uid, reason })?;
        }
        Ok(config)
    }
}

/// A created or adopted task, by id.
enum Created {
    Task(String),
    Adopt(String),
}

enum CreateFailure {
    NextRound(agora_rest_transport::Error),
    Fatal(Error),
}

/// What one round sent.
struct Round {
    uid: u32,
    config: TranscoderConfig,
    /// Whether a Create of the round may have been applied (206, 50x, no answer).
    maybe_applied: bool,
}

fn task_id_in(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("taskId")?.as_str().map(str::to_string)
}

/// The UID the task's echoed config publishes as, if the echo says.
fn echoed_uid(task: &Task) -> Option<u32> {
    let echo = task.services.cloud_transcoder.config.expose();
    let transcoder = echo.get("transcoder").unwrap_or(echo);
    let outputs: Vec<Output> = serde_json::from_value(transcoder.get("outputs")?.clone()).ok()?;
    outputs.iter().find_map(Output::rtc_uid)
}

/// The advice for a Create that got no answer: it may have been applied, and a resend with a
/// fresh token meets a 409 naming the task if it was.
const NO_ANSWER: Action = Action::Retry(RetryPlan {
    schedule: TRANSCODER_CREATE_RETRY,
    reason: RetryReason::ServerError,
    then: Exhausted::NewUidAndAcquire,
});

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
        let mut rounds: Vec<Round> = Vec::new();
        let mut known_task: Option<String> = None;
        let mut creates = 0usize;
        let max_rounds = spec.max_rounds.max(1);
        for round in 0..max_rounds {
            if round > 0 {
                uids.rotate();
                token = None;
            }
            let uid = uids.current();
            let config = spec.config_for(uid)?;
            let request = CreateTaskRequest::new(config.clone());
            request.validate()?;
            rounds.push(Round {
                uid,
                config,
                maybe_applied: false,
            });
            let outcome = self
                .create_round(
                    &spec,
                    &mut token,
                    &request,
                    &mut known_task,
                    &mut creates,
                    rounds.last_mut().map(|r| &mut r.maybe_applied),
                )
                .await;
            let created = match outcome {
                Ok(c) => c,
                Err(CreateFailure::NextRound(e)) => {
                    last = Some(e);
                    continue;
                }
                Err(CreateFailure::Fatal(e)) => return Err(e),
            };
            let Some(tok) = token else {
                // create_round always leaves the token it used.
                return Err(Error::Transport(agora_rest_transport::Error::MissingCall));
            };
            let (task_id, chosen) = match created {
                Created::Task(id) => (id, rounds.len() - 1),
                Created::Adopt(id) => {
                    let chosen = self.round_of_adopted(&id, &tok, &rounds).await;
                    (id, chosen)
                }
            };
            let Round { uid, config, .. } = rounds.swap_remove(chosen);
            let idle = Duration::from_secs(u64::from(
                config
                    .idle_timeout
                    .unwrap_or(TRANSCODER_IDLE_TIMEOUT_DEFAULT),
            ));
            self.confirm_startup(&task_id, &tok, idle, spec.stop_on_startup_timeout)
                .await?;
            return Ok(TaskHandle {
                transcoder: self.clone(),
                task_id,
                token: tok.token,
                instance_id: spec.instance_id.clone(),
                uid,
                config: Arc::new(Mutex::new(config)),
                update_lock: Arc::default(),
            });
        }
        Err(Error::CreateGaveUp {
            rounds: max_rounds,
            creates,
            last: Box::new(last.unwrap_or(agora_rest_transport::Error::MissingCall)),
        })
    }

    /// Which round made a task adopted after a 409: the one whose UID the task's echoed config
    /// shows; without an echo, the earliest round whose Create may have been applied (a later
    /// round's Create meets the 409 of the first that was); else the current one.
    async fn round_of_adopted(
        &self,
        task_id: &str,
        tok: &AcquiredToken,
        rounds: &[Round],
    ) -> usize {
        let current = rounds.len() - 1;
        let earlier_applied = rounds[..current].iter().position(|r| r.maybe_applied);
        let Some(earliest) = earlier_applied else {
            return current;
        };
        let call = Call::new(Operation::TranscodeQuery, TASK_PATH);
        let echoed = match self.query_with(task_id, &tok.token, call).await {
            Ok(task) => echoed_uid(&task),
            Err(_) => None,
        };
        echoed
            .and_then(|uid| rounds.iter().position(|r| r.uid == uid))
            .unwrap_or(earliest)
    }

    /// Creates with fresh tokens until it works, the plan says "new UID", the round's Creates
    /// are spent, or it fails for good.
    async fn create_round(
        &self,
        spec: &StartSpec,
        token: &mut Option<AcquiredToken>,
        request: &CreateTaskRequest,
        known_task: &mut Option<String>,
        creates: &mut usize,
        mut maybe_applied: Option<&mut bool>,
    ) -> Result<Created, CreateFailure> {
        let max = spec.max_creates_per_round.max(1);
        let mut sent = 0usize;
        let mut retries = 0usize;
        let mut last: Option<agora_rest_transport::Error> = None;
        while sent < max {
            let tok = match token.take() {
                Some(t) if t.fresh() => t,
                _ => self
                    .acquire(&spec.instance_id)
                    .await
                    .map_err(CreateFailure::Fatal)?,
            };
            sent += 1;
            *creates += 1;
            let outcome = self.create_once(&tok, request).await;
            let instance_id = tok.instance_id.clone();
            *token = Some(tok);
            let (action, error, body) = match outcome {
                Ok(resp) => {
                    let body = resp.body().clone();
                    match classify(Operation::TranscodeCreate, resp.status().as_u16(), None) {
                        Action::Success => match serde_json::from_slice::<Task>(&body) {
                            Ok(task) => return Ok(Created::Task(task.task_id)),
                            // Applied, but the answer is unreadable: keep its id if it has
                            // one, else a resend meets the 409 that names the task.
                            Err(e) => match task_id_in(&body) {
                                Some(id) => return Ok(Created::Task(id)),
                                None => (NO_ANSWER, Some(undecodable(&resp, &e)), body),
                            },
                        },
                        other => (other, Some(answer_error(&resp, other)), body),
                    }
                }
                // The token's window passed before the attempt could go out: nothing was sent.
                // Drop the token; the next turn acquires a new one.
                Err(e) if matches!(e.last(), agora_rest_transport::Error::SendByPassed { .. }) => {
                    *token = None;
                    last = Some(e);
                    continue;
                }
                Err(e) => {
                    let body = e.status_error().map(|s| s.body.clone()).unwrap_or_default();
                    let action = match e.status_error() {
                        Some(s) => s.action,
                        None if e.maybe_applied() || e.not_sent() => NO_ANSWER,
                        None => Action::Failed,
                    };
                    (action, Some(e), body)
                }
            };
            if let Some(id) = task_id_in(&body) {
                *known_task = Some(id);
            }
            match action {
                Action::AlreadyStarted => {
                    return match task_id_in(&body) {
                        Some(id) => Ok(Created::Adopt(id)),
                        None => Err(CreateFailure::Fatal(Error::AlreadyStarted {
                            instance_id,
                            task_id: known_task.clone(),
                        })),
                    };
                }
                Action::Retry(plan) => {
                    let sent_for_sure = !error
                        .as_ref()
                        .is_some_and(agora_rest_transport::Error::not_sent);
                    if let (true, Some(flag)) = (sent_for_sure, maybe_applied.as_deref_mut()) {
                        *flag = true;
                    }
                    let err = error.unwrap_or(agora_rest_transport::Error::MissingCall);
                    let delay = plan
                        .schedule
                        .delay(retries, self.client.jitter())
                        .filter(|_| sent < max);
                    match delay {
                        Some(d) => {
                            tracing::debug!(?d, ?plan.reason, "create again");
                            tokio::time::sleep(d).await;
                            retries += 1;
                            last = Some(err);
                        }
                        None if plan.then == Exhausted::NewUidAndAcquire => {
                            return Err(CreateFailure::NextRound(err));
                        }
                        None => return Err(CreateFailure::Fatal(err.into())),
                    }
                }
                _ => {
                    return Err(CreateFailure::Fatal(
                        error
                            .unwrap_or(agora_rest_transport::Error::MissingCall)
                            .into(),
                    ));
                }
            }
        }
        Err(CreateFailure::NextRound(
            last.unwrap_or(agora_rest_transport::Error::MissingCall),
        ))
    }

    /// Queries from 5 s after the task id until started, a final status or a refusal ends it,
    /// or 90 s pass (then the task is stopped when `stop_on_timeout`).
    async fn confirm_startup(
        &self,
        task_id: &str,
        tok: &AcquiredToken,
        idle: Duration,
        stop_on_timeout: bool,
    ) -> Result<(), Error> {
        let origin = tokio::time::Instant::now();
        let mut check = StartupCheck::new(Duration::ZERO, idle);
        let mut at = check.first_query_at();
        let mut last_status = String::from("none");
        loop {
            tokio::time::sleep_until(crate::time::at(origin, at)).await;
            let call = Call::new(Operation::TranscodeQuery, TASK_PATH).without_status_retries();
            let observation = match self.query_with(task_id, &tok.token, call).await {
                Ok(task) => {
                    last_status = task.status.to_string();
                    if task.status.is_started() {
                        StartupObservation::Started
                    } else if task.status.is_final() {
                        StartupObservation::Ended
                    } else {
                        StartupObservation::NotYet
                    }
                }
                Err(Error::Transport(e)) if passes_with_time(&e) => StartupObservation::NotYet,
                Err(Error::Transport(e)) => {
                    return Err(Error::StartupQueryFailed {
                        task_id: task_id.to_string(),
                        source: Box::new(e),
                    });
                }
                Err(other) => return Err(other),
            };
            match check.observe(observation, origin.elapsed()) {
                StartupVerdict::Started => return Ok(()),
                StartupVerdict::QueryAt(next) => at = next,
                StartupVerdict::Ended => {
                    return Err(Error::StartupEnded {
                        task_id: task_id.to_string(),
                        status: last_status,
                    });
                }
                StartupVerdict::TimedOut => {
                    let stopped = stop_on_timeout && self.delete(task_id, &tok.token).await.is_ok();
                    return Err(Error::StartupTimedOut {
                        task_id: task_id.to_string(),
                        last_status,
                        stopped,
                    });
                }
            }
        }
    }
}

/// Whether a startup Query failure may pass while the task is being placed: a 404, a 429, a
/// 5xx, or no answer. A 40x otherwise, or an answer that cannot be decoded, will not.
fn passes_with_time(e: &agora_rest_transport::Error) -> bool {
    if matches!(e.last(), agora_rest_transport::Error::Decode { .. }) {
        return false;
    }
    match e.status() {
        Some(s) => s == 404 || s == 429 || s >= 500,
        None => true,
    }
}

/// The error for a 2xx Create whose body cannot be read.
fn undecodable(
    resp: &http::Response<bytes::Bytes>,
    e: &serde_json::Error,
) -> agora_rest_transport::Error {
    let ids = ResponseIds::of(resp);
    agora_rest_transport::Error::Decode {
        what: "Create response".into(),
        status: resp.status().as_u16(),
        reason: e.to_string(),
        request_id: ids.request_id,
        resource_id: ids.resource_id,
    }
}

/// The error for a Create answered 2xx with a status the guide does not count as success
/// (206 "partial success", 201 "already started").
fn answer_error(
    resp: &http::Response<bytes::Bytes>,
    action: Action,
) -> agora_rest_transport::Error {
    let body = agora_rest_model::ErrorBody::parse_lenient(resp.body());
    agora_rest_transport::Error::Status(Box::new(StatusError::of_answer(
        Operation::TranscodeCreate,
        resp,
        &body,
        action,
        None,
    )))
}
