//! A typed change to a converter, from which the `fields` mask is built.

use agora_rest_model::mediapush::{Canvas, Converter, LayoutElement, TranscodeOptions, Volume};

/// The fields an update changes. Each setter adds its path to the `fields` mask; the
/// immutable fields (name, idle timeout, channel, audio codec settings, video codec) have no
/// setter, and the client refuses them anyway before sending (docs/vendor-rules.md).
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub(crate) converter: Converter,
    pub(crate) fields: Vec<String>,
}

impl Update {
    /// An empty change; add fields with the setters.
    pub fn new() -> Self {
        Self::default()
    }

    fn transcode(&mut self) -> &mut TranscodeOptions {
        self.converter
            .transcode_options
            .get_or_insert_with(TranscodeOptions::default)
    }

    fn mark(mut self, path: &str) -> Self {
        if !self.fields.iter().any(|f| f == path) {
            self.fields.push(path.to_string());
        }
        self
    }

    /// Pushes to another CDN address (the only change a vertical-layout converter allows).
    pub fn rtmp_url(mut self, url: impl Into<String>) -> Self {
        self.converter.rtmp_url = Some(url.into());
        self.mark("rtmpUrl")
    }

    /// Replaces the canvas.
    pub fn canvas(mut self, canvas: Canvas) -> Self {
        self.transcode()
            .video_options
            .get_or_insert_with(Default::default)
            .canvas = Some(canvas);
        self.mark("transcodeOptions.videoOptions.canvas")
    }

    /// Replaces the custom layout.
    pub fn layout(mut self, layout: Vec<LayoutElement>) -> Self {
        self.transcode()
            .video_options
            .get_or_insert_with(Default::default)
            .layout = Some(layout);
        self.mark("transcodeOptions.videoOptions.layout")
    }

    /// Changes the video bitrate (Kbps).
    pub fn video_bitrate(mut self, kbps: u32) -> Self {
        self.transcode()
            .video_options
            .get_or_insert_with(Default::default)
            .bitrate = Some(kbps);
        self.mark("transcodeOptions.videoOptions.bitrate")
    }

    /// Mixes only these users' audio.
    pub fn audio_users(mut self, uids: Vec<u32>) -> Self {
        self.transcode()
            .audio_options
            .get_or_insert_with(Default::default)
            .rtc_stream_uids = Some(uids);
        self.mark("transcodeOptions.audioOptions.rtcStreamUids")
    }

    /// Sets users' volumes (they must be among the mixed users).
    pub fn volumes(mut self, volumes: Vec<Volume>) -> Self {
        self.transcode()
            .audio_options
            .get_or_insert_with(Default::default)
            .volumes = Some(volumes);
        self.mark("transcodeOptions.audioOptions.volumes")
    }

    /// The `fields` mask this update sends.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }
}

impl Update {
    /// Any subtree and mask, for fields without a setter. Paths the service does not let an
    /// update change are refused by [`MediaPush::update`](crate::MediaPush::update) before
    /// sending.
    pub fn from_parts<'a>(converter: Converter, fields: impl IntoIterator<Item = &'a str>) -> Self {
        Update {
            converter,
            fields: fields.into_iter().map(str::to_string).collect(),
        }
    }
}
