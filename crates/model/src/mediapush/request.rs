//! Media Push request envelopes: Create and Update (docs/vendor-rules.md).

use agora_rest_core::error::Error as CoreError;
use agora_rest_core::update_rules::{ConverterShape, check_push_update_mask};
use serde::{Deserialize, Deserializer, Serialize};

use super::converter::Converter;
use super::validate::{Mode, check_converter};
use crate::error::Error;

/// The body of Create: `{"converter": {…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateConverterRequest {
    /// The converter to create.
    pub converter: Converter,
}

impl CreateConverterRequest {
    /// Wraps a converter.
    pub fn new(converter: Converter) -> Self {
        CreateConverterRequest { converter }
    }

    /// See [`Converter::validate_create`].
    pub fn validate(&self) -> Result<(), Error> {
        self.converter.validate_create()
    }
}

/// The body of Update: the changed subtree and the `fields` mask naming its paths.
///
/// Written with `fields` at the top level as the current docs do; read from there or from
/// inside `converter`, where a 2021 example put it (docs/vendor-rules.md AMBIGUOUS).
///
/// Written *pruned*: the `converter` sent carries only the paths its mask names, so a field
/// set by mistake outside the mask (an immutable one included) never goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConverterRequest {
    /// Only the changed subtree of the converter.
    pub converter: Converter,
    /// Comma-separated paths relative to `converter`, e.g. `transcodeOptions.videoOptions.canvas`.
    pub fields: String,
}

impl<'de> Deserialize<'de> for UpdateConverterRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Inner {
            #[serde(default)]
            fields: Option<String>,
            #[serde(flatten)]
            converter: Converter,
        }
        #[derive(Deserialize)]
        struct Outer {
            converter: Inner,
            #[serde(default)]
            fields: Option<String>,
        }
        let o = Outer::deserialize(d)?;
        Ok(UpdateConverterRequest {
            fields: o.fields.or(o.converter.fields).unwrap_or_default(),
            converter: o.converter.converter,
        })
    }
}

impl Serialize for UpdateConverterRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let full = serde_json::to_value(&self.converter).map_err(serde::ser::Error::custom)?;
        let mut st = s.serialize_struct("UpdateConverterRequest", 2)?;
        st.serialize_field("converter", &keep_paths(&full, self.paths()))?;
        st.serialize_field("fields", &self.fields)?;
        st.end()
    }
}

/// The parts of `value` under the dotted `paths`, and nothing else.
fn keep_paths<'a>(
    value: &serde_json::Value,
    paths: impl Iterator<Item = &'a str>,
) -> serde_json::Value {
    let mut out = serde_json::Value::Object(serde_json::Map::new());
    for path in paths {
        let Some(found) = path.split('.').try_fold(value, |v, key| v.get(key)) else {
            continue;
        };
        let mut slot = &mut out;
        let keys: Vec<&str> = path.split('.').collect();
        for (i, key) in keys.iter().enumerate() {
            let serde_json::Value::Object(map) = slot else {
                break;
            };
            if i + 1 == keys.len() {
                map.insert((*key).to_string(), found.clone());
                break;
            }
            slot = map
                .entry((*key).to_string())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        }
    }
    out
}

impl UpdateConverterRequest {
    /// An update of the given paths.
    pub fn new<'a>(converter: Converter, fields: impl IntoIterator<Item = &'a str>) -> Self {
        UpdateConverterRequest {
            converter,
            fields: fields.into_iter().collect::<Vec<_>>().join(","),
        }
    }

    /// The paths of the mask, trimmed.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.fields
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    /// Checks the update against a converter of `shape`: the mask names only updatable paths,
    /// every named path is present in the body, and present values are in range.
    pub fn validate(&self, shape: ConverterShape) -> Result<(), Error> {
        let paths = check_push_update_mask(&self.fields, shape)?;
        let body = serde_json::to_value(&self.converter).unwrap_or_default();
        for path in paths {
            let present = path
                .split('.')
                .try_fold(&body, |v, key| v.get(key))
                .is_some_and(|v| !v.is_null());
            if !present {
                return Err(CoreError::Missing {
                    field: format!("converter.{path}").into(),
                    rule: "the fields mask names it, so the update must carry its new value",
                }
                .into());
            }
        }
        check_converter(&self.converter, Mode::Update)
    }
}
