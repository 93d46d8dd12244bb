//! An optional deadline for a whole logical call, all attempts and waits included.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use tower::{Layer, Service};

use super::{LayerFuture, fail, ready_when_inner_is};
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
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = Error;
    type Future = LayerFuture<S::Future>;

    ready_when_inner_is!();

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        let Some(after) = self.after else {
            return Either::Left(self.inner.call(req));
        };
        let op = match call_of(&req) {
            Ok(c) => c.op,
            Err(e) => return fail(e),
        };
        let fut = self.inner.call(req);
        Either::Right(Box::pin(async move {
            tokio::time::timeout(after, fut)
                .await
                // The request id layer above fills in the id.
                .unwrap_or(Err(Error::Deadline {
                    op,
                    after,
                    request_id: None,
                }))
        }))
    }
}
