//! Where the transcoder's output RTC tokens come from: one token per UID.
//!
//! Exists because an RTC token is minted for one UID (docs/vendor-rules.md: "the output `rtcToken` is
//! generated for `outputs[].rtc.rtcUid`"), and the start procedure switches to the backup UID
//! when Create keeps failing (the Cloud Transcoding service-status guide). A config carries one token; the backup UID needs its
//! own, so the procedure asks a provider for the token of each UID it publishes as, instead of
//! sending the primary's token with the backup UID (which the service would refuse at join).

use std::collections::HashMap;
use std::fmt;

use agora_rest_model::RtcToken;

/// Gives the output token for a channel and UID.
///
/// Implemented for [`UidTokens`] (fixed tokens per UID) and for any
/// `Fn(&str, u32) -> Result<RtcToken, String>` (mint on demand, e.g. with the app
/// certificate). Synchronous: minting a token is a local HMAC; fetch ahead of time if yours
/// comes from a service.
pub trait OutputTokens: Send + Sync {
    /// The token for `uid` in `channel`, or why there is none.
    fn output_token(&self, channel: &str, uid: u32) -> Result<RtcToken, String>;
}

impl<F> OutputTokens for F
where
    F: Fn(&str, u32) -> Result<RtcToken, String> + Send + Sync,
{
    fn output_token(&self, channel: &str, uid: u32) -> Result<RtcToken, String> {
        self(channel, uid)
    }
}

/// Fixed output tokens, one per UID (whatever the channel).
///
/// ```
/// use agora_rest_transcoder::{OutputTokens, UidTokens};
/// let tokens = UidTokens::new().with(1001, "token-for-1001").with(1002, "token-for-1002");
/// assert!(tokens.output_token("show68-mix", 1002).is_ok());
/// assert!(tokens.output_token("show68-mix", 7).is_err());
/// ```
#[derive(Clone, Default)]
pub struct UidTokens {
    by_uid: HashMap<u32, RtcToken>,
}

impl UidTokens {
    /// No tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the token of `uid`.
    pub fn with(mut self, uid: u32, token: impl Into<RtcToken>) -> Self {
        self.by_uid.insert(uid, token.into());
        self
    }

    /// Whether a token for `uid` is held.
    pub fn has(&self, uid: u32) -> bool {
        self.by_uid.contains_key(&uid)
    }
}

impl fmt::Debug for UidTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut uids: Vec<_> = self.by_uid.keys().collect();
        uids.sort();
        f.debug_struct("UidTokens")
            .field("uids", &uids)
            .finish_non_exhaustive()
    }
}

impl OutputTokens for UidTokens {
    fn output_token(&self, _channel: &str, uid: u32) -> Result<RtcToken, String> {
        self.by_uid
            .get(&uid)
            .cloned()
            .ok_or_else(|| format!("no output token for UID {uid}"))
    }
}
