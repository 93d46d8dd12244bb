//! Media Push responses: Create/Update, Get (both documented shapes) and List (docs/vendor-rules.md–2.7).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::converter::{ConverterState, RawOptions, TranscodeOptions};
use crate::wire::{opt_u32_lenient, opt_u64_lenient, u64_as_string, u64_lenient};

/// The converter part of a Create or Update response (docs/vendor-rules.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverterStatus {
    /// 32 hex characters (case varies between examples).
    pub id: String,
    /// Unix seconds.
    #[serde(with = "u64_lenient")]
    pub create_ts: u64,
    /// Unix seconds.
    #[serde(with = "u64_lenient")]
    pub update_ts: u64,
    /// `connecting`, `running`, `failed` or a value we keep as `Other`.
    pub state: ConverterState,
}

/// The body of a Create or Update response: `{"converter": {id, createTs, updateTs, state},
/// "fields": "id,createTs,updateTs,state"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConverterResponse {
    /// The converter's id, times and state.
    pub converter: ConverterStatus,
    /// Which fields `converter` holds.
    #[serde(default)]
    pub fields: String,
}

impl ConverterResponse {
    /// The mask the service sends with a Create or Update response.
    pub const FIELDS: &'static str = "id,createTs,updateTs,state";

    /// A response for `status`, with the usual mask.
    pub fn new(status: ConverterStatus) -> Self {
        ConverterResponse {
            converter: status,
            fields: Self::FIELDS.to_string(),
        }
    }
}

/// A converter as Get returns it (docs/vendor-rules.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverterInfo {
    /// The converter id, when the response includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Transcoding options, for a transcoded converter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcode_options: Option<TranscodeOptions>,
    /// Raw options, for a raw converter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_options: Option<RawOptions>,
    /// The CDN address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<String>,
    /// Written `idleTimeout` as responses spell it; `idleTimeOut` is read too.
    #[serde(
        default,
        rename = "idleTimeout",
        alias = "idleTimeOut",
        with = "opt_u32_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<u32>,
    /// Unix seconds.
    #[serde(
        default,
        with = "opt_u64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_ts: Option<u64>,
    /// Unix seconds.
    #[serde(
        default,
        with = "opt_u64_lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_ts: Option<u64>,
    /// The state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConverterState>,
}

/// Which of the two documented Get shapes a body uses (docs/vendor-rules.md AMBIGUOUS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GetShape {
    /// The converter's fields at the top level (the transcoded examples).
    #[default]
    TopLevel,
    /// `{"converter": {…}}` (the raw example).
    Wrapped,
}

/// The body of a Get response, in either shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetConverterResponse {
    /// The converter.
    pub converter: ConverterInfo,
    /// The shape it came in, or is to be written in.
    pub shape: GetShape,
}

impl Serialize for GetConverterResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wrapped<'a> {
            converter: &'a ConverterInfo,
        }
        match self.shape {
            GetShape::TopLevel => self.converter.serialize(s),
            GetShape::Wrapped => Wrapped {
                converter: &self.converter,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for GetConverterResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = serde_json::Value::deserialize(d)?;
        let wrapped = v.as_object().is_some_and(|o| {
            o.len() == 1 && o.get("converter").is_some_and(serde_json::Value::is_object)
        });
        let (inner, shape) = if wrapped {
            (v["converter"].take(), GetShape::Wrapped)
        } else {
            (v, GetShape::TopLevel)
        };
        let converter = ConverterInfo::deserialize(inner).map_err(serde::de::Error::custom)?;
        // Every field is optional on its own, but a body with none of them is not a converter
        // (a proxy's page, another API's answer): an error, never an empty success.
        let c = &converter;
        if c.id.is_none()
            && c.name.is_none()
            && c.rtmp_url.is_none()
            && c.state.is_none()
            && c.transcode_options.is_none()
            && c.raw_options.is_none()
        {
            return Err(serde::de::Error::custom(
                "no converter field (id, name, rtmpUrl, state, transcodeOptions or rawOptions)",
            ));
        }
        Ok(GetConverterResponse { converter, shape })
    }
}

/// The body of a List response (docs/vendor-rules.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListConvertersResponse {
    /// `true` on success.
    #[serde(default)]
    pub success: bool,
    /// The page.
    pub data: ListPage,
}

/// One page of a List (docs/vendor-rules.md): at most 500 members; `cursor` 0 means the last page.
///
/// The table and the example disagree on which numbers are strings; every number is read from
/// either form and written as the example writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// Converters in the whole listing.
    #[serde(with = "u64_lenient")]
    pub total_count: u64,
    /// Pass it back to get the next page; 0 on the last page.
    #[serde(default, with = "u64_lenient")]
    pub cursor: u64,
    /// The converters of this page.
    #[serde(default)]
    pub members: Vec<ListMember>,
}

/// One converter in a List page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMember {
    /// The channel it pushes from.
    pub rtc_channel: String,
    /// Undocumented (`"200"` in the example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The converter's name.
    #[serde(default)]
    pub converter_name: String,
    /// Unix seconds (a string in the example).
    #[serde(with = "u64_as_string")]
    pub update_ts: u64,
    /// The project.
    pub app_id: String,
    /// The CDN address.
    pub rtmp_url: String,
    /// Undocumented: the converter's egress address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The converter id.
    pub converter_id: String,
    /// Creation time, Unix seconds (a string in the example).
    #[serde(with = "u64_as_string")]
    pub create: u64,
    /// The idle timeout in seconds (a string in the example).
    #[serde(with = "u64_as_string")]
    pub idle_timeout: u64,
    /// The state.
    pub state: ConverterState,
}
