//! The one error type of `agora-rest-core`.
//!
//! Every refusal a policy makes is a value of [`Error`], so that callers (the clients, the
//! emulator, the CLI) can show a person *which* field broke *which* rule without parsing text.
//! Variants carry the field path and the rule; none carries a secret.

use std::borrow::Cow;

use crate::quota::{QuotaRule, Tier};
use crate::region::Area;

/// A field path such as `transcodeOptions.videoOptions.canvas.width`.
///
/// Static for the fixed paths the policies know, owned for paths that come from a caller.
pub type FieldPath = Cow<'static, str>;

/// Why a core policy refused a value.
///
/// Exists so that every refusal names the field and the rule; the `Display` text is written for
/// a person reading a log, the fields for a program deciding what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value is not one of the allowed values or does not fit the allowed pattern.
    #[error("invalid {field} {value:?}: {rule}")]
    InvalidValue {
        /// The field, e.g. `region` or `converter.name`.
        field: FieldPath,
        /// The value that was refused (never a secret).
        value: String,
        /// The rule it broke, in words.
        rule: &'static str,
    },

    /// A string is longer than the service allows.
    #[error("{field} is {actual} characters long: the limit is {max}")]
    TooLong {
        /// The field.
        field: FieldPath,
        /// The largest allowed length in characters.
        max: usize,
        /// The length that was given.
        actual: usize,
    },

    /// A number lies outside its documented range.
    #[error("{field} = {actual} is outside [{min}, {max}]")]
    OutOfRange {
        /// The field.
        field: FieldPath,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
        /// The value that was given.
        actual: i64,
    },

    /// A required value is missing.
    #[error("{field} is required: {rule}")]
    Missing {
        /// The field.
        field: FieldPath,
        /// The rule that makes it required.
        rule: &'static str,
    },

    /// One more concurrent stream would break a concurrency cap (docs/vendor-rules.md).
    #[error("one more {tier} stream in {area} would break the {rule} of {limit} (now {current})")]
    QuotaExceeded {
        /// The area whose column of the cap table applies.
        area: Area,
        /// The resolution tier of the refused stream.
        tier: Tier,
        /// Which cap would break.
        rule: QuotaRule,
        /// The value of that cap.
        limit: u32,
        /// How many streams that cap counts now.
        current: u32,
    },

    /// An update touches a field that the service does not let an update change.
    #[error("{path} cannot be updated: {rule}")]
    ImmutableField {
        /// The offending path, as in the `fields` mask.
        path: FieldPath,
        /// The rule, e.g. "fixed at creation (docs/vendor-rules.md)".
        rule: &'static str,
    },

    /// A sequence allocator ran out of numbers; it never wraps, so it refuses instead.
    #[error("the {field} allocator is exhausted at {last}: sequences never wrap")]
    SequenceExhausted {
        /// `sequence` or `sequenceId`.
        field: &'static str,
        /// The last value handed out.
        last: u64,
    },

    /// A webhook carries no signature header we can check.
    #[error("the notification has no Agora-Signature-V2 or Agora-Signature header")]
    SignatureMissing,

    /// A webhook signature header is not hex of the right length.
    #[error("the {header} header is not a hex HMAC of the expected length")]
    SignatureMalformed {
        /// The header name.
        header: &'static str,
    },

    /// A webhook signature does not match the body and secret.
    #[error("the {header} signature does not match the body: wrong secret or altered body")]
    SignatureMismatch {
        /// The header name that was checked.
        header: &'static str,
    },

    /// A notification body is not a valid NCS envelope.
    #[error("the notification is not a valid NCS envelope: {reason}")]
    MalformedEnvelope {
        /// What was wrong, from the JSON parser (contains no secret).
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidValue`].
    pub(crate) fn invalid(
        field: impl Into<FieldPath>,
        value: impl Into<String>,
        rule: &'static str,
    ) -> Self {
        Error::InvalidValue {
            field: field.into(),
            value: value.into(),
            rule,
        }
    }

    /// The same error about another field: lets a caller that checked a value with a generic
    /// rule (e.g. "resolution") report the full path it came from (e.g. `….canvas`).
    #[must_use]
    pub fn at(mut self, path: impl Into<FieldPath>) -> Self {
        match &mut self {
            Error::InvalidValue { field, .. }
            | Error::TooLong { field, .. }
            | Error::OutOfRange { field, .. }
            | Error::Missing { field, .. } => *field = path.into(),
            Error::ImmutableField { path: p, .. } => *p = path.into(),
            _ => {}
        }
        self
    }

    /// The field or path this error is about, where it has one.
    ///
    /// Lets callers point at the offending input without matching every variant.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidValue { field, .. }
            | Error::TooLong { field, .. }
            | Error::OutOfRange { field, .. }
            | Error::Missing { field, .. } => Some(field),
            Error::ImmutableField { path, .. } => Some(path),
            Error::SequenceExhausted { field, .. } => Some(field),
            Error::QuotaExceeded { .. }
            | Error::SignatureMissing
            | Error::SignatureMalformed { .. }
            | Error::SignatureMismatch { .. }
            | Error::MalformedEnvelope { .. } => None,
        }
    }
}

/// Checks that `actual` lies in `[min, max]`, naming `field` otherwise.
///
/// Exists so that every range check in the workspace produces the same error shape.
pub fn check_range(
    field: impl Into<FieldPath>,
    actual: i64,
    min: i64,
    max: i64,
) -> Result<(), Error> {
    if (min..=max).contains(&actual) {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            field: field.into(),
            min,
            max,
            actual,
        })
    }
}

/// Checks that `value` has at most `max` characters, naming `field` otherwise.
pub fn check_len(field: impl Into<FieldPath>, value: &str, max: usize) -> Result<(), Error> {
    let actual = value.chars().count();
    if actual <= max {
        Ok(())
    } else {
        Err(Error::TooLong {
            field: field.into(),
            max,
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_rule() {
        let e = check_range("videoOptions.bitrate", 0, 1, 10_000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "videoOptions.bitrate = 0 is outside [1, 10000]"
        );
        assert_eq!(e.field(), Some("videoOptions.bitrate"));
        let e = check_len("name", &"a".repeat(65), 64).unwrap_err();
        assert_eq!(e.to_string(), "name is 65 characters long: the limit is 64");
        assert!(check_len("name", &"é".repeat(64), 64).is_ok());
        assert_eq!(e.at("converter.name").field(), Some("converter.name"));
    }
}
