//! Task operations against the real service or `--endpoint URL` (the emulator).

use std::path::PathBuf;
use std::time::Duration;

use agora_rest_core::name::UidPair;
use agora_rest_core::region::{Area, PathRegion};
use agora_rest_mediapush::{MediaPush, Update};
use agora_rest_model::mediapush::{
    AudioOptions, Canvas, Converter, ConverterBuilder, CreateConverterRequest, LayoutElement,
    LayoutRegion, UpdateConverterRequest, VideoOptions,
};
use agora_rest_model::transcoder::{
    AudioInput, CreateTaskRequest, Output, TranscoderConfig, TranscoderConfigBuilder, VideoOption,
};
use agora_rest_transcoder::{StartSpec, Transcoder, UidTokens};
use agora_rest_transport::controller::check_poll_every;
use agora_rest_transport::{Client, Config, Credentials};
use futures_util::TryStreamExt;

use crate::Failure;
pub(crate) use crate::output::OutputFormat;

/// Where to send requests and as whom.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// The project's app id.
    #[arg(long, env = "AGORA_APP_ID", global = true)]
    app_id: Option<String>,
    /// A file of KEY=VALUE lines (AGORA_APP_ID, AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET).
    #[arg(long, env = "AGORA_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Send requests to this base URL instead (e.g. the emulator at http://127.0.0.1:8080).
    #[arg(long, env = "AGORA_ENDPOINT", global = true, hide_env_values = true)]
    endpoint: Option<String>,
    /// The area: US, EU, AP or CN (picks the primary domain and failover regions).
    #[arg(long, default_value = "US", global = true)]
    area: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    output: OutputFormat,
}

fn from_file(path: &Option<PathBuf>, key: &str) -> Result<Option<String>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let text = String::from_utf8(read_input("--config", path, MAX_INPUT_BYTES)?)
        .map_err(|_| Failure::input(format!("--config {}: not UTF-8 text", path.display())))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string()))
}

impl Target {
    /// The output format chosen.
    pub(crate) fn output(&self) -> OutputFormat {
        self.output
    }

    pub(crate) fn client(&self) -> Result<Client, Failure> {
        Ok(Client::builder(self.config()?).build()?)
    }

    /// The client configuration these options and the environment give.
    pub(crate) fn config(&self) -> Result<Config, Failure> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let app = self
            .app_id
            .clone()
            .or(from_file(&self.config, "AGORA_APP_ID")?);
        let id = env("AGORA_CUSTOMER_ID").or(from_file(&self.config, "AGORA_CUSTOMER_ID")?);
        let secret =
            env("AGORA_CUSTOMER_SECRET").or(from_file(&self.config, "AGORA_CUSTOMER_SECRET")?);
        let (Some(app), Some(id), Some(secret)) = (app, id, secret) else {
            return Err(Failure::input(
                "credentials: set AGORA_APP_ID, AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET (environment or --config FILE)",
            ));
        };
        let area: Area = self.area.parse()?;
        let mut config = Config::new(app, Credentials::new(id, secret)?).with_area(area);
        if let Some(url) = &self.endpoint {
            config = config.with_endpoint(url.clone());
        }
        Ok(config)
    }

    /// Prints a result. Every credential in it (RTC tokens in a task's echoed config, say) is
    /// replaced by `<redacted>` first: output is for people and logs.
    fn print(&self, value: &serde_json::Value) {
        let value = &agora_rest_model::echoed::redact_value(value);
        match self.output {
            OutputFormat::Json => println!("{value}"),
            OutputFormat::Table => println!("{}", crate::output::table(value)),
        }
    }

    /// Prints one line of a stream (`watch`): NDJSON with a `time` field, or a timestamped
    /// line.
    fn print_line(&self, mut value: serde_json::Value, text: &str) {
        match self.output {
            OutputFormat::Json => {
                if let Some(o) = value.as_object_mut() {
                    o.insert("time".into(), crate::output::now_rfc3339().into());
                }
                println!("{value}");
            }
            OutputFormat::Table => println!(
                "{} {}",
                crate::output::now_rfc3339(),
                crate::output::escape(text)
            ),
        }
    }
}

fn to_json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Media Push commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PushCommand {
    /// Create a converter (idempotent by name).
    Create {
        /// The CDN region: na, eu, ap or cn.
        #[arg(long, default_value = "na")]
        region: String,
        /// The converter name (unique per project).
        #[arg(long)]
        name: Option<String>,
        /// The RTC channel to push.
        #[arg(long)]
        channel: Option<String>,
        /// The CDN address (rtmp:// or rtmps://).
        #[arg(long)]
        rtmp_url: Option<String>,
        /// The user whose video fills the canvas (or, with --raw, whose streams are relayed).
        #[arg(long)]
        uid: Option<u32>,
        /// Canvas width.
        #[arg(long, default_value_t = 1280)]
        width: u32,
        /// Canvas height.
        #[arg(long, default_value_t = 720)]
        height: u32,
        /// Video bitrate, Kbps.
        #[arg(long, default_value_t = 2000)]
        bitrate: u32,
        /// Relay one user's streams without transcoding.
        #[arg(long)]
        raw: bool,
        /// A Create body (`{"converter": …}`) instead of the flags.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Show a converter.
    Get {
        /// The converter id.
        id: String,
        /// The region it was created in.
        #[arg(long, default_value = "na")]
        region: String,
    },
    /// List converters (of one channel with --channel).
    List {
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Update a converter (the next sequence number is used).
    Update {
        /// The converter id.
        id: String,
        /// The region it was created in.
        #[arg(long, default_value = "na")]
        region: String,
        /// The last sequence used on it, if known (the next one is higher).
        #[arg(long)]
        after_sequence: Option<u64>,
        /// A new CDN address.
        #[arg(long)]
        rtmp_url: Option<String>,
        /// A new canvas width (with --height).
        #[arg(long)]
        width: Option<u32>,
        /// A new canvas height (with --width).
        #[arg(long)]
        height: Option<u32>,
        /// A new video bitrate, Kbps.
        #[arg(long)]
        bitrate: Option<u32>,
        /// One region of a new layout, UID:X,Y,WxH (repeat for each user; replaces the whole
        /// layout), e.g. --layout 42:0,0,640x360 --layout 43:640,0,640x360.
        #[arg(long = "layout", value_name = "UID:X,Y,WxH")]
        layout: Vec<String>,
        /// A new layout from a JSON file: the `layout` array of the Media Push API (user
        /// regions and images).
        #[arg(long, value_name = "FILE")]
        layout_json: Option<PathBuf>,
        /// An Update body (`{"converter": …, "fields": "…"}`) instead of the flags; its
        /// sequence, if any, is ignored (the next one is used).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Delete a converter.
    Delete {
        /// The converter id.
        id: String,
        /// The region it was created in.
        #[arg(long, default_value = "na")]
        region: String,
    },
    /// Print a status line whenever a converter's state changes, until interrupted. (Watching
    /// only: `agora-rest controller run` is what keeps converters alive.)
    Watch {
        /// The converter id.
        id: String,
        /// The region it was created in.
        #[arg(long, default_value = "na")]
        region: String,
        /// Seconds between checks.
        #[arg(long, default_value_t = 10)]
        every: u64,
    },
}

fn converter_from_flags(cmd: &PushCommand) -> Result<Converter, Failure> {
    let PushCommand::Create {
        name,
        channel,
        rtmp_url,
        uid,
        width,
        height,
        bitrate,
        raw,
        json,
        ..
    } = cmd
    else {
        return Err(Failure::input("not a create"));
    };
    if let Some(path) = json {
        let text = read_input("--json", path, MAX_INPUT_BYTES)?;
        let req: CreateConverterRequest = serde_json::from_slice(&text)
            .map_err(|e| Failure::input(format!("--json {}: {e}", path.display())))?;
        return Ok(req.converter);
    }
    let channel = channel
        .clone()
        .ok_or_else(|| Failure::input("--channel is required (or --json FILE)"))?;
    let url = rtmp_url
        .clone()
        .ok_or_else(|| Failure::input("--rtmp-url is required (or --json FILE)"))?;
    let mut b = if *raw {
        let uid = uid.ok_or_else(|| Failure::input("--uid is required with --raw"))?;
        ConverterBuilder::raw(channel, uid, url)
    } else {
        let layout = uid
            .map(|u| LayoutElement::stream(u, LayoutRegion::new(0, 0, *width, *height)))
            .into_iter()
            .collect();
        ConverterBuilder::transcoded(channel, url)
            .audio(AudioOptions::default())
            .video(VideoOptions::new(*width, *height, *bitrate).with_layout(layout))
    };
    if let Some(n) = name {
        b = b.name(n.clone());
    }
    Ok(b.build()?)
}

/// One `--layout UID:X,Y,WxH` region.
fn layout_flag(text: &str) -> Result<LayoutElement, Failure> {
    let bad = || {
        Failure::input(format!(
            "--layout {text:?}: expected UID:X,Y,WxH, e.g. 42:0,0,640x360"
        ))
    };
    let (uid, rest) = text.split_once(':').ok_or_else(bad)?;
    let mut parts = rest.split(',');
    let (x, y, size) = (parts.next(), parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(bad());
    }
    let (w, h) = size.and_then(|s| s.split_once('x')).ok_or_else(bad)?;
    let n = |v: Option<&str>| v.and_then(|v| v.trim().parse::<u32>().ok()).ok_or_else(bad);
    let at = |v: Option<&str>| v.and_then(|v| v.trim().parse::<i32>().ok()).ok_or_else(bad);
    Ok(LayoutElement::stream(
        n(Some(uid))?,
        LayoutRegion::new(at(x)?, at(y)?, n(Some(w))?, n(Some(h))?),
    ))
}

/// A region in any case (`EU`, `eu`), sent lowercase.
fn region(s: &str) -> Result<PathRegion, Failure> {
    Ok(s.to_ascii_lowercase().parse()?)
}

/// The largest input file read (`--json`, `--config`): a request or a few keys, not a data set.
pub(crate) const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads `path` for `option`, refusing more than `cap` bytes without reading further (a device
/// like `/dev/urandom` included).
pub(crate) fn read_input(
    option: &str,
    path: &std::path::Path,
    cap: u64,
) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| Failure::input(format!("{option} {shown}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::input(format!("{option} {shown}: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(Failure::input(format!(
            "{option} {shown}: larger than {cap} bytes"
        )));
    }
    Ok(bytes)
}

pub(crate) async fn push(target: Target, command: PushCommand) -> Result<(), Failure> {
    if let PushCommand::Create { region: r, .. } = &command {
        // Validate before building a client, so bad input needs no credentials.
        let converter = converter_from_flags(&command)?;
        converter.validate_create()?;
        let region = region(r)?;
        let push = MediaPush::new(target.client()?);
        let name = converter.name.clone().unwrap_or_default();
        let created = match push.create(region, converter).await {
            Ok(c) => c,
            // Re-running a create is not a failure: the converter exists.
            Err(agora_rest_mediapush::Error::NameTaken { existing_id, .. }) => {
                target.print(&serde_json::json!({
                    "name": name,
                    "id": existing_id,
                    "region": region.as_str(),
                    "outcome": "exists",
                }));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        target.print(&serde_json::json!({
            "id": created.converter.id,
            "state": created.converter.state.as_str(),
            "region": region.as_str(),
            "adopted": created.adopted,
            "requestId": created.ids.request_id,
        }));
        return Ok(());
    }
    let push = MediaPush::new(target.client()?);
    match command {
        PushCommand::Create { .. } => unreachable!("handled above"),
        PushCommand::Get { id, region: r } => {
            let info = push.adopt(&id, region(&r)?, None).await?;
            target.print(&to_json(&info));
        }
        PushCommand::List { channel } => {
            let members: Vec<_> = match channel {
                Some(c) => push.list_channel(&c).try_collect().await?,
                None => push.list().try_collect().await?,
            };
            target.print(&to_json(&members));
        }
        PushCommand::Update {
            id,
            region: r,
            after_sequence,
            rtmp_url,
            width,
            height,
            bitrate,
            layout,
            layout_json,
            json,
        } => {
            let mut update = match json {
                Some(path) => {
                    let text = read_input("--json", &path, MAX_INPUT_BYTES)?;
                    let req: UpdateConverterRequest = serde_json::from_slice(&text)
                        .map_err(|e| Failure::input(format!("--json {}: {e}", path.display())))?;
                    Update::from_parts(
                        req.converter,
                        req.fields
                            .split(',')
                            .map(str::trim)
                            .filter(|f| !f.is_empty()),
                    )
                }
                None => Update::new(),
            };
            if let Some(kbps) = bitrate {
                update = update.video_bitrate(kbps);
            }
            match (layout.is_empty(), layout_json) {
                (true, None) => {}
                (false, None) => {
                    let regions = layout
                        .iter()
                        .map(|l| layout_flag(l))
                        .collect::<Result<Vec<_>, _>>()?;
                    update = update.layout(regions);
                }
                (true, Some(path)) => {
                    let text = read_input("--layout-json", &path, MAX_INPUT_BYTES)?;
                    let regions: Vec<LayoutElement> =
                        serde_json::from_slice(&text).map_err(|e| {
                            Failure::input(format!(
                                "--layout-json {}: not a layout array: {e}",
                                path.display()
                            ))
                        })?;
                    update = update.layout(regions);
                }
                (false, Some(_)) => {
                    return Err(Failure::input("give --layout or --layout-json, not both"));
                }
            }
            if let Some(url) = rtmp_url {
                update = update.rtmp_url(url);
            }
            match (width, height) {
                (Some(w), Some(h)) => {
                    update = update.canvas(Canvas {
                        width: w,
                        height: h,
                        color: None,
                    });
                }
                (None, None) => {}
                _ => return Err(Failure::input("--width and --height go together")),
            }
            if update.fields().is_empty() {
                return Err(Failure::input(
                    "nothing to update: give --rtmp-url, --width/--height, --bitrate, --layout, --layout-json or --json",
                ));
            }
            // Sequences rise between invocations: start above the last one given and above
            // the time, so a later process's update is never below an earlier one's.
            let floor = after_sequence
                .unwrap_or(0)
                .max(agora_rest_transport::clock::system_unix_ms());
            push.adopt(&id, region(&r)?, Some(floor)).await?;
            let status = push.update(&id, update).await?;
            target.print(&to_json(&status));
        }
        PushCommand::Delete { id, region: r } => {
            // Only the region is needed: a converter already gone settles at once.
            push.locate(&id, region(&r)?)?;
            let outcome = match push.delete(&id).await? {
                agora_rest_mediapush::Deleted::AlreadyGone => "already gone",
                _ => "deleted",
            };
            target.print(&serde_json::json!({ "id": id, "outcome": outcome }));
        }
        PushCommand::Watch {
            id,
            region: r,
            every,
        } => {
            let every = Duration::from_secs(every);
            check_poll_every("--every", every)?;
            push.adopt(&id, region(&r)?, None).await?;
            let mut last = String::new();
            loop {
                let (line, value) = match push.get(&id).await {
                    Ok(info) => {
                        let state = info
                            .state
                            .map_or_else(|| "unknown".to_string(), |s| s.to_string());
                        (
                            state.clone(),
                            serde_json::json!({ "id": id, "state": state }),
                        )
                    }
                    Err(e) => (
                        format!("error: {e}"),
                        serde_json::json!({ "id": id, "error": e.to_string() }),
                    ),
                };
                if line != last {
                    target.print_line(value, &format!("{id} {line}"));
                    last = line;
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
    }
    Ok(())
}

/// Cloud Transcoding commands. Builder tokens are never printed: later commands acquire a
/// fresh token for the same instance id.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TranscodeCommand {
    /// Start a task (Acquire, Create, retries, backup UID, startup confirmation).
    ///
    /// RTC tokens come from the environment, never from flags (they would show in `ps`):
    /// AGORA_RTC_INPUT_TOKEN (inputs, minted for UID 0), AGORA_RTC_OUTPUT_TOKEN (minted for
    /// --uid) and AGORA_RTC_BACKUP_OUTPUT_TOKEN (minted for --backup-uid, used if Create has to
    /// switch to it). With --json the config's own output token is the --uid one.
    Start {
        /// The instance id (one task runs per instance).
        #[arg(long)]
        instance_id: String,
        /// The channel to transcode.
        #[arg(long)]
        channel: Option<String>,
        /// The channel to publish into (default: `<channel>-mix`).
        #[arg(long)]
        output_channel: Option<String>,
        /// The transcoder's UID.
        #[arg(long, default_value_t = 1001)]
        uid: u32,
        /// The backup UID for re-creates.
        #[arg(long, default_value_t = 1002)]
        backup_uid: u32,
        /// Output width.
        #[arg(long, default_value_t = 640)]
        width: u32,
        /// Output height.
        #[arg(long, default_value_t = 360)]
        height: u32,
        /// A transcoder config (`{"services":…}` or the `transcoder` object) instead of flags.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Show a task.
    Query {
        /// The task id.
        task_id: String,
        /// The instance id it was started with.
        #[arg(long)]
        instance_id: String,
    },
    /// Replace a task's config (the next sequenceId is used).
    Update {
        /// The task id.
        task_id: String,
        /// The instance id it was started with.
        #[arg(long)]
        instance_id: String,
        /// The full new config.
        #[arg(long)]
        json: PathBuf,
        /// The last sequenceId used on it, if known.
        #[arg(long)]
        after_sequence: Option<u64>,
    },
    /// Print a status line whenever a task's status changes, until interrupted. (Watching
    /// only: `agora-rest controller run` is what keeps tasks alive.)
    Watch {
        /// The task id.
        task_id: String,
        /// The instance id it was started with.
        #[arg(long)]
        instance_id: String,
        /// Seconds between checks while healthy.
        #[arg(long, default_value_t = 120)]
        every: u64,
    },
    /// Stop a task.
    Stop {
        /// The task id.
        task_id: String,
        /// The instance id it was started with.
        #[arg(long)]
        instance_id: String,
    },
}

fn read_config(path: &std::path::Path) -> Result<TranscoderConfig, Failure> {
    let text = read_input("--json", path, MAX_INPUT_BYTES)?;
    if let Ok(req) = serde_json::from_slice::<CreateTaskRequest>(&text) {
        return Ok(req.services.cloud_transcoder.config.transcoder);
    }
    serde_json::from_slice(&text)
        .map_err(|e| Failure::input(format!("--json {}: {e}", path.display())))
}

/// The input token, and the output tokens of the primary and the backup UID.
fn tokens() -> (String, String, String) {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    (
        env("AGORA_RTC_INPUT_TOKEN"),
        env("AGORA_RTC_OUTPUT_TOKEN"),
        env("AGORA_RTC_BACKUP_OUTPUT_TOKEN"),
    )
}

pub(crate) async fn transcode(target: Target, command: TranscodeCommand) -> Result<(), Failure> {
    match command {
        TranscodeCommand::Start {
            instance_id,
            channel,
            output_channel,
            uid,
            backup_uid,
            width,
            height,
            json,
        } => {
            let config = match json {
                Some(path) => read_config(&path)?,
                None => {
                    let channel = channel
                        .ok_or_else(|| Failure::input("--channel is required (or --json FILE)"))?;
                    let (input, output, _) = tokens();
                    TranscoderConfigBuilder::new()
                        .audio_input(AudioInput::rtc(channel.clone(), 0, input.as_str()))
                        .output(
                            Output::rtc(
                                output_channel.unwrap_or_else(|| format!("{channel}-mix")),
                                uid,
                                output.as_str(),
                            )
                            .with_video(VideoOption::new(width, height, 800)),
                        )
                        .build()?
                }
            };
            // Each UID publishes with its own token: never the primary's with the backup UID.
            // A --json config brings the primary's token; the backup's comes from the env.
            let (_, output, backup_output) = tokens();
            let primary = config
                .outputs
                .iter()
                .find_map(|o| o.rtc.as_ref())
                .map_or_else(|| output.as_str().into(), |r| r.rtc_token.clone());
            let uid_tokens = UidTokens::new()
                .with(uid, primary)
                .with(backup_uid, backup_output.as_str());
            let spec = StartSpec::new(
                instance_id.clone(),
                UidPair::new(uid, backup_uid)?,
                config,
                uid_tokens,
            )?;
            let t = Transcoder::new(target.client()?);
            let task = t.start(spec).await?;
            target.print(&serde_json::json!({ "taskId": task.task_id(), "instanceId": instance_id, "uid": task.uid() }));
        }
        TranscodeCommand::Query {
            task_id,
            instance_id,
        } => {
            let t = Transcoder::new(target.client()?);
            let token = t.acquire(&instance_id).await?;
            let task = t.query(&task_id, &token.token).await?;
            target.print(&to_json(&task));
        }
        TranscodeCommand::Update {
            task_id,
            instance_id,
            json,
            after_sequence,
        } => {
            let config = read_config(&json)?;
            config.validate()?;
            let t = Transcoder::new(target.client()?);
            let handle = t.adopt(&task_id, &instance_id, after_sequence).await?;
            handle.update(config).await?;
            target.print(&serde_json::json!({ "updated": task_id }));
        }
        TranscodeCommand::Watch {
            task_id,
            instance_id,
            every,
        } => {
            let every = Duration::from_secs(every);
            check_poll_every("--every", every)?;
            agora_rest_core::name::validate_path_segment("taskId", &task_id)?;
            let t = Transcoder::new(target.client()?);
            let mut last = String::new();
            loop {
                // A builder token is good for a few minutes: a fresh one per check.
                let outcome = match t.acquire(&instance_id).await {
                    Ok(token) => t
                        .query(&task_id, &token.token)
                        .await
                        .map(|task| task.status.to_string()),
                    Err(e) => Err(e),
                };
                let (line, value) = match outcome {
                    Ok(status) => (
                        status.clone(),
                        serde_json::json!({ "taskId": task_id, "status": status }),
                    ),
                    Err(e) => (
                        format!("error: {e}"),
                        serde_json::json!({ "taskId": task_id, "error": e.to_string() }),
                    ),
                };
                if line != last {
                    target.print_line(value, &format!("{task_id} {line}"));
                    last = line;
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
        TranscodeCommand::Stop {
            task_id,
            instance_id,
        } => {
            let t = Transcoder::new(target.client()?);
            let handle = t.adopt(&task_id, &instance_id, None).await?;
            match handle.stop().await? {
                Some(task) => target.print(&to_json(&task)),
                None => target.print(&serde_json::json!({ "taskId": task_id, "status": "gone" })),
            }
        }
    }
    Ok(())
}
