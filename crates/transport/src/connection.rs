//! The innermost service: hyper-util's pooled client over rustls (ring), HTTP/1.1 and HTTP/2.
//!
//! TLS is the `tls` feature (on by default). Without it only plain-HTTP loopback endpoints (the
//! emulator) can be reached, and an `https://` request is refused with an error saying so.

#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
#[cfg(feature = "tls")]
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
#[cfg(feature = "tls")]
use rustls::RootCertStore;
#[cfg(feature = "tls")]
use rustls_pki_types::CertificateDer;
#[cfg(feature = "tls")]
use rustls_pki_types::pem::PemObject;

use crate::Error;
use crate::error::BoxError;
use crate::resolve::Resolver;

/// The largest response body read; the services' bodies are small JSON.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// TLS settings of the connection.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM certificates to trust in addition to the webpki roots (e.g. the emulator's CA).
    pub extra_roots_pem: Vec<Vec<u8>>,
}

/// hyper-util client as a tower service of `Request<Bytes>` → `Response<Bytes>`.
///
/// Two pools: one over rustls for `https://`, and a plain one for `http://`, which the client
/// builder allows to loopback only (the emulator). hyper-util clones the connector for every
/// request; the plain pool spares emulator traffic the TLS connector's clone (three shared
/// reference counts) on each one.
#[derive(Clone, Debug)]
pub struct HyperConnection {
    #[cfg(feature = "tls")]
    https: HyperClient<HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>,
    http: HyperClient<HttpConnector<Resolver>, Full<Bytes>>,
}

impl HyperConnection {
    /// A pooled client resolving with `resolver` and trusting webpki roots plus `tls` extras.
    pub fn new(resolver: Resolver, tls: &TlsOptions) -> Result<Self, Error> {
        #[cfg(not(feature = "tls"))]
        {
            if !tls.extra_roots_pem.is_empty() {
                return Err(no_tls("extra_root_certificate"));
            }
            let mut tcp = HttpConnector::new_with_resolver(resolver);
            tcp.set_nodelay(true);
            tcp.enforce_http(true);
            Ok(HyperConnection {
                http: HyperClient::builder(TokioExecutor::new()).build(tcp),
            })
        }
        #[cfg(feature = "tls")]
        Self::with_tls(resolver, tls)
    }

    #[cfg(feature = "tls")]
    fn with_tls(resolver: Resolver, tls: &TlsOptions) -> Result<Self, Error> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for pem in &tls.extra_roots_pem {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| Error::Config {
                    field: "extra_root_certificate",
                    rule: format!("not a PEM certificate: {e}"),
                })?;
                roots.add(cert).map_err(|e| Error::Config {
                    field: "extra_root_certificate",
                    rule: format!("unusable certificate: {e}"),
                })?;
                any = true;
            }
            if !any {
                return Err(Error::Config {
                    field: "extra_root_certificate",
                    rule: "no PEM certificate found".into(),
                });
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config {
                field: "tls",
                rule: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new_with_resolver(resolver);
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp.clone());
        // Plain http:// goes to loopback endpoints only: the client builder refuses any other
        // plain-HTTP endpoint before a connection is made.
        tcp.enforce_http(true);
        Ok(HyperConnection {
            https: HyperClient::builder(TokioExecutor::new()).build(https),
            http: HyperClient::builder(TokioExecutor::new()).build(tcp),
        })
    }
}

/// The error of a TLS need in a build without the `tls` feature.
#[cfg(not(feature = "tls"))]
fn no_tls(field: &'static str) -> Error {
    Error::Config {
        field,
        rule: "this build has no TLS: enable the `tls` feature (on by default) to reach https:// \
               endpoints; without it only a plain-HTTP loopback endpoint (the emulator) works"
            .into(),
    }
}

impl HyperConnection {
    /// Sends one request (the pooled client needs only `&self`).
    pub fn send(&self, req: Request<Bytes>) -> crate::shared::InnerFuture {
        #[cfg(feature = "tls")]
        let fut = if req.uri().scheme() == Some(&http::uri::Scheme::HTTP) {
            self.http.request(req.map(Full::new))
        } else {
            self.https.request(req.map(Full::new))
        };
        #[cfg(not(feature = "tls"))]
        let fut = {
            if req.uri().scheme() != Some(&http::uri::Scheme::HTTP) {
                let e: BoxError = Box::new(no_tls("endpoint"));
                return Box::pin(async move { Err(e) });
            }
            self.http.request(req.map(Full::new))
        };
        Box::pin(async move {
            let resp = fut.await?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok(Response::from_parts(parts, body))
        })
    }

    /// This connection as the client's innermost service, without a clone per request.
    pub fn into_shared(self) -> crate::shared::SharedService {
        crate::shared::SharedService::from_fn(move |req| self.send(req))
    }
}

impl tower::Service<Request<Bytes>> for HyperConnection {
    type Response = Response<Bytes>;
    type Error = BoxError;
    type Future = crate::shared::InnerFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Bytes>) -> Self::Future {
        self.send(req)
    }
}
