//! A started task: query, update, stop. Keeping it alive is the controller's job.

use std::sync::{Arc, Mutex, PoisonError};

use agora_rest_core::operation::Operation;
use agora_rest_model::BuilderToken;
use agora_rest_model::transcoder::{CreateTaskRequest, Output, Task, TranscoderConfig};
use agora_rest_transport::Call;
use bytes::Bytes;
use http::Method;

use crate::Error;
use crate::client::{TASK_PATH, Transcoder, UPDATE_MASK, encode};

/// A task that started: its id, token and UID, and the config it runs.
#[derive(Debug, Clone)]
pub struct TaskHandle {
    pub(crate) transcoder: Transcoder,
    pub(crate) task_id: String,
    pub(crate) token: BuilderToken,
    pub(crate) instance_id: String,
    pub(crate) uid: u32,
    pub(crate) config: Arc<Mutex<TranscoderConfig>>,
    pub(crate) update_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Transcoder {
    /// A handle on a task started elsewhere (another process, before a restart): acquires a
    /// token for its instance id, reads its config, and resumes `sequenceId` after the task's
    /// (or `after_sequence`, if higher).
    pub async fn adopt(
        &self,
        task_id: &str,
        instance_id: &str,
        after_sequence: Option<u64>,
    ) -> Result<TaskHandle, Error> {
        agora_rest_core::name::validate_path_segment("taskId", task_id)?;
        let token = self.acquire(instance_id).await?;
        let task = self.query(task_id, &token.token).await?;
        let echo = task.services.cloud_transcoder.config.expose();
        // The running config is what updates build on: an echo that cannot be read is an
        // error, never an empty config that an update would then send.
        let config: TranscoderConfig = echo
            .get("transcoder")
            .cloned()
            .ok_or_else(|| agora_rest_model::Error::Decode {
                what: "Cloud Transcoding Query response",
                reason: "services.cloudTranscoder.config.transcoder is missing".into(),
            })
            .and_then(|v| {
                serde_json::from_value(v).map_err(|e| agora_rest_model::Error::Decode {
                    what: "Cloud Transcoding Query response",
                    reason: e.to_string(),
                })
            })?;
        // The task's sequenceId reads 0 before any update too: resume after it either way
        // (a gap is harmless, a repeat would not be applied).
        let seq = after_sequence.unwrap_or(0).max(task.sequence_id.0);
        self.sequences.observe(task_id, seq).await?;
        let uid = config.outputs.iter().find_map(Output::rtc_uid).unwrap_or(0);
        Ok(TaskHandle {
            transcoder: self.clone(),
            task_id: task_id.to_string(),
            token: token.token,
            instance_id: instance_id.to_string(),
            uid,
            config: Arc::new(Mutex::new(config)),
            update_lock: Arc::default(),
        })
    }
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

    /// Replaces the config (docs/vendor-rules.md): the full body goes out with the next
    /// `sequenceId`; changes the service would not apply are refused before sending. Updates of
    /// one task go out one at a time, so no stale `sequenceId` is ever sent.
    ///
    /// The task publishes each RTC output as the UID it was started with (the primary, or the
    /// backup after a re-create) with that UID's token, and an update may not change either:
    /// so `new` may be built as the start's config was (naming the primary UID and any
    /// token), and its outputs into the same channels are sent as the task runs them.
    pub async fn update(&self, new: TranscoderConfig) -> Result<(), Error> {
        let new = self.as_running(new);
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

    /// `new` with each RTC output into the channel the running task publishes to at the same
    /// place given the running UID and token.
    fn as_running(&self, mut new: TranscoderConfig) -> TranscoderConfig {
        let running = self.config();
        for (out, now) in new.outputs.iter_mut().zip(&running.outputs) {
            if let (Some(rtc), Some(now)) = (out.rtc.as_mut(), now.rtc.as_ref())
                && rtc.rtc_channel == now.rtc_channel
            {
                rtc.rtc_uid = now.rtc_uid;
                rtc.rtc_token = now.rtc_token.clone();
            }
        }
        new
    }

    /// Stops the task; `None` when it was already gone (a 404 settles at once, without the
    /// confirmation schedule).
    pub async fn stop(&self) -> Result<Option<Task>, Error> {
        self.transcoder.delete(&self.task_id, &self.token).await
    }
}
