//! Pure policy logic for Agora's Media Push and Cloud Transcoding REST services.
//!
//! Every rule of the vendor's integration guides, as plain values and functions: quotas, name
//! rules, sequence numbers, back-off schedules, status classifiers, the domain-failover plan,
//! health state machines and NCS webhook signatures. There is no I/O, no async runtime and no
//! clock here: time is always an argument, and randomness (jitter) is supplied by the caller.
//! That makes every rule testable exactly, and lets users with their own HTTP stack import only
//! this crate.
//!
//! The numbers are the vendor guides' (docs/vendor-rules.md lists them with their sources).
//!
//! ```
//! use std::time::Duration;
//! use agora_rest_core::classify::{classify, Action, Exhausted};
//! use agora_rest_core::operation::Operation;
//! use agora_rest_core::quota::{QuotaLedger, QuotaTable, Tier};
//! use agora_rest_core::region::PathRegion;
//!
//! // A 503 on Get: retry after 5–6 s, 10–11 s, 15–16 s; three in a row mean the task failed.
//! let Action::Retry(plan) = classify(Operation::PushGet, 503, None) else { unreachable!() };
//! let waits: Vec<Duration> = plan.schedule.delays([0.5, 0.5, 0.5]).collect();
//! assert_eq!(waits[0], Duration::from_millis(5_500));
//! assert_eq!(plan.then, Exhausted::TaskFailed);
//!
//! // A 504 on Create: look the converter up before creating again.
//! assert_eq!(classify(Operation::PushCreate, 504, None), Action::ConfirmExistence);
//!
//! // Quotas are checked before any request: the sixth HD stream in Europe is refused locally.
//! let mut ledger = QuotaLedger::new(QuotaTable::media_push());
//! let eu = "eu".parse::<PathRegion>()?.area();
//! for _ in 0..5 { ledger.admit(eu, Tier::for_resolution(1280, 720)?)?; }
//! assert!(ledger.admit(eu, Tier::Hd).is_err());
//! # Ok::<(), agora_rest_core::Error>(())
//! ```

pub mod backoff;
pub mod classify;
pub mod error;
pub mod failover;
pub mod health;
pub mod name;
pub mod ncs;
pub mod operation;
pub mod quota;
pub mod rate;
pub mod reconcile;
pub mod region;
pub mod retry_quota;
pub mod sequence;
pub mod update_rules;

pub use error::Error;
