//! List as a stream that follows the cursor to the last page (REFERENCE §2.7).

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
        let state = (Cursor::First, Vec::<ListMember>::new().into_iter());
        futures_util::stream::try_unfold(state, move |(mut cursor, mut buffered)| {
            let client = client.clone();
            let base = base.clone();
            async move {
                loop {
                    if let Some(m) = buffered.next() {
                        return Ok(Some((m, (cursor, buffered))));
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

    /// Every converter of one channel.
    pub fn list_channel(
        &self,
        channel: &str,
    ) -> impl Stream<Item = Result<ListMember, Error>> + use<> {
        self.pages(
            format!(
                "/v1/projects/{}/channels/{}/rtmp-converters",
                encode_segment(self.app()),
                encode_segment(channel)
            ),
            CHANNEL_LIST_PATH,
        )
    }
}
