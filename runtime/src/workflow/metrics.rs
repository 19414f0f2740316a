//! Per-node counters and durations for operators (`worker --metrics`), labelled by flow, node
//! and outcome. Recorded only when the work happens: a node that completes while its workflow
//! is replaying history was counted by the worker that ran it, so it is not counted again.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use temporalio_common::telemetry::metrics::{CoreMeter, Counter, HistogramDuration, MetricKeyValue, MetricParameters, NewAttributes};

struct NodeMetrics {
    meter: Arc<dyn CoreMeter>,
    finished: Counter,
    duration: HistogramDuration,
}

static METRICS: OnceLock<NodeMetrics> = OnceLock::new();

/// Sends node metrics to `meter` from now on; a worker without `--metrics` never calls it.
pub(crate) fn install(meter: Arc<dyn CoreMeter>) {
    let finished = meter.counter(MetricParameters::builder().name("wfc_node_finished").description("Nodes that finished, by flow, node and outcome (completed, failed)").build());
    let duration = meter.histogram_duration(MetricParameters::builder().name("wfc_node_duration_seconds").description("Workflow time from a node's start to its end").build());
    let _ = METRICS.set(NodeMetrics { meter, finished, duration });
}

/// Counts one finished node. `duration` is workflow time, so it is the same on every worker.
pub(crate) fn node_finished(flow: &str, node: &str, completed: bool, duration: Duration) {
    let Some(metrics) = METRICS.get() else { return };
    let outcome = if completed { "completed" } else { "failed" };
    let attributes = metrics.meter.new_attributes(NewAttributes {
        attributes: vec![MetricKeyValue::new("flow", flow.to_string()), MetricKeyValue::new("node", node.to_string()), MetricKeyValue::new("outcome", outcome)],
    });
    metrics.finished.add(1, &attributes);
    metrics.duration.record(duration, &attributes);
}
