//! List as a stream that follows the cursor to the last page.
//!
//! Bounded: a cursor that comes back a second time, or more pages than
//! [`MediaPush::with_max_list_pages`](crate::MediaPush::with_max_list_pages), ends the stream with
//! [`Error::ListUnbounded`] instead of requesting for ever (a server that never ends its
//! cursor used to grow the CLI to a gigabyte in half a minute).

use std::collections::HashSet;

use agora_rest_core::operation::Operation;
use agora_rest_model::mediapush::{ListConvertersResponse, ListMember};
use agora_rest_transport::Call;
use futures_util::Stream;
use http::Method;

use crate::Error;
use crate::client::{CHANNEL_LIST_PATH, LIST_PATH, MediaPush, encode_segment};

enum Cursor {
    First,
    Next(u64),
    Done,
}

impl MediaPush {
    fn pages(
        &self,
        base: String,
        template: &'static str,
    ) -> impl Stream<Item = Result<ListMember, Error>> + use<> {
        let client = self.client.clone();
        let max_pages = self.config.max_list_pages.max(1);
        let state = (
            Cursor::First,
            Vec::<ListMember>::new().into_iter(),
            HashSet::<u64>::new(),
        );
        futures_util::stream::try_unfold(state, move |(mut cursor, mut buffered, mut seen)| {
            let client = client.clone();
            let base = base.clone();
            async move {
                loop {
                    if let Some(m) = buffered.next() {
                        return Ok(Some((m, (cursor, buffered, seen))));
                    }
                    if let Cursor::Next(c) = cursor {
                        if !seen.insert(c) {
                            return Err(Error::ListUnbounded {
                                pages: seen.len(),
                                why: format!("the service answered cursor {c} again"),
                            });
                        }
                        if seen.len() >= max_pages {
                            return Err(Error::ListUnbounded {
                                pages: seen.len(),
                                why: format!("more than the limit of {max_pages} pages"),
                            });
                        }
                    }
                    let path = match cursor {
                        Cursor::Done => return Ok(None),
                        Cursor::First => base.clone(),
                        Cursor::Next(c) => format!("{base}?cursor={c}"),
                    };
                    let req = client.request(
                        Call::new(Operation::PushList, template),
                        Method::GET,
                        &path,
                        None,
                    )?;
                    let (page, _): (ListConvertersResponse, _) =
                        client.send_json(req, "Media Push List response").await?;
                    cursor = match page.data.cursor {
                        0 => Cursor::Done,
                        c => Cursor::Next(c),
                    };
                    buffered = page.data.members.into_iter();
                }
            }
        })
    }

    /// Every converter of the project, following the cursor to the end.
    ///
    /// ```no_run
    /// # async fn example(push: agora_rest_mediapush::MediaPush) -> Result<(), agora_rest_mediapush::Error> {
    /// use futures_util::TryStreamExt;
    /// let names: Vec<String> = push.list().map_ok(|m| m.converter_name).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> impl Stream<Item = Result<ListMember, Error>> + use<> {
        self.pages(
            format!(
                "/v1/projects/{}/rtmp-converters",
                encode_segment(self.app())
            ),
            LIST_PATH,
        )
    }

    /// Every converter of one channel (an invalid channel name ends the stream at once with
    /// the error, before any request).
    pub fn list_channel(
        &self,
        channel: &str,
    ) -> impl Stream<Item = Result<ListMember, Error>> + use<> {
        use futures_util::StreamExt;
        if let Err(e) = agora_rest_core::name::validate_rtc_channel("rtcChannel", channel) {
            return futures_util::stream::once(std::future::ready(Err(Error::from(e))))
                .left_stream();
        }
        self.pages(
            format!(
                "/v1/projects/{}/channels/{}/rtmp-converters",
                encode_segment(self.app()),
                encode_segment(channel)
            ),
            CHANNEL_LIST_PATH,
        )
        .right_stream()
    }
}
