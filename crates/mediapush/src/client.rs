//! The Media Push client: converters by id, with their creation region remembered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_rest_core::name::validate_path_segment;
use agora_rest_core::operation::Operation;
use agora_rest_core::quota::Tier;
use agora_rest_core::region::PathRegion;
use agora_rest_core::update_rules::ConverterShape;
use agora_rest_model::mediapush::{
    Converter, ConverterInfo, ConverterResponse, ConverterStatus, GetConverterResponse,
    UpdateConverterRequest,
};
use agora_rest_transport::controller::lease::hold;
use agora_rest_transport::controller::store::{Lease, LeaseStore};
use agora_rest_transport::store::{
    InMemorySequenceStore, LedgerStore, SequenceKind, SequenceStore,
};
use agora_rest_transport::{Call, Client, ResponseIds};
use bytes::Bytes;
use http::Method;

use crate::Error;
use crate::update::Update;

/// Path templates, for trace spans.
pub(crate) const CREATE_PATH: &str = "/{region}/v1/projects/{appId}/rtmp-converters";
pub(crate) const ONE_PATH: &str = "/{region}/v1/projects/{appId}/rtmp-converters/{converterId}";
pub(crate) const LIST_PATH: &str = "/v1/projects/{appId}/rtmp-converters";
pub(crate) const CHANNEL_LIST_PATH: &str = "/v1/projects/{appId}/channels/{cname}/rtmp-converters";

/// How the client behaves; the defaults are the vendor's best practice. Set through the
/// client's `with_*` methods, the same way as on the Cloud Transcoding client.
#[derive(Debug, Clone)]
pub(crate) struct MediaPushConfig {
    /// Refuse creates without a name (default true): only a named create can be made
    /// idempotent, because the name is how a retry finds the converter an earlier attempt made.
    pub(crate) require_name: bool,
    /// Count converters per region and tier locally and refuse one that would break a cap,
    /// instead of drawing a 429 (off by default: accounts get raised caps).
    pub(crate) quota: Option<Arc<dyn LedgerStore>>,
    /// Where update sequence numbers come from (in memory by default; persist them to survive
    /// restarts).
    pub(crate) sequences: Arc<dyn SequenceStore>,
    /// The most pages one List reads (default [`DEFAULT_MAX_LIST_PAGES`]).
    pub(crate) max_list_pages: usize,
    /// Serialises the updates of one converter across processes (replicas sharing the
    /// sequence store), so no replica sends a sequence lower than one another already sent:
    /// the lease store and this process's holder name. In-process only by default.
    pub(crate) update_lock: Option<(Arc<dyn LeaseStore>, String)>,
}

/// How long a replica waits for another replica's update of the same converter.
pub const MAX_UPDATE_LOCK_WAIT: Duration = Duration::from_secs(30);

/// The lease length of a shared update lock (renewed while the update runs).
const UPDATE_LOCK_TTL: Duration = Duration::from_secs(5);

/// The most pages one List reads by default: 300 converters per project fit on far fewer.
pub const DEFAULT_MAX_LIST_PAGES: usize = 1000;

impl Default for MediaPushConfig {
    fn default() -> Self {
        MediaPushConfig {
            require_name: true,
            quota: None,
            sequences: Arc::new(InMemorySequenceStore::new(SequenceKind::MediaPush)),
            max_list_pages: DEFAULT_MAX_LIST_PAGES,
            update_lock: None,
        }
    }
}

/// What a Delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Deleted {
    /// The converter was deleted by this call.
    Deleted,
    /// The converter was already gone (the service answered 404 at once, without the 404
    /// retry schedule).
    AlreadyGone,
}

/// What the client remembers about a converter.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub(crate) region: PathRegion,
    pub(crate) shape: ConverterShape,
    pub(crate) tier: Tier,
}

/// A created (or adopted) converter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Id, times and state.
    pub converter: ConverterStatus,
    /// The region it lives in.
    pub region: PathRegion,
    /// True when an earlier uncertain attempt had created it and this call found it.
    pub adopted: bool,
    /// The ids of the response, when there was one (none for an adopted converter).
    pub ids: ResponseIds,
}

/// The Media Push client. Cheap to clone; clones share their memory of converters.
///
/// ```
/// use agora_rest_core::region::PathRegion;
/// use agora_rest_emulator::Emulator;
/// use agora_rest_mediapush::{MediaPush, Update};
/// use agora_rest_model::mediapush::{AudioOptions, ConverterBuilder, LayoutElement, LayoutRegion, VideoOptions};
/// use agora_rest_transport::{Client, Config, Credentials};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let emulator = Emulator::builder().build();
/// let config = Config::new("my-app", Credentials::new("customer-id", "customer-secret")?);
/// let push = MediaPush::new(Client::builder(config).with_service(emulator.service()).build()?);
///
/// let converter = ConverterBuilder::transcoded("show68", "rtmp://push.example.com/live/show68")
///     .name("show68_horizontal")
///     .audio(AudioOptions::default())
///     .video(VideoOptions::new(1280, 720, 2000)
///         .with_layout(vec![LayoutElement::stream(42, LayoutRegion::new(0, 0, 1280, 720))]))
///     .build()?;
/// let created = push.create(PathRegion::Na, converter).await?;
/// push.update(&created.converter.id, Update::new().rtmp_url("rtmp://backup.example.com/live/show68")).await?;
/// assert_eq!(push.get(&created.converter.id).await?.rtmp_url.as_deref(), Some("rtmp://backup.example.com/live/show68"));
/// push.delete(&created.converter.id).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct MediaPush {
    pub(crate) client: Client,
    pub(crate) config: MediaPushConfig,
    known: Arc<Mutex<HashMap<String, Known>>>,
    update_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

pub(crate) use agora_rest_transport::encode_path_segment as encode_segment;

impl MediaPush {
    /// A client with the default (best-practice) configuration; the `with_*` methods change it.
    pub fn new(client: Client) -> Self {
        MediaPush {
            client,
            config: MediaPushConfig::default(),
            known: Arc::default(),
            update_locks: Arc::default(),
        }
    }

    /// Allows nameless creates (they are then not retried after an uncertain failure).
    pub fn allow_nameless(mut self) -> Self {
        self.config.require_name = false;
        self
    }

    /// Refuses locally what the concurrency caps would refuse, counting streams in `ledger`
    /// (shared by replicas when it is a shared store), instead of drawing a 429. Off by
    /// default: accounts can have raised caps.
    pub fn with_quota(mut self, ledger: Arc<dyn LedgerStore>) -> Self {
        self.config.quota = Some(ledger);
        self
    }

    /// Takes update sequence numbers from `store` (in memory by default; persist or share them
    /// to survive restarts and to act as one client with other replicas).
    pub fn with_sequences(mut self, store: Arc<dyn SequenceStore>) -> Self {
        self.config.sequences = store;
        self
    }

    /// Serialises each converter's updates across processes through `leases` (e.g. Redis),
    /// as `holder` (unique per process), so that no replica sends a sequence lower than one
    /// another already sent. In-process only by default.
    pub fn with_shared_update_lock(
        mut self,
        leases: Arc<dyn LeaseStore>,
        holder: impl Into<String>,
    ) -> Self {
        self.config.update_lock = Some((leases, holder.into()));
        self
    }

    /// Sets the most pages one List reads (default [`DEFAULT_MAX_LIST_PAGES`]; at least 1).
    pub fn with_max_list_pages(mut self, pages: usize) -> Self {
        self.config.max_list_pages = pages;
        self
    }

    /// The transport client.
    pub fn transport(&self) -> &Client {
        &self.client
    }

    pub(crate) fn app(&self) -> &str {
        self.client.app_id()
    }

    pub(crate) fn known(&self, id: &str) -> Result<Known, Error> {
        validate_path_segment("converterId", id)?;
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::UnknownConverter { id: id.to_string() })
    }

    pub(crate) fn learn(&self, id: &str, region: PathRegion, converter: &Converter) {
        self.know(
            id,
            Known {
                region,
                shape: converter.shape(),
                tier: crate::create::tier_of(converter),
            },
        );
    }

    fn know(&self, id: &str, known: Known) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), known);
    }

    /// Tells the client only where a converter lives, without reading it: enough to Delete
    /// it (a converter already gone then settles at once) or to Get it.
    pub fn locate(&self, id: &str, region: PathRegion) -> Result<(), Error> {
        validate_path_segment("converterId", id)?;
        self.know(
            id,
            Known {
                region,
                shape: ConverterShape::Raw,
                tier: Tier::Sd,
            },
        );
        Ok(())
    }

    /// Takes over a converter created elsewhere (another process, before a restart), as
    /// `Transcoder::adopt` does a task: reads it in `region`, and resumes update sequences
    /// after `after_sequence` when given.
    pub async fn adopt(
        &self,
        id: &str,
        region: PathRegion,
        after_sequence: Option<u64>,
    ) -> Result<ConverterInfo, Error> {
        // Enough to address it until its Get tells the shape and tier.
        self.locate(id, region)?;
        if let Some(seq) = after_sequence {
            self.config.sequences.observe(id, seq).await?;
        }
        let info = self.get(id).await?;
        let converter = Converter {
            transcode_options: info.transcode_options.clone(),
            raw_options: info.raw_options.clone(),
            ..Converter::default()
        };
        self.learn(id, region, &converter);
        Ok(info)
    }

    fn forget(&self, id: &str) -> Option<Known> {
        self.update_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    fn one_path(&self, region: PathRegion, id: &str) -> String {
        format!(
            "/{region}/v1/projects/{}/rtmp-converters/{}",
            encode_segment(self.app()),
            encode_segment(id)
        )
    }

    /// Reads a converter (docs/vendor-rules.md; both documented shapes are understood).
    pub async fn get(&self, id: &str) -> Result<ConverterInfo, Error> {
        self.get_with(id, Call::new(Operation::PushGet, ONE_PATH))
            .await
    }

    pub(crate) async fn get_with(&self, id: &str, call: Call) -> Result<ConverterInfo, Error> {
        let known = self.known(id)?;
        let req = self
            .client
            .request(call, Method::GET, &self.one_path(known.region, id), None)?;
        let (resp, _): (GetConverterResponse, _) = self
            .client
            .send_json(req, "Media Push Get response")
            .await?;
        Ok(resp.converter)
    }

    /// Deletes a converter. One already gone settles at once as [`Deleted::AlreadyGone`]
    /// (a 404 is not retried on a Delete).
    pub async fn delete(&self, id: &str) -> Result<Deleted, Error> {
        let known = self.known(id)?;
        let req = self.client.request(
            Call::new(Operation::PushDelete, ONE_PATH),
            Method::DELETE,
            &self.one_path(known.region, id),
            None,
        )?;
        let outcome = match self.client.send(req).await {
            Ok(_) => Deleted::Deleted,
            Err(e) if e.is_not_found() => Deleted::AlreadyGone,
            Err(e) => return Err(e.into()),
        };
        if let (Some(known), Some(ledger)) = (self.forget(id), &self.config.quota) {
            ledger.release(known.region.area(), known.tier).await?;
        }
        Ok(outcome)
    }

    /// Updates a converter with the next `sequence` (docs/vendor-rules.md).
    ///
    /// Immutable fields are refused before anything is sent. Updates of one converter are
    /// sent one at a time, so no update ever goes out with a sequence lower than one already
    /// sent, however many tasks update it concurrently.
    pub async fn update(&self, id: &str, update: Update) -> Result<ConverterStatus, Error> {
        let known = self.known(id)?;
        let request =
            UpdateConverterRequest::new(update.converter, update.fields.iter().map(String::as_str));
        request.validate(known.shape)?;
        let lock = Arc::clone(
            self.update_locks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id.to_string())
                .or_default(),
        );
        let _serial = lock.lock().await;
        match &self.config.update_lock {
            None => self.send_update(id, known.region, &request).await,
            Some((leases, holder)) => {
                let key = format!("update:{id}");
                let (lease, granted_at) = take_lease(&**leases, &key, holder).await?;
                let sent = hold(
                    &**leases,
                    &lease,
                    granted_at,
                    self.send_update(id, known.region, &request),
                )
                .await;
                let _ = leases.release(&lease).await;
                sent.map_err(|lost| {
                    Error::Transport(agora_rest_transport::Error::Store {
                        what: "update lock",
                        reason: lost.to_string(),
                    })
                })?
            }
        }
    }

    /// Sends one update with the next sequence (the caller holds the converter's locks).
    async fn send_update(
        &self,
        id: &str,
        region: PathRegion,
        request: &UpdateConverterRequest,
    ) -> Result<ConverterStatus, Error> {
        let sequence = self.config.sequences.next(id).await?;
        let path = format!("{}?sequence={sequence}", self.one_path(region, id));
        let body = serde_json::to_vec(request).map_err(|e| agora_rest_model::Error::Decode {
            what: "Media Push Update request",
            reason: e.to_string(),
        })?;
        let req = self.client.request(
            Call::new(Operation::PushUpdate, ONE_PATH).for_converter(id),
            Method::PATCH,
            &path,
            Some(Bytes::from(body)),
        )?;
        let (resp, _): (ConverterResponse, _) = self
            .client
            .send_json(req, "Media Push Update response")
            .await?;
        Ok(resp.converter)
    }
}

/// Takes the shared update lock `key`, waiting (bounded) while another replica holds it.
async fn take_lease(
    leases: &dyn LeaseStore,
    key: &str,
    holder: &str,
) -> Result<(Lease, tokio::time::Instant), Error> {
    let start = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(5);
    loop {
        let asked = tokio::time::Instant::now();
        if let Some(lease) = leases.acquire(key, holder, UPDATE_LOCK_TTL).await? {
            return Ok((lease, asked));
        }
        if start.elapsed() + wait > MAX_UPDATE_LOCK_WAIT {
            return Err(Error::Transport(agora_rest_transport::Error::Store {
                what: "update lock",
                reason: format!("another replica held {key} for over {MAX_UPDATE_LOCK_WAIT:?}"),
            }));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(100));
    }
}
