//! The controller runtime both service crates build on (kube-runtime's shape): stores, a
//! per-key scheduler and the loop that runs reconciles.
//!
//! Exists so that the converter controller and the task controller share one scheduling loop:
//! a key is reconciled by one task at a time, requests for a key merge (the earliest wins), at
//! most `max_parallel` keys run at once, and shutdown takes effect within one step. What a
//! reconcile does is the service crate's business ([`Reconcile`]).

mod base;
pub mod lease;
mod report;
mod runtime;
mod scheduler;
mod settings;
pub mod store;

pub use base::{ControllerBase, KeyView, TroubleEvent};
pub use report::StateReport;
pub use runtime::{MAX_RECONCILE, Reconcile, Runtime};

pub use settings::{
    LEASE_TTL_RANGE, MAX_POLL_EVERY, MIN_POLL_EVERY, STORE_RETRY, Settings, check_lease_ttl,
    check_poll_every, clamp_lease_ttl, clamp_poll_every,
};
