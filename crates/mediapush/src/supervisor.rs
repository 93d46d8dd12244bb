//! A supervisor that keeps a converter alive, as the vendor's guide describes.
//!
//! It polls Get (every 2 minutes by default, jittered), and after a 404 or 5xx polls again on
//! the guide's 5–6 s, 10–11 s, 15–16 s schedule. Core's [`ConverterHealth`] decides: three
//! errors in a row (and, for 404s, past the 120 s HA migration window) or `state: failed`
//! mean the converter failed; the supervisor then deletes it and creates it again under the
//! same name (waiting out a 409 while the old one lingers, and taking the old one back if it
//! recovers meanwhile). Notifications fed by the application (events 3 and 4) act at once.
//! Everything it does is reported as a stream of [`SupervisorEvent`]s.

use std::time::Duration;

use agora_rest_core::backoff::MEDIA_PUSH_RETRY;
use agora_rest_core::health::{
    ConverterHealth, ConverterObservation, ConverterVerdict, FailReason, HA_MIGRATION_WINDOW,
};
use agora_rest_core::operation::Operation;
use agora_rest_core::region::PathRegion;
use agora_rest_model::mediapush::{Converter, ConverterState};
use agora_rest_model::ncs::{DestroyReason, MediaPushEvent, MediaPushEventKind};
use agora_rest_transport::Call;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::Error;
use crate::client::{MediaPush, ONE_PATH};
use crate::create::is_failed;

/// How a re-created converter pushes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Recreate {
    /// To the same CDN URL.
    #[default]
    SameUrl,
    /// To the same URL with the next priority (`?priority=N`, the field name is the CDN's):
    /// the CDN then ignores the failed stream (REFERENCE SEEDS 000 "priority").
    NextPriority {
        /// The query field the CDN reads, e.g. `priority`.
        field: String,
    },
}

/// Supervisor settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SupervisorConfig {
    /// How often a healthy converter is checked.
    pub poll_every: Duration,
    /// Jitter of the poll interval, as a fraction (0.1 = ±10 %), so many supervisors do not
    /// poll in step.
    pub poll_jitter: f64,
    /// Wait this long after the first 404 before re-creating (the HA migration window);
    /// `None` for the literal "three in a row".
    pub ha_window: Option<Duration>,
    /// How re-created converters push.
    pub recreate: Recreate,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            poll_every: Duration::from_secs(120),
            poll_jitter: 0.1,
            ha_window: Some(HA_MIGRATION_WINDOW),
            recreate: Recreate::SameUrl,
        }
    }
}

impl SupervisorConfig {
    /// Sets the poll interval.
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    /// Sets the poll jitter (a fraction; 0 for exact intervals).
    pub fn poll_jitter(mut self, jitter: f64) -> Self {
        self.poll_jitter = jitter;
        self
    }

    /// Sets how re-created converters push.
    pub fn recreate(mut self, recreate: Recreate) -> Self {
        self.recreate = recreate;
        self
    }

    /// Sets the HA window (`None`: three errors in a row suffice).
    pub fn ha_window(mut self, window: Option<Duration>) -> Self {
        self.ha_window = window;
        self
    }
}

/// What a supervisor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// The converter exists (created, or adopted after an uncertain create).
    Started {
        /// Its id.
        id: String,
    },
    /// Its state changed (connecting → running, …).
    State {
        /// Its id.
        id: String,
        /// The new state.
        state: ConverterState,
    },
    /// Errors in a row, not yet enough to give up.
    Degraded {
        /// Its id.
        id: String,
        /// How many.
        consecutive: u32,
    },
    /// It answers again after errors, without having been re-created.
    Recovered {
        /// Its id.
        id: String,
    },
    /// It failed: the supervisor re-creates it.
    Failed {
        /// Its id.
        id: String,
        /// Why.
        reason: FailReason,
    },
    /// A new converter replaces a failed one.
    Recreated {
        /// The failed one.
        old: String,
        /// The new one.
        new: String,
        /// Where the new one pushes.
        rtmp_url: String,
    },
    /// A step failed; the supervisor keeps trying.
    Trouble {
        /// What went wrong, with the request id where there is one.
        message: String,
    },
    /// Supervision ended.
    Stopped,
}

enum Command {
    Notification(Box<MediaPushEvent>),
    Stop { delete: bool },
}

/// Controls a running supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorHandle {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Notification(_) => "Notification",
            Command::Stop { .. } => "Stop",
        })
    }
}

impl SupervisorHandle {
    /// Feeds a Media Push notification (events 3 "state changed" and 4 "destroyed" act at once).
    pub async fn feed(&self, event: MediaPushEvent) {
        let _ = self.tx.send(Command::Notification(Box::new(event))).await;
    }

    /// Stops supervising; with `delete`, deletes the converter too.
    pub async fn stop(&self, delete: bool) {
        let _ = self.tx.send(Command::Stop { delete }).await;
    }
}

fn with_priority(url: &str, field: &str, n: u32) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(field))
        .map(str::to_string)
        .collect();
    parts.push(format!("{field}={n}"));
    format!("{base}?{}", parts.join("&"))
}

struct Run {
    push: MediaPush,
    region: PathRegion,
    converter: Converter,
    config: SupervisorConfig,
    events: mpsc::Sender<SupervisorEvent>,
    origin: tokio::time::Instant,
    priority: u32,
}

impl Run {
    async fn say(&self, e: SupervisorEvent) {
        let _ = self.events.send(e).await;
    }

    fn now(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }

    /// Creates (or re-creates) the converter, waiting out a lingering name.
    async fn create(&mut self, previous: Option<&str>) -> Option<String> {
        let mut retry = 0;
        loop {
            match self.push.create(self.region, self.converter.clone()).await {
                Ok(c) => return Some(c.converter.id),
                Err(Error::NameTaken {
                    existing_id: Some(existing),
                    ..
                }) if Some(existing.as_str()) == previous => {
                    // The old converter still holds the name: if it answers again, keep it.
                    if let Ok(info) = self.push.get(&existing).await
                        && !info.state.as_ref().is_some_and(is_failed)
                    {
                        self.say(SupervisorEvent::Recovered {
                            id: existing.clone(),
                        })
                        .await;
                        return Some(existing);
                    }
                    let _ = self.push.delete(&existing).await;
                }
                Err(Error::NameTaken { .. }) if previous.is_some() => {}
                Err(e) => {
                    self.say(SupervisorEvent::Trouble {
                        message: e.to_string(),
                    })
                    .await;
                    if previous.is_none()
                        && matches!(
                            e,
                            Error::Invalid(_) | Error::NameRequired | Error::NameTaken { .. }
                        )
                    {
                        return None;
                    }
                }
            }
            let wait = MEDIA_PUSH_RETRY
                .repeating_last()
                .delay(retry, self.push.client.jitter())
                .unwrap_or(Duration::from_secs(15));
            retry += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn observe(&self, id: &str) -> (ConverterObservation, Option<ConverterState>) {
        let call = Call::new(Operation::PushGet, ONE_PATH).without_status_retries();
        match self.push.get_with(id, call).await {
            Ok(info) => match info.state {
                Some(s) if is_failed(&s) => (ConverterObservation::StateFailed, Some(s)),
                s => (ConverterObservation::Alive, s),
            },
            Err(e) => match e.status() {
                Some(404) => (ConverterObservation::NotFound, None),
                Some(s) if s >= 500 => (ConverterObservation::ServerError, None),
                _ => {
                    self.say(SupervisorEvent::Trouble {
                        message: e.to_string(),
                    })
                    .await;
                    (ConverterObservation::Inconclusive, None)
                }
            },
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let Some(mut id) = self.create(None).await else {
            self.say(SupervisorEvent::Stopped).await;
            return;
        };
        self.say(SupervisorEvent::Started { id: id.clone() }).await;
        let mut health = ConverterHealth::new().with_ha_window(self.config.ha_window);
        let mut last_state: Option<ConverterState> = None;
        let mut errors: usize = 0;
        loop {
            let wait = if errors == 0 {
                let j = self.config.poll_jitter.clamp(0.0, 1.0);
                self.config
                    .poll_every
                    .mul_f64(1.0 - j + 2.0 * j * self.push.client.jitter())
            } else {
                MEDIA_PUSH_RETRY
                    .repeating_last()
                    .delay(errors - 1, self.push.client.jitter())
                    .unwrap_or(Duration::from_secs(15))
            };
            let mut forced: Option<FailReason> = None;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                cmd = commands.recv() => match cmd {
                    None | Some(Command::Stop { delete: false }) => break,
                    Some(Command::Stop { delete: true }) => {
                        if let Err(e) = self.push.delete(&id).await {
                            self.say(SupervisorEvent::Trouble { message: e.to_string() }).await;
                        }
                        break;
                    }
                    Some(Command::Notification(ev)) => {
                        if ev.payload.converter.id.as_deref() != Some(id.as_str()) {
                            continue;
                        }
                        match ev.kind {
                            MediaPushEventKind::StateChanged
                                if ev.payload.converter.state.as_ref().is_some_and(is_failed) =>
                            {
                                forced = Some(FailReason::StateFailed);
                            }
                            MediaPushEventKind::Destroyed
                                if ev.payload.destroy_reason != Some(DestroyReason::DeleteRequest) =>
                            {
                                forced = Some(FailReason::RepeatedErrors);
                            }
                            _ => continue,
                        }
                    }
                },
            }
            let verdict = match forced {
                Some(reason) => ConverterVerdict::Failed(reason),
                None => {
                    let (obs, state) = self.observe(&id).await;
                    let verdict = health.observe(obs, self.now());
                    if verdict == ConverterVerdict::Healthy && errors > 0 {
                        self.say(SupervisorEvent::Recovered { id: id.clone() })
                            .await;
                    }
                    if state.is_some() && state != last_state {
                        last_state.clone_from(&state);
                        if let Some(state) = state {
                            self.say(SupervisorEvent::State {
                                id: id.clone(),
                                state,
                            })
                            .await;
                        }
                    }
                    verdict
                }
            };
            match verdict {
                ConverterVerdict::Healthy => errors = 0,
                ConverterVerdict::Degraded { consecutive, .. } => {
                    errors += 1;
                    self.say(SupervisorEvent::Degraded {
                        id: id.clone(),
                        consecutive,
                    })
                    .await;
                }
                ConverterVerdict::Failed(reason) => {
                    self.say(SupervisorEvent::Failed {
                        id: id.clone(),
                        reason,
                    })
                    .await;
                    if let Err(e) = self.push.delete(&id).await {
                        self.say(SupervisorEvent::Trouble {
                            message: e.to_string(),
                        })
                        .await;
                    }
                    if let Recreate::NextPriority { field } = &self.config.recreate {
                        self.priority += 1;
                        if let Some(url) = self.converter.rtmp_url.as_deref() {
                            self.converter.rtmp_url =
                                Some(with_priority(url, field, self.priority));
                        }
                    }
                    let old = id.clone();
                    let Some(new) = self.create(Some(&old)).await else {
                        break;
                    };
                    id = new;
                    if id != old {
                        self.say(SupervisorEvent::Recreated {
                            old,
                            new: id.clone(),
                            rtmp_url: self.converter.rtmp_url.clone().unwrap_or_default(),
                        })
                        .await;
                    }
                    health = ConverterHealth::new().with_ha_window(self.config.ha_window);
                    last_state = None;
                    errors = 0;
                }
            }
        }
        self.say(SupervisorEvent::Stopped).await;
    }
}

impl MediaPush {
    /// Creates `converter` in `region` (once) and keeps it alive; returns a handle and the
    /// stream of what happens. The supervisor runs on the current tokio runtime until stopped.
    ///
    /// ```no_run
    /// # async fn example(push: agora_rest_mediapush::MediaPush, converter: agora_rest_model::mediapush::Converter) {
    /// use agora_rest_core::region::PathRegion;
    /// use agora_rest_mediapush::{SupervisorConfig, SupervisorEvent};
    /// use futures_util::StreamExt;
    ///
    /// let (handle, events) = push.supervise(PathRegion::Na, converter, SupervisorConfig::default());
    /// let mut events = Box::pin(events);
    /// while let Some(event) = events.next().await {
    ///     if let SupervisorEvent::Recreated { old, new, .. } = &event {
    ///         println!("{old} failed; {new} replaces it");
    ///     }
    /// }
    /// handle.stop(true).await;
    /// # }
    /// ```
    pub fn supervise(
        &self,
        region: PathRegion,
        converter: Converter,
        config: SupervisorConfig,
    ) -> (
        SupervisorHandle,
        impl Stream<Item = SupervisorEvent> + use<>,
    ) {
        let (tx, rx) = mpsc::channel(16);
        let (events, mut event_rx) = mpsc::channel(64);
        let mut converter = converter;
        let priority = match &config.recreate {
            Recreate::NextPriority { field } => {
                if let Some(url) = converter.rtmp_url.as_deref() {
                    converter.rtmp_url = Some(with_priority(url, field, 1));
                }
                1
            }
            Recreate::SameUrl => 0,
        };
        let run = Run {
            push: self.clone(),
            region,
            converter,
            config,
            events,
            origin: tokio::time::Instant::now(),
            priority,
        };
        tokio::spawn(run.run(rx));
        let stream = futures_util::stream::poll_fn(move |cx| event_rx.poll_recv(cx));
        (SupervisorHandle { tx }, stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_urls() {
        assert_eq!(
            with_priority("rtmp://h/live/x", "priority", 1),
            "rtmp://h/live/x?priority=1"
        );
        assert_eq!(
            with_priority("rtmp://h/live/x?priority=1&k=v", "priority", 2),
            "rtmp://h/live/x?k=v&priority=2"
        );
    }
}
