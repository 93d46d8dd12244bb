//! A hyper server that holds against slow, idle and hostile clients: the one serving loop of
//! the emulator and of `agora-rest webhook listen`.
//!
//! Exists because a server left running for a whole CI suite, or facing the internet, must not
//! be held by clients that connect and do nothing: hyper on its own has no idle timeout, its
//! header timeout needs a timer to work at all, and it reads whatever body a client sends. Every
//! limit lives here, in [`ServerLimits`]:
//! - **header read**: hyper's `header_read_timeout`, driven by tokio's timer, closes a
//!   connection whose request head does not arrive in time (slowloris);
//! - **idle**: a connection with no request in flight and no byte moved for
//!   [`ServerLimits::idle_timeout`] is closed, keep-alive or not;
//! - **TLS handshake**: a handshake not done in time is dropped;
//! - **body read**: the body is read here, within a time and a size limit, and only after the
//!   [`Gate`] (a credential check, say) has let the request's head through, so an
//!   unauthenticated client never makes the server buffer a body;
//! - **connections**: at most [`ServerLimits::max_connections`] at once; one more is closed at
//!   once, so file descriptors stay bounded;
//! - **accept errors** (EMFILE and the like) never end the loop and never spin: the next accept
//!   waits, 5 ms doubling to 1 s, until one succeeds.
//!
//! Written here rather than taken from tower-http because the idle rule needs the byte-level
//! view of the connection (a tower layer sees requests, not silence) and the accept loop is
//! below any service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt};

use crate::error::BoxError;

/// The limits of a hardened server. The defaults suit a test emulator and a webhook listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// The whole request head must arrive within this (default 10 s).
    pub header_read_timeout: Duration,
    /// The whole body must arrive within this, once the head is in (default 30 s).
    pub body_read_timeout: Duration,
    /// A connection with nothing in flight and no byte moved this long is closed (default 60 s).
    pub idle_timeout: Duration,
    /// A TLS handshake must end within this (default 10 s).
    pub tls_handshake_timeout: Duration,
    /// Connections served at once; one more is closed at once (default 512, half the common
    /// 1024 file-descriptor limit).
    pub max_connections: usize,
    /// The largest request head, in bytes (default 64 KiB; larger gets 431).
    pub max_header_bytes: usize,
    /// The largest request body, in bytes (default 1 MiB; larger gets 413).
    pub max_body_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_header_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl ServerLimits {
    /// Checks that every limit is usable (timeouts at least 1 ms, counts at least 1, a head
    /// of at least 4 KiB as hyper needs).
    pub fn validate(&self) -> Result<(), crate::Error> {
        let timeouts = [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("tls_handshake_timeout", self.tls_handshake_timeout),
        ];
        for (field, d) in timeouts {
            if d < Duration::from_millis(1) || d > Duration::from_secs(24 * 3600) {
                return Err(crate::Error::Config {
                    field,
                    rule: "must be from 1 ms to 24 h".into(),
                });
            }
        }
        if self.max_connections == 0 || self.max_body_bytes == 0 {
            return Err(crate::Error::Config {
                field: "max_connections",
                rule: "connections and body bytes must be at least 1".into(),
            });
        }
        if self.max_header_bytes < 4096 {
            return Err(crate::Error::Config {
                field: "max_header_bytes",
                rule: "must be at least 4096".into(),
            });
        }
        Ok(())
    }
}

/// What the server has seen, for tests, harnesses and metrics.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because the cap was reached.
    pub refused_at_cap: AtomicU64,
    /// `accept()` errors waited out.
    pub accept_errors: AtomicU64,
    /// Connections closed for idleness.
    pub idle_closed: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub tls_failed: AtomicU64,
    /// Requests whose body did not arrive in time.
    pub body_timeouts: AtomicU64,
    /// Requests answered by the gate without reading their body.
    pub gated: AtomicU64,
    /// Connections open now.
    pub open: AtomicUsize,
}

impl ServerStats {
    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A check of the request head before its body is read: `Some(response)` answers at once and
/// the body is never read (e.g. a 401 for wrong credentials).
pub type Gate = Arc<dyn Fn(&http::request::Parts) -> Option<Response<Full<Bytes>>> + Send + Sync>;

/// A connection admitted under the cap; the cap's place is freed when it is dropped.
#[derive(Debug)]
pub struct Admitted {
    /// The connection.
    pub tcp: TcpStream,
    /// The peer.
    pub peer: std::net::SocketAddr,
    permit: OwnedSemaphorePermit,
}

/// The hardened server: accept with [`accept`](Self::accept), serve with
/// [`spawn`](Self::spawn). Cheap to clone; clones share the cap and the stats.
#[derive(Clone)]
pub struct HardenedServer {
    limits: ServerLimits,
    slots: Arc<Semaphore>,
    stats: Arc<ServerStats>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for HardenedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HardenedServer")
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The first wait after an accept error, doubled up to [`ACCEPT_BACKOFF_MAX`].
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest wait between failing accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

impl HardenedServer {
    /// A server with `limits`, serving TLS when `tls` is given.
    pub fn new(
        limits: ServerLimits,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Self, crate::Error> {
        limits.validate()?;
        Ok(HardenedServer {
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            stats: Arc::default(),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// What the server has seen.
    pub fn stats(&self) -> &Arc<ServerStats> {
        &self.stats
    }

    /// The next connection under the cap. Accept errors are waited out with back-off and
    /// never returned; a connection over the cap is closed at once and the next one awaited.
    /// Cancel-safe: drop the future to stop accepting.
    pub async fn accept(&self, listener: &TcpListener) -> Admitted {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        loop {
            match listener.accept().await {
                Ok((tcp, peer)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    match Arc::clone(&self.slots).try_acquire_owned() {
                        Ok(permit) => {
                            self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                            return Admitted { tcp, peer, permit };
                        }
                        Err(_) => {
                            self.stats.refused_at_cap.fetch_add(1, Ordering::Relaxed);
                            drop(tcp);
                        }
                    }
                }
                Err(e) => {
                    self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, wait = ?backoff, "accept failed; waiting before the next accept");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            }
        }
    }

    /// Serves one admitted connection on its own task: TLS (if configured) within the
    /// handshake timeout, HTTP/1.1 or HTTP/2 with the header timeout, the idle watchdog, and
    /// each request's head through `gate` before its body is read within the body limits.
    pub fn spawn<S>(&self, conn: Admitted, gate: Option<Gate>, service: S)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move { this.serve(conn, gate, service).await });
    }

    async fn serve<S>(self, conn: Admitted, gate: Option<Gate>, service: S)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let Admitted { tcp, permit, .. } = conn;
        let _permit = permit;
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        let _open = OpenGuard(Arc::clone(&self.stats));
        let _ = tcp.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        match &self.tls {
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.limits.tls_handshake_timeout, acceptor.accept(tcp))
                        .await;
                let Ok(Ok(stream)) = handshake else {
                    self.stats.tls_failed.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let io = Watched::new(stream, Arc::clone(&activity));
                self.drive(io, activity, gate, service).await;
            }
            None => {
                let io = Watched::new(tcp, Arc::clone(&activity));
                self.drive(io, activity, gate, service).await;
            }
        }
    }

    async fn drive<I, S>(&self, io: I, activity: Arc<Activity>, gate: Option<Gate>, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let limits = self.limits;
        let stats = Arc::clone(&self.stats);
        let in_flight = Arc::clone(&activity);
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = InFlight::begin(Arc::clone(&in_flight));
            handle_one(
                req,
                service.clone(),
                gate.clone(),
                Arc::clone(&stats),
                limits,
                busy,
            )
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
        let conn = builder.serve_connection(TokioIo::new(io), svc);
        tokio::pin!(conn);
        let idle = limits.idle_timeout;
        loop {
            let wait = activity.idle_deadline(idle);
            tokio::select! {
                _ = conn.as_mut() => return,
                () = tokio::time::sleep_until(wait) => {
                    if activity.is_idle(idle) {
                        self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }
    }
}

/// One request: the gate on its head, then its body within the limits, then the service.
async fn handle_one<S>(
    req: Request<Incoming>,
    service: S,
    gate: Option<Gate>,
    stats: Arc<ServerStats>,
    limits: ServerLimits,
    busy: InFlight,
) -> Result<Response<Full<Bytes>>, BoxError>
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    let _busy = busy;
    let (parts, body) = req.into_parts();
    if let Some(answer) = gate.as_ref().and_then(|g| g(&parts)) {
        stats.gated.fetch_add(1, Ordering::Relaxed);
        return Ok(answer);
    }
    let mut read = std::pin::pin!(Limited::new(body, limits.max_body_bytes).collect());
    // A body that is already in (the common case, and no body at all) is taken on the first
    // poll without arming a timer; only one still arriving runs against the body timeout.
    let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    let collected = match first {
        Poll::Ready(r) => Ok(r),
        Poll::Pending => tokio::time::timeout(limits.body_read_timeout, read).await,
    };
    let body = match collected {
        Err(_) => {
            stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
            return Ok(plain(
                StatusCode::REQUEST_TIMEOUT,
                r#"{"message":"request body not received in time"}"#,
            ));
        }
        Ok(Err(_)) => {
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"message":"body too large"}"#,
            ));
        }
        Ok(Ok(b)) => b.to_bytes(),
    };
    service
        .oneshot(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(Into::into)
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

struct OpenGuard(Arc<ServerStats>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Debug)]
struct Activity {
    origin: tokio::time::Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// When to look again: `idle` after the last byte, or, while a request is in flight (its
    /// handler may take longer than `idle` without moving a byte), `idle` from now. Never in
    /// the past, so the watchdog cannot spin.
    fn idle_deadline(&self, idle: Duration) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return now + idle;
        }
        (self.last() + idle).max(now + Duration::from_millis(1))
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && tokio::time::Instant::now().saturating_duration_since(self.last()) >= idle
    }
}

/// Marks a request as in flight until dropped (also when its future is cancelled).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An IO stream that records when it last moved a byte.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    fn new(inner: T, activity: Arc<Activity>) -> Self {
        activity.touch();
        Watched { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `listener` until `shutdown` resolves: the whole loop for a server with one service
/// (the webhook listener). The emulator, whose listeners change modes, calls
/// [`HardenedServer::accept`] and [`HardenedServer::spawn`] itself.
pub async fn serve_until<S, F>(
    server: HardenedServer,
    listener: TcpListener,
    gate: Option<Gate>,
    service: S,
    shutdown: F,
) where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    F: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            conn = server.accept(&listener) => server.spawn(conn, gate.clone(), service.clone()),
            () = &mut shutdown => return,
        }
    }
}
