//! What the controller reports.

/// One step of the controller, on one converter (by its key, the converter name).
///
/// Delivered on a broadcast channel: a slow or absent reader never blocks reconciliation; it
/// gets `RecvError::Lagged(n)` for the events it missed.
///
/// Serializes as one JSON object tagged by `event` (e.g. `{"event":"created","key":…}`),
/// the shape `agora-rest controller run --output json` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConverterEvent {
    /// A running converter with the declared name was found and taken over.
    Adopted {
        /// The key.
        key: String,
        /// The converter id.
        id: String,
    },
    /// The converter was created.
    Created {
        /// The key.
        key: String,
        /// The converter id.
        id: String,
    },
    /// The latest spec was sent as a sequenced update.
    Updated {
        /// The key.
        key: String,
        /// The converter id.
        id: String,
        /// The spec generation it now holds.
        generation: u64,
    },
    /// The converter failed (or ended) and a new one replaced it, from the latest spec.
    Recreated {
        /// The key.
        key: String,
        /// The failed converter.
        old: Option<String>,
        /// The new converter.
        new: String,
    },
    /// Unreachable, inside the HA migration window: waiting.
    Migrating {
        /// The key.
        key: String,
    },
    /// It ended by idle timeout and is left ended.
    Finished {
        /// The key.
        key: String,
    },
    /// Action stopped for good.
    Degraded {
        /// The key.
        key: String,
        /// Why, for people.
        why: String,
    },
    /// An action failed; it is tried again after a back-off.
    ActionFailed {
        /// The key.
        key: String,
        /// What was tried.
        action: &'static str,
        /// The error, for people.
        error: String,
    },
    /// A shared store (Redis) could not be read or written: no action was taken; it is tried
    /// again shortly.
    StoreUnavailable {
        /// The key.
        key: String,
        /// The error, for people.
        error: String,
    },
    /// Removed by the application and deleted.
    Deleted {
        /// The key.
        key: String,
        /// The converter id, if one ran.
        id: Option<String>,
    },
}

impl agora_rest_transport::controller::TroubleEvent for ConverterEvent {
    fn action_failed(key: &str, action: &'static str, error: String) -> Self {
        ConverterEvent::ActionFailed {
            key: key.to_string(),
            action,
            error,
        }
    }

    fn store_unavailable(key: &str, error: String) -> Self {
        ConverterEvent::StoreUnavailable {
            key: key.to_string(),
            error,
        }
    }
}
