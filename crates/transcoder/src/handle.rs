//! A started task: query, update, stop, watch.

use std::sync::{Arc, Mutex, PoisonError};

use agora_rest_core::operation::Operation;
use agora_rest_model::BuilderToken;
use agora_rest_model::transcoder::{CreateTaskRequest, Task, TranscoderConfig};
use agora_rest_transport::Call;
use bytes::Bytes;
use http::Method;

use crate::Error;
use crate::client::{TASK_PATH, Transcoder, UPDATE_MASK, encode};
use crate::start::StartSpec;

/// A task that started: its id, token and UID, and the config it runs.
#[derive(Debug, Clone)]
pub struct TaskHandle {
    pub(crate) transcoder: Transcoder,
    pub(crate) task_id: String,
    pub(crate) token: BuilderToken,
    pub(crate) instance_id: String,
    pub(crate) uid: u32,
    pub(crate) config: Arc<Mutex<TranscoderConfig>>,
    pub(crate) spec: StartSpec,
    pub(crate) update_lock: Arc<tokio::sync::Mutex<()>>,
}

impl TaskHandle {
    /// The task id.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The builder token the task was created with (never printed).
    pub fn token(&self) -> &BuilderToken {
        &self.token
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The output UID in use.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The config the task runs now.
    pub fn config(&self) -> TranscoderConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queries the task.
    pub async fn query(&self) -> Result<Task, Error> {
        self.transcoder.query(&self.task_id, &self.token).await
    }

    /// Replaces the config (REFERENCE §4.5): the full body goes out with the next
    /// `sequenceId`; changes the service would not apply are refused before sending. Updates of
    /// one task go out one at a time, so no stale `sequenceId` is ever sent.
    pub async fn update(&self, new: TranscoderConfig) -> Result<(), Error> {
        self.config().validate_update_to(&new)?;
        let _serial = self.update_lock.lock().await;
        let seq = self.transcoder.sequences.next(&self.task_id).await?;
        let body = Bytes::from(
            serde_json::to_vec(&CreateTaskRequest::new(new.clone())).map_err(|e| {
                agora_rest_model::Error::Decode {
                    what: "Update request",
                    reason: e.to_string(),
                }
            })?,
        );
        let path = format!(
            "{}&sequenceId={seq}&updateMask={}",
            self.transcoder.task_path(&self.task_id, &self.token),
            encode(UPDATE_MASK)
        );
        let req = self.transcoder.client.request(
            Call::new(Operation::TranscodeUpdate, TASK_PATH),
            Method::PATCH,
            &path,
            Some(body),
        )?;
        self.transcoder.client.send(req).await?;
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(())
    }

    /// Stops the task; `None` when it was already gone.
    pub async fn stop(&self) -> Result<Option<Task>, Error> {
        let req = self.transcoder.client.request(
            Call::new(Operation::TranscodeDelete, TASK_PATH),
            Method::DELETE,
            &self.transcoder.task_path(&self.task_id, &self.token),
            None,
        )?;
        match self
            .transcoder
            .client
            .send_json::<Task>(req, "Delete response")
            .await
        {
            Ok((task, _)) => Ok(Some(task)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
