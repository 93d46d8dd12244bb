//! What a controller reports to the metrics: each action, and its resources by state.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::store::ObservedState;
use crate::metrics;

/// The state of each resource this process last reported in the `agora_rest_resources` gauge,
/// so that a change moves the resource from one state's count to another's.
///
/// Each replica counts the resources it reconciles; one that another replica took over leaves
/// this replica's counts ([`StateReport::forget`]), so summing the replicas' gauges counts
/// every resource once. Holds one entry per key this process reconciles.
#[derive(Debug)]
pub struct StateReport {
    service: &'static str,
    states: Mutex<HashMap<String, ObservedState>>,
}

impl StateReport {
    /// A report for `service` (`mediapush` or `transcoder`, the metrics' `service` label).
    pub fn new(service: &'static str) -> Self {
        StateReport {
            service,
            states: Mutex::default(),
        }
    }

    /// Counts one decided action.
    pub fn action(&self, action: &agora_rest_core::reconcile::Action) {
        metrics::reconcile_action(self.service, action.name());
    }

    /// `key` is now in `state`.
    pub fn state(&self, key: &str, state: ObservedState) {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let before = states.insert(key.to_string(), state);
        metrics::resource_state(
            self.service,
            before.map(ObservedState::as_str),
            Some(state.as_str()),
        );
    }

    /// `key` is no longer counted here (forgotten, or reconciled by another replica).
    pub fn forget(&self, key: &str) {
        let before = self
            .states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        if let Some(before) = before {
            metrics::resource_state(self.service, Some(before.as_str()), None);
        }
    }
}
