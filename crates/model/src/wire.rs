//! Tolerant reading, exact writing: serde helpers for the vendor's inconsistent wire forms.
//!
//! Exists because the vendor's own examples contradict its tables (docs/vendor-rules.md):
//! numbers arrive as strings, enum values change case, new states appear. We read every
//! documented form and write one exact form, so a client never fails on a real response and the
//! emulator always answers as the examples do.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

struct U64Visitor;

impl<'de> Visitor<'de> for U64Visitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer, as a number or a string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        if v.fract() == 0.0 && v >= 0.0 && v <= u64::MAX as f64 {
            Ok(v as u64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

struct OptU64Visitor;

impl<'de> Visitor<'de> for OptU64Visitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer, as a number or a string, or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(U64Visitor).map(Some)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        U64Visitor.visit_u64(v).map(Some)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        U64Visitor.visit_i64(v).map(Some)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        U64Visitor.visit_f64(v).map(Some)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        U64Visitor.visit_str(v).map(Some)
    }
}

/// `u64` read from a number or a numeric string, written as a number.
pub(crate) mod u64_lenient {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(U64Visitor)
    }

    pub(crate) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }
}

/// `u64` read from a number or a numeric string, written as a string (List's example form).
pub(crate) mod u64_as_string {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(U64Visitor)
    }

    pub(crate) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
}

/// `Option<u64>` read from a number, a numeric string or null, written as a number.
pub(crate) mod opt_u64_lenient {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(OptU64Visitor)
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_u64(*v),
            None => s.serialize_none(),
        }
    }
}

/// `u32` (a UID) read from a number or a numeric string, written as a number.
pub(crate) mod u32_lenient {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = d.deserialize_any(U64Visitor)?;
        u32::try_from(v).map_err(|_| de::Error::custom(format!("{v} is larger than a 32-bit UID")))
    }

    pub(crate) fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(*v)
    }
}

/// `Option<u32>` read from a number, a numeric string or null, written as a number.
pub(crate) mod opt_u32_lenient {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match d.deserialize_option(OptU64Visitor)? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| de::Error::custom(format!("{v} does not fit in 32 bits"))),
        }
    }

    pub(crate) fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_u32(*v),
            None => s.serialize_none(),
        }
    }
}

/// An optional object that legacy payloads send as a string (`"seiOptions": ""`,
/// docs/vendor-rules.md AMBIGUOUS): a string or null reads as `None`.
pub(crate) fn object_or_string<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(_) | serde_json::Value::Null => Ok(None),
        v => T::deserialize(v).map(Some).map_err(de::Error::custom),
    }
}

/// What every [`wire_enum!`] type offers to the validators.
pub(crate) trait WireValue {
    /// The wire spelling.
    fn wire(&self) -> &str;
    /// Whether it is a documented value.
    fn known(&self) -> bool;
}

/// Refuses an undocumented enum value, naming the field and the allowed values.
pub(crate) fn check_known<E: WireValue>(
    field: impl FnOnce() -> String,
    value: Option<&E>,
    rule: &'static str,
) -> Result<(), agora_rest_core::Error> {
    match value {
        Some(v) if !v.known() => Err(agora_rest_core::Error::InvalidValue {
            field: field().into(),
            value: v.wire().to_string(),
            rule,
        }),
        _ => Ok(()),
    }
}

/// A string-valued wire enum: known values as variants, anything else kept as `Other`.
///
/// Reading is ASCII case-insensitive (the docs send `"High"` where the table says `high`);
/// writing uses the documented spelling.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as received.
            Other(String),
        }

        impl $name {
            /// The documented values.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }

            /// Reads a wire value, any ASCII case; unknown values become `Other`.
            pub fn parse(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($wire) {
                    return Self::$variant;
                })+
                Self::Other(s.to_string())
            }

            /// Whether the value is one of the documented ones.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl $crate::wire::WireValue for $name {
            fn wire(&self) -> &str {
                self.as_str()
            }

            fn known(&self) -> bool {
                self.is_known()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct T {
        #[serde(with = "super::u64_as_string")]
        a: u64,
        #[serde(with = "super::u64_lenient")]
        b: u64,
        #[serde(
            default,
            with = "super::opt_u32_lenient",
            skip_serializing_if = "Option::is_none"
        )]
        c: Option<u32>,
    }

    #[test]
    fn numbers_and_strings_are_both_read() {
        let t: T = serde_json::from_str(r#"{"a":"12","b":"34","c":"5"}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: 12,
                b: 34,
                c: Some(5)
            }
        );
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"a":"12","b":34,"c":5}"#
        );
        let t: T = serde_json::from_str(r#"{"a":12,"b":34.0,"c":null}"#).unwrap();
        assert_eq!(t.c, None);
        assert!(serde_json::from_str::<T>(r#"{"a":-1,"b":1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":"x","b":1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":1,"b":1,"c":4294967296}"#).is_err());
    }
}
