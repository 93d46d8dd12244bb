//! Notification Center (NCS) webhooks: the envelope, signatures, and de-duplication.
//!
//! Exists because every receiver of Media Push and Cloud Transcoding notifications must check
//! the signature over the *raw* body, answer fast, and drop resent or duplicated notices
//! (docs/vendor-rules.md). The typed payloads live in `agora-rest-model`; this module handles what
//! is common to every event, and signs notices for the emulator.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::Error;

/// NCS product id of Media Push (docs/vendor-rules.md). The Cloud Transcoding id is SILENT in the docs.
pub const PRODUCT_MEDIA_PUSH: u32 = 5;
/// The HMAC-SHA256 signature header (docs/vendor-rules.md).
pub const HEADER_SIGNATURE_V2: &str = "Agora-Signature-V2";
/// The HMAC-SHA1 signature header (docs/vendor-rules.md).
pub const HEADER_SIGNATURE_V1: &str = "Agora-Signature";
/// A receiver must answer 200 within this long, or NCS resends (docs/vendor-rules.md).
pub const RESPONSE_DEADLINE: Duration = Duration::from_secs(10);
/// How many times NCS resends a notice before giving up (docs/vendor-rules.md).
pub const MAX_RESENDS: u32 = 3;

/// The common envelope of every notification (docs/vendor-rules.md).
///
/// The payload is kept as raw JSON so that the typed payloads in `model` (or the application)
/// decide how to read it, and so that nothing is lost when the vendor adds fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique id of the notice; the same on every resend.
    #[serde(rename = "noticeId")]
    pub notice_id: String,
    /// The product: 5 for Media Push.
    #[serde(rename = "productId")]
    pub product_id: u32,
    /// The event type: 1–4 for Media Push, 110–113 for Cloud Transcoding.
    #[serde(rename = "eventType")]
    pub event_type: u32,
    /// When NCS sent this copy, Unix milliseconds (updated on resend).
    #[serde(rename = "notifyMs")]
    pub notify_ms: u64,
    /// The event's payload, as received.
    pub payload: Box<RawValue>,
}

impl Envelope {
    /// Parses a notification body. A malformed body is an error, never a panic.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(|e| Error::MalformedEnvelope {
            reason: e.to_string(),
        })
    }

    /// The payload's raw JSON text.
    pub fn payload_json(&self) -> &str {
        self.payload.get()
    }
}

/// Which signature header was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// `Agora-Signature-V2`, HMAC-SHA256.
    V2Sha256,
    /// `Agora-Signature`, HMAC-SHA1.
    V1Sha1,
}

impl SignatureKind {
    /// The header that carries this signature.
    pub const fn header(self) -> &'static str {
        match self {
            SignatureKind::V2Sha256 => HEADER_SIGNATURE_V2,
            SignatureKind::V1Sha1 => HEADER_SIGNATURE_V1,
        }
    }
}

/// A keyed MAC over `body`. HMAC accepts keys of any length, so keying cannot fail.
fn keyed<M: Mac + KeyInit>(secret: &[u8], body: &[u8]) -> M {
    let mut mac = <M as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    mac
}

fn mac_bytes(kind: SignatureKind, secret: &[u8], body: &[u8]) -> Vec<u8> {
    match kind {
        SignatureKind::V2Sha256 => keyed::<Hmac<sha2::Sha256>>(secret, body)
            .finalize()
            .into_bytes()
            .to_vec(),
        SignatureKind::V1Sha1 => keyed::<Hmac<sha1::Sha1>>(secret, body)
            .finalize()
            .into_bytes()
            .to_vec(),
    }
}

/// Signs `body` with `secret`: lowercase hex of the HMAC, as NCS sends it. Used by the emulator.
pub fn sign(kind: SignatureKind, secret: &[u8], body: &[u8]) -> String {
    hex::encode(mac_bytes(kind, secret, body))
}

fn verify_one(kind: SignatureKind, secret: &[u8], body: &[u8], header: &str) -> Result<(), Error> {
    let expected_len = match kind {
        SignatureKind::V2Sha256 => 32,
        SignatureKind::V1Sha1 => 20,
    };
    let given = hex::decode(header.trim()).map_err(|_| Error::SignatureMalformed {
        header: kind.header(),
    })?;
    if given.len() != expected_len {
        return Err(Error::SignatureMalformed {
            header: kind.header(),
        });
    }
    // `verify_slice` compares in constant time.
    let ok = match kind {
        SignatureKind::V2Sha256 => keyed::<Hmac<sha2::Sha256>>(secret, body).verify_slice(&given),
        SignatureKind::V1Sha1 => keyed::<Hmac<sha1::Sha1>>(secret, body).verify_slice(&given),
    }
    .is_ok();
    if ok {
        Ok(())
    } else {
        Err(Error::SignatureMismatch {
            header: kind.header(),
        })
    }
}

/// Verifies a notification over its raw `body`.
///
/// `v2` and `v1` are the values of `Agora-Signature-V2` and `Agora-Signature`, if present.
/// The stronger V2 is checked when present, and then it alone decides: a bad V2 is not rescued
/// by a good V1. Returns which signature was checked.
pub fn verify(
    secret: &[u8],
    body: &[u8],
    v2: Option<&str>,
    v1: Option<&str>,
) -> Result<SignatureKind, Error> {
    match (v2, v1) {
        (Some(sig), _) => {
            verify_one(SignatureKind::V2Sha256, secret, body, sig).map(|()| SignatureKind::V2Sha256)
        }
        (None, Some(sig)) => {
            verify_one(SignatureKind::V1Sha1, secret, body, sig).map(|()| SignatureKind::V1Sha1)
        }
        (None, None) => Err(Error::SignatureMissing),
    }
}

/// What identifies a notice for de-duplication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DedupeKey {
    /// `noticeId` alone: drops exact duplicates *and* resends. Our default: NCS updates
    /// `notifyMs` on every resend, so keying on both would let resends through as new events.
    #[default]
    NoticeId,
    /// `noticeId` + `notifyMs`, the vendor's literal advice (docs/vendor-rules.md): drops exact
    /// duplicates only.
    NoticeIdAndNotifyMs,
}

/// Whether a notice is new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Not seen within the window: process it.
    Fresh,
    /// Seen within the window: acknowledge it and drop it.
    Duplicate,
}

/// How long a notice id is remembered by default: longer than NCS's resends take.
///
/// Our choice: NCS resends "at once, then at growing intervals" three times (docs/vendor-rules.md)
/// without naming the intervals; an hour covers any reasonable series.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(3600);
/// How many notice ids are remembered at most by default (memory bound).
pub const DEDUPE_CAPACITY: usize = 100_000;

/// A bounded memory of recently seen notices (time is an argument).
///
/// Entries leave after the window or, when more than `capacity` are held, oldest first.
#[derive(Debug, Clone)]
pub struct Deduplicator {
    key: DedupeKey,
    window: Duration,
    capacity: usize,
    seen: HashMap<String, Duration>,
    order: VecDeque<(String, Duration)>,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Deduplicator::new(DedupeKey::default(), DEDUPE_WINDOW, DEDUPE_CAPACITY)
    }
}

impl Deduplicator {
    /// A de-duplicator with the given key, window and capacity (at least 1).
    pub fn new(key: DedupeKey, window: Duration, capacity: usize) -> Self {
        Deduplicator {
            key,
            window,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How many notices are remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now: Duration) {
        while let Some((k, t)) = self.order.front() {
            let too_old = now.saturating_sub(*t) >= self.window;
            if too_old || self.order.len() > self.capacity {
                // Only forget the key if this queue entry is its latest sighting.
                if self.seen.get(k) == Some(t) {
                    self.seen.remove(k);
                }
                self.order.pop_front();
            } else {
                break;
            }
        }
    }

    fn key_of(&self, notice_id: &str, notify_ms: u64) -> String {
        match self.key {
            DedupeKey::NoticeId => notice_id.to_string(),
            DedupeKey::NoticeIdAndNotifyMs => format!("{notice_id}\u{0}{notify_ms}"),
        }
    }

    /// Whether a notice was seen within the window, *without* recording it.
    ///
    /// Exists for receivers that must not remember a notice before the application has it:
    /// look first, hand it over, and only then [`check`](Self::check) it, so that a notice
    /// refused for back-pressure is delivered on its resend instead of being taken for a
    /// duplicate.
    pub fn seen(&mut self, notice_id: &str, notify_ms: u64, now: Duration) -> bool {
        self.expire(now);
        self.seen.contains_key(&self.key_of(notice_id, notify_ms))
    }

    /// Records a notice received at `now` and says whether it is new.
    pub fn check(&mut self, notice_id: &str, notify_ms: u64, now: Duration) -> Delivery {
        self.expire(now);
        let key = self.key_of(notice_id, notify_ms);
        if self.seen.contains_key(&key) {
            return Delivery::Duplicate;
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((key, now));
        self.expire(now);
        Delivery::Fresh
    }

    /// Records an envelope, see [`check`](Self::check).
    pub fn check_envelope(&mut self, envelope: &Envelope, now: Duration) -> Delivery {
        self.check(&envelope.notice_id, envelope.notify_ms, now)
    }
}

/// Whether a notice sent at `notify_ms` (Unix milliseconds) is within `window` of `now_ms`,
/// either way (a sender's clock may run ahead).
///
/// Exists because a signature proves who sent a notice, not when: a captured notice replayed
/// later verifies as well as the original. An optional freshness window refuses such replays;
/// it is off by default because NCS resends a notice with its new `notifyMs`, and clocks skew.
pub fn is_fresh(notify_ms: u64, now_ms: u64, window: Duration) -> bool {
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    notify_ms.abs_diff(now_ms) <= window_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] = br#"{"noticeId":"2000001428:4330:107","productId":5,"eventType":1,"notifyMs":1611566412672,"payload":{"converter":{"id":"abc"}}}"#;

    #[test]
    fn envelope_parses_and_keeps_raw_payload() {
        let e = Envelope::parse(BODY).unwrap();
        assert_eq!(e.product_id, PRODUCT_MEDIA_PUSH);
        assert_eq!(e.event_type, 1);
        assert_eq!(e.payload_json(), r#"{"converter":{"id":"abc"}}"#);
        assert!(matches!(
            Envelope::parse(b"{\"noticeId\":1"),
            Err(Error::MalformedEnvelope { .. })
        ));
    }

    #[test]
    fn known_answer_vectors() {
        // RFC 4231 test case 2 (HMAC-SHA256) and RFC 2202 test case 2 (HMAC-SHA1).
        let body = b"what do ya want for nothing?";
        assert_eq!(
            sign(SignatureKind::V2Sha256, b"Jefe", body),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sign(SignatureKind::V1Sha1, b"Jefe", body),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn verify_prefers_v2_and_names_the_header() {
        let v2 = sign(SignatureKind::V2Sha256, b"s3cret", BODY);
        let v1 = sign(SignatureKind::V1Sha1, b"s3cret", BODY);
        assert_eq!(
            verify(b"s3cret", BODY, Some(&v2), Some(&v1)),
            Ok(SignatureKind::V2Sha256)
        );
        assert_eq!(
            verify(b"s3cret", BODY, None, Some(&v1)),
            Ok(SignatureKind::V1Sha1)
        );
        assert_eq!(
            verify(b"s3cret", BODY, Some(&v2.to_uppercase()), None),
            Ok(SignatureKind::V2Sha256)
        );
        assert_eq!(
            verify(b"wrong", BODY, Some(&v2), Some(&v1)),
            Err(Error::SignatureMismatch {
                header: HEADER_SIGNATURE_V2
            })
        );
        // A bad V2 is not rescued by a good V1.
        let bad_v2 = sign(SignatureKind::V2Sha256, b"other", BODY);
        assert!(verify(b"s3cret", BODY, Some(&bad_v2), Some(&v1)).is_err());
        assert_eq!(
            verify(b"s3cret", BODY, None, None),
            Err(Error::SignatureMissing)
        );
        assert_eq!(
            verify(b"s3cret", BODY, Some("zz"), None),
            Err(Error::SignatureMalformed {
                header: HEADER_SIGNATURE_V2
            })
        );
        assert!(
            verify(b"s3cret", BODY, None, Some(&v2)).is_err(),
            "a SHA-256 length in the V1 header"
        );
    }

    #[test]
    fn seen_does_not_record_and_freshness_is_symmetric() {
        let mut d = Deduplicator::default();
        let now = Duration::from_secs(1);
        assert!(!d.seen("n1", 5, now));
        assert!(!d.seen("n1", 5, now), "looking must not record");
        assert_eq!(d.check("n1", 5, now), Delivery::Fresh);
        assert!(d.seen("n1", 5, now));
        let w = Duration::from_secs(300);
        assert!(is_fresh(1_000_000, 1_000_000 + 300_000, w));
        assert!(!is_fresh(1_000_000, 1_000_000 + 300_001, w));
        assert!(is_fresh(1_000_000 + 300_000, 1_000_000, w));
        assert!(!is_fresh(u64::MAX, 0, w));
        assert!(is_fresh(u64::MAX, 0, Duration::MAX));
    }

    #[test]
    fn dedupe_keys() {
        let mut d = Deduplicator::default();
        let t = Duration::from_secs(1);
        assert_eq!(d.check("a", 1, t), Delivery::Fresh);
        assert_eq!(
            d.check("a", 2, t),
            Delivery::Duplicate,
            "a resend has a new notifyMs"
        );
        let mut d = Deduplicator::new(DedupeKey::NoticeIdAndNotifyMs, DEDUPE_WINDOW, 10);
        assert_eq!(d.check("a", 1, t), Delivery::Fresh);
        assert_eq!(d.check("a", 1, t), Delivery::Duplicate);
        assert_eq!(d.check("a", 2, t), Delivery::Fresh);
    }

    proptest! {
        #[test]
        fn signatures_verify_exactly_for_the_signed_body(
            secret in proptest::collection::vec(any::<u8>(), 0..80),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            flip in any::<proptest::sample::Index>(),
        ) {
            for kind in [SignatureKind::V2Sha256, SignatureKind::V1Sha1] {
                let sig = sign(kind, &secret, &body);
                let (v2, v1) = match kind {
                    SignatureKind::V2Sha256 => (Some(sig.as_str()), None),
                    SignatureKind::V1Sha1 => (None, Some(sig.as_str())),
                };
                prop_assert_eq!(verify(&secret, &body, v2, v1), Ok(kind));
                if !body.is_empty() {
                    let mut altered = body.clone();
                    altered[flip.index(body.len())] ^= 1;
                    prop_assert!(verify(&secret, &altered, v2, v1).is_err());
                }
            }
        }

        #[test]
        fn dedupe_matches_oracle(
            events in proptest::collection::vec((0u8..6, 0u64..3, 0u64..50), 0..80),
            window in 1u64..100,
            capacity in 1usize..8,
        ) {
            let mut d = Deduplicator::new(DedupeKey::NoticeId, Duration::from_secs(window), capacity);
            // Oracle: the fresh acceptances, in order, with their times.
            let mut kept: Vec<(String, u64)> = Vec::new();
            let mut now = 0;
            for (id, notify, dt) in events {
                now += dt;
                let id = id.to_string();
                kept.retain(|(_, t)| now - t < window);
                let dup = kept.iter().any(|(k, _)| *k == id);
                let got = d.check(&id, notify, Duration::from_secs(now));
                prop_assert_eq!(got == Delivery::Duplicate, dup);
                if !dup {
                    kept.push((id, now));
                    while kept.len() > capacity { kept.remove(0); }
                }
                prop_assert!(d.len() <= capacity);
                prop_assert_eq!(d.len(), kept.len());
            }
        }
    }
}
