//! A level-triggered controller that keeps declared transcoding tasks alive.
//!
//! The application declares tasks by instance id ([`TaskController::apply`],
//! [`TaskController::remove`]); core's `reconcile::decide` says what to do, this driver does it:
//! start through the guide's procedure ([`Transcoder::start`]), send a changed config as a
//! sequenced update, Query every 2 minutes (a 404 confirmed at 5/10/15 s and past the HA
//! window before it counts as an exit; 50x retried at 5/10/15/30 s and never an exit; other 40x
//! reported as a parameter error), restart an exited task on the UID the old one did not hold,
//! leave an idle-timeout end ended, stop on removal. Output tokens come from an
//! [`OutputTokens`] provider, per UID. The current task id is always readable
//! ([`TaskController::task_id`]). State lives in the stores (`agora_rest_transport::controller`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_rest_core::health::{
    RUNNING_CHECK_INTERVAL, RunningCheck, RunningObservation, RunningVerdict,
};
use agora_rest_core::name::UidPair;
use agora_rest_core::operation::Operation;
use agora_rest_core::reconcile::{Action, Desired, Health, Observed, Refusal, decide};
use agora_rest_model::ncs::{TranscoderEvent, TranscoderEventKind};
use agora_rest_model::transcoder::TranscoderConfig;
use agora_rest_transport::Call;
use agora_rest_transport::controller::store::{Lease, ObservedState, ResourceStatus};
use agora_rest_transport::controller::{
    ControllerBase, Reconcile, Runtime, Settings, TroubleEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::client::TASK_PATH;
use crate::{Error, OutputTokens, StartSpec, TaskHandle, Transcoder};

pub use agora_rest_transport::controller::store::Stores;

/// How long a task may answer 404 during a high-availability migration before a 404 counts
/// toward an exit (the Cloud Transcoding migration window, 90 s).
pub const TASK_HA_WINDOW: Duration = Duration::from_secs(90);

/// Task controller settings: the settings every controller shares (the running check every
/// 2 minutes by default). Same shape as the converter controller's config.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskControllerConfig {
    /// Poll cadence, restart cap, parallelism, lease and event buffer.
    pub settings: Settings,
}

impl Default for TaskControllerConfig {
    fn default() -> Self {
        TaskControllerConfig {
            settings: Settings::new(RUNNING_CHECK_INTERVAL),
        }
    }
}

impl TaskControllerConfig {
    /// Changes the shared settings: `config.settings(|s| s.poll_every(every).holder("a"))`.
    pub fn settings(mut self, change: impl FnOnce(Settings) -> Settings) -> Self {
        self.settings = change(self.settings);
        self
    }

    /// Checks the settings, naming the one that breaks a rule (see [`Settings::validate`]).
    pub fn validate(&self) -> Result<(), Error> {
        Ok(self.settings.validate()?)
    }
}

/// A task the application wants to run, keyed by its instance id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// The instance id (the key).
    pub instance_id: String,
    /// Primary and backup output UIDs.
    pub uids: [u32; 2],
    /// The transcoder config (its output UID and token are set per start).
    pub config: TranscoderConfig,
    /// Start it again after an idle-timeout end (default false).
    #[serde(default)]
    pub recreate_after_idle: bool,
}

/// What the task controller reports.
///
/// Serializes as one JSON object tagged by `event` (e.g. `{"event":"started","key":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskEvent {
    /// A task started (or a running one was adopted).
    Started {
        /// The instance id.
        key: String,
        /// The task id.
        task_id: String,
        /// The output UID it publishes as.
        uid: u32,
    },
    /// The config was sent as a sequenced update.
    Updated {
        /// The instance id.
        key: String,
        /// The generation it now runs.
        generation: u64,
    },
    /// The task exited and a new one replaced it.
    Restarted {
        /// The instance id.
        key: String,
        /// The exited task.
        old: Option<String>,
        /// The new task.
        new: String,
        /// The UID the new one publishes as.
        uid: u32,
    },
    /// A Query answered a 40x: check the request parameters.
    ParameterError {
        /// The instance id.
        key: String,
        /// The error.
        error: String,
    },
    /// It ended by idle timeout and is left ended.
    Finished {
        /// The instance id.
        key: String,
    },
    /// Action stopped for good.
    Degraded {
        /// The instance id.
        key: String,
        /// Why.
        why: String,
    },
    /// An action failed; tried again after a back-off.
    ActionFailed {
        /// The instance id.
        key: String,
        /// What was tried.
        action: &'static str,
        /// The error.
        error: String,
    },
    /// A shared store (Redis) could not be read or written: no action was taken; it is tried
    /// again shortly.
    StoreUnavailable {
        /// The instance id.
        key: String,
        /// The error.
        error: String,
    },
    /// Removed and stopped.
    Stopped {
        /// The instance id.
        key: String,
    },
}

#[derive(Debug, Default)]
struct KeyState {
    handle: Option<TaskHandle>,
    check: Option<RunningCheck>,
    first_not_found: Option<Duration>,
    ended: Option<bool>,
    sequence_floored: bool,
}

struct Shared {
    transcoder: Transcoder,
    tokens: Arc<dyn OutputTokens>,
    /// Stores, events, notice routing by task id, metrics and clock.
    base: ControllerBase<TaskEvent>,
    config: Settings,
    keys: Mutex<HashMap<String, KeyState>>,
}

impl Shared {
    fn say(&self, e: TaskEvent) {
        self.base.say(e);
    }

    fn with_key<T>(&self, key: &str, f: impl FnOnce(&mut KeyState) -> T) -> T {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        f(keys.entry(key.to_string()).or_default())
    }
}

/// A running task controller. Cheap to clone; dropping every clone stops it (the tasks keep
/// running).
#[derive(Clone)]
pub struct TaskController {
    shared: Arc<Shared>,
    runtime: Runtime,
}

impl std::fmt::Debug for TaskController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskController").finish_non_exhaustive()
    }
}

impl TaskController {
    /// Starts a task controller on the current tokio runtime with in-memory stores and the
    /// default settings.
    pub fn start(transcoder: Transcoder, tokens: impl OutputTokens + 'static) -> TaskController {
        TaskController::start_with(
            transcoder,
            tokens,
            TaskControllerConfig::default(),
            Stores::default(),
        )
    }

    /// Starts on `stores` with `config`: every key already declared there is reconciled at
    /// once (what runs is adopted).
    pub fn start_with(
        transcoder: Transcoder,
        tokens: impl OutputTokens + 'static,
        config: TaskControllerConfig,
        stores: Stores,
    ) -> TaskController {
        let config = config.settings.clamped();
        let max_parallel = config.max_parallel;
        let base = ControllerBase::new("transcoder", stores, config.event_capacity);
        let shared = Arc::new(Shared {
            transcoder,
            tokens: Arc::new(tokens),
            base,
            config,
            keys: Mutex::default(),
        });
        let reconciler: Arc<dyn Reconcile> = Arc::new(Reconciler(Arc::clone(&shared)));
        let runtime = Runtime::spawn(
            reconciler,
            Arc::clone(&shared.base.stores.desired),
            max_parallel,
        );
        TaskController { shared, runtime }
    }

    /// Declares a task; validated first (instance id, config, a token for both UIDs).
    pub async fn apply(&self, spec: TaskSpec) -> Result<u64, Error> {
        start_spec(
            &self.shared.tokens,
            &spec,
            UidPair::new(spec.uids[0], spec.uids[1])?,
        )?;
        let text = serde_json::to_string(&spec).map_err(|e| agora_rest_model::Error::Decode {
            what: "task spec",
            reason: e.to_string(),
        })?;
        let generation = self
            .shared
            .base
            .stores
            .desired
            .apply(&spec.instance_id, &text)
            .await?;
        self.runtime.wake(&spec.instance_id);
        Ok(generation)
    }

    /// Removes a declared task: it is stopped within one scheduling step.
    pub async fn remove(&self, key: &str) -> Result<(), Error> {
        self.shared.base.stores.desired.remove(key).await?;
        self.runtime.wake(key);
        Ok(())
    }

    /// The keys declared now (in the desired-state store, whoever declared them).
    pub async fn declared(&self) -> Result<Vec<String>, Error> {
        Ok(self.shared.base.stores.desired.keys().await?)
    }

    /// Feeds a Cloud Transcoding notice; it wakes only the task it names.
    pub fn notify(&self, event: &TranscoderEvent) {
        let Some(key) = self.shared.base.key_of(&event.payload.task_id) else {
            return;
        };
        if event.kind == TranscoderEventKind::Stopped {
            let by_idle = event
                .payload
                .details
                .stop_reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("idle"));
            self.shared.with_key(&key, |k| k.ended = Some(by_idle));
        }
        self.runtime.wake(&key);
    }

    /// The id of the task running for `key` now, if any.
    pub async fn task_id(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .shared
            .base
            .stores
            .status
            .get(key)
            .await?
            .and_then(|s| s.resource_id))
    }

    /// What the controller knows of `key`.
    pub async fn status(&self, key: &str) -> Result<Option<ResourceStatus>, Error> {
        Ok(self.shared.base.stores.status.get(key).await?)
    }

    /// Subscribes to events (optional; a slow reader gets `Lagged`).
    pub fn events(&self) -> broadcast::Receiver<TaskEvent> {
        self.shared.base.subscribe()
    }

    /// Stops reconciling within one step; the tasks keep running.
    pub async fn shutdown(&self) {
        self.runtime.shutdown().await;
    }
}

/// The start spec of `spec` on `uids`, its output tokens from the controller's provider.
fn start_spec(
    tokens: &Arc<dyn OutputTokens>,
    spec: &TaskSpec,
    uids: UidPair,
) -> Result<StartSpec, Error> {
    let tokens = Arc::clone(tokens);
    StartSpec::new(
        spec.instance_id.clone(),
        uids,
        spec.config.clone(),
        move |channel: &str, uid: u32| tokens.output_token(channel, uid),
    )
}

struct Reconciler(Arc<Shared>);

#[async_trait::async_trait]
impl Reconcile for Reconciler {
    async fn reconcile(&self, key: &str) -> Option<Instant> {
        let shared = &*self.0;
        let settings = &shared.config;
        shared
            .base
            .reconcile_leased(key, settings, settings.poll_every, |lease| async move {
                reconcile(shared, key, &lease).await
            })
            .await
    }
}

/// A handle on the task of `st`, from memory or adopted (a token for its instance id, its
/// config from Query).
async fn handle_of(shared: &Shared, key: &str, st: &ResourceStatus) -> Result<TaskHandle, Error> {
    if let Some(h) = shared.with_key(key, |k| k.handle.clone()) {
        return Ok(h);
    }
    let id = st.resource_id.clone().unwrap_or_default();
    let h = shared.transcoder.adopt(&id, key, st.last_sequence).await?;
    shared.with_key(key, |k| k.handle = Some(h.clone()));
    Ok(h)
}

fn fail(
    shared: &Shared,
    key: &str,
    action: &'static str,
    e: &Error,
    st: &mut ResourceStatus,
    now_unix: u64,
) {
    st.record_failure(now_unix);
    shared.say(TaskEvent::action_failed(key, action, e.to_string()));
}

#[allow(clippy::too_many_lines)] // one reconcile: observe, decide, act, record
async fn reconcile(shared: &Shared, key: &str, lease: &Lease) -> Option<Instant> {
    let (entry, mut st) = match shared.base.read(key).await {
        Ok(view) => view,
        Err(next) => return Some(next),
    };
    let spec: Option<TaskSpec> = entry
        .as_ref()
        .and_then(|e| serde_json::from_str(&e.spec).ok());
    let generation = entry.as_ref().map_or(0, |e| e.generation);
    let mono = shared.base.clock.elapsed();
    let mut poll_after = shared.config.poll_every;

    // Observe.
    if let Some(by_idle) = shared.with_key(key, |k| k.ended.take()) {
        st.observed = if by_idle {
            ObservedState::EndedIdle
        } else {
            ObservedState::Ended
        };
    }
    if st.observed == ObservedState::Unknown {
        st.observed = if st.resource_id.is_some() {
            ObservedState::Healthy
        } else {
            ObservedState::Absent
        };
    }
    if let (Some(id), true) = (
        st.resource_id.clone(),
        matches!(
            st.observed,
            ObservedState::Healthy | ObservedState::Degraded | ObservedState::Migrating
        ),
    ) {
        let observation = match handle_of(shared, key, &st).await {
            Ok(h) => {
                let call = Call::new(Operation::TranscodeQuery, TASK_PATH).without_status_retries();
                match shared.transcoder.query_with(&id, h.token(), call).await {
                    Ok(task) if task.status.is_final() => Some(RunningObservation::Ended),
                    Ok(_) => Some(RunningObservation::Running),
                    Err(e) if e.is_not_found() => Some(RunningObservation::NotFound),
                    Err(e) if e.status().is_some_and(|s| s >= 500) => {
                        Some(RunningObservation::ServerError)
                    }
                    Err(e)
                        if e.status()
                            .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
                    {
                        shared.say(TaskEvent::ParameterError {
                            key: key.to_string(),
                            error: e.to_string(),
                        });
                        None
                    }
                    Err(_) => None,
                }
            }
            // Adopting failed: the task may be gone (its Query 404s inside adopt).
            Err(e) if e.is_not_found() => Some(RunningObservation::NotFound),
            Err(_) => None,
        };
        if let Some(observation) = observation {
            if observation != RunningObservation::NotFound {
                shared.with_key(key, |k| k.first_not_found = None);
            }
            let interval = shared.config.poll_every;
            let verdict = shared.with_key(key, |k| {
                k.check
                    .get_or_insert_with(|| RunningCheck::new(interval))
                    .observe(observation, mono)
            });
            st.observed = match verdict {
                RunningVerdict::Healthy { next_at } => {
                    poll_after = next_at.saturating_sub(mono);
                    ObservedState::Healthy
                }
                RunningVerdict::ConfirmingExit { next_at, .. } => {
                    shared.with_key(key, |k| {
                        k.first_not_found.get_or_insert(mono);
                    });
                    poll_after = next_at.saturating_sub(mono);
                    ObservedState::Migrating
                }
                RunningVerdict::Unreachable { next_at } => {
                    poll_after = next_at.saturating_sub(mono);
                    ObservedState::Degraded
                }
                RunningVerdict::Exited if observation == RunningObservation::NotFound => {
                    // Not an exit while the HA migration window may still be running.
                    let since = shared.with_key(key, |k| *k.first_not_found.get_or_insert(mono));
                    let until = since + TASK_HA_WINDOW;
                    if mono < until {
                        shared.with_key(key, |k| k.check = None);
                        poll_after = (until - mono).max(Duration::from_secs(5));
                        ObservedState::Migrating
                    } else {
                        ObservedState::Ended
                    }
                }
                RunningVerdict::Exited => ObservedState::Ended,
            };
        }
    }

    // Decide.
    let now_unix = shared.base.clock.now_ms();
    let now = Duration::from_millis(now_unix);
    let desired = Desired {
        present: spec.is_some(),
        generation,
        recreate_after_idle: spec.as_ref().is_some_and(|s| s.recreate_after_idle),
        immutable_change: agora_rest_core::reconcile::ImmutableChange::Refuse,
    };
    let observed = match st.observed {
        ObservedState::Unknown | ObservedState::Absent => Observed::Absent,
        ObservedState::EndedIdle => Observed::Ended { by_idle: true },
        ObservedState::Ended | ObservedState::Failed => Observed::Ended { by_idle: false },
        ObservedState::Refused => Observed::Refused(st.refusal.unwrap_or(Refusal::BadRequest)),
        ObservedState::Healthy | ObservedState::Degraded | ObservedState::Migrating => {
            Observed::Present {
                health: Health::Healthy,
                applied: st.applied_generation,
                immutable_differs: false,
            }
        }
    };
    let history = st.history(shared.config.recreations_per_hour);
    let action = decide(&desired, &observed, &history, now);
    shared.base.report.action(&action);

    // Act.
    let soon = Some(Instant::now() + Duration::from_secs(1));
    let next = match (action, &spec) {
        (Action::Poll, _) => Some(Instant::now() + poll_after.max(Duration::from_secs(1))),
        (Action::Wait { until } | Action::WaitMigration { until }, _) => {
            let wait = until.saturating_sub(now).min(poll_after);
            Some(Instant::now() + wait.max(Duration::from_secs(1)))
        }
        (Action::Finished, _) => {
            shared.say(TaskEvent::Finished {
                key: key.to_string(),
            });
            None
        }
        (Action::Degraded(r), _) => {
            st.observed = ObservedState::Refused;
            st.refusal = Some(r);
            shared.say(TaskEvent::Degraded {
                key: key.to_string(),
                why: r.to_string(),
            });
            None
        }
        (Action::Create | Action::Recreate, Some(spec)) => {
            start(shared, key, spec, generation, &mut st, now_unix).await;
            soon
        }
        (Action::Update, Some(spec)) => {
            update(shared, key, spec, generation, &mut st, now_unix).await;
            soon
        }
        (Action::Delete, _) => {
            if st.resource_id.is_some() {
                match handle_of(shared, key, &st).await {
                    Ok(h) => {
                        let _ = h.stop().await;
                    }
                    Err(e) if !e.is_not_found() => {
                        fail(shared, key, "stop", &e, &mut st, now_unix);
                        shared.base.record(key, &st, lease).await;
                        return soon;
                    }
                    Err(_) => {}
                }
            }
            st.observed = ObservedState::Absent;
            shared.say(TaskEvent::Stopped {
                key: key.to_string(),
            });
            soon
        }
        (Action::Forget, _) => {
            let _ = shared.base.stores.status.remove(key).await;
            shared.base.report.forget(key);
            if let Some(id) = &st.resource_id {
                shared.base.unroute(id);
            }
            shared
                .keys
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(key);
            return None;
        }
        (Action::Lookup, _) | (_, None) => soon,
    };
    shared.base.record(key, &st, lease).await;
    shared.base.report.state(key, st.observed);
    next
}

/// Starts (or restarts) the task; a restart never joins on the UID the old task held.
async fn start(
    shared: &Shared,
    key: &str,
    spec: &TaskSpec,
    generation: u64,
    st: &mut ResourceStatus,
    now_unix: u64,
) {
    let old = st.resource_id.clone();
    if let Some(old_id) = &old {
        // Stop what may linger; a task already gone settles at once.
        if let Ok(h) = handle_of(shared, key, st).await {
            let _ = h.stop().await;
        }
        // Its notices no longer route here (the map holds one id per key).
        shared.base.unroute(old_id);
        shared.with_key(key, |k| {
            k.handle = None;
            k.check = None;
            k.first_not_found = None;
        });
    }
    let [primary, backup] = spec.uids;
    // Never join on the UID the old task held: it may still be in the channel.
    let first = if st.uid_in_use == Some(primary) {
        backup
    } else {
        primary
    };
    let second = if first == primary { backup } else { primary };
    let Ok(uids) = UidPair::new(first, second) else {
        return;
    };
    let start_spec = match start_spec(&shared.tokens, spec, uids) {
        Ok(s) => s,
        Err(e) => {
            st.observed = ObservedState::Refused;
            st.refusal = Some(Refusal::BadRequest);
            shared.say(TaskEvent::Degraded {
                key: key.to_string(),
                why: e.to_string(),
            });
            return;
        }
    };
    let started = match shared.transcoder.start(start_spec).await {
        Ok(h) => Ok(h),
        // Running already (this instance id): take it over.
        Err(Error::AlreadyStarted {
            task_id: Some(id), ..
        }) => shared.transcoder.adopt(&id, key, st.last_sequence).await,
        Err(e) => Err(e),
    };
    match started {
        Ok(h) => {
            let id = h.task_id().to_string();
            if old.is_some() || st.existed {
                st.record_recreation(now_unix, shared.config.recreations_per_hour);
            }
            st.uids_maybe_in_channel = st.uid_in_use.into_iter().collect();
            st.uid_in_use = Some(h.uid());
            st.resource_id = Some(id.clone());
            st.existed = true;
            st.observed = ObservedState::Healthy;
            st.applied_generation = generation;
            st.failures = 0;
            shared.base.route(key, None, &id);
            let uid = h.uid();
            shared.with_key(key, |k| k.handle = Some(h));
            shared.say(match old {
                Some(_) => TaskEvent::Restarted {
                    key: key.to_string(),
                    old,
                    new: id,
                    uid,
                },
                None => TaskEvent::Started {
                    key: key.to_string(),
                    task_id: id,
                    uid,
                },
            });
        }
        Err(e) => {
            st.resource_id = None;
            fail(shared, key, "start", &e, st, now_unix);
        }
    }
}

async fn update(
    shared: &Shared,
    key: &str,
    spec: &TaskSpec,
    generation: u64,
    st: &mut ResourceStatus,
    now_unix: u64,
) {
    let h = match handle_of(shared, key, st).await {
        Ok(h) => h,
        Err(e) => {
            fail(shared, key, "update", &e, st, now_unix);
            return;
        }
    };
    let floored = shared.with_key(key, |k| std::mem::replace(&mut k.sequence_floored, true));
    if !floored {
        let floor = st.last_sequence.unwrap_or(0).max(now_unix);
        let _ = shared
            .transcoder
            .sequences
            .observe(h.task_id(), floor)
            .await;
    }
    // The config as the running UID sends it, with that UID's own token.
    let config = UidPair::new(spec.uids[0], spec.uids[1])
        .map_err(Error::from)
        .and_then(|uids| start_spec(&shared.tokens, spec, uids))
        .and_then(|s| s.config_for(h.uid()));
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            fail(shared, key, "update", &e, st, now_unix);
            return;
        }
    };
    match h.update(config).await {
        Ok(()) => {
            st.applied_generation = generation;
            st.failures = 0;
            st.last_sequence = shared
                .transcoder
                .sequences
                .last(h.task_id())
                .await
                .ok()
                .flatten();
            shared.say(TaskEvent::Updated {
                key: key.to_string(),
                generation,
            });
        }
        Err(e) => fail(shared, key, "update", &e, st, now_unix),
    }
}

impl TroubleEvent for TaskEvent {
    fn action_failed(key: &str, action: &'static str, error: String) -> Self {
        TaskEvent::ActionFailed {
            key: key.to_string(),
            action,
            error,
        }
    }

    fn store_unavailable(key: &str, error: String) -> Self {
        TaskEvent::StoreUnavailable {
            key: key.to_string(),
            error,
        }
    }
}
