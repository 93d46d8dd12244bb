//! # agora-rest
//!
//! One import for driving Agora's **Media Push** (RTMP converters) and **Cloud Transcoding**
//! REST services reliably: every best practice of the vendor's guides built in (rate limits,
//! back-off tables, domain failover, idempotent creates, sequenced updates, the start procedure
//! of a transcoding task), controllers that keep declared converters and tasks alive, a local
//! emulator of both services, and Redis-shared state for several replicas.
//!
//! It exists so that an application depends on one crate and picks layers with features,
//! as with kube-rs or aws-sdk-rust; the layer crates (`agora-rest-core`, `-model`,
//! `-transport`, `-mediapush`, `-transcoder`, `-emulator`, `-redis`) stay available to users
//! who want only some of them.
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `tls` | yes | HTTPS to the services (rustls with ring); without it only the emulator on loopback is reached |
//! | `mediapush` | yes | `agora_rest::mediapush`: the Media Push client and the converter controller |
//! | `transcoder` | yes | `agora_rest::transcoder`: the Cloud Transcoding client and the task controller |
//! | `emulator` | no | `agora_rest::emulator`: both services locally, in memory or on sockets |
//! | `redis` | no | `agora_rest::redis`: limits, sequences, quota and controller stores shared by replicas |
//!
//! ```
//! # #[cfg(all(feature = "mediapush", feature = "emulator"))]
//! # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
//! use agora_rest::prelude::*;
//!
//! let emulator = Emulator::builder().build();
//! // In production: `Config::from_env()?` (AGORA_APP_ID, AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET).
//! let config = Config::new("my-app", Credentials::new("customer-id", "customer-secret")?);
//! let push = MediaPush::new(Client::builder(config).with_service(emulator.service()).build()?);
//! let converter = ConverterBuilder::raw("show68", 42, "rtmp://push.example.com/live/show68")
//!     .name("show68_raw")
//!     .build()?;
//! let created = push.create(PathRegion::Na, converter).await?;
//! assert!(push.get(&created.converter.id).await.is_ok());
//! # Ok::<(), agora_rest::Error>(())
//! # }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;

pub use error::Error;

/// Pure policies: regions and areas, names and UID pairs, quotas, sequences, back-off tables,
/// classifiers, health, reconcile decisions, NCS signatures.
pub use agora_rest_core as core;
/// The wire vocabulary of both services: serde types, validating builders, `validate()`.
pub use agora_rest_model as model;
/// The client stack: configuration, credentials, the tower layers, stores, the webhook
/// receiver, controller plumbing and metric names.
pub use agora_rest_transport as transport;

/// The Media Push client and the converter controller.
#[cfg(feature = "mediapush")]
pub use agora_rest_mediapush as mediapush;

/// The Cloud Transcoding client and the task controller.
#[cfg(feature = "transcoder")]
pub use agora_rest_transcoder as transcoder;

/// The local emulator of both services.
#[cfg(feature = "emulator")]
pub use agora_rest_emulator as emulator;

/// Shared state on Redis so that N replicas act as one client.
#[cfg(feature = "redis")]
pub use agora_rest_redis as redis;

pub use agora_rest_core::name::UidPair;
pub use agora_rest_core::region::{Area, PathRegion};
pub use agora_rest_transport::{Client, ClientBuilder, Config, Credentials};

/// The types most programs use, in one `use agora_rest::prelude::*;`.
pub mod prelude {
    pub use crate::Error;
    pub use agora_rest_core::name::UidPair;
    pub use agora_rest_core::region::{Area, PathRegion};
    pub use agora_rest_transport::controller::Settings as ControllerSettings;
    pub use agora_rest_transport::{Client, ClientBuilder, Config, Credentials};

    #[cfg(feature = "mediapush")]
    pub use agora_rest_mediapush::controller::{
        ConverterController, ConverterControllerConfig, ConverterEvent, ConverterSpec,
    };
    #[cfg(feature = "mediapush")]
    pub use agora_rest_mediapush::{MediaPush, Redundancy, Update};
    #[cfg(feature = "mediapush")]
    pub use agora_rest_model::mediapush::{
        AudioOptions, Canvas, Converter, ConverterBuilder, LayoutElement, LayoutRegion,
        VideoOptions,
    };

    #[cfg(feature = "transcoder")]
    pub use agora_rest_model::transcoder::{
        AudioInput, Output, TranscoderConfig, TranscoderConfigBuilder, VideoOption,
    };
    #[cfg(feature = "transcoder")]
    pub use agora_rest_transcoder::controller::{
        TaskController, TaskControllerConfig, TaskEvent, TaskSpec,
    };
    #[cfg(feature = "transcoder")]
    pub use agora_rest_transcoder::{StartSpec, TaskHandle, Transcoder, UidTokens};

    #[cfg(feature = "emulator")]
    pub use agora_rest_emulator::Emulator;

    #[cfg(feature = "redis")]
    pub use agora_rest_redis::RedisShared;
}
