//! Watching a running task: Query every 2 minutes; confirm a 404 with 5/10/15 s before calling
//! it an exit; a 50x is not an exit (SEEDS 004 "Check service running status").

use std::time::Duration;

use agora_rest_core::health::{
    RUNNING_CHECK_INTERVAL, RunningCheck, RunningObservation, RunningVerdict,
};
use agora_rest_core::operation::Operation;
use agora_rest_model::ncs::{TranscoderEvent, TranscoderEventKind};
use agora_rest_model::transcoder::TaskStatus;
use agora_rest_transport::Call;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::Error;
use crate::client::TASK_PATH;
use crate::handle::TaskHandle;

/// Watch settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WatchConfig {
    /// How often a healthy task is queried (default 2 minutes).
    pub interval: Duration,
    /// Start the task again (on the other UID) when it exits.
    pub restart: bool,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            interval: RUNNING_CHECK_INTERVAL,
            restart: false,
        }
    }
}

/// The longest interval a watch accepts: a day. Longer is a mistake (the guide polls every
/// 2 minutes), and would overflow instants.
pub const MAX_WATCH_INTERVAL: Duration = Duration::from_secs(24 * 3600);

impl WatchConfig {
    /// Checks the interval: from 1 s to [`MAX_WATCH_INTERVAL`].
    pub fn validate(&self) -> Result<(), Error> {
        let secs = i64::try_from(self.interval.as_secs()).unwrap_or(i64::MAX);
        if self.interval < Duration::from_secs(1) || self.interval > MAX_WATCH_INTERVAL {
            return Err(agora_rest_core::Error::OutOfRange {
                field: "watch.interval".into(),
                min: 1,
                max: i64::try_from(MAX_WATCH_INTERVAL.as_secs()).unwrap_or(i64::MAX),
                actual: secs,
            }
            .into());
        }
        Ok(())
    }

    /// Sets the interval.
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// Restarts an exited task on the other UID.
    pub fn restart(mut self, on: bool) -> Self {
        self.restart = on;
        self
    }
}

/// What a watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthEvent {
    /// Query answered; the task runs.
    Running {
        /// The task.
        task_id: String,
        /// Its status.
        status: TaskStatus,
    },
    /// A 404 is being confirmed.
    ConfirmingExit {
        /// The task.
        task_id: String,
        /// Confirmation number (1–3).
        attempt: usize,
    },
    /// Query answers 50x; not an exit.
    Unreachable {
        /// The task.
        task_id: String,
    },
    /// The task exited (confirmed 404s, a final status, or a "stopped" notification).
    Exited {
        /// The task.
        task_id: String,
    },
    /// A new task replaces the exited one.
    Restarted {
        /// The exited task.
        old: String,
        /// The new task.
        new: String,
        /// The UID it publishes as.
        uid: u32,
    },
    /// A step failed; the watch goes on or ends as the event after it says.
    Trouble {
        /// What went wrong.
        message: String,
    },
    /// The watch ended.
    Stopped,
}

enum Command {
    Notification(Box<TranscoderEvent>),
    Stop,
}

/// Controls a running watch.
#[derive(Debug, Clone)]
pub struct WatchHandle {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Notification(_) => "Notification",
            Command::Stop => "Stop",
        })
    }
}

impl WatchHandle {
    /// Feeds a Cloud Transcoding notification (111 "stopped" ends the task at once; 112 with
    /// state `failed` makes the watch query at once).
    pub async fn feed(&self, event: TranscoderEvent) {
        let _ = self.tx.send(Command::Notification(Box::new(event))).await;
    }

    /// Ends the watch (the task keeps running).
    pub async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }
}

async fn observe(handle: &TaskHandle) -> (RunningObservation, Option<TaskStatus>) {
    let call = Call::new(Operation::TranscodeQuery, TASK_PATH).without_status_retries();
    match handle
        .transcoder
        .query_with(&handle.task_id, &handle.token, call)
        .await
    {
        Ok(t) if t.status.is_final() => (RunningObservation::Ended, Some(t.status)),
        Ok(t) => (RunningObservation::Running, Some(t.status)),
        Err(Error::Transport(e)) if e.status() == Some(404) => (RunningObservation::NotFound, None),
        Err(_) => (RunningObservation::ServerError, None),
    }
}

async fn run(
    mut handle: TaskHandle,
    config: WatchConfig,
    events: mpsc::Sender<HealthEvent>,
    mut commands: mpsc::Receiver<Command>,
) {
    let say = |e| {
        let events = events.clone();
        async move {
            let _ = events.send(e).await;
        }
    };
    let origin = tokio::time::Instant::now();
    let mut check = RunningCheck::new(config.interval);
    let mut next_at = config.interval;
    loop {
        let mut ended_by_notice = false;
        tokio::select! {
            () = tokio::time::sleep_until(crate::time::at(origin, next_at)) => {}
            cmd = commands.recv() => match cmd {
                None | Some(Command::Stop) => break,
                Some(Command::Notification(ev)) => {
                    if ev.payload.task_id != handle.task_id {
                        continue;
                    }
                    match ev.kind {
                        TranscoderEventKind::Stopped => ended_by_notice = true,
                        TranscoderEventKind::Status if ev.payload.details.state.as_deref() == Some("failed") => {}
                        _ => continue,
                    }
                }
            },
        }
        let (observation, status) = if ended_by_notice {
            (RunningObservation::Ended, None)
        } else {
            observe(&handle).await
        };
        let now = origin.elapsed();
        match check.observe(observation, now) {
            RunningVerdict::Healthy { next_at: n } => {
                next_at = n;
                say(HealthEvent::Running {
                    task_id: handle.task_id.clone(),
                    status: status.unwrap_or(TaskStatus::InProgress),
                })
                .await;
            }
            RunningVerdict::ConfirmingExit {
                next_at: n,
                attempt,
            } => {
                next_at = n;
                say(HealthEvent::ConfirmingExit {
                    task_id: handle.task_id.clone(),
                    attempt,
                })
                .await;
            }
            RunningVerdict::Unreachable { next_at: n } => {
                next_at = n;
                say(HealthEvent::Unreachable {
                    task_id: handle.task_id.clone(),
                })
                .await;
            }
            RunningVerdict::Exited => {
                say(HealthEvent::Exited {
                    task_id: handle.task_id.clone(),
                })
                .await;
                if !config.restart {
                    break;
                }
                // Start on the other UID of the one the exited task held: that one may still be
                // in the channel.
                let mut spec = handle.spec.clone();
                let other = spec.uids.other(handle.uid);
                if let Ok(pair) = agora_rest_core::name::UidPair::new(other, handle.uid) {
                    spec.uids = pair;
                }
                spec.config = handle.config();
                match handle.transcoder.start(spec).await {
                    Ok(new) => {
                        say(HealthEvent::Restarted {
                            old: handle.task_id.clone(),
                            new: new.task_id.clone(),
                            uid: new.uid,
                        })
                        .await;
                        handle = new;
                        check = RunningCheck::new(config.interval);
                        next_at = origin.elapsed().saturating_add(config.interval);
                    }
                    Err(e) => {
                        say(HealthEvent::Trouble {
                            message: e.to_string(),
                        })
                        .await;
                        break;
                    }
                }
            }
        }
    }
    say(HealthEvent::Stopped).await;
}

impl TaskHandle {
    /// Watches the task on the current tokio runtime; returns a handle and the events, or an
    /// error naming the setting when `config` is out of range (nothing is started then).
    ///
    /// ```no_run
    /// # async fn example(task: agora_rest_transcoder::TaskHandle) {
    /// use agora_rest_transcoder::{HealthEvent, WatchConfig};
    /// use futures_util::StreamExt;
    ///
    /// let (watch, events) = task.watch(WatchConfig::default().restart(true)).expect("valid");
    /// let mut events = Box::pin(events);
    /// while let Some(event) = events.next().await {
    ///     if let HealthEvent::Exited { task_id } = &event {
    ///         println!("{task_id} exited (404 confirmed three times)");
    ///     }
    /// }
    /// watch.stop().await;
    /// # }
    /// ```
    pub fn watch(
        &self,
        config: WatchConfig,
    ) -> Result<(WatchHandle, impl Stream<Item = HealthEvent> + use<>), Error> {
        config.validate()?;
        let (tx, rx) = mpsc::channel(16);
        let (events, mut event_rx) = mpsc::channel(64);
        tokio::spawn(run(self.clone(), config, events, rx));
        Ok((
            WatchHandle { tx },
            futures_util::stream::poll_fn(move |cx| event_rx.poll_recv(cx)),
        ))
    }
}
