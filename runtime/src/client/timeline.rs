//! `timeline ID`: what each node of a run did, read from the workflow history. Activities (one
//! row per node and iteration, with attempts), timers (delays, deadlines, retry waits), signals
//! and child workflows; in-workflow nodes leave no events and are not shown.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::Value;
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// One line of the timeline: seconds are relative to the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The activity id (`node` or `node#iteration`), the timer's summary, or the signal name.
    pub what: String,
    pub kind: &'static str,
    pub start: f64,
    pub end: Option<f64>,
    pub attempts: Option<u32>,
    /// `completed`, `failed: …`, `cancelled`, `timed out`, `fired`, `received`, or `running`.
    pub outcome: String,
}

pub(crate) fn seconds(event: &HistoryEvent) -> f64 {
    event.event_time.as_ref().map_or(0.0, |t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
}

fn text(payload: Option<&Payload>) -> Option<String> {
    let payload = payload?;
    Some(serde_json::from_slice::<String>(&payload.data).unwrap_or_else(|_| String::from_utf8_lossy(&payload.data).into_owned()))
}

/// The rows of a history, in the order their work started.
pub fn rows(events: &[HistoryEvent]) -> Vec<Row> {
    let origin = events.first().map_or(0.0, seconds);
    let mut rows: Vec<Row> = Vec::new();
    // The row of each scheduled activity, started timer and initiated child, by event id or timer id.
    let mut by_event: BTreeMap<i64, usize> = BTreeMap::new();
    let mut by_timer: BTreeMap<String, usize> = BTreeMap::new();
    for event in events {
        let at = seconds(event) - origin;
        let Some(attributes) = &event.attributes else { continue };
        let mut finish = |key: i64, outcome: String, attempts: Option<u32>| {
            if let Some(row) = by_event.get(&key).and_then(|i| rows.get_mut(*i)) {
                row.end = Some(at);
                row.outcome = outcome;
                if attempts.is_some() {
                    row.attempts = attempts;
                }
            }
        };
        match attributes {
            Attributes::ActivityTaskScheduledEventAttributes(a) => {
                by_event.insert(event.event_id, rows.len());
                rows.push(Row { what: a.activity_id.clone(), kind: "activity", start: at, end: None, attempts: None, outcome: "running".into() });
            }
            Attributes::ActivityTaskStartedEventAttributes(a) => {
                if let Some(row) = by_event.get(&a.scheduled_event_id).and_then(|i| rows.get_mut(*i)) {
                    row.attempts = u32::try_from(a.attempt).ok();
                }
            }
            Attributes::ActivityTaskCompletedEventAttributes(a) => finish(a.scheduled_event_id, "completed".into(), None),
            Attributes::ActivityTaskFailedEventAttributes(a) => {
                let message = a.failure.as_ref().map_or_else(String::new, |f| f.message.clone());
                finish(a.scheduled_event_id, format!("failed: {message}"), None);
            }
            Attributes::ActivityTaskTimedOutEventAttributes(a) => finish(a.scheduled_event_id, "timed out".into(), None),
            Attributes::ActivityTaskCanceledEventAttributes(a) => finish(a.scheduled_event_id, "cancelled".into(), None),
            Attributes::TimerStartedEventAttributes(a) => {
                let summary = text(event.user_metadata.as_ref().and_then(|m| m.summary.as_ref())).unwrap_or_else(|| format!("timer {}", a.timer_id));
                by_timer.insert(a.timer_id.clone(), rows.len());
                rows.push(Row { what: summary, kind: "timer", start: at, end: None, attempts: None, outcome: "running".into() });
            }
            Attributes::TimerFiredEventAttributes(a) => {
                if let Some(row) = by_timer.get(&a.timer_id).and_then(|i| rows.get_mut(*i)) {
                    row.end = Some(at);
                    row.outcome = "fired".into();
                }
            }
            Attributes::TimerCanceledEventAttributes(a) => {
                if let Some(row) = by_timer.get(&a.timer_id).and_then(|i| rows.get_mut(*i)) {
                    row.end = Some(at);
                    row.outcome = "cancelled".into();
                }
            }
            // A local activity leaves one marker when it ends, with its id, attempts and times.
            Attributes::MarkerRecordedEventAttributes(a) if a.marker_name == "core_local_activity" => {
                let data: Option<Value> = a.details.get("data").and_then(|p| p.payloads.first()).and_then(|p| serde_json::from_slice(&p.data).ok());
                let Some(data) = data else { continue };
                let time =
                    |key: &str| data.get(key).and_then(|t| Some(t.get("seconds")?.as_f64()? + t.get("nanos").and_then(Value::as_f64).unwrap_or(0.0) / 1e9)).map(|t| t - origin);
                let outcome = a.failure.as_ref().map_or_else(|| "completed".to_string(), |f| format!("failed: {}", f.message));
                rows.push(Row {
                    what: data.get("activity_id").and_then(Value::as_str).unwrap_or_default().to_string(),
                    kind: "local activity",
                    // Times the worker took; its first attempt's start is the earlier of them.
                    start: [time("original_schedule_time"), time("complete_time")].into_iter().flatten().fold(at, f64::min),
                    end: Some(time("complete_time").unwrap_or(at)),
                    attempts: data.get("attempt").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()),
                    outcome,
                });
            }
            Attributes::WorkflowExecutionSignaledEventAttributes(a) => {
                rows.push(Row { what: a.signal_name.clone(), kind: "signal", start: at, end: Some(at), attempts: None, outcome: "received".into() });
            }
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => {
                by_event.insert(event.event_id, rows.len());
                rows.push(Row { what: a.workflow_id.clone(), kind: "child", start: at, end: None, attempts: None, outcome: "running".into() });
            }
            Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => finish(a.initiated_event_id, "completed".into(), None),
            Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => {
                let message = a.failure.as_ref().map_or_else(String::new, |f| f.message.clone());
                finish(a.initiated_event_id, format!("failed: {message}"), None);
            }
            Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a) => finish(a.initiated_event_id, "timed out".into(), None),
            Attributes::ChildWorkflowExecutionCanceledEventAttributes(a) => finish(a.initiated_event_id, "cancelled".into(), None),
            _ => {}
        }
    }
    rows
}

/// The rows as an aligned table.
pub fn render(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.what.chars().count()).max().unwrap_or(4).max(4);
    let kinds = rows.iter().map(|r| r.kind.len()).max().unwrap_or(4).max(8);
    let mut out = format!("{:<width$}  {:<kinds$}  {:>8}  {:>8}  {:>9}  {:>8}  outcome\n", "node", "kind", "start", "end", "duration", "attempts");
    for row in rows {
        let end = row.end.map_or("-".to_string(), |e| format!("{e:.2}s"));
        let duration = row.end.map_or("-".to_string(), |e| format!("{:.2}s", e - row.start));
        let attempts = row.attempts.map_or("-".to_string(), |a| a.to_string());
        out.push_str(&format!("{:<width$}  {:<kinds$}  {:>7.2}s  {:>8}  {:>9}  {:>8}  {}\n", row.what, row.kind, row.start, end, duration, attempts, row.outcome));
    }
    out
}

pub(crate) async fn print(id: &str) -> anyhow::Result<ExitCode> {
    let client = super::connect().await?;
    let handle = client.get_workflow_handle::<temporalio_client::UntypedWorkflow>(id);
    let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.map_err(|e| anyhow!("cannot read the history of `{id}`: {e}"))?;
    print!("{}", render(&rows(&events)));
    Ok(ExitCode::SUCCESS)
}

/// The node each event belongs to, by event id: activities (`node` or `node#iteration`),
/// timers (their summary starts with the node id), child workflows (`<workflow id>/<node>`) and
/// the events that finish them. Events of in-workflow nodes and signals belong to none.
pub fn nodes(events: &[HistoryEvent]) -> BTreeMap<i64, String> {
    let node = |label: &str| label.split(['#', ' ']).next().unwrap_or_default().to_string();
    let mut by_event = BTreeMap::new();
    let mut by_timer = BTreeMap::new();
    for event in events {
        let Some(attributes) = &event.attributes else { continue };
        let owner = match attributes {
            Attributes::ActivityTaskScheduledEventAttributes(a) => Some(node(&a.activity_id)),
            Attributes::TimerStartedEventAttributes(a) => {
                let summary = text(event.user_metadata.as_ref().and_then(|m| m.summary.as_ref()));
                let owner = summary.map(|s| node(&s));
                if let Some(owner) = &owner {
                    by_timer.insert(a.timer_id.clone(), owner.clone());
                }
                owner
            }
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => a.workflow_id.rsplit_once('/').map(|(_, n)| node(n)),
            Attributes::TimerFiredEventAttributes(a) => by_timer.get(&a.timer_id).cloned(),
            Attributes::TimerCanceledEventAttributes(a) => by_timer.get(&a.timer_id).cloned(),
            Attributes::ActivityTaskStartedEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ActivityTaskCompletedEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ActivityTaskFailedEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ActivityTaskTimedOutEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ActivityTaskCanceledEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ActivityTaskCancelRequestedEventAttributes(a) => by_event.get(&a.scheduled_event_id).cloned(),
            Attributes::ChildWorkflowExecutionStartedEventAttributes(a) => by_event.get(&a.initiated_event_id).cloned(),
            Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => by_event.get(&a.initiated_event_id).cloned(),
            Attributes::ChildWorkflowExecutionFailedEventAttributes(a) => by_event.get(&a.initiated_event_id).cloned(),
            Attributes::ChildWorkflowExecutionTimedOutEventAttributes(a) => by_event.get(&a.initiated_event_id).cloned(),
            Attributes::ChildWorkflowExecutionCanceledEventAttributes(a) => by_event.get(&a.initiated_event_id).cloned(),
            _ => None,
        };
        if let Some(owner) = owner {
            by_event.insert(event.event_id, owner);
        }
    }
    by_event
}
