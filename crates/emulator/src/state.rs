//! The emulator's state: converters, tasks, tokens, channels, limits, and the notices they emit.
//!
//! Time-driven changes (connecting → running, idle timeouts, HA windows ending, STARTED →
//! IN_PROGRESS) are applied by [`State::advance`], called before every request and by the
//! background ticker, so a paused or manual clock drives them without real waiting.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use agora_rest_core::operation::Operation;
use agora_rest_core::quota::{QuotaLedger, Tier};
use agora_rest_core::rate::SlidingWindow;
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_core::sequence::HighestWins;
use agora_rest_model::mediapush::{Converter, ConverterInfo, ConverterState};
use agora_rest_model::ncs::{
    ConverterEventPayload, DestroyReason, MediaPushEvent, MediaPushEventKind, Notification,
    TRANSCODER_SERVICE_SCENE, TranscoderEvent, TranscoderEventDetails, TranscoderEventKind,
    TranscoderEventName, TranscoderEventPayload,
};
use agora_rest_model::transcoder::CreateTaskRequest;

use crate::config::EmulatorConfig;
use crate::faults::FaultPlan;

/// A converter as the emulator keeps it.
#[derive(Debug, Clone)]
pub struct StoredConverter {
    /// 32 lowercase hex characters.
    pub id: String,
    /// The project.
    pub app_id: String,
    /// The region it was created in (Update, Get and Delete must use it).
    pub region: PathRegion,
    /// The converter as created and updated (normalised as the service does).
    pub converter: Converter,
    /// Unix seconds.
    pub create_ts: u64,
    /// Unix seconds.
    pub update_ts: u64,
    /// Emulator time of creation.
    pub created_at: Duration,
    /// The state.
    pub state: ConverterState,
    /// The highest update sequence applied.
    pub sequence: HighestWins,
    /// The resolution tier it counts against.
    pub tier: Tier,
    /// Until when an injected HA migration makes it answer 404.
    pub ha_until: Option<Duration>,
    /// Creation order, for List paging.
    pub order: u64,
}

impl StoredConverter {
    /// The converter as Get returns it.
    pub fn info(&self) -> ConverterInfo {
        ConverterInfo {
            id: None,
            name: self.converter.name.clone(),
            transcode_options: self.converter.transcode_options.clone(),
            raw_options: self.converter.raw_options.clone(),
            rtmp_url: self.converter.rtmp_url.clone(),
            idle_timeout: Some(self.idle_timeout()),
            create_ts: Some(self.create_ts),
            update_ts: Some(self.update_ts),
            state: Some(self.state.clone()),
        }
    }

    /// `idleTimeOut`, or the default 300 s.
    pub fn idle_timeout(&self) -> u32 {
        self.converter
            .idle_timeout
            .unwrap_or(agora_rest_model::limits::PUSH_IDLE_TIMEOUT_DEFAULT)
    }
}

/// Whether a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPhase {
    /// `STARTED` / `serviceReady`.
    Started,
    /// `IN_PROGRESS` / `serviceInProgress`.
    InProgress,
}

/// A Cloud Transcoding task as the emulator keeps it.
#[derive(Debug, Clone)]
pub struct StoredTask {
    /// 32 lowercase hex characters.
    pub id: String,
    /// The project.
    pub app_id: String,
    /// The instance id of the token that created it.
    pub instance_id: String,
    /// The token that created it.
    pub token: String,
    /// The config, as created or last updated.
    pub request: CreateTaskRequest,
    /// Unix seconds.
    pub create_ts: u64,
    /// Emulator time of creation.
    pub created_at: Duration,
    /// The phase.
    pub phase: TaskPhase,
    /// The highest `sequenceId` applied.
    pub sequence: HighestWins,
    /// The tier it counts against.
    pub tier: Tier,
    /// Until when an injected HA migration makes it answer 404.
    pub ha_until: Option<Duration>,
    /// NCS `sequence` counter of this task's notices.
    pub notices: u64,
}

/// A builder token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The instance id it was minted for.
    pub instance_id: String,
    /// The project.
    pub app_id: String,
    /// Emulator time of the Acquire.
    pub acquired_at: Duration,
    /// The task it created, if any.
    pub used_by: Option<String>,
}

/// Whether a channel has publishers, and since when that is so.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Channel {
    pub(crate) publishers: bool,
    pub(crate) since: Duration,
}

/// One line of the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Emulator time.
    pub at: Duration,
    /// The host the request was sent to.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The operation, if the route matched.
    pub op: Option<Operation>,
    /// The status answered (0 for a dropped connection).
    pub status: u16,
    /// The request id answered with.
    pub request_id: String,
    /// The fault injected into this request, in the `--fault` grammar (`504-commit`, …).
    pub fault: Option<String>,
}

/// A notice waiting for delivery.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The notification.
    pub notification: Notification,
    /// Unix ms when it happened.
    pub at_ms: u64,
}

/// Everything the emulator knows.
#[derive(Debug)]
pub(crate) struct State {
    /// App ids seen (without a configured app id), capped by `max_apps`.
    pub(crate) apps: std::collections::HashSet<String>,
    pub(crate) converters: HashMap<String, StoredConverter>,
    pub(crate) names: HashMap<(String, String), String>,
    pub(crate) tasks: HashMap<String, StoredTask>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) instances: HashMap<(String, String), String>,
    pub(crate) push_ledgers: HashMap<String, QuotaLedger>,
    pub(crate) transcoding_ledgers: HashMap<String, QuotaLedger>,
    pub(crate) windows: HashMap<(String, Operation), SlidingWindow>,
    pub(crate) converter_windows: HashMap<String, SlidingWindow>,
    pub(crate) transcoding_windows: HashMap<String, SlidingWindow>,
    pub(crate) channels: HashMap<String, Channel>,
    pub(crate) faults: FaultPlan,
    pub(crate) log: VecDeque<LogEntry>,
    pub(crate) outbox: VecDeque<Outgoing>,
    pub(crate) rng: fastrand::Rng,
    pub(crate) order: u64,
    pub(crate) timers: BinaryHeap<Reverse<(Duration, u64, Timer)>>,
    timer_seq: u64,
}

/// A time-driven change waiting in [`State::timers`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A converter leaves `connecting`.
    ConverterRunning(String),
    /// A converter's idle timeout may have run out.
    ConverterIdle(String),
    /// A task goes `IN_PROGRESS`.
    TaskInProgress(String),
    /// A task's idle timeout may have run out.
    TaskIdle(String),
}

/// The most notices kept waiting when nobody delivers them.
const OUTBOX_CAPACITY: usize = 10_000;

impl State {
    pub(crate) fn new(seed: u64) -> Self {
        State {
            apps: std::collections::HashSet::new(),
            converters: HashMap::new(),
            names: HashMap::new(),
            tasks: HashMap::new(),
            tokens: HashMap::new(),
            instances: HashMap::new(),
            push_ledgers: HashMap::new(),
            transcoding_ledgers: HashMap::new(),
            windows: HashMap::new(),
            converter_windows: HashMap::new(),
            transcoding_windows: HashMap::new(),
            channels: HashMap::new(),
            faults: FaultPlan::default(),
            log: VecDeque::new(),
            outbox: VecDeque::new(),
            rng: fastrand::Rng::with_seed(seed),
            order: 0,
            timers: BinaryHeap::new(),
            timer_seq: 0,
        }
    }

    /// 32 lowercase hex characters from the seeded generator.
    pub(crate) fn new_id(&mut self) -> String {
        format!("{:032x}", self.rng.u128(..))
    }

    /// A builder token: 48 URL-safe characters.
    pub(crate) fn new_token(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..48)
            .map(|_| char::from(ALPHABET[self.rng.usize(..ALPHABET.len())]))
            .collect()
    }

    pub(crate) fn emit(&mut self, notification: Notification, at_ms: u64) {
        if self.outbox.len() >= OUTBOX_CAPACITY {
            self.outbox.pop_front();
        }
        self.outbox.push_back(Outgoing {
            notification,
            at_ms,
        });
    }

    /// Since when `channel` has had no publishers, if it has none.
    fn idle_since(&self, channel: Option<&str>) -> Option<Duration> {
        let c = self.channels.get(channel?)?;
        (!c.publishers).then_some(c.since)
    }

    pub(crate) fn set_publishers(&mut self, channel: &str, publishers: bool, now: Duration) {
        let entry = self.channels.entry(channel.to_string()).or_insert(Channel {
            publishers: true,
            since: now,
        });
        if entry.publishers != publishers {
            *entry = Channel {
                publishers,
                since: now,
            };
            if !publishers {
                self.schedule_idle_checks(channel);
            }
        }
    }

    /// Schedules the timers of a new converter.
    pub(crate) fn converter_created(&mut self, c: &StoredConverter, running_after: Duration) {
        self.schedule(
            c.created_at + running_after,
            Timer::ConverterRunning(c.id.clone()),
        );
        if let Some(at) = self.converter_idle_due(c) {
            self.schedule(at, Timer::ConverterIdle(c.id.clone()));
        }
    }

    /// Schedules the timers of a new task.
    pub(crate) fn task_created(&mut self, t: &StoredTask, in_progress_after: Duration) {
        self.schedule(
            t.created_at + in_progress_after,
            Timer::TaskInProgress(t.id.clone()),
        );
        if let Some(at) = self.task_idle_due(t) {
            self.schedule(at, Timer::TaskIdle(t.id.clone()));
        }
    }

    /// Removes a converter, frees its name and quota, and emits event 4.
    pub(crate) fn destroy_converter(
        &mut self,
        id: &str,
        reason: DestroyReason,
        unix: u64,
        unix_ms: u64,
    ) {
        let Some(c) = self.converters.remove(id) else {
            return;
        };
        if let Some(name) = c.converter.name.as_ref().filter(|n| !n.is_empty()) {
            self.names.remove(&(c.app_id.clone(), name.clone()));
        }
        if let Some(l) = self.push_ledgers.get_mut(&c.app_id) {
            l.release(c.region.area(), c.tier);
        }
        self.converter_windows.remove(id);
        let payload = ConverterEventPayload {
            converter: ConverterInfo {
                id: Some(c.id.clone()),
                name: c.converter.name.clone(),
                create_ts: Some(c.create_ts),
                update_ts: Some(unix),
                ..ConverterInfo::default()
            },
            lts: unix,
            x_request_id: None,
            fields: Some("id,name,createTs,updateTs".into()),
            destroy_reason: Some(reason),
        };
        self.emit(
            media_push_notice(MediaPushEventKind::Destroyed, payload),
            unix_ms,
        );
    }

    pub(crate) fn converter_state_event(&mut self, c: &StoredConverter, unix_ms: u64) {
        let payload = ConverterEventPayload {
            converter: ConverterInfo {
                id: Some(c.id.clone()),
                create_ts: Some(c.create_ts),
                update_ts: Some(c.update_ts),
                state: Some(c.state.clone()),
                ..ConverterInfo::default()
            },
            lts: c.update_ts,
            x_request_id: None,
            fields: Some("id,createTs,updateTs,state".into()),
            destroy_reason: None,
        };
        self.emit(
            media_push_notice(MediaPushEventKind::StateChanged, payload),
            unix_ms,
        );
    }

    /// Removes a task, frees its instance id and quota, and emits event 111.
    pub(crate) fn stop_task(
        &mut self,
        id: &str,
        reason: &str,
        area: Area,
        unix_ms: u64,
    ) -> Option<StoredTask> {
        let mut t = self.tasks.remove(id)?;
        self.instances
            .remove(&(t.app_id.clone(), t.instance_id.clone()));
        if let Some(l) = self.transcoding_ledgers.get_mut(&t.app_id) {
            l.release(area, t.tier);
        }
        t.notices += 1;
        let details = TranscoderEventDetails {
            event: TranscoderEventName::Stopped,
            state: None,
            stop_reason: Some(reason.to_string()),
            transcoder: None,
            create_ts: Some(t.create_ts * 1000),
            update_ts: Some(unix_ms),
        };
        self.emit(
            transcoder_notice(&t, TranscoderEventKind::Stopped, details, unix_ms),
            unix_ms,
        );
        Some(t)
    }

    /// Schedules a time-driven change.
    pub(crate) fn schedule(&mut self, at: Duration, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    /// The channel a task reads from.
    pub(crate) fn task_channel(t: &StoredTask) -> Option<String> {
        let tc = t.request.transcoder();
        tc.audio_inputs
            .iter()
            .flatten()
            .filter_map(|i| i.rtc.as_ref())
            .chain(
                tc.video_inputs
                    .iter()
                    .flatten()
                    .filter_map(|i| i.rtc.as_ref()),
            )
            .map(|r| r.rtc_channel.clone())
            .next()
    }

    /// When converter `c` is due to be destroyed for idleness, if its channel is idle.
    fn converter_idle_due(&self, c: &StoredConverter) -> Option<Duration> {
        let since = self.idle_since(c.converter.rtc_channel())?;
        Some(since.max(c.created_at) + Duration::from_secs(u64::from(c.idle_timeout())))
    }

    /// When task `t` is due to stop for idleness, if its channel is idle.
    fn task_idle_due(&self, t: &StoredTask) -> Option<Duration> {
        let since = self.idle_since(Self::task_channel(t).as_deref())?;
        let idle = t
            .request
            .transcoder()
            .idle_timeout
            .unwrap_or(agora_rest_model::limits::TRANSCODER_IDLE_TIMEOUT_DEFAULT);
        Some(since.max(t.created_at) + Duration::from_secs(u64::from(idle)))
    }

    /// Schedules the idle checks of everything reading from `channel` (it just went quiet).
    fn schedule_idle_checks(&mut self, channel: &str) {
        let mut due = Vec::new();
        for c in self.converters.values() {
            if c.converter.rtc_channel() == Some(channel)
                && let Some(at) = self.converter_idle_due(c)
            {
                due.push((at, Timer::ConverterIdle(c.id.clone())));
            }
        }
        for t in self.tasks.values() {
            if Self::task_channel(t).as_deref() == Some(channel)
                && let Some(at) = self.task_idle_due(t)
            {
                due.push((at, Timer::TaskIdle(t.id.clone())));
            }
        }
        for (at, timer) in due {
            self.schedule(at, timer);
        }
    }

    /// Applies every time-driven change due by `now`, in the order they fell due.
    ///
    /// A heap of timers makes each request's catch-up cost the changes due, not the number of
    /// converters and tasks held (which can be hundreds of thousands).
    pub(crate) fn advance(
        &mut self,
        config: &EmulatorConfig,
        now: Duration,
        unix_at: impl Fn(Duration) -> u64,
    ) {
        let unix_ms = |d: Duration| unix_at(d) * 1000 + u64::from(d.subsec_millis());
        while self
            .timers
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            let Some(Reverse((at, _, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::ConverterRunning(id) => {
                    let Some(c) = self.converters.get_mut(&id) else {
                        continue;
                    };
                    if c.state != ConverterState::Connecting {
                        continue;
                    }
                    c.state = ConverterState::Running;
                    c.update_ts = unix_at(at);
                    let c = c.clone();
                    self.converter_state_event(&c, unix_ms(at));
                }
                Timer::ConverterIdle(id) => {
                    let Some(c) = self.converters.get(&id) else {
                        continue;
                    };
                    match self.converter_idle_due(c) {
                        Some(due) if due <= at => {
                            self.destroy_converter(
                                &id,
                                DestroyReason::IdleTimeout,
                                unix_at(due),
                                unix_ms(due),
                            );
                        }
                        Some(due) => self.schedule(due, Timer::ConverterIdle(id)),
                        None => {}
                    }
                }
                Timer::TaskInProgress(id) => {
                    let Some(t) = self.tasks.get_mut(&id) else {
                        continue;
                    };
                    if t.phase != TaskPhase::Started {
                        continue;
                    }
                    t.phase = TaskPhase::InProgress;
                    t.notices += 1;
                    let t = t.clone();
                    let details = TranscoderEventDetails {
                        event: TranscoderEventName::Status,
                        state: Some("running".into()),
                        stop_reason: None,
                        transcoder: None,
                        create_ts: Some(t.create_ts * 1000),
                        update_ts: Some(unix_ms(at)),
                    };
                    self.emit(
                        transcoder_notice(&t, TranscoderEventKind::Status, details, unix_ms(at)),
                        unix_ms(at),
                    );
                }
                Timer::TaskIdle(id) => {
                    let Some(t) = self.tasks.get(&id) else {
                        continue;
                    };
                    match self.task_idle_due(t) {
                        Some(due) if due <= at => {
                            self.stop_task(
                                &id,
                                "Idle timeout",
                                config.transcoding_area,
                                unix_ms(due),
                            );
                        }
                        Some(due) => self.schedule(due, Timer::TaskIdle(id)),
                        None => {}
                    }
                }
            }
        }
    }
}

/// A Media Push notice.
pub(crate) fn media_push_notice(
    kind: MediaPushEventKind,
    payload: ConverterEventPayload,
) -> Notification {
    Notification::MediaPush(Box::new(MediaPushEvent { kind, payload }))
}

/// A Cloud Transcoding notice for task `t`.
pub(crate) fn transcoder_notice(
    t: &StoredTask,
    kind: TranscoderEventKind,
    details: TranscoderEventDetails,
    unix_ms: u64,
) -> Notification {
    Notification::CloudTranscoding(Box::new(TranscoderEvent {
        kind,
        payload: TranscoderEventPayload {
            task_id: t.id.clone(),
            instance_id: t.instance_id.clone(),
            sequence: t.notices,
            sendts: unix_ms,
            service_scene: TRANSCODER_SERVICE_SCENE.to_string(),
            details,
        },
    }))
}
