//! Health state machines for running tasks, each pure with time as an argument.
//!
//! Exists because the guides describe *procedures over time* — "three 404s in a row", "Query
//! after 5 s, give up at 90 s", "Query every 2 minutes, confirm a 404 with 5/10/15 s" — that a
//! client must follow exactly and a test must be able to check without waiting. Each machine
//! takes observations and the current time and returns a decision value; the async drivers in
//! the service crates only execute those decisions.

mod converter;
mod running;
mod startup;
mod token;
mod uid;

pub use converter::{
    CONVERTER_CHECK_INTERVAL, ConverterHealth, ConverterObservation, ConverterVerdict,
    FAILURES_IN_A_ROW, FailReason, HA_MIGRATION_WINDOW,
};
pub use running::{RUNNING_CHECK_INTERVAL, RunningCheck, RunningObservation, RunningVerdict};
pub use startup::{STARTUP_TIMEOUT, StartupCheck, StartupObservation, StartupVerdict};
pub use token::{
    BUILDER_TOKEN_CREATE_WINDOW, BUILDER_TOKEN_VALIDITY, BuilderTokenAge, TokenVerdict,
};
pub use uid::UidRotation;
