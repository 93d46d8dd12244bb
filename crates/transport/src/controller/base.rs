//! What both controllers keep alike: the stores, the event sender, the routing of notices by
//! resource id, the metrics report and the clock, with the steps that only these touch.
//!
//! Exists so that the converter controller and the task controller do not each carry a copy
//! of the same bookkeeping (reading a key's desired and observed state, recording it fenced by
//! the lease, reporting a store outage, turning a lease outcome into the next look). What they
//! decide and how they act stays in the service crates.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::lease::{Leased, under_lease};
use super::report::StateReport;
use super::settings::{STORE_RETRY, Settings};
use super::store::{DesiredEntry, Lease, ResourceStatus, Stores};
use crate::clock::UnixClock;

/// How soon a reconcile whose lease was lost mid-action looks again.
const AFTER_LOST_LEASE: Duration = Duration::from_secs(1);

/// The events a controller reports for the steps [`ControllerBase`] takes on its behalf. Both
/// controllers' event enums implement it.
pub trait TroubleEvent: Clone {
    /// An action on `key` failed (`action` names it); it is tried again after a back-off.
    fn action_failed(key: &str, action: &'static str, error: String) -> Self;
    /// A shared store could not be read or written: no action was taken on `key`.
    fn store_unavailable(key: &str, error: String) -> Self;
}

/// The service-independent half of a controller (see the module docs).
pub struct ControllerBase<E> {
    /// Desired state, status and leases.
    pub stores: Stores,
    /// Actions and states, for the metrics.
    pub report: StateReport,
    /// Controller time: Unix milliseconds on tokio's clock.
    pub clock: UnixClock,
    events: broadcast::Sender<E>,
    /// Resource id → key, for routing notices; one id per key.
    ids: Mutex<HashMap<String, String>>,
}

impl<E> std::fmt::Debug for ControllerBase<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerBase")
            .field("service", &self.report)
            .finish_non_exhaustive()
    }
}

/// A key's desired entry (if declared) and its status (default if never recorded).
pub type KeyView = (Option<DesiredEntry>, ResourceStatus);

impl<E: TroubleEvent> ControllerBase<E> {
    /// A base for `service` (the metrics' label) on `stores`, keeping `event_capacity` events
    /// for slow subscribers (at least one).
    pub fn new(service: &'static str, stores: Stores, event_capacity: usize) -> Self {
        let (events, _) = broadcast::channel(event_capacity.max(1));
        ControllerBase {
            stores,
            report: StateReport::new(service),
            clock: UnixClock::new(),
            events,
            ids: Mutex::default(),
        }
    }

    /// Sends an event to the subscribers there are (none is fine; a slow one lags).
    pub fn say(&self, event: E) {
        let _ = self.events.send(event);
    }

    /// A new subscription to the events.
    pub fn subscribe(&self) -> broadcast::Receiver<E> {
        self.events.subscribe()
    }

    /// The key whose resource has `id` now, if any (a replaced resource's id routes nowhere).
    pub fn key_of(&self, id: &str) -> Option<String> {
        self.lock_ids().get(id).cloned()
    }

    /// Routes `id`'s notices to `key`, and no longer those of `previous` (the resource it
    /// replaces): a late notice of a replaced resource must not move its successor.
    pub fn route(&self, key: &str, previous: Option<&str>, id: &str) {
        let mut ids = self.lock_ids();
        if let Some(p) = previous {
            ids.remove(p);
        }
        ids.insert(id.to_string(), key.to_string());
    }

    /// Stops routing `id`'s notices (its resource is gone).
    pub fn unroute(&self, id: &str) {
        self.lock_ids().remove(id);
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports that a store cannot be read or written: no action was taken on `key`.
    pub fn store_unavailable(&self, key: &str, e: &crate::Error) {
        self.say(E::store_unavailable(key, e.to_string()));
    }

    /// Reads `key`'s desired entry and status; on a store failure reports it and returns when
    /// to look again instead.
    pub async fn read(&self, key: &str) -> Result<KeyView, Instant> {
        let retry = || Instant::now() + STORE_RETRY;
        let entry = match self.stores.desired.get(key).await {
            Ok(e) => e,
            Err(e) => {
                self.store_unavailable(key, &e);
                return Err(retry());
            }
        };
        match self.stores.status.get(key).await {
            Ok(s) => Ok((entry, s.unwrap_or_default())),
            Err(e) => {
                self.store_unavailable(key, &e);
                Err(retry())
            }
        }
    }

    /// Records `st` under `lease`; a write refused (the lease moved on) or failed is reported.
    pub async fn record(&self, key: &str, st: &ResourceStatus, lease: &Lease) {
        match self.stores.status.put_fenced(key, st, lease).await {
            Ok(true) => {}
            Ok(false) => self.say(E::action_failed(
                key,
                "record",
                "the lease moved to another replica; this status was not written".into(),
            )),
            Err(e) => self.store_unavailable(key, &e),
        }
    }

    /// Runs `reconcile` on `key` under its lease (taken as `settings.holder` for
    /// `settings.lease_ttl`) and says when to look again: what the reconcile said, or, when the
    /// key is another replica's, after `poll` (a dead owner's lease expires within its TTL, so
    /// it is claimed within TTL plus one poll). The one entry point of both controllers'
    /// reconcilers.
    pub async fn reconcile_leased<F, Fut>(
        &self,
        key: &str,
        settings: &Settings,
        poll: Duration,
        reconcile: F,
    ) -> Option<Instant>
    where
        F: FnOnce(Lease) -> Fut,
        Fut: std::future::Future<Output = Option<Instant>>,
    {
        let leased = under_lease(
            &*self.stores.leases,
            key,
            &settings.holder,
            settings.lease_ttl,
            reconcile,
        )
        .await;
        self.next_look(key, leased, poll)
    }

    /// When to look at `key` again after a reconcile under its lease came to `leased`; another
    /// replica's key leaves this replica's counts.
    fn next_look(
        &self,
        key: &str,
        leased: Leased<Option<Instant>>,
        poll: Duration,
    ) -> Option<Instant> {
        match leased {
            Leased::Done(next) => next,
            Leased::Lost(lost) => {
                self.say(E::action_failed(key, "lease", lost.to_string()));
                Some(Instant::now() + AFTER_LOST_LEASE)
            }
            Leased::Elsewhere => {
                self.report.forget(key);
                Some(Instant::now() + poll)
            }
            Leased::Unavailable(e) => {
                self.store_unavailable(key, &e);
                Some(Instant::now() + STORE_RETRY)
            }
        }
    }
}
