//! RESTful API credentials and where they come from.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

/// A customer id and secret (Console → Developer Toolkit → RESTful API, docs/vendor-rules.md).
///
/// Held in `secrecy` types; the Basic `Authorization` value is computed once and marked
/// sensitive, so neither appears in `Debug` output, logs or errors.
#[derive(Clone)]
pub struct Credentials {
    customer_id: SecretString,
    customer_secret: SecretString,
    header: HeaderValue,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { customer_id: <redacted>, customer_secret: <redacted> }")
    }
}

impl Credentials {
    /// Checks and stores a customer id and secret.
    ///
    /// Refuses an empty value, a `:` in the id (it would split the Basic pair) and control
    /// characters, with an error that does not repeat the value.
    pub fn new(
        customer_id: impl Into<String>,
        customer_secret: impl Into<String>,
    ) -> Result<Self, Error> {
        let (id, secret) = (customer_id.into(), customer_secret.into());
        if id.is_empty() || secret.is_empty() {
            return Err(Error::Config {
                field: "credentials",
                rule: "the customer id and secret must not be empty".into(),
            });
        }
        if id.contains(':') || id.chars().chain(secret.chars()).any(char::is_control) {
            return Err(Error::Config {
                field: "credentials",
                rule:
                    "the customer id may not contain ':' and neither may contain control characters"
                        .into(),
            });
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let mut header =
            HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| Error::Config {
                field: "credentials",
                rule: "not a valid header value".into(),
            })?;
        header.set_sensitive(true);
        Ok(Credentials {
            customer_id: id.into(),
            customer_secret: secret.into(),
            header,
        })
    }

    /// The customer id (for tools that need it; never log it).
    pub fn customer_id(&self) -> &str {
        self.customer_id.expose_secret()
    }

    /// The customer secret (for the emulator's own check; never log it).
    pub fn customer_secret(&self) -> &str {
        self.customer_secret.expose_secret()
    }

    /// The `Authorization: Basic …` value, marked sensitive.
    pub fn authorization(&self) -> &HeaderValue {
        &self.header
    }
}

/// Where the client gets credentials for each request.
///
/// Exists so that credentials can rotate (a vault, a file that changes) without rebuilding the
/// client; [`StaticCredentials`] is the in-memory default.
#[async_trait::async_trait]
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// The credentials to use now.
    async fn credentials(&self) -> Result<Arc<Credentials>, Error>;

    /// The `Authorization` value, when it can be had without waiting (fixed credentials):
    /// lets the auth layer skip the async call and its allocation on every request. `None`
    /// means "call [`credentials`](Self::credentials)".
    fn ready_authorization(&self) -> Option<HeaderValue> {
        None
    }
}

/// Fixed credentials.
#[derive(Debug, Clone)]
pub struct StaticCredentials(Arc<Credentials>);

impl StaticCredentials {
    /// Wraps fixed credentials.
    pub fn new(credentials: Credentials) -> Self {
        StaticCredentials(Arc::new(credentials))
    }
}

#[async_trait::async_trait]
impl CredentialSource for StaticCredentials {
    async fn credentials(&self) -> Result<Arc<Credentials>, Error> {
        Ok(Arc::clone(&self.0))
    }

    fn ready_authorization(&self) -> Option<HeaderValue> {
        Some(self.0.header.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_and_no_leaks() {
        let c = Credentials::new("cust-id-123", "s3cr3t-value").unwrap();
        // base64("cust-id-123:s3cr3t-value")
        assert_eq!(
            c.authorization().to_str().unwrap(),
            "Basic Y3VzdC1pZC0xMjM6czNjcjN0LXZhbHVl"
        );
        assert!(c.authorization().is_sensitive());
        let dbg = format!("{c:?} {:?}", StaticCredentials::new(c.clone()));
        assert!(
            !dbg.contains("s3cr3t") && !dbg.contains("cust-id-123") && !dbg.contains("Y3Vz"),
            "{dbg}"
        );
        let e = Credentials::new("a:b", "s3cr3t-value")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(Credentials::new("", "x").is_err());
    }
}
