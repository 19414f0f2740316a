//! `watch ID`: follow a run until it ends, one line per node as it starts, completes, fails, is
//! skipped or starts waiting (with the exact `signal` command that answers it), and per failed
//! attempt of an activity being retried; then print its result as JSON on stdout. The lines come
//! from the run's [`Report`] (its history replayed), so they are in the order the workflow ran
//! them, with workflow-time durations. On a terminal, running nodes also show as live spinners
//! (`indicatif`); elsewhere (CI, a pipe) the output is plain lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;
use temporalio_client::{UntypedWorkflow, WorkflowGetResultOptions};

use super::cli::Worker;
use super::report::Report;
use crate::workflow::journal::What;

/// How often the history is read.
const EVERY: Duration = Duration::from_millis(200);

pub(crate) async fn watch(spec: &Worker, id: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let client = super::connect().await?;
    let mut screen = Screen::new();
    let mut shown = 0;
    let mut attempts: BTreeMap<String, u32> = BTreeMap::new();
    let mut last: Option<(usize, Report)> = None;
    loop {
        let events = super::report::history(&client, id).await?;
        match &mut last {
            // Nothing new in the history: only attempts of activities being retried can change.
            Some((length, report)) if *length == events.len() => {
                if report.nodes.values().any(|n| n.state == "running" && n.input.is_some()) {
                    super::report::pending(&client, id, &mut report.nodes).await;
                }
            }
            _ => {
                let report = super::report::report(spec, &client, id, &events).await?;
                for entry in report.entries.iter().skip(shown) {
                    screen.entry(spec, id, &report, entry);
                }
                shown = report.entries.len();
                last = Some((events.len(), report));
            }
        }
        let Some((_, report)) = &last else { continue };
        retries(report, &mut attempts, &mut screen);
        if report.state != "running" {
            screen.clear();
            if let Some(problem) = &report.problem {
                eprintln!("warning: {problem}");
            }
            let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
            let result = handle.get_result(WorkflowGetResultOptions::default()).await;
            if dry_run && let Ok(output) = &result {
                let output = output.payloads.first().and_then(|p| serde_json::from_slice::<Value>(&p.data).ok()).unwrap_or(Value::Null);
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "output": output, "wouldSend": super::report::would_send(report) }))?);
                return Ok(ExitCode::SUCCESS);
            }
            return super::cli::print_result(result);
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// A line per new failed attempt of an activity still retrying.
fn retries(report: &Report, shown: &mut BTreeMap<String, u32>, screen: &mut Screen) {
    for (node, state) in &report.nodes {
        match (state.state, state.attempts) {
            ("running", Some(attempt)) if attempt > 1 && shown.get(node) != Some(&attempt) => {
                let cause = state.last_failure.as_deref().unwrap_or("failed");
                screen.line(&format!("↻ {node} attempt {} failed: {cause}; attempt {attempt} is next", attempt - 1));
                screen.note(node, &format!("attempt {attempt}"));
                shown.insert(node.clone(), attempt);
            }
            ("running", _) => {}
            _ => {
                shown.remove(node);
            }
        }
    }
}

/// Where progress goes: spinners and lines on a terminal, lines elsewhere.
struct Screen {
    bars: Option<(MultiProgress, BTreeMap<String, ProgressBar>)>,
}

impl Screen {
    fn new() -> Screen {
        Screen { bars: std::io::stderr().is_terminal().then(|| (MultiProgress::new(), BTreeMap::new())) }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn entry(&mut self, spec: &Worker, id: &str, report: &Report, entry: &crate::workflow::journal::Entry) {
        let node = entry.node.as_str();
        let took = || {
            let state = report.nodes.get(node);
            let duration = state.and_then(|s| s.started.zip(s.ended)).map(|(s, e)| format!("{:.1}s", e - s));
            let attempts = state.and_then(|s| s.attempts).filter(|a| *a > 1).map(|a| format!("{a} attempts"));
            let parts: Vec<String> = duration.into_iter().chain(attempts).collect();
            if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
        };
        match &entry.what {
            What::Started { kind } => {
                self.line(&format!("▶ {node}"));
                self.spin(node, kind);
            }
            What::Input { .. } | What::Signal { .. } => {}
            What::Recorded { kind, .. } => self.line(&format!("⇢ {node}: {kind} recorded, not sent (dry run)")),
            What::Waiting { signal } => {
                self.line(&format!("⏸ {node} waits for `{signal}`: {}", answer(spec, id, signal)));
                self.note(node, &format!("waits for `{signal}`"));
            }
            What::Completed { .. } => {
                self.stop(node);
                self.line(&format!("✔ {node}{}", took()));
            }
            What::Failed { error } => {
                self.stop(node);
                self.line(&format!("✘ {node}{}: {error}", took()));
            }
            What::Skipped => {
                self.stop(node);
                self.line(&format!("- {node} skipped"));
            }
            What::Log { level, message } => self.line(&format!("{:<5} {node}: {message}", level.to_uppercase())),
        }
    }

    fn spin(&mut self, node: &str, kind: &str) {
        let Some((multi, bars)) = &mut self.bars else { return };
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_prefix(format!("{node} ({kind})"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bars.insert(node.to_string(), bar);
    }

    fn note(&self, node: &str, text: &str) {
        if let Some(bar) = self.bars.as_ref().and_then(|(_, bars)| bars.get(node)) {
            bar.set_message(text.to_string());
        }
    }

    fn stop(&mut self, node: &str) {
        if let Some((multi, bars)) = &mut self.bars
            && let Some(bar) = bars.remove(node)
        {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
    }

    fn clear(&mut self) {
        if let Some((multi, bars)) = &mut self.bars {
            for (_, bar) in std::mem::take(bars) {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
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
