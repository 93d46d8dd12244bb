//! Host name resolution, pluggable.
//!
//! Exists so that tests, the demo and users of the emulator can send `api.agora.io`, the
//! alternate and the region hosts to loopback ports while TLS still verifies those names, and
//! so that a failed lookup is reported as a [`DnsFailure`] (which domain failover treats
//! differently from a network failure).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower::{Service, ServiceExt};

use crate::error::DnsFailure;

type ResolveFuture = Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, DnsFailure>> + Send>>;

/// Something that resolves host names.
trait Resolve: Send + Sync {
    fn resolve(&self, host: String) -> ResolveFuture;
}

/// A cloneable resolver handle, usable as hyper-util's DNS service.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<dyn Resolve>,
    label: &'static str,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resolver({})", self.label)
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::system()
    }
}

struct ServiceResolver<S>(S);

impl<S> Resolve for ServiceResolver<S>
where
    S: Service<Name> + Clone + Send + Sync + 'static,
    S::Response: IntoIterator<Item = SocketAddr>,
    S::Future: Send,
{
    fn resolve(&self, host: String) -> ResolveFuture {
        let svc = self.0.clone();
        Box::pin(async move {
            let name: Name = host
                .parse()
                .map_err(|_| DnsFailure { host: host.clone() })?;
            match svc.oneshot(name).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.into_iter().collect();
                    if addrs.is_empty() {
                        Err(DnsFailure { host })
                    } else {
                        Ok(addrs)
                    }
                }
                Err(_) => Err(DnsFailure { host }),
            }
        })
    }
}

impl Resolver {
    /// The operating system's resolver (`getaddrinfo` on a blocking thread).
    pub fn system() -> Self {
        Resolver {
            inner: Arc::new(ServiceResolver(GaiResolver::new())),
            label: "system",
        }
    }

    /// Any tower `Service<Name>` returning socket addresses.
    pub fn from_service<S>(svc: S) -> Self
    where
        S: Service<Name> + Clone + Send + Sync + 'static,
        S::Response: IntoIterator<Item = SocketAddr>,
        S::Future: Send,
    {
        Resolver {
            inner: Arc::new(ServiceResolver(svc)),
            label: "custom",
        }
    }

    /// Resolves `host`.
    pub async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, DnsFailure> {
        self.inner.resolve(host.to_string()).await
    }
}

/// A fixed host → address table: the way to point the real client at the emulator by name.
///
/// A host not in the table fails to resolve (a [`DnsFailure`]), unless a fallback resolver is
/// set; so a test can make one host "not resolve" simply by leaving it out.
#[derive(Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<SocketAddr>>,
    fallback: Option<Resolver>,
}

impl fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticResolver")
            .field("hosts", &self.table.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `host` (any ASCII case) to `addr`; the port in `addr` is used unless the URL names one.
    pub fn with(mut self, host: &str, addr: SocketAddr) -> Self {
        self.table
            .entry(host.to_ascii_lowercase())
            .or_default()
            .push(addr);
        self
    }

    /// Maps every Agora API host (both primaries, all 16 region hosts) to `addr`.
    pub fn all_agora_hosts(mut self, addr: SocketAddr) -> Self {
        for host in agora_rest_core::region::Host::all() {
            self = self.with(&host.name(), addr);
        }
        self
    }

    /// Resolves names not in the table with `fallback`.
    pub fn with_fallback(mut self, fallback: Resolver) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The table as a [`Resolver`].
    pub fn into_resolver(self) -> Resolver {
        Resolver {
            inner: Arc::new(self),
            label: "static",
        }
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: String) -> ResolveFuture {
        let found = self.table.get(&host.to_ascii_lowercase()).cloned();
        let fallback = self.fallback.clone();
        Box::pin(async move {
            match (found, fallback) {
                (Some(addrs), _) => Ok(addrs),
                (None, Some(f)) => f.lookup(&host).await,
                (None, None) => Err(DnsFailure { host }),
            }
        })
    }
}

/// hyper-util's connector calls the resolver as a `Service<Name>`.
impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsFailure>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DnsFailure>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let fut = self.inner.resolve(name.as_str().to_string());
        Box::pin(async move { fut.await.map(Vec::into_iter) })
    }
}
