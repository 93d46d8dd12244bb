//! A Cloud Transcoding client for Agora that starts and keeps tasks the way the vendor's guide
//! says (see `docs/vendor-rules.md`).
//!
//! - [`Transcoder::start`] runs the whole startup procedure: Acquire, Create within 2 s,
//!   scheduled retries (206/50x: 3/6/9 s; code 65: 3/6 s), the backup UID with a new token,
//!   adoption of an already started task (409), and startup confirmation (Query from +5 s,
//!   failure at 90 s). Nothing invalid is sent: the config is validated first.
//! - [`TaskHandle`] queries, updates (next `sequenceId`, full body, only the changes the
//!   service applies) and stops one task.
//! - [`controller::TaskController`] keeps declared tasks alive: Query every 2 minutes, a 404
//!   confirmed with 5/10/15 s and past the HA window before it counts as an exit, 50x never an
//!   exit, a restart on the UID the exited task did not hold, changed configs as sequenced
//!   updates.
//! - The account's 10 requests/s limit is shared by every handle of one client (the
//!   transport's limiter).

mod client;
pub mod controller;
mod error;
mod handle;
mod start;
mod time;
mod tokens;

pub use client::{AcquiredToken, Transcoder};
pub use error::Error;
pub use handle::TaskHandle;
pub use start::{DEFAULT_MAX_CREATES_PER_ROUND, DEFAULT_MAX_ROUNDS, StartSpec};
pub use tokens::{OutputTokens, UidTokens};
