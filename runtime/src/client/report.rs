//! What a run did, node by node, for `logs` and the live view: its history is replayed here with
//! the journal on, so nodes that run inside the workflow (and leave no events) are seen too;
//! attempts of finished activities come from the history, those of activities still retrying
//! from the server's description of the run.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;
use temporalio_client::{Client, UntypedWorkflow, WorkflowDescribeOptions, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use super::cli::Worker;
use super::timeline;
use crate::workflow::journal::{self, Entry, What};

/// A run, as `logs` prints it and the live view draws it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub id: String,
    /// `running`, `completed`, `failed`, `cancelled`, `terminated`, `timed out` or `continued`.
    pub state: &'static str,
    /// When the run started, seconds since the Unix epoch; entry times are relative to it.
    pub origin: f64,
    /// How long the run has taken so far, in seconds.
    pub elapsed: f64,
    pub nodes: BTreeMap<String, NodeReport>,
    /// Every journal entry and received signal, in order, with `at` relative to `origin`.
    pub entries: Vec<Entry>,
    /// Set when this build does not replay the run: nodes then show only what the history says.
    pub problem: Option<String>,
}

/// One node's latest state.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct NodeReport {
    pub kind: String,
    /// `running`, `waiting`, `completed`, `failed` or `skipped`; nodes not yet reached are absent.
    pub state: &'static str,
    pub started: Option<f64>,
    pub ended: Option<f64>,
    pub attempts: Option<u32>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The signal a waiting node waits for.
    pub waiting: Option<String>,
    /// Why the last attempt of an activity still retrying failed.
    pub last_failure: Option<String>,
}

/// One replay at a time: the journal is the process's.
static REPLAYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The history of run `id`.
pub(crate) async fn history(client: &Client, id: &str) -> anyhow::Result<Vec<HistoryEvent>> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
    handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.map_err(|e| anyhow!("cannot read the history of `{id}`: {e}"))
}

pub(crate) async fn report(spec: &Worker, client: &Client, id: &str, events: &[HistoryEvent]) -> anyhow::Result<Report> {
    // Only what a worker has done: the replayer would also run a workflow task the history has
    // not seen completed (one no worker has picked up yet, say), so the history is cut after
    // the last completed one.
    let mut done = events.iter().rposition(|e| matches!(e.attributes, Some(Attributes::WorkflowTaskCompletedEventAttributes(_)))).map_or(0, |i| i + 1);
    // The markers that task recorded go with it: a local activity's result is one, and
    // without it the replay would stop at the local activity.
    done += events[done..].iter().take_while(|e| matches!(e.attributes, Some(Attributes::MarkerRecordedEventAttributes(_)))).count();
    let (replayed, mut entries) = if done == 0 {
        (Ok(Ok(())), Vec::new())
    } else {
        let _one = REPLAYING.lock().await;
        journal::capture(super::replay::replay_events(spec, &events[..done])).await
    };
    let problem = match replayed? {
        Ok(()) => None,
        Err(e) => Some(format!("this build does not replay run `{id}`, so only its activities, timers and signals are shown: {e}")),
    };
    let origin = events.first().map_or(0.0, timeline::seconds);
    let rows = timeline::rows(events);
    // Received signals belong to no node but say why a waiting node went on.
    for row in rows.iter().filter(|r| r.kind == "signal") {
        entries.push(Entry { at: origin + row.start, node: String::new(), what: What::Signal { signal: row.what.clone() } });
    }
    entries.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut nodes: BTreeMap<String, NodeReport> = BTreeMap::new();
    for entry in &mut entries {
        entry.at = (entry.at - origin).max(0.0);
        if entry.node.is_empty() {
            continue;
        }
        let node = nodes.entry(entry.node.clone()).or_default();
        match &entry.what {
            What::Started { kind } => {
                *node = NodeReport { kind: kind.clone(), state: "running", started: Some(entry.at), ..NodeReport::default() };
            }
            What::Input { input } => node.input = Some(input.clone()),
            What::Waiting { signal } => {
                node.state = "waiting";
                node.waiting = Some(signal.clone());
            }
            What::Completed { output } => {
                node.state = "completed";
                node.output = Some(output.clone());
                node.ended = Some(entry.at);
                node.waiting = None;
            }
            What::Failed { error } => {
                node.state = "failed";
                node.error = Some(error.clone());
                node.ended = Some(entry.at);
                node.waiting = None;
            }
            What::Skipped => node.state = "skipped",
            What::Log { .. } | What::Signal { .. } | What::Recorded { .. } => {}
        }
    }
    // Activities finished: their attempts are in the history.
    for row in rows.iter().filter(|r| r.kind == "activity") {
        let id = row.what.split('#').next().unwrap_or_default();
        if let (Some(node), Some(attempts)) = (nodes.get_mut(id), row.attempts) {
            node.attempts = Some(node.attempts.unwrap_or(0).max(attempts));
        }
    }
    let state = closed(events);
    if state == "running" {
        pending(client, id, &mut nodes).await;
    }
    let elapsed = events.last().map_or(0.0, |e| timeline::seconds(e) - origin);
    Ok(Report { id: id.to_string(), state, origin, elapsed, nodes, entries, problem })
}

/// How the history ends, or `running`.
fn closed(events: &[HistoryEvent]) -> &'static str {
    match events.last().and_then(|e| e.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(_)) => "completed",
        Some(Attributes::WorkflowExecutionFailedEventAttributes(_)) => "failed",
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => "cancelled",
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(_)) => "terminated",
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => "timed out",
        Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(_)) => "continued",
        _ => "running",
    }
}

/// Attempts and last failures of activities still running, from the server.
pub(crate) async fn pending(client: &Client, id: &str, nodes: &mut BTreeMap<String, NodeReport>) {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
    let Ok(description) = handle.describe(WorkflowDescribeOptions::default()).await else { return };
    for activity in &description.raw_description.pending_activities {
        let id = activity.activity_id.split('#').next().unwrap_or_default();
        if let Some(node) = nodes.get_mut(id) {
            node.attempts = u32::try_from(activity.attempt).ok();
            node.last_failure = activity.last_failure.as_ref().map(|f| f.message.clone());
        }
    }
}

/// `logs ID`: the node timeline and the log lines of a run, in order.
pub(crate) async fn logs(spec: &Worker, id: &str) -> anyhow::Result<std::process::ExitCode> {
    let client = super::connect().await?;
    let events = history(&client, id).await?;
    let report = report(spec, &client, id, &events).await?;
    print!("{}", render(&report));
    if let Some(problem) = &report.problem {
        eprintln!("warning: {problem}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// In a dry run, what each built-in would have sent, in order.
pub(crate) fn would_send(report: &Report) -> Vec<Value> {
    let recorded = report.entries.iter().filter_map(|e| match &e.what {
        What::Recorded { kind, request } => Some(serde_json::json!({ "node": e.node, "type": kind, "request": request })),
        _ => None,
    });
    recorded.collect()
}

/// One line per entry: the time since the run started, a mark and what happened.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    // When each node last started, for the duration of its end (a loop runs a node again).
    let mut started: BTreeMap<&str, f64> = BTreeMap::new();
    for entry in &report.entries {
        let node = entry.node.as_str();
        let took = |started: &BTreeMap<&str, f64>| {
            let duration = started.get(node).map(|s| format!("{:.2}s", entry.at - s));
            let attempts = report.nodes.get(node).and_then(|n| n.attempts).filter(|a| *a > 1).map(|a| format!("{a} attempts"));
            let parts: Vec<String> = duration.into_iter().chain(attempts).collect();
            if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
        };
        let line = match &entry.what {
            What::Started { kind } => {
                started.insert(node, entry.at);
                format!("▶ {node} ({kind})")
            }
            What::Input { .. } => continue,
            What::Recorded { kind, request } => format!("⇢ {node} not sent, dry run: {kind} {request}"),
            What::Waiting { signal } => format!("⏸ {node} waits for `{signal}`"),
            What::Completed { .. } => format!("✔ {node}{}", took(&started)),
            What::Failed { error } => format!("✘ {node}{}: {error}", took(&started)),
            What::Skipped => format!("- {node} skipped"),
            What::Log { level, message } => format!("{:<5} {node}: {message}", level.to_uppercase()),
            What::Signal { signal } => format!("↘ signal `{signal}` received"),
        };
        out.push_str(&format!("{:>9.3}s  {line}\n", entry.at));
    }
    out.push_str(&format!("{:>9.3}s  run {}\n", report.elapsed, report.state));
    out
}
