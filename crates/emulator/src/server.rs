//! The emulator over sockets: hyper 1 (HTTP/1.1 and HTTP/2), optional TLS, several listeners
//! sharing one engine, each of which a test can make refuse connections or stall.
//!
//! Connections are served by the transport's hardened server (`agora_rest_transport::server`),
//! the same loop as `agora-rest webhook listen`: header, body, idle and TLS timeouts, a cap on
//! connections, accept errors waited out, and each request's head checked (route, credentials,
//! app id) before its body is read.

use std::net::SocketAddr;
use std::sync::Arc;

use agora_rest_transport::server::{Admitted, Gate, HardenedServer, ServerLimits};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::Error;
use crate::engine::{Engine, Outcome};

/// What a listener does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerMode {
    /// Serve requests.
    Serve,
    /// Refuse connections (the port is closed until the mode changes back).
    Refuse,
    /// Accept connections and never answer.
    Stall,
}

type Control = mpsc::Sender<(ListenerMode, oneshot::Sender<()>)>;

/// The listeners of a running emulator.
#[derive(Debug)]
pub(crate) struct Server {
    stats: Arc<agora_rest_transport::server::ServerStats>,
    addrs: Vec<SocketAddr>,
    controls: Vec<Control>,
    stop: watch::Sender<bool>,
}

impl Server {
    pub(crate) async fn start(
        engine: Arc<Engine>,
        listen: &[SocketAddr],
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: ServerLimits,
    ) -> Result<Server, Error> {
        let hardened = HardenedServer::new(limits, tls).map_err(|e| Error::Option {
            option: "server limits",
            reason: e.to_string(),
        })?;
        let (stop, _) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut controls = Vec::new();
        for addr in listen {
            let listener = TcpListener::bind(addr).await.map_err(|e| Error::Bind {
                addr: *addr,
                reason: e.to_string(),
            })?;
            let local = listener.local_addr().map_err(|e| Error::Bind {
                addr: *addr,
                reason: e.to_string(),
            })?;
            let (tx, rx) = mpsc::channel(4);
            tokio::spawn(listener_loop(
                Arc::clone(&engine),
                listener,
                local,
                rx,
                stop.subscribe(),
                hardened.clone(),
            ));
            addrs.push(local);
            controls.push(tx);
        }
        Ok(Server {
            stats: Arc::clone(hardened.stats()),
            addrs,
            controls,
            stop,
        })
    }

    pub(crate) fn stats(&self) -> &Arc<agora_rest_transport::server::ServerStats> {
        &self.stats
    }

    pub(crate) fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Changes a listener's mode and waits until it took effect.
    pub(crate) async fn set_mode(&self, index: usize, mode: ListenerMode) {
        let Some(control) = self.controls.get(index) else {
            return;
        };
        let (ack, done) = oneshot::channel();
        if control.send((mode, ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    pub(crate) fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn listener_loop(
    engine: Arc<Engine>,
    listener: TcpListener,
    addr: SocketAddr,
    mut control: mpsc::Receiver<(ListenerMode, oneshot::Sender<()>)>,
    mut stop: watch::Receiver<bool>,
    server: HardenedServer,
) {
    let mut listener = Some(listener);
    let mut mode = ListenerMode::Serve;
    // Stalled connections are held (never answered) but count against the cap like any other.
    let mut held: Vec<Admitted> = Vec::new();
    loop {
        let command = match &listener {
            Some(l) => tokio::select! {
                conn = server.accept(l) => {
                    match mode {
                        ListenerMode::Serve => serve(&server, Arc::clone(&engine), conn),
                        ListenerMode::Stall => held.push(conn),
                        ListenerMode::Refuse => drop(conn),
                    }
                    continue;
                }
                cmd = control.recv() => cmd,
                _ = stop.changed() => return,
            },
            None => tokio::select! {
                cmd = control.recv() => cmd,
                _ = stop.changed() => return,
            },
        };
        let Some((next, ack)) = command else { return };
        mode = next;
        match mode {
            ListenerMode::Refuse => {
                listener = None;
                held.clear();
            }
            _ if listener.is_none() => listener = TcpListener::bind(addr).await.ok(),
            ListenerMode::Serve => held.clear(),
            ListenerMode::Stall => {}
        }
        let _ = ack.send(());
    }
}

fn serve(server: &HardenedServer, engine: Arc<Engine>, conn: Admitted) {
    let gate_engine = Arc::clone(&engine);
    let gate: Gate = Arc::new(move |parts: &http::request::Parts| {
        if !gate_engine.refuses_head(parts) {
            return None;
        }
        let host = host_of(&parts.headers, &parts.uri);
        // Answered from the head alone, by the same engine (logged as usual); the body is
        // never read.
        let mut head = Request::new(Bytes::new());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.headers_mut() = parts.headers.clone();
        match gate_engine.handle(&host, &head) {
            Outcome::Respond { response, .. } => Some(response.map(Full::new)),
            _ => None,
        }
    });
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| handle(Arc::clone(&engine), req));
    server.spawn(conn, Some(gate), svc);
}

fn host_of(headers: &http::HeaderMap, uri: &http::Uri) -> String {
    let raw = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or("127.0.0.1");
    let host = if raw.starts_with('[') {
        raw.split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(raw)
    } else {
        raw.split(':').next().unwrap_or(raw)
    };
    host.to_ascii_lowercase()
}

async fn handle(
    engine: Arc<Engine>,
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let host = host_of(req.headers(), req.uri());
    let (parts, body) = req.into_parts();
    // The hardened server has read the body already (within its limits).
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let req = Request::from_parts(parts, body);
    match engine.handle(&host, &req) {
        Outcome::Respond { response, delay } => {
            let delay = engine.clock.real(delay);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(response.map(Full::new))
        }
        Outcome::Host(crate::engine::HostFault::Stall) => std::future::pending().await,
        Outcome::Reset | Outcome::Host(_) => Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulator: dropped the connection",
        )),
    }
}
