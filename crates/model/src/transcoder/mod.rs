//! Cloud Transcoding: requests, the task object and their rules (docs/vendor-rules.md).

mod builder;
mod config;
mod task;
mod update;
mod validate;

pub use builder::TranscoderConfigBuilder;
pub use config::{
    AudioInput, AudioOption, AudioProfile, CanvasFillMode, CloudTranscoderService,
    CreateTaskRequest, Output, RtcEndpoint, ServiceConfig, Services, StreamProcessMode,
    TranscodeVideoCodec, TranscoderCanvas, TranscoderConfig, TranscoderRegion, VideoInput,
    VideoMode, VideoOption, Watermark,
};
pub use task::{
    AcquireRequest, AcquireResponse, SequenceId, ServiceStatus, Task, TaskService, TaskServices,
    TaskStatus,
};
pub use update::ConfigChange;
