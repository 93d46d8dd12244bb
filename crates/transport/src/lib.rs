//! The tower client stack for Agora's Media Push and Cloud Transcoding REST services.
//!
//! This is where the vendor's reliability rules meet the network: Basic auth from a credential
//! source, one `X-Request-ID` per logical call, client-side rate limits (governor, waiting
//! rather than failing), status retries on the vendor's schedules with a retry budget, domain
//! failover along core's plan, per-attempt and per-call timeouts, and a tracing span per call.
//! It knows no API paths: the service crates hand it `http::Request`s with a [`Call`]
//! descriptor. The innermost service is hyper-util over rustls (ring) by default and can be
//! swapped for the [`mock`] or the emulator's in-memory service, with every layer unchanged.
//!
//! It also has a [`webhook`] receiver for NCS notifications and async [`store`] traits for
//! state the service crates keep.

pub mod budget;
pub mod call;
pub mod client;
pub mod clock;
pub mod config;
pub mod connection;
pub mod controller;
pub mod credentials;
pub mod error;
pub mod layer;
pub mod metrics;
pub mod mock;
pub mod redact;
pub mod resolve;
#[cfg(feature = "server")]
pub mod server;
pub mod shared;
pub mod shared_limit;
pub mod store;
pub mod webhook;

pub use call::{Call, encode_path_segment};
pub use client::{Client, ClientBuilder, ResponseIds};
pub use config::Config;
pub use credentials::{CredentialSource, Credentials, StaticCredentials};
pub use error::{DnsFailure, Error, StatusError};
pub use resolve::{Resolver, StaticResolver};
