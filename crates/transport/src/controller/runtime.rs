//! The scheduling loop: due keys are reconciled, at most `max_parallel` at once and each key
//! by one task at a time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::scheduler::Scheduler;
use super::store::DesiredStore;

/// One reconcile of one key: look, decide, act, record. Returns when to look at the key again
/// (`None`: not until something wakes it).
#[async_trait::async_trait]
pub trait Reconcile: Send + Sync + 'static {
    /// Reconciles `key`.
    async fn reconcile(&self, key: &str) -> Option<Instant>;
}

enum Command {
    Wake(String),
    Shutdown(oneshot::Sender<()>),
}

/// A running scheduling loop. Dropping every clone stops it.
#[derive(Debug, Clone)]
pub struct Runtime {
    commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Wake(_) => "Wake",
            Command::Shutdown(_) => "Shutdown",
        })
    }
}

impl Runtime {
    /// Starts the loop on the current tokio runtime. Its first step reads every key declared
    /// in `desired` and reconciles them (a new process resumes what its predecessor held).
    pub fn spawn(
        reconciler: Arc<dyn Reconcile>,
        desired: Arc<dyn DesiredStore>,
        max_parallel: usize,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(reconciler, desired, max_parallel.max(1), rx));
        Runtime { commands }
    }

    /// Asks for `key` now (a notice, an apply, a removal).
    pub fn wake(&self, key: &str) {
        let _ = self.commands.send(Command::Wake(key.to_string()));
    }

    /// Stops the loop within one step; reconciles in flight are cancelled.
    pub async fn shutdown(&self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Shutdown(ack)).is_ok() {
            let _ = done.await;
        }
    }
}

/// The longest one reconcile may run (the longest action, a task's start procedure through
/// every round and the startup check, takes a few minutes).
pub const MAX_RECONCILE: Duration = Duration::from_secs(600);

/// How soon a key whose reconcile panicked or ran over is tried again.
const PANIC_RETRY: Duration = Duration::from_secs(5);

async fn drive(
    reconciler: Arc<dyn Reconcile>,
    desired: Arc<dyn DesiredStore>,
    max: usize,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut sched = Scheduler::default();
    let mut running: JoinSet<(String, Option<Instant>)> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    // Which key each running task reconciles (to free a key whose task panicked).
    let mut tasks: HashMap<tokio::task::Id, String> = HashMap::new();
    // A store that cannot list its keys now is not retried here: every apply wakes its key.
    let keys = desired.keys().await.unwrap_or_default();
    let start = Instant::now();
    for k in keys {
        sched.schedule(&k, start);
    }
    loop {
        // With every slot taken, only a finished reconcile or a command can make progress:
        // waiting on an overdue key then would spin.
        let due = sched
            .next_due()
            .filter(|_| running.len() < max)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(Command::Wake(k)) => sched.schedule(&k, Instant::now()),
                Some(Command::Shutdown(ack)) => {
                    running.abort_all();
                    let _ = ack.send(());
                    break;
                }
            },
            () = tokio::time::sleep_until(due) => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                match done {
                    Ok((id, (key, next))) => {
                        tasks.remove(&id);
                        busy.remove(&key);
                        if let Some(at) = next {
                            sched.schedule(&key, at);
                        }
                    }
                    // A reconcile that panicked (or was aborted) must not lose its key: it is
                    // freed and tried again after a pause.
                    Err(e) => {
                        if let Some(key) = tasks.remove(&e.id()) {
                            tracing::error!(key = %key, error = %e, "a reconcile failed; trying again in 5 s");
                            busy.remove(&key);
                            sched.schedule(&key, Instant::now() + PANIC_RETRY);
                        }
                    }
                }
            }
        }
        let room = max.saturating_sub(running.len());
        for key in sched.take_due(Instant::now(), room) {
            if !busy.insert(key.clone()) {
                // Being reconciled: look again right after.
                sched.schedule(&key, Instant::now() + Duration::from_millis(100));
                continue;
            }
            let r = Arc::clone(&reconciler);
            let name = key.clone();
            let handle = running.spawn(async move {
                // Bounded: a reconcile stuck on a call that never answers would hold its key
                // (and its lease, renewed) for ever.
                match tokio::time::timeout(MAX_RECONCILE, r.reconcile(&key)).await {
                    Ok(next) => (key, next),
                    Err(_) => {
                        tracing::error!(key = %key, "a reconcile ran over {MAX_RECONCILE:?}; cancelled, trying again in 5 s");
                        (key, Some(Instant::now() + PANIC_RETRY))
                    }
                }
            });
            tasks.insert(handle.id(), name);
        }
    }
    running.abort_all();
}
