//! A level-triggered controller that keeps declared converters alive (kube-runtime's shape).
//!
//! The application declares what should exist ([`ConverterController::apply`], [`ConverterController::remove`]);
//! the controller looks at one converter at a time — what is declared, what was last observed,
//! a short history — and core's `reconcile::decide` says what to do:
//! adopt what runs, create, send the latest spec as a sequenced update, wait out the HA
//! window, delete and re-create (within an hourly cap, after a back-off on failures), leave a
//! converter that ended by idle timeout, stop on a permanent refusal, delete on removal.
//! Everything it needs to resume lives in its stores (`agora_rest_transport::controller::store`).
//!
//! Observed state comes from Get at the guide's cadence (every 2 minutes by default, jittered;
//! after a 404 or 5xx on the guide's 5–6 / 10–11 / 15–16 s schedule) and from notices fed to
//! [`ConverterController::notify`], routed by converter id: a notice wakes only its own converter.
//!
//! Dropping every handle of a controller stops it; the converters keep running, and a new
//! controller on the same stores (or re-applied specs) adopts them.

mod events;
mod spec;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_rest_core::backoff::MEDIA_PUSH_RETRY;
use agora_rest_core::health::{
    CONVERTER_CHECK_INTERVAL, ConverterHealth, ConverterObservation, ConverterVerdict,
    HA_MIGRATION_WINDOW,
};
use agora_rest_core::operation::Operation;
use agora_rest_core::reconcile::{Action, Desired, Health, Observed, Refusal, decide};
use agora_rest_model::mediapush::{ConverterState, ListMember};
use agora_rest_model::ncs::{DestroyReason, MediaPushEvent, MediaPushEventKind};
use agora_rest_transport::Call;
use agora_rest_transport::controller::store::{Lease, ObservedState, ResourceStatus};
use agora_rest_transport::controller::{ControllerBase, Reconcile, Runtime, Settings};
use tokio::sync::broadcast;
use tokio::time::Instant;

pub use events::ConverterEvent;
pub use spec::ConverterSpec;

use crate::client::{MediaPush, ONE_PATH};
use crate::{Deleted, Error, Update};

/// Converter controller settings: the settings every controller shares, and the converter's
/// own. The defaults are the guide's cadence.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConverterControllerConfig {
    /// Poll cadence, re-creation cap, parallelism, lease and event buffer (poll every
    /// 2 minutes by default).
    pub settings: Settings,
    /// Jitter of the poll interval, a fraction (default 0.1: ±10 %).
    pub poll_jitter: f64,
    /// The HA migration window a 404 streak must outlast (default 120 s; `None`: the literal
    /// "three in a row").
    pub ha_window: Option<Duration>,
}

impl Default for ConverterControllerConfig {
    fn default() -> Self {
        ConverterControllerConfig {
            settings: Settings::new(CONVERTER_CHECK_INTERVAL),
            poll_jitter: 0.1,
            ha_window: Some(HA_MIGRATION_WINDOW),
        }
    }
}

impl ConverterControllerConfig {
    /// Changes the shared settings: `config.settings(|s| s.poll_every(every).holder("a"))`.
    pub fn settings(mut self, change: impl FnOnce(Settings) -> Settings) -> Self {
        self.settings = change(self.settings);
        self
    }

    /// Sets the poll jitter (0 for exact intervals).
    pub fn poll_jitter(mut self, jitter: f64) -> Self {
        self.poll_jitter = jitter;
        self
    }

    /// Checks the settings, naming the one that breaks a rule (see [`Settings::validate`]).
    pub fn validate(&self) -> Result<(), Error> {
        Ok(self.settings.validate()?)
    }

    fn clamped(mut self) -> Self {
        self.settings = self.settings.clamped();
        self.poll_jitter = self.poll_jitter.clamp(0.0, 0.9);
        self
    }
}

pub use agora_rest_transport::controller::store::Stores;

/// What a notice said, waiting for the converter's next reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noticed {
    Failed,
    Ended { by_idle: bool },
}

/// Per-converter memory of this process: health counting and notices not yet acted on.
#[derive(Debug, Default)]
struct KeyState {
    health: ConverterHealth,
    noticed: Option<Noticed>,
    sequence_floored: bool,
}

struct Shared {
    push: MediaPush,
    /// Stores, events, notice routing by converter id, metrics and clock.
    base: ControllerBase<ConverterEvent>,
    config: ConverterControllerConfig,
    keys: Mutex<HashMap<String, KeyState>>,
}

impl Shared {
    fn say(&self, e: ConverterEvent) {
        self.base.say(e);
    }

    fn with_key<T>(&self, key: &str, f: impl FnOnce(&mut KeyState) -> T) -> T {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let ha = self.config.ha_window;
        f(keys.entry(key.to_string()).or_insert_with(|| KeyState {
            health: ConverterHealth::new().with_ha_window(ha),
            ..KeyState::default()
        }))
    }
}

/// A running controller. Cheap to clone; dropping every clone stops it (the converters keep
/// running).
#[derive(Clone)]
pub struct ConverterController {
    shared: Arc<Shared>,
    runtime: Runtime,
}

impl std::fmt::Debug for ConverterController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConverterController")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl ConverterController {
    /// Starts a controller on the current tokio runtime, with in-memory stores.
    pub fn start(push: MediaPush, config: ConverterControllerConfig) -> ConverterController {
        ConverterController::start_with(push, config, Stores::default())
    }

    /// Starts a controller on `stores`: every key already declared there is reconciled at once
    /// (what runs is adopted).
    pub fn start_with(
        push: MediaPush,
        config: ConverterControllerConfig,
        stores: Stores,
    ) -> ConverterController {
        let config = config.clamped();
        let base = ControllerBase::new("mediapush", stores, config.settings.event_capacity);
        let shared = Arc::new(Shared {
            push,
            base,
            config,
            keys: Mutex::default(),
        });
        let max = shared.config.settings.max_parallel;
        let reconciler: Arc<dyn Reconcile> = Arc::new(Reconciler(Arc::clone(&shared)));
        let runtime = Runtime::spawn(reconciler, Arc::clone(&shared.base.stores.desired), max);
        ConverterController { shared, runtime }
    }

    /// Declares a converter (created, adopted or updated to match); returns the spec's
    /// generation. Validated first: a bad spec is an error naming the field.
    pub async fn apply(&self, spec: ConverterSpec) -> Result<u64, Error> {
        let mut checked = ConverterSpec::new(spec.region, spec.converter.clone()).map(|s| {
            s.recreate_after_idle(spec.recreate_after_idle)
                .on_immutable_change(spec.immutable_change)
        })?;
        checked.priority_field = spec.priority_field;
        checked.validate_priority()?;
        let spec = checked;
        let text = serde_json::to_string(&spec).map_err(|e| agora_rest_model::Error::Decode {
            what: "converter spec",
            reason: e.to_string(),
        })?;
        let key = spec.key().to_string();
        let generation = self.shared.base.stores.desired.apply(&key, &text).await?;
        self.runtime.wake(&key);
        Ok(generation)
    }

    /// Removes a declared converter: it is deleted within one scheduling step.
    pub async fn remove(&self, key: &str) -> Result<(), Error> {
        self.shared.base.stores.desired.remove(key).await?;
        self.runtime.wake(key);
        Ok(())
    }

    /// The keys declared now (in the desired-state store, whoever declared them).
    pub async fn declared(&self) -> Result<Vec<String>, Error> {
        Ok(self.shared.base.stores.desired.keys().await?)
    }

    /// Feeds a Media Push notice; it wakes only the converter it names.
    pub fn notify(&self, event: &MediaPushEvent) {
        let Some(id) = event.payload.converter.id.as_deref() else {
            return;
        };
        let Some(key) = self.shared.base.key_of(id) else {
            return;
        };
        let noticed = match event.kind {
            MediaPushEventKind::StateChanged
                if event.payload.converter.state == Some(ConverterState::Failed) =>
            {
                Some(Noticed::Failed)
            }
            MediaPushEventKind::Destroyed => Some(Noticed::Ended {
                by_idle: event.payload.destroy_reason == Some(DestroyReason::IdleTimeout),
            }),
            _ => None,
        };
        if let Some(n) = noticed {
            self.shared.with_key(&key, |k| k.noticed = Some(n));
            self.runtime.wake(&key);
        }
    }

    /// Subscribes to events (optional; dropping the receiver stops nothing).
    pub fn events(&self) -> broadcast::Receiver<ConverterEvent> {
        self.shared.base.subscribe()
    }

    /// What the controller knows of `key` (its converter id, sequence, state).
    pub async fn status(&self, key: &str) -> Result<Option<ResourceStatus>, Error> {
        Ok(self.shared.base.stores.status.get(key).await?)
    }

    /// Stops reconciling (within one scheduling step; in-flight actions are cancelled). The
    /// converters keep running.
    pub async fn shutdown(&self) {
        self.runtime.shutdown().await;
    }
}

/// The converter reconciler the runtime calls.
struct Reconciler(Arc<Shared>);

#[async_trait::async_trait]
impl Reconcile for Reconciler {
    async fn reconcile(&self, key: &str) -> Option<Instant> {
        let shared = &*self.0;
        let settings = &shared.config.settings;
        // Another replica's key is looked at again after a (jittered) poll.
        let poll = jittered(shared, settings.poll_every);
        shared
            .base
            .reconcile_leased(key, settings, poll, |lease| async move {
                reconcile(shared, key, &lease).await
            })
            .await
    }
}

fn jittered(shared: &Shared, base: Duration) -> Duration {
    let j = shared.config.poll_jitter.clamp(0.0, 0.9);
    let f = 1.0 + j * (2.0 * shared.push.transport().jitter() - 1.0);
    base.mul_f64(f.max(0.0))
}

fn refusal_of(e: &Error) -> Option<Refusal> {
    match e {
        Error::Invalid(_) | Error::NameRequired => Some(Refusal::BadRequest),
        Error::Transport(t) => match t.status() {
            Some(400) => Some(Refusal::BadRequest),
            Some(401) => Some(Refusal::Unauthorized),
            Some(403) => Some(Refusal::Forbidden),
            _ => None,
        },
        _ => None,
    }
}

/// One reconcile of `key` under `lease`; returns when to look again (`None`: not until
/// something changes).
async fn reconcile(shared: &Shared, key: &str, lease: &Lease) -> Option<Instant> {
    let now_i = Instant::now();
    let (entry, mut st) = match shared.base.read(key).await {
        Ok(view) => view,
        Err(next) => return Some(next),
    };
    let spec: Option<ConverterSpec> = entry
        .as_ref()
        .and_then(|e| serde_json::from_str(&e.spec).ok());
    let generation = entry.as_ref().map_or(0, |e| e.generation);

    // Observe: a notice waiting, or a Get of a running converter.
    let mut poll_after = jittered(shared, shared.config.settings.poll_every);
    let noticed = shared.with_key(key, |k| k.noticed.take());
    let mut immutable_differs = false;
    match noticed {
        Some(Noticed::Ended { by_idle }) => {
            st.observed = if by_idle {
                ObservedState::EndedIdle
            } else {
                ObservedState::Ended
            };
        }
        Some(Noticed::Failed) => st.observed = ObservedState::Failed,
        None => {}
    }
    if let (Some(id), true) = (
        st.resource_id.clone(),
        matches!(
            st.observed,
            ObservedState::Healthy | ObservedState::Degraded | ObservedState::Migrating
        ),
    ) {
        if let Some(spec) = &spec {
            shared.push.learn(&id, spec.region, &spec.converter);
        }
        let call = Call::new(Operation::PushGet, ONE_PATH).without_status_retries();
        let now = shared.base.clock.since_origin(now_i);
        let observation = match shared.push.get_with(&id, call).await {
            Ok(info) => {
                if let Some(spec) = &spec {
                    immutable_differs = spec.immutable_differs(&info);
                }
                if info.state == Some(ConverterState::Failed) {
                    ConverterObservation::StateFailed
                } else {
                    ConverterObservation::Alive
                }
            }
            Err(e) if e.is_not_found() => ConverterObservation::NotFound,
            Err(e) if e.status().is_some_and(|s| s >= 500) => ConverterObservation::ServerError,
            Err(e) => match refusal_of(&e) {
                Some(r) => {
                    st.observed = ObservedState::Refused;
                    st.refusal = Some(r);
                    ConverterObservation::Inconclusive
                }
                None => ConverterObservation::Inconclusive,
            },
        };
        // A 404 just after a healthy look, while a converter of this name runs under another
        // id: the tracked id is stale (a re-create whose status write was lost in a store
        // outage, or made by a replica that died before recording it). That one is adopted at
        // once instead of waiting out an HA window for a converter that is gone.
        let renamed = if observation == ConverterObservation::NotFound
            && st.observed == ObservedState::Healthy
            && let Some(spec) = &spec
            && let Ok(Some(m)) = shared.push.find_by_name(spec.channel(), key).await
            && m.converter_id != id
        {
            adopt(shared, key, spec, &mut st, m);
            shared.with_key(key, |k| {
                k.health = ConverterHealth::new().with_ha_window(shared.config.ha_window);
            });
            true
        } else {
            false
        };
        if st.observed != ObservedState::Refused && !renamed {
            let verdict = shared.with_key(key, |k| k.health.observe(observation, now));
            st.observed = match verdict {
                ConverterVerdict::Healthy => ObservedState::Healthy,
                ConverterVerdict::Failed(_) => ObservedState::Failed,
                ConverterVerdict::Degraded { consecutive, .. } => {
                    let n = usize::try_from(consecutive.saturating_sub(1)).unwrap_or(0);
                    poll_after = MEDIA_PUSH_RETRY
                        .delay(n.min(2), shared.push.transport().jitter())
                        .unwrap_or(poll_after);
                    if observation == ConverterObservation::NotFound {
                        ObservedState::Migrating
                    } else {
                        ObservedState::Degraded
                    }
                }
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
        immutable_change: spec
            .as_ref()
            .map(|s| s.immutable_change)
            .unwrap_or_default(),
    };
    let health_of = |o: ObservedState| match o {
        ObservedState::Failed => Health::Failed,
        ObservedState::Migrating => Health::Degraded,
        ObservedState::Degraded => Health::Degraded,
        _ => Health::Healthy,
    };
    let observed = match st.observed {
        ObservedState::Unknown => Observed::Unknown,
        ObservedState::Absent => Observed::Absent,
        ObservedState::EndedIdle => Observed::Ended { by_idle: true },
        ObservedState::Ended => Observed::Ended { by_idle: false },
        ObservedState::Refused => Observed::Refused(st.refusal.unwrap_or(Refusal::BadRequest)),
        o => Observed::Present {
            health: health_of(o),
            applied: st.applied_generation,
            immutable_differs,
        },
    };
    let history = st.history(shared.config.settings.recreations_per_hour);
    let action = decide(&desired, &observed, &history, now);
    shared.base.report.action(&action);

    // Act.
    let soon = Some(Instant::now() + Duration::from_secs(1));
    let next = match (action, &spec) {
        (Action::Poll, _) => Some(Instant::now() + poll_after),
        (Action::Wait { until } | Action::WaitMigration { until }, _) => {
            if matches!(action, Action::WaitMigration { .. }) {
                shared.say(ConverterEvent::Migrating {
                    key: key.to_string(),
                });
            }
            let wait = until.saturating_sub(now);
            Some(Instant::now() + wait.min(poll_after).max(Duration::from_secs(1)))
        }
        (Action::Finished, _) => {
            shared.say(ConverterEvent::Finished {
                key: key.to_string(),
            });
            None
        }
        (Action::Degraded(r), _) => {
            st.observed = ObservedState::Refused;
            st.refusal = Some(r);
            shared.say(ConverterEvent::Degraded {
                key: key.to_string(),
                why: r.to_string(),
            });
            None
        }
        (Action::Lookup, Some(spec)) => {
            lookup(shared, key, spec, &mut st).await;
            soon
        }
        (Action::Create, Some(spec)) => {
            create(shared, key, spec, generation, &mut st, None, now_unix).await;
            soon
        }
        (Action::Recreate, Some(spec)) => {
            let old = st.resource_id.clone();
            if let Some(id) = &old {
                shared.push.learn(id, spec.region, &spec.converter);
                let _ = shared.push.delete(id).await;
                shared.base.unroute(id);
            }
            st.resource_id = None;
            create(shared, key, spec, generation, &mut st, Some(old), now_unix).await;
            soon
        }
        (Action::Update, Some(spec)) => {
            update(shared, key, spec, generation, &mut st, now_unix).await;
            soon
        }
        (Action::Delete, _) => {
            let id = st.resource_id.clone();
            match &id {
                Some(id) => {
                    if let Ok(r) = st.region.as_deref().unwrap_or("na").parse() {
                        let _ = shared.push.locate(id, r);
                    }
                    match shared.push.delete(id).await {
                        Ok(Deleted::Deleted | Deleted::AlreadyGone)
                        | Err(Error::UnknownConverter { .. }) => {
                            st.observed = ObservedState::Absent;
                        }
                        Err(e) => fail(shared, key, "delete", &e, &mut st, now_unix),
                    }
                }
                None => st.observed = ObservedState::Absent,
            }
            if st.observed == ObservedState::Absent {
                shared.say(ConverterEvent::Deleted {
                    key: key.to_string(),
                    id,
                });
            }
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
        // A create, update or re-create needs a spec; without one the key is being removed.
        (_, None) => soon,
    };
    shared.base.record(key, &st, lease).await;
    shared.base.report.state(key, st.observed);
    next
}

fn fail(
    shared: &Shared,
    key: &str,
    action: &'static str,
    e: &Error,
    st: &mut ResourceStatus,
    now_unix: u64,
) {
    if let Some(r) = refusal_of(e) {
        st.observed = ObservedState::Refused;
        st.refusal = Some(r);
        shared.say(ConverterEvent::Degraded {
            key: key.to_string(),
            why: format!("{action}: {e}"),
        });
        return;
    }
    st.record_failure(now_unix);
    shared.say(ConverterEvent::ActionFailed {
        key: key.to_string(),
        action,
        error: e.to_string(),
    });
}

/// Finds a running converter with the key's name and adopts it. (Only a declared key is
/// looked up: a removed one is deleted by the id in its status, or forgotten.)
async fn lookup(shared: &Shared, key: &str, spec: &ConverterSpec, st: &mut ResourceStatus) {
    let found = shared.push.find_by_name(spec.channel(), key).await;
    match found {
        Ok(Some(m)) => adopt(shared, key, spec, st, m),
        Ok(None) => st.observed = ObservedState::Absent,
        Err(e) => {
            shared.say(ConverterEvent::ActionFailed {
                key: key.to_string(),
                action: "lookup",
                error: e.to_string(),
            });
        }
    }
}

/// Takes over `m`, the running converter named `key`: its notices route here, and the latest
/// spec goes out as an update (what it holds is not known).
fn adopt(shared: &Shared, key: &str, spec: &ConverterSpec, st: &mut ResourceStatus, m: ListMember) {
    shared
        .base
        .route(key, st.resource_id.as_deref(), &m.converter_id);
    st.resource_id = Some(m.converter_id.clone());
    st.existed = true;
    st.observed = ObservedState::Healthy;
    st.applied_generation = 0;
    // It keeps the CDN priority it pushes with (a restart must not lower it).
    if let Some(n) = spec.priority_in(&m.rtmp_url) {
        st.incarnation = st.incarnation.max(n);
    }
    st.region = Some(spec.region.to_string());
    shared
        .push
        .learn(&m.converter_id, spec.region, &spec.converter);
    shared.say(ConverterEvent::Adopted {
        key: key.to_string(),
        id: m.converter_id,
    });
}

async fn create(
    shared: &Shared,
    key: &str,
    spec: &ConverterSpec,
    generation: u64,
    st: &mut ResourceStatus,
    recreating: Option<Option<String>>,
    now_unix: u64,
) {
    let incarnation = st.incarnation.saturating_add(1);
    match shared
        .push
        .create(spec.region, spec.converter_for(incarnation))
        .await
    {
        Ok(created) => {
            let id = created.converter.id.clone();
            if recreating.is_some() || st.existed {
                st.record_recreation(now_unix, shared.config.settings.recreations_per_hour);
            }
            st.incarnation = incarnation;
            shared.base.route(key, st.resource_id.as_deref(), &id);
            st.resource_id = Some(id.clone());
            st.region = Some(spec.region.to_string());
            st.existed = true;
            st.observed = ObservedState::Healthy;
            st.applied_generation = generation;
            st.failures = 0;
            shared.with_key(key, |k| {
                k.health = ConverterHealth::new().with_ha_window(shared.config.ha_window);
            });
            shared.say(match recreating {
                Some(old) => ConverterEvent::Recreated {
                    key: key.to_string(),
                    old,
                    new: id,
                },
                None if created.adopted => ConverterEvent::Adopted {
                    key: key.to_string(),
                    id,
                },
                None => ConverterEvent::Created {
                    key: key.to_string(),
                    id,
                },
            });
        }
        // Held by a converter with our name (an earlier process made it): look it up.
        Err(Error::NameTaken { .. }) => st.observed = ObservedState::Unknown,
        Err(e) => fail(shared, key, "create", &e, st, now_unix),
    }
}

async fn update(
    shared: &Shared,
    key: &str,
    spec: &ConverterSpec,
    generation: u64,
    st: &mut ResourceStatus,
    now_unix: u64,
) {
    let Some(id) = st.resource_id.clone() else {
        st.observed = ObservedState::Unknown;
        return;
    };
    shared.push.learn(&id, spec.region, &spec.converter);
    // Sequences rise across processes: start this process's numbers above the stored last one
    // and above a time-based floor, so a first update after a restart is never stale.
    let floored = shared.with_key(key, |k| std::mem::replace(&mut k.sequence_floored, true));
    if !floored {
        let floor = st.last_sequence.unwrap_or(0).max(now_unix);
        if let Err(e) = shared.push.config.sequences.observe(&id, floor).await {
            fail(shared, key, "update", &Error::Transport(e), st, now_unix);
            return;
        }
    }
    let update = Update::from_parts(spec.converter_for(st.incarnation), spec.update_paths());
    match shared.push.update(&id, update).await {
        Ok(_) => {
            st.applied_generation = generation;
            st.failures = 0;
            st.last_sequence = shared.push.config.sequences.last(&id).await.ok().flatten();
            shared.say(ConverterEvent::Updated {
                key: key.to_string(),
                id,
                generation,
            });
        }
        Err(e) if e.is_not_found() => st.observed = ObservedState::Migrating,
        Err(e) => fail(shared, key, "update", &e, st, now_unix),
    }
}
