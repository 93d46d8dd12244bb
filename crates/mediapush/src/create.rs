//! Idempotent create: a named converter is created once, whatever fails on the way.
//!
//! The vendor's guide: names are unique per project (409 on a duplicate), a 504 means "check
//! whether it was created", and 404/429/5xx are retried after about 5–6 s, 10–11 s, 15–16 s
//! (docs/vendor-rules.md). A create whose outcome is uncertain (504, a timeout, a dropped connection,
//! a retryable status) therefore first lists the channel for its name; only if the converter
//! is not there is it created again. A 409 after our own earlier attempt means that attempt
//! succeeded: the existing converter is returned.

use agora_rest_core::backoff::MEDIA_PUSH_RETRY;
use agora_rest_core::classify::Action;
use agora_rest_core::operation::Operation;
use agora_rest_core::quota::Tier;
use agora_rest_core::region::PathRegion;
use agora_rest_model::mediapush::{
    Converter, ConverterResponse, ConverterState, ConverterStatus, CreateConverterRequest,
    ListMember,
};
use agora_rest_transport::{Call, ResponseIds};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http::Method;

use crate::Error;
use crate::client::{CREATE_PATH, Created, MediaPush, encode_segment};

/// The resolution tier a converter counts against (SD when it has no video, *derived*).
pub(crate) fn tier_of(c: &Converter) -> Tier {
    c.transcode_options
        .as_ref()
        .and_then(|t| t.video_options.as_ref())
        .and_then(|v| v.canvas.as_ref())
        .and_then(|canvas| Tier::for_video(canvas.width, canvas.height, v_fps(c)).ok())
        .unwrap_or(Tier::Sd)
}

fn v_fps(c: &Converter) -> u32 {
    c.transcode_options
        .as_ref()
        .and_then(|t| t.video_options.as_ref())
        .and_then(|v| v.frame_rate)
        .unwrap_or(15)
}

fn adopted(member: &ListMember, region: PathRegion) -> Created {
    Created {
        converter: ConverterStatus {
            id: member.converter_id.clone(),
            create_ts: member.create,
            update_ts: member.update_ts,
            state: member.state.clone(),
        },
        region,
        adopted: true,
        ids: ResponseIds::default(),
    }
}

impl MediaPush {
    /// Finds a converter of `channel` named `name` (List of the channel, every page).
    pub async fn find_by_name(
        &self,
        channel: &str,
        name: &str,
    ) -> Result<Option<ListMember>, Error> {
        let members = self.list_channel(channel);
        futures_util::pin_mut!(members);
        while let Some(m) = members.try_next().await? {
            if m.converter_name == name {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    /// Creates a converter in `region`, once.
    ///
    /// Validates locally first (a bad field is an error naming it, before any request);
    /// refuses a nameless converter unless configured otherwise; checks the local quota
    /// ledger when one is configured. Then creates, confirming existence by name after any
    /// uncertain failure, so a retried create never makes a second converter.
    pub async fn create(
        &self,
        region: PathRegion,
        mut converter: Converter,
    ) -> Result<Created, Error> {
        converter.normalize();
        converter.validate_create()?;
        let name = converter.name.clone().filter(|n| !n.is_empty());
        if name.is_none() && self.config.require_name {
            return Err(Error::NameRequired);
        }
        let tier = tier_of(&converter);
        if let Some(ledger) = &self.config.quota {
            ledger.admit(region.area(), tier).await?;
        }
        let result = self.create_inner(region, &converter, name.as_deref()).await;
        match &result {
            Ok(c) => self.learn(&c.converter.id, region, &converter),
            Err(_) => {
                if let Some(ledger) = &self.config.quota {
                    ledger.release(region.area(), tier).await?;
                }
            }
        }
        result
    }

    async fn create_inner(
        &self,
        region: PathRegion,
        converter: &Converter,
        name: Option<&str>,
    ) -> Result<Created, Error> {
        let body =
            serde_json::to_vec(&CreateConverterRequest::new(converter.clone())).map_err(|e| {
                agora_rest_model::Error::Decode {
                    what: "Media Push Create request",
                    reason: e.to_string(),
                }
            })?;
        let body = Bytes::from(body);
        let path = format!(
            "/{region}/v1/projects/{}/rtmp-converters",
            encode_segment(self.app())
        );
        let channel = converter.rtc_channel().unwrap_or_default().to_string();
        let mut attempts: usize = 0;
        loop {
            let req = self.client.request(
                Call::new(Operation::PushCreate, CREATE_PATH),
                Method::POST,
                &path,
                Some(body.clone()),
            )?;
            let err = match self
                .client
                .send_json::<ConverterResponse>(req, "Media Push Create response")
                .await
            {
                Ok((resp, ids)) => {
                    return Ok(Created {
                        converter: resp.converter,
                        region,
                        adopted: false,
                        ids,
                    });
                }
                Err(e) => e,
            };
            // A 2xx whose body cannot be read: the converter was created. Its id comes in
            // X-Resource-ID; without it, the name is looked up below.
            if let agora_rest_transport::Error::Decode {
                resource_id: Some(id),
                request_id,
                ..
            } = err.last()
            {
                tracing::warn!(
                    id,
                    "create answered 2xx with an unreadable body: adopting the id it named"
                );
                return Ok(Created {
                    converter: ConverterStatus {
                        id: id.clone(),
                        create_ts: 0,
                        update_ts: 0,
                        state: ConverterState::Connecting,
                    },
                    region,
                    adopted: true,
                    ids: ResponseIds {
                        request_id: request_id.clone(),
                        custom_request_id: None,
                        resource_id: Some(id.clone()),
                    },
                });
            }
            let action = err.status_error().map(|s| s.action);
            // A 409: taken by someone else, or made by our own earlier attempt.
            if action == Some(Action::AlreadyExists) {
                let Some(name) = name else {
                    return Err(err.into());
                };
                let existing = self.find_by_name(&channel, name).await?;
                return match existing {
                    Some(m) if attempts > 0 => Ok(adopted(&m, region)),
                    other => Err(Error::NameTaken {
                        name: name.to_string(),
                        existing_id: other.map(|m| m.converter_id),
                    }),
                };
            }
            if !err.maybe_applied() {
                return Err(err.into());
            }
            // Uncertain outcome: look before creating again (needs a name to look by).
            let Some(name) = name else {
                return Err(err.into());
            };
            if let Some(m) = self.find_by_name(&channel, name).await? {
                return Ok(adopted(&m, region));
            }
            let schedule = match action {
                Some(Action::Retry(plan)) => plan.schedule,
                _ => MEDIA_PUSH_RETRY,
            };
            let Some(delay) = schedule.delay(attempts, self.client.jitter()) else {
                return Err(err.into());
            };
            tracing::debug!(
                name,
                ?delay,
                "create outcome uncertain and not found: creating again"
            );
            tokio::time::sleep(delay).await;
            attempts += 1;
        }
    }
}
