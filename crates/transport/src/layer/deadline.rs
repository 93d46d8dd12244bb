//! An optional deadline for a whole logical call, all attempts and waits included.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, always_ready, request_id_of};
use crate::Error;
use crate::call::call_of;

/// Layer for [`Deadline`].
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    after: Option<Duration>,
}

impl DeadlineLayer {
    /// Fails a call not done within `after` (`None`: no deadline).
    pub const fn new(after: Option<Duration>) -> Self {
        DeadlineLayer { after }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            after: self.after,
        }
    }
}

/// Bounds a logical call in time.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    after: Option<Duration>,
}

impl<S> Service<Request<Bytes>> for Deadline<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = BoxFuture;

    always_ready!();

    fn call(&mut self, req: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        let after = self.after;
        Box::pin(async move {
            let Some(after) = after else {
                return inner.oneshot(req).await;
            };
            let op = call_of(&req)?.op;
            let request_id = request_id_of(&req);
            tokio::time::timeout(after, inner.oneshot(req))
                .await
                .unwrap_or(Err(Error::Deadline {
                    op,
                    after,
                    request_id,
                }))
        })
    }
}
