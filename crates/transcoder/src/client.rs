//! The Cloud Transcoding client and its single calls.

use std::sync::Arc;
use std::time::Duration;

use agora_rest_core::health::{BUILDER_TOKEN_CREATE_WINDOW, BuilderTokenAge, TokenVerdict};
use agora_rest_core::name::validate_path_segment;
use agora_rest_core::operation::Operation;
use agora_rest_model::BuilderToken;
use agora_rest_model::transcoder::{AcquireRequest, AcquireResponse, CreateTaskRequest, Task};
use agora_rest_transport::store::{InMemorySequenceStore, SequenceKind, SequenceStore};
use agora_rest_transport::{Call, Client};
use bytes::Bytes;
use http::Method;

use crate::Error;

pub(crate) const ACQUIRE_PATH: &str = "/v1/projects/{appId}/rtsc/cloud-transcoder/builderTokens";
pub(crate) const CREATE_PATH: &str = "/v1/projects/{appId}/rtsc/cloud-transcoder/tasks";
pub(crate) const TASK_PATH: &str = "/v1/projects/{appId}/rtsc/cloud-transcoder/tasks/{taskId}";
/// The mask of a full-config update (docs/vendor-rules.md).
pub(crate) const UPDATE_MASK: &str = "services.cloudTranscoder.config";

pub(crate) use agora_rest_transport::encode_path_segment as encode;

/// A builder token and when it was asked for.
#[derive(Debug, Clone)]
pub struct AcquiredToken {
    /// The token (never printed).
    pub token: BuilderToken,
    /// The instance id it was minted for.
    pub instance_id: String,
    /// When the Acquire *request* went out (tokio time): the 2-second rule counts from there.
    pub(crate) at: tokio::time::Instant,
}

impl AcquiredToken {
    /// Whether a Create sent now is within 2 s of the Acquire request (the Cloud Transcoding service-status guide).
    pub fn fresh(&self) -> bool {
        let age = BuilderTokenAge::new(Duration::ZERO);
        age.for_create(self.at.elapsed()) == TokenVerdict::Fresh
    }

    /// The last moment a Create with this token may go out: every attempt (after failover
    /// waits and rate-limit waits too) is checked against it by the transport.
    pub fn send_by(&self) -> tokio::time::Instant {
        self.at + BUILDER_TOKEN_CREATE_WINDOW
    }
}

/// The Cloud Transcoding client. Cheap to clone; every handle of one client shares its
/// account-wide 10 requests/s limit (the transport's limiter).
///
/// ```
/// use agora_rest_core::name::UidPair;
/// use agora_rest_emulator::Emulator;
/// use agora_rest_model::transcoder::{AudioInput, Output, TranscoderConfigBuilder};
/// use agora_rest_transcoder::{StartSpec, Transcoder, UidTokens};
/// use agora_rest_transport::{Client, Config, Credentials};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let emulator = Emulator::builder().build();
/// let config = Config::new("my-app", Credentials::new("customer-id", "customer-secret")?);
/// let transcoder = Transcoder::new(Client::builder(config).with_service(emulator.service()).build()?);
/// let transcoding = TranscoderConfigBuilder::new()
///     .audio_input(AudioInput::rtc("show68", 0, "input-token"))
///     .output(Output::rtc("show68-mix", 1001, "output-token"))
///     .build()?;
/// let tokens = UidTokens::new().with(1001, "token-for-1001").with(1002, "token-for-1002");
/// let task = transcoder.start(StartSpec::new("show68-mix", UidPair::new(1001, 1002)?, transcoding, tokens)?).await?;
/// assert!(task.query().await?.status.is_started());
/// task.stop().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Transcoder {
    pub(crate) client: Client,
    pub(crate) sequences: Arc<dyn SequenceStore>,
}

impl Transcoder {
    /// A client over a transport client.
    pub fn new(client: Client) -> Self {
        Transcoder {
            client,
            sequences: Arc::new(InMemorySequenceStore::new(SequenceKind::CloudTranscoding)),
        }
    }

    /// Uses another store for `sequenceId`s (persist them to survive restarts).
    pub fn with_sequences(mut self, store: Arc<dyn SequenceStore>) -> Self {
        self.sequences = store;
        self
    }

    /// The transport client.
    pub fn transport(&self) -> &Client {
        &self.client
    }

    pub(crate) fn base(&self) -> String {
        format!(
            "/v1/projects/{}/rtsc/cloud-transcoder",
            encode(self.client.app_id())
        )
    }

    /// Acquires a builder token for `instance_id` (docs/vendor-rules.md).
    pub async fn acquire(&self, instance_id: &str) -> Result<AcquiredToken, Error> {
        let req = AcquireRequest::new(instance_id);
        req.validate()?;
        let body =
            Bytes::from(
                serde_json::to_vec(&req).map_err(|e| agora_rest_model::Error::Decode {
                    what: "Acquire request",
                    reason: e.to_string(),
                })?,
            );
        let http = self.client.request(
            Call::new(Operation::Acquire, ACQUIRE_PATH),
            Method::POST,
            &format!("{}/builderTokens", self.base()),
            Some(body),
        )?;
        let requested = tokio::time::Instant::now();
        let (resp, _): (AcquireResponse, _) =
            self.client.send_json(http, "Acquire response").await?;
        Ok(AcquiredToken {
            token: resp.token_name,
            instance_id: resp.instance_id,
            at: requested,
        })
    }

    /// One Create with `token` (no retries here: the start procedure decides). No attempt
    /// goes out after the token's 2-second window.
    pub(crate) async fn create_once(
        &self,
        token: &AcquiredToken,
        request: &CreateTaskRequest,
    ) -> Result<http::Response<Bytes>, agora_rest_transport::Error> {
        let body = Bytes::from(serde_json::to_vec(request).unwrap_or_default());
        let http = self.client.request(
            Call::new(Operation::TranscodeCreate, CREATE_PATH).send_by(token.send_by()),
            Method::POST,
            &format!(
                "{}/tasks?builderToken={}",
                self.base(),
                encode(token.token.expose())
            ),
            Some(body),
        )?;
        self.client.send(http).await
    }

    /// Stops a task; `None` when it was already gone (a 404 settles at once).
    pub(crate) async fn delete(
        &self,
        task_id: &str,
        token: &BuilderToken,
    ) -> Result<Option<Task>, Error> {
        validate_path_segment("taskId", task_id)?;
        let req = self.client.request(
            Call::new(Operation::TranscodeDelete, TASK_PATH),
            Method::DELETE,
            &self.task_path(task_id, token),
            None,
        )?;
        match self.client.send_json::<Task>(req, "Delete response").await {
            Ok((task, _)) => Ok(Some(task)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn task_path(&self, task_id: &str, token: &BuilderToken) -> String {
        format!(
            "{}/tasks/{}?builderToken={}",
            self.base(),
            encode(task_id),
            encode(token.expose())
        )
    }

    /// Queries a task.
    pub async fn query(&self, task_id: &str, token: &BuilderToken) -> Result<Task, Error> {
        self.query_with(
            task_id,
            token,
            Call::new(Operation::TranscodeQuery, TASK_PATH),
        )
        .await
    }

    pub(crate) async fn query_with(
        &self,
        task_id: &str,
        token: &BuilderToken,
        call: Call,
    ) -> Result<Task, Error> {
        validate_path_segment("taskId", task_id)?;
        let http = self
            .client
            .request(call, Method::GET, &self.task_path(task_id, token), None)?;
        let (task, _): (Task, _) = self.client.send_json(http, "Query response").await?;
        Ok(task)
    }
}
