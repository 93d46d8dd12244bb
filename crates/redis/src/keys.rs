//! Key names: every key of one project carries the hash tag `{agora:APP_ID}`, so all of them
//! hash to one Redis Cluster slot and a script may touch several.

/// The key names of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    tag: String,
}

impl Keys {
    /// The keys of project `app_id` (braces, which would end the hash tag, are dropped).
    pub fn new(app_id: &str) -> Self {
        let clean: String = app_id.chars().filter(|c| *c != '{' && *c != '}').collect();
        Keys {
            tag: format!("{{agora:{clean}}}"),
        }
    }

    /// The hash tag, e.g. `{agora:my-app}`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// A rate-limit bucket's theoretical arrival time.
    pub fn rate(&self, bucket: &str) -> String {
        format!("{}:rate:{bucket}", self.tag)
    }

    /// The next sequence number of a resource.
    pub fn sequence(&self, kind: &str, resource: &str) -> String {
        format!("{}:seq:{kind}:{resource}", self.tag)
    }

    /// A service's stream counts (a hash: one field per area and tier, and a version).
    pub fn ledger(&self, service: &str) -> String {
        format!("{}:ledger:{service}", self.tag)
    }

    /// A controller's declared specs (a hash by key).
    pub fn desired(&self, controller: &str) -> String {
        format!("{}:desired:{controller}", self.tag)
    }

    /// A controller's statuses (a hash by key).
    pub fn status(&self, controller: &str) -> String {
        format!("{}:status:{controller}", self.tag)
    }

    /// The lease of one resource.
    pub fn lease(&self, controller: &str, key: &str) -> String {
        format!("{}:lease:{controller}:{key}", self.tag)
    }

    /// The fencing-token counters of a controller's leases (a hash by key).
    pub fn lease_tokens(&self, controller: &str) -> String {
        format!("{}:lease-tokens:{controller}", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_tag() {
        let k = Keys::new("app{1}");
        assert_eq!(k.tag(), "{agora:app1}");
        for key in [
            k.rate("push:api:push.get"),
            k.sequence("push", "c1"),
            k.ledger("push"),
            k.desired("push"),
            k.status("push"),
            k.lease("push", "show68"),
            k.lease_tokens("push"),
        ] {
            assert!(key.starts_with("{agora:app1}:"), "{key}");
        }
    }
}
