//! HTTP plumbing of the emulator: routes, query strings, responses in the vendor's shapes.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};

use agora_rest_core::operation::Operation;
use agora_rest_core::region::PathRegion;

/// A matched route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    PushCreate {
        region: PathRegion,
        app: String,
    },
    PushOne {
        region: PathRegion,
        app: String,
        id: String,
    },
    PushList {
        app: String,
        channel: Option<String>,
    },
    Acquire {
        app: String,
    },
    TaskCreate {
        app: String,
    },
    TaskOne {
        app: String,
        id: String,
    },
}

impl Route {
    /// The operation of this route and method, if the method is allowed.
    pub(crate) fn operation(&self, method: &Method) -> Option<Operation> {
        Some(match (self, method) {
            (Route::PushCreate { .. }, &Method::POST) => Operation::PushCreate,
            (Route::PushOne { .. }, &Method::GET) => Operation::PushGet,
            (Route::PushOne { .. }, &Method::PATCH) => Operation::PushUpdate,
            (Route::PushOne { .. }, &Method::DELETE) => Operation::PushDelete,
            (Route::PushList { .. }, &Method::GET) => Operation::PushList,
            (Route::Acquire { .. }, &Method::POST) => Operation::Acquire,
            (Route::TaskCreate { .. }, &Method::POST) => Operation::TranscodeCreate,
            (Route::TaskOne { .. }, &Method::GET) => Operation::TranscodeQuery,
            (Route::TaskOne { .. }, &Method::PATCH) => Operation::TranscodeUpdate,
            (Route::TaskOne { .. }, &Method::DELETE) => Operation::TranscodeDelete,
            _ => return None,
        })
    }

    /// The app id in the path.
    pub(crate) fn app(&self) -> &str {
        match self {
            Route::PushCreate { app, .. }
            | Route::PushOne { app, .. }
            | Route::PushList { app, .. }
            | Route::Acquire { app }
            | Route::TaskCreate { app }
            | Route::TaskOne { app, .. } => app,
        }
    }
}

/// Decodes `%XX` escapes (channel names may hold spaces and punctuation).
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits: `from_str_radix` alone would take `+1` for 1.
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Matches a path against the documented routes (docs/vendor-rules.md). A region segment that
/// is not one of the four lowercase values matches nothing.
pub(crate) fn route(path: &str) -> Option<Route> {
    // One leading slash: `//v1/…` is another path, not `/v1/…`; an empty segment matches nothing.
    let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let s = |i: usize| segs.get(i).copied();
    let own = |x: &str| x.to_string();
    match segs.as_slice() {
        [region, "v1", "projects", app, "rtmp-converters"] => Some(Route::PushCreate {
            region: region.parse().ok()?,
            app: own(app),
        }),
        [region, "v1", "projects", app, "rtmp-converters", id] if !id.is_empty() => {
            Some(Route::PushOne {
                region: region.parse().ok()?,
                app: own(app),
                id: own(id),
            })
        }
        ["v1", "projects", app, "rtmp-converters"] => Some(Route::PushList {
            app: own(app),
            channel: None,
        }),
        [
            "v1",
            "projects",
            app,
            "channels",
            channel,
            "rtmp-converters",
        ] => Some(Route::PushList {
            app: own(app),
            channel: Some(percent_decode(channel)?),
        }),
        ["v1", "projects", app, "rtsc", "cloud-transcoder", rest @ ..] => match rest {
            ["builderTokens"] => Some(Route::Acquire { app: own(app) }),
            ["tasks"] => Some(Route::TaskCreate { app: own(app) }),
            ["tasks", id] if !id.is_empty() => Some(Route::TaskOne {
                app: own(app),
                id: own(id),
            }),
            _ => None,
        },
        _ => {
            let _ = s;
            None
        }
    }
}

/// A query parameter's value, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| percent_decode(&v.replace('+', " ")))
}

/// A JSON response.
pub(crate) fn json(status: u16, body: &impl serde::Serialize) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Bytes::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An error body with `message` (the documented key).
pub(crate) fn message(status: u16, text: &str) -> Response<Bytes> {
    json(status, &serde_json::json!({ "message": text }))
}

/// The vendor's texts (docs/vendor-rules.md).
pub(crate) mod text {
    pub(crate) const NO_ROUTE: &str = "no Route matched with those values";
    pub(crate) const UNAUTHORIZED: &str = "Unauthorized";
    pub(crate) const BAD_CREDENTIALS: &str = "Invalid authentication credentials";
    pub(crate) const NOT_FOUND: &str = "Resource is not found and destroyed.";
    pub(crate) const NAME_TAKEN: &str = "Resource with the same name already exists. Use the existing resource or delete it and create a new resource.";
    pub(crate) const RATE_LIMITED: &str = "Request rate limit exceeded.";
    pub(crate) const QUOTA: &str = "Resources quota exceeded.";
    pub(crate) const INTERNAL: &str = "Internal errors. Contact us for troubleshooting.";
    pub(crate) const NOT_IMPLEMENTED: &str = "The method requested has not been implemented.";
    pub(crate) const UNAVAILABLE: &str =
        "The server is temporarily overloaded. Retry following the retreat strategy.";
    pub(crate) const GATEWAY_TIMEOUT: &str =
        "Gateway timeout. Check whether the resource is created. If not, create a new resource.";
    pub(crate) const APP_ID: &str = "appid is invalid";
}

/// The body the vendor sends with a given error status.
pub(crate) fn status_text(status: u16) -> &'static str {
    match status {
        429 => text::RATE_LIMITED,
        501 => text::NOT_IMPLEMENTED,
        503 => text::UNAVAILABLE,
        504 => text::GATEWAY_TIMEOUT,
        404 => text::NOT_FOUND,
        _ => text::INTERNAL,
    }
}

/// A JSON request body as `T`, or the service's 400 for a body that does not parse.
#[allow(clippy::result_large_err)] // the error is the answer to send, built once per request
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, Response<Bytes>> {
    serde_json::from_slice(body).map_err(|e| message(400, &format!("Invalid parameter: body. {e}")))
}

/// The documented number fields of both services' bodies.
const NUMBER_FIELDS: &[&str] = &[
    "rtcStreamUid",
    "rtcStreamUids",
    "rtcUid",
    "idleTimeOut",
    "idleTimeout",
    "jitterBufferSizeMs",
    "width",
    "height",
    "color",
    "bitrate",
    "frameRate",
    "gop",
    "sampleRate",
    "audioChannels",
    "xPos",
    "yPos",
    "zIndex",
    "volume",
    "layoutType",
    "maxResolutionUid",
    "fps",
    "repeat",
    "zOrder",
    "alpha",
    "x",
    "y",
    "w",
    "h",
    "type",
];

/// The first documented number field that holds a string (also inside arrays), for `--strict`.
pub(crate) fn number_sent_as_string(body: &[u8]) -> Option<String> {
    fn walk(v: &serde_json::Value, depth: usize) -> Option<String> {
        if depth > 64 {
            return None;
        }
        match v {
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let stringy = match v {
                    serde_json::Value::String(_) => true,
                    serde_json::Value::Array(items) => {
                        items.iter().any(serde_json::Value::is_string)
                    }
                    _ => false,
                };
                if stringy && NUMBER_FIELDS.contains(&k.as_str()) {
                    Some(k.clone())
                } else {
                    walk(v, depth + 1)
                }
            }),
            serde_json::Value::Array(items) => items.iter().find_map(|i| walk(i, depth + 1)),
            _ => None,
        }
    }
    if body.is_empty() {
        return None;
    }
    walk(&serde_json::from_slice(body).ok()?, 0)
}

/// `Invalid parameter: <field>. <rule>` (docs/vendor-rules.md), the field without its `converter.` head.
pub(crate) fn invalid_parameter(err: &agora_rest_model::Error) -> Response<Bytes> {
    let field = err.field().unwrap_or("body");
    let field = field.strip_prefix("converter.").unwrap_or(field);
    message(400, &format!("Invalid parameter: {field}. {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("/na/v1/projects/app/rtmp-converters"),
            Some(Route::PushCreate {
                region: PathRegion::Na,
                app: "app".into()
            })
        );
        assert_eq!(route("/NA/v1/projects/app/rtmp-converters"), None);
        assert_eq!(route("//v1/projects/app/rtmp-converters"), None);
        assert_eq!(route("/na//v1/projects/app/rtmp-converters"), None);
        assert_eq!(
            route("/v1/projects/app/channels/a%+1/rtmp-converters"),
            None
        );
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%2g"), None);
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(route("/xx/v1/projects/app/rtmp-converters"), None);
        assert_eq!(
            route("/v1/projects/app/channels/show%2068/rtmp-converters"),
            Some(Route::PushList {
                app: "app".into(),
                channel: Some("show 68".into())
            })
        );
        assert_eq!(
            route("/v1/projects/app/rtsc/cloud-transcoder/tasks/abc"),
            Some(Route::TaskOne {
                app: "app".into(),
                id: "abc".into()
            })
        );
        assert_eq!(route("/v1/projects/app/nothing"), None);
        assert_eq!(
            query_param(Some("a=1&builderToken=x%2By&z"), "builderToken").as_deref(),
            Some("x+y")
        );
        assert_eq!(
            query_param(Some("sequence=3"), "sequence").as_deref(),
            Some("3")
        );
        assert_eq!(query_param(None, "x"), None);
    }
}
