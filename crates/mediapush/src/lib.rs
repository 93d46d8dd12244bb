//! A Media Push (RTMP converter) client for Agora that applies the vendor's best practices by
//! default.
//!
//! - Requests are built with `agora-rest-model`'s builders and validated before sending: a bad
//!   field is an error naming the field and the rule.
//! - [`MediaPush::create`] is idempotent by name: after a 504, a timeout or a retryable failure
//!   it lists the channel for the name before creating again, and a 409 that follows its own
//!   earlier attempt returns the converter that attempt made.
//! - [`MediaPush::update`] sends the next `sequence` for the converter, serialised per
//!   converter, with the `fields` mask built from a typed [`Update`]; immutable fields are
//!   refused locally.
//! - [`MediaPush::list`] and [`MediaPush::list_channel`] are streams that follow the cursor.
//! - The client remembers each converter's creation region for Get, Update and Delete.
//! - [`controller::ConverterController`] keeps declared converters alive: it adopts what runs, polls
//!   and counts failures as the guide says, sends changed specs as sequenced updates, and
//!   re-creates within a cap; [`Redundancy`] gives backups and isolated copies to declare.
//!
//! Rate limits, retries of idempotent calls, domain failover and request ids come from the
//! transport (`agora-rest-transport`).

mod client;
pub mod controller;
mod create;
mod error;
mod list;
mod quota;
mod redundancy;
mod update;

pub use client::{Created, DEFAULT_MAX_LIST_PAGES, Deleted, MAX_UPDATE_LOCK_WAIT, MediaPush};
pub use error::Error;
pub use redundancy::Redundancy;
pub use update::Update;
