//! The emulator's own metrics in Prometheus' text format, served at `GET /metrics` on the admin
//! listener: what it answered (by operation, status and injected fault) and what it holds.
//!
//! Each emulator records into its own recorder (not the process-wide one), so an emulator
//! embedded in a test does not mix its counts with the client's under test.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Requests answered, by `op`, `status` and `fault` (empty when none was injected).
pub const REQUESTS: &str = "agora_emulator_requests_total";
/// Converters held now.
pub const CONVERTERS: &str = "agora_emulator_converters";
/// Tasks held now.
pub const TASKS: &str = "agora_emulator_tasks";

/// One emulator's recorder.
pub(crate) struct EmulatorMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for EmulatorMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorMetrics").finish_non_exhaustive()
    }
}

impl EmulatorMetrics {
    pub(crate) fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        EmulatorMetrics { recorder, handle }
    }

    /// Counts one answered request.
    pub(crate) fn request(&self, op: &'static str, status: u16, fault: Option<&str>) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(
                REQUESTS,
                "op" => op,
                "status" => agora_rest_transport::metrics::status_label(status),
                "fault" => fault.map_or(metrics::SharedString::const_str(""), |f| {
                    metrics::SharedString::from(f.to_string())
                })
            )
            .increment(1);
        });
    }

    /// The text exposition, with the held converters and tasks as of now.
    pub(crate) fn render(&self, converters: usize, tasks: usize) -> String {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(CONVERTERS).set(converters as f64);
            metrics::gauge!(TASKS).set(tasks as f64);
        });
        self.handle.render()
    }
}
