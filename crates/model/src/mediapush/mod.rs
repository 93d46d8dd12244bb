//! Media Push (RTMP converters): requests, responses and their rules (docs/vendor-rules.md).

mod builder;
mod converter;
mod request;
mod response;
mod validate;

pub use builder::ConverterBuilder;
pub use converter::{
    AudioCodecProfile, AudioOptions, Canvas, Converter, ConverterState, FillMode, ImageView,
    LayoutElement, LayoutRegion, RawOptions, RtcStreamView, SeiCustomized, SeiOptions, SeiSink,
    SeiSource, TranscodeOptions, VerticalLayout, VideoCodec, VideoCodecProfile, VideoOptions,
    Volume,
};
pub use request::{CreateConverterRequest, UpdateConverterRequest};
pub use response::{
    ConverterInfo, ConverterResponse, ConverterStatus, GetConverterResponse, GetShape,
    ListConvertersResponse, ListMember, ListPage,
};
