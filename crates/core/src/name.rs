//! Name and identifier rules: converter names, isolation copies, RTC channels, instance ids, UIDs.
//!
//! Exists because a bad name is refused by the service only after a round trip, and a missing or
//! unstable converter name is how a retried create starts a second stream (docs/vendor-rules.md). Each validated newtype can only hold a value the service accepts.

use std::fmt;

use crate::error::{Error, check_len};

/// The longest converter name (docs/vendor-rules.md).
pub const CONVERTER_NAME_MAX: usize = 64;
/// The longest RTC channel name (docs/vendor-rules.md).
pub const RTC_CHANNEL_MAX: usize = 64;
/// The longest Cloud Transcoding `instanceId` (docs/vendor-rules.md).
pub const INSTANCE_ID_MAX: usize = 64;
/// The suffix that asks for machine-room isolation, followed by 1, 2 or 3 (docs/vendor-rules.md).
pub const ISOLATE_SUFFIX: &str = "-agora-isolate-";
/// How many isolated copies of one converter the service supports (docs/vendor-rules.md).
pub const ISOLATION_MAX_COPIES: u8 = 3;
/// The punctuation allowed in an RTC channel name besides letters, digits and space
/// (docs/vendor-rules.md: 89 characters in all).
pub const RTC_CHANNEL_PUNCTUATION: &str = "!#$%&()+-:;<=.>?@[]^_{}|~,";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Whether `c` is one of the 89 characters allowed in an RTC channel name.
pub fn is_rtc_channel_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || RTC_CHANNEL_PUNCTUATION.contains(c)
}

fn check_word(
    field: &'static str,
    value: &str,
    max: usize,
    rule: &'static str,
) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::Missing {
            field: field.into(),
            rule,
        });
    }
    check_len(field, value, max)?;
    if !value.chars().all(is_name_char) {
        return Err(Error::invalid(field, value, rule));
    }
    Ok(())
}

/// A valid Media Push converter name: 1–64 characters of `[A-Za-z0-9_-]`, unique per project.
///
/// The service allows an empty name, but our clients require one by default: without a name a
/// retried create cannot be told apart from a new one. An empty string is therefore refused here;
/// leave the name out instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConverterName(String);

impl ConverterName {
    const RULE: &'static str = "1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'";

    /// Validates a name.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        check_word("converter.name", &name, CONVERTER_NAME_MAX, Self::RULE)?;
        Ok(ConverterName(name))
    }

    /// The recommended `{channel}_{property}` name, e.g. `show68_vertical` (docs/vendor-rules.md).
    ///
    /// Fails when the channel uses characters that a name may not hold (channels allow more).
    pub fn for_channel(channel: &str, property: &str) -> Result<Self, Error> {
        ConverterName::new(format!("{channel}_{property}"))
    }

    /// The name of isolated copy `n` (1 to 3): `{name}-agora-isolate-{n}` (docs/vendor-rules.md).
    ///
    /// Built from the base name, so asking a copy for a copy does not stack suffixes.
    pub fn isolated(&self, n: u8) -> Result<Self, Error> {
        if !(1..=ISOLATION_MAX_COPIES).contains(&n) {
            return Err(Error::OutOfRange {
                field: "isolation copy".into(),
                min: 1,
                max: ISOLATION_MAX_COPIES.into(),
                actual: n.into(),
            });
        }
        ConverterName::new(format!("{}{ISOLATE_SUFFIX}{n}", self.base()))
    }

    /// The name without an isolation suffix.
    pub fn base(&self) -> &str {
        match self.isolation_copy() {
            Some(_) => &self.0[..self.0.len() - ISOLATE_SUFFIX.len() - 1],
            None => &self.0,
        }
    }

    /// Which isolated copy this name is (1 to 3), if it is one.
    pub fn isolation_copy(&self) -> Option<u8> {
        let (head, n) = self.0.split_at(self.0.len().checked_sub(1)?);
        let n: u8 = n.parse().ok()?;
        let ok = head.ends_with(ISOLATE_SUFFIX)
            && head.len() > ISOLATE_SUFFIX.len()
            && (1..=ISOLATION_MAX_COPIES).contains(&n);
        ok.then_some(n)
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConverterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ConverterName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks an RTC channel name: 1–64 characters from the 89-character set (docs/vendor-rules.md).
pub fn validate_rtc_channel(field: &'static str, channel: &str) -> Result<(), Error> {
    const RULE: &str = "1 to 64 characters of a-z, A-Z, 0-9, space and !#$%&()+-:;<=.>?@[]^_{}|~,";
    if channel.is_empty() {
        return Err(Error::Missing {
            field: field.into(),
            rule: RULE,
        });
    }
    check_len(field, channel, RTC_CHANNEL_MAX)?;
    if !channel.chars().all(is_rtc_channel_char) {
        return Err(Error::invalid(field, channel, RULE));
    }
    // `.` and `..` are in the alphabet, but as a path segment (List of a channel) they would
    // name the parent path instead of the channel.
    validate_path_segment(field, channel)
}

/// Checks a value that the clients put into a URL path as one segment (a converter id, a task
/// id, a channel name): not empty, and not `.` or `..`, which HTTP stacks and gateways resolve
/// as "this" or "the parent" path, so that `DELETE …/rtmp-converters/..` would address
/// something else than a converter.
pub fn validate_path_segment(field: &'static str, value: &str) -> Result<(), Error> {
    const RULE: &str = "must not be empty, \".\" or \"..\" (it goes into the URL path)";
    if value.is_empty() {
        return Err(Error::Missing {
            field: field.into(),
            rule: RULE,
        });
    }
    if value == "." || value == ".." {
        return Err(Error::invalid(field, value, RULE));
    }
    Ok(())
}

/// Checks a Cloud Transcoding `instanceId`: 1–64 characters of `[A-Za-z0-9_-]` (docs/vendor-rules.md).
pub fn validate_instance_id(instance_id: &str) -> Result<(), Error> {
    check_word(
        "instanceId",
        instance_id,
        INSTANCE_ID_MAX,
        "1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'",
    )
}

/// An RTC user id: a 32-bit unsigned number (docs/vendor-rules.md: `rtcStreamUid`, `rtcUid`).
///
/// Parsing from a wider integer or a string refuses values outside `[0, 2^32 - 1]`.
pub fn parse_uid(field: &'static str, value: i64) -> Result<u32, Error> {
    u32::try_from(value).map_err(|_| Error::OutOfRange {
        field: field.into(),
        min: 0,
        max: u32::MAX.into(),
        actual: value,
    })
}

/// The transcoder's own output UID and its backup (the Cloud Transcoding service-status guide: "prepare a backup UID").
///
/// Both must be non-zero (0 means "the whole channel" on inputs, so it cannot name a publisher)
/// and different from each other, since UIDs in one channel must be unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UidPair {
    primary: u32,
    backup: u32,
}

impl UidPair {
    /// Validates a primary and backup UID.
    pub fn new(primary: u32, backup: u32) -> Result<Self, Error> {
        if primary == 0 {
            return Err(Error::invalid(
                "uid.primary",
                "0",
                "an output UID must not be 0",
            ));
        }
        if backup == 0 {
            return Err(Error::invalid(
                "uid.backup",
                "0",
                "an output UID must not be 0",
            ));
        }
        if primary == backup {
            return Err(Error::invalid(
                "uid.backup",
                backup.to_string(),
                "must differ from the primary UID: UIDs in one channel are unique",
            ));
        }
        Ok(UidPair { primary, backup })
    }

    /// The primary UID.
    pub const fn primary(&self) -> u32 {
        self.primary
    }

    /// The backup UID.
    pub const fn backup(&self) -> u32 {
        self.backup
    }

    /// The other UID of the pair, for the next re-create (`uid` not in the pair gives primary).
    pub const fn other(&self, uid: u32) -> u32 {
        if uid == self.primary {
            self.backup
        } else {
            self.primary
        }
    }
}

#[cfg(test)]
mod path_segment_tests {
    use super::*;

    #[test]
    fn dot_segments_and_empty_are_refused() {
        for bad in ["", ".", ".."] {
            let e = validate_path_segment("converterId", bad).unwrap_err();
            assert!(e.to_string().contains("converterId"), "{e}");
            assert!(validate_rtc_channel("rtcChannel", bad).is_err(), "{bad:?}");
        }
        for ok in ["...", "a.b", ".a", "abc"] {
            validate_path_segment("converterId", ok).unwrap();
        }
        validate_rtc_channel("rtcChannel", "a.b").unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;

    #[test]
    fn rtc_channel_alphabet_has_89_characters() {
        let count = (0u8..=127)
            .map(char::from)
            .filter(|c| is_rtc_channel_char(*c))
            .count();
        assert_eq!(count, 89);
    }

    #[test]
    fn isolation_names() {
        let n = ConverterName::new("my-task").unwrap();
        let c1 = n.isolated(1).unwrap();
        assert_eq!(c1.as_str(), "my-task-agora-isolate-1");
        assert_eq!(c1.isolation_copy(), Some(1));
        assert_eq!(c1.base(), "my-task");
        assert_eq!(c1.isolated(3).unwrap().as_str(), "my-task-agora-isolate-3");
        let e = n.isolated(4).unwrap_err();
        assert_eq!(e.field(), Some("isolation copy"));
        assert!(n.isolated(0).is_err());
        assert_eq!(n.isolation_copy(), None);
        assert_eq!(
            ConverterName::new("x-agora-isolate-4")
                .unwrap()
                .isolation_copy(),
            None
        );
        // A base name so long that the suffix would pass 64 characters is refused.
        let long = ConverterName::new("a".repeat(60)).unwrap();
        assert_eq!(
            long.isolated(1).unwrap_err().field(),
            Some("converter.name")
        );
    }

    #[test]
    fn channel_property_helper() {
        let n = ConverterName::for_channel("show68", "vertical").unwrap();
        assert_eq!(n.as_str(), "show68_vertical");
        assert!(ConverterName::for_channel("show 68", "vertical").is_err());
    }

    #[test]
    fn uid_pair_rules() {
        assert!(UidPair::new(0, 2).is_err());
        assert!(UidPair::new(1, 0).is_err());
        assert!(UidPair::new(7, 7).is_err());
        let p = UidPair::new(7, 8).unwrap();
        assert_eq!((p.other(7), p.other(8)), (8, 7));
        assert_eq!(parse_uid("rtcUid", 4_294_967_295).unwrap(), u32::MAX);
        assert!(parse_uid("rtcUid", 4_294_967_296).is_err());
        assert!(parse_uid("rtcUid", -1).is_err());
    }

    proptest! {
        #[test]
        fn converter_name_matches_regex_oracle(s in "[ -~]{0,70}|[A-Za-z0-9_-]{0,70}") {
            let oracle = Regex::new(r"^[A-Za-z0-9_-]{1,64}$").unwrap();
            prop_assert_eq!(ConverterName::new(s.clone()).is_ok(), oracle.is_match(&s));
            prop_assert_eq!(validate_instance_id(&s).is_ok(), oracle.is_match(&s));
        }

        #[test]
        fn rtc_channel_matches_regex_oracle(s in "[ -~]{0,70}|\\PC{0,5}") {
            let oracle =
                Regex::new(r"^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}$").unwrap();
            let oracle_ok = oracle.is_match(&s) && s != "." && s != "..";
            prop_assert_eq!(validate_rtc_channel("rtcChannel", &s).is_ok(), oracle_ok);
        }

        #[test]
        fn isolation_round_trips(base in "[A-Za-z0-9_-]{1,48}", n in 1u8..=3) {
            let name = ConverterName::new(base.clone()).unwrap();
            let copy = name.isolated(n).unwrap();
            prop_assert_eq!(copy.isolation_copy(), Some(n));
            prop_assert_eq!(copy.isolated(1).unwrap().isolated(n).unwrap(), copy.clone());
            if name.isolation_copy().is_none() {
                prop_assert_eq!(copy.base(), base.as_str());
            }
        }
    }
}
