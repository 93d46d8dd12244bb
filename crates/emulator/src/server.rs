//! The emulator over sockets: hyper 1 (HTTP/1.1 and HTTP/2), optional TLS, several listeners
//! sharing one engine, each of which a test can make refuse connections or stall.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::Error;
use crate::engine::{Engine, Outcome};

/// The largest request body the emulator reads.
const MAX_BODY: usize = 1024 * 1024;

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
    addrs: Vec<SocketAddr>,
    controls: Vec<Control>,
    stop: watch::Sender<bool>,
}

impl Server {
    pub(crate) async fn start(
        engine: Arc<Engine>,
        listen: &[SocketAddr],
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Server, Error> {
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
                tls.clone(),
            ));
            addrs.push(local);
            controls.push(tx);
        }
        Ok(Server {
            addrs,
            controls,
            stop,
        })
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
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let mut listener = Some(listener);
    let mut mode = ListenerMode::Serve;
    let mut held: Vec<TcpStream> = Vec::new();
    loop {
        let command = match &listener {
            Some(l) => tokio::select! {
                accepted = l.accept() => {
                    if let Ok((tcp, _)) = accepted {
                        match mode {
                            ListenerMode::Serve => {
                                tokio::spawn(serve(Arc::clone(&engine), tcp, tls.clone()));
                            }
                            ListenerMode::Stall => held.push(tcp),
                            ListenerMode::Refuse => drop(tcp),
                        }
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

async fn serve(engine: Arc<Engine>, tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
    let _ = tcp.set_nodelay(true);
    let svc = service_fn(move |req: Request<Incoming>| handle(Arc::clone(&engine), req));
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    match tls {
        Some(cfg) => {
            let Ok(stream) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await else {
                return;
            };
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
        }
    }
}

fn host_of(req: &Request<Incoming>) -> String {
    let raw = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
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
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let host = host_of(&req);
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let mut r = Response::new(Full::new(Bytes::from_static(
                br#"{"message":"body too large"}"#,
            )));
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(r);
        }
    };
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
