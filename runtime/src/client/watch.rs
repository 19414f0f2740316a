//! `watch ID`: follow a run until it ends, one line per node as it starts, completes, fails, is
//! skipped or starts waiting (with the exact `signal` command that answers it), then print its
//! result as JSON on stdout. Progress goes to stderr, read from the `status` query.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;
use temporalio_client::{UntypedQuery, UntypedWorkflow, WorkflowGetResultOptions, WorkflowQueryOptions};
use temporalio_common::data_converters::RawValue;

use super::cli::Worker;
use crate::workflow::state::Status;

/// How often the `status` query is asked.
const EVERY: Duration = Duration::from_millis(100);

/// What was last shown of each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Running,
    Waiting,
    Completed,
    Failed,
    Skipped,
}

pub(crate) async fn watch(spec: &Worker, id: &str) -> anyhow::Result<ExitCode> {
    let client = super::connect().await?;
    let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    let mut shown: BTreeMap<String, (Shown, Instant)> = BTreeMap::new();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            outcome = &mut result => {
                // One last look, so the final nodes are shown before the result.
                if let Some(status) = status(&handle).await {
                    show(spec, id, &status, &mut shown);
                }
                return super::cli::print_result(outcome);
            }
            _ = tick.tick() => {
                if let Some(status) = status(&handle).await {
                    show(spec, id, &status, &mut shown);
                }
            }
        }
    }
}

async fn status(handle: &temporalio_client::WorkflowHandle<temporalio_client::Client, UntypedWorkflow>) -> Option<Status> {
    let raw: RawValue = handle.query(UntypedQuery::<UntypedWorkflow>::new("status"), RawValue { payloads: Vec::new() }, WorkflowQueryOptions::default()).await.ok()?;
    serde_json::from_slice(&raw.payloads.first()?.data).ok()
}

/// Prints what changed since the last look.
fn show(spec: &Worker, id: &str, status: &Status, shown: &mut BTreeMap<String, (Shown, Instant)>) {
    let waiting: BTreeMap<&str, &str> = status.waiting.iter().map(|w| (w.node.as_str(), w.signal.as_str())).collect();
    let now = Instant::now();
    // What ended since the last look most likely ended before what started since.
    let mut events: Vec<(&String, Shown)> = Vec::new();
    events.extend(status.completed.iter().map(|n| (n, Shown::Completed)));
    events.extend(status.failed.iter().map(|n| (n, Shown::Failed)));
    events.extend(status.skipped.iter().map(|n| (n, Shown::Skipped)));
    events.extend(status.running.iter().map(|n| (n, if waiting.contains_key(n.as_str()) { Shown::Waiting } else { Shown::Running })));
    for (node, state) in events {
        let previous = shown.get(node).copied();
        if previous.map(|(s, _)| s) == Some(state) {
            continue;
        }
        let since = previous.map_or(now, |(_, at)| at);
        let took = format!("{:.1}s", now.duration_since(since).as_secs_f64());
        let line = match state {
            Shown::Running => format!("▶ {node}"),
            Shown::Waiting => {
                let signal = waiting.get(node.as_str()).copied().unwrap_or_default();
                format!("⏸ {node} waits for `{signal}`: {}", answer(spec, id, signal))
            }
            Shown::Completed => format!("✔ {node} ({took})"),
            Shown::Failed => {
                let cause = status.failure.as_ref().filter(|f| f.node.as_deref() == Some(node.as_str())).map_or(String::new(), |f| format!(": {}", f.message));
                format!("✘ {node} ({took}){cause}")
            }
            Shown::Skipped => format!("- {node} skipped"),
        };
        eprintln!("{line}");
        let started = if matches!(state, Shown::Running | Shown::Waiting) { now } else { since };
        shown.insert(node.clone(), (state, started));
    }
}

/// The command that answers a waiting node, with an example payload from the signal's schema.
fn answer(spec: &Worker, id: &str, signal: &str) -> String {
    let program = std::env::args().next().unwrap_or_else(|| format!("{}-worker", spec.name));
    let schema = spec.signals.iter().find(|(name, _)| *name == signal).and_then(|(_, schema)| *schema);
    match schema.and_then(|s| serde_json::from_str::<Value>(s).ok()) {
        Some(schema) => format!("{program} signal {id} {signal} --input '{}'  (schema: {schema})", example(&schema)),
        None if signal == crate::values::RESUME => format!("{program} signal {id} resume"),
        None => format!("{program} signal {id} {signal} --input '<JSON>'"),
    }
}

/// A payload of the schema's shape: its required properties with placeholder values.
fn example(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let required: Vec<&str> = schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            let properties = schema.get("properties").and_then(Value::as_object);
            Value::Object(required.iter().map(|name| (name.to_string(), properties.and_then(|p| p.get(*name)).map_or(Value::Null, example))).collect())
        }
        Some("boolean") => Value::Bool(true),
        Some("integer" | "number") => Value::from(0),
        Some("array") => Value::Array(Vec::new()),
        Some("string") => Value::String("…".to_string()),
        _ => Value::Null,
    }
}
