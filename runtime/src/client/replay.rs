//! The replay gate: `replay FILE`, `replay --dir DIR` (recorded histories) and `replay --open`
//! (every open run of the flow, fetched from the server) replay each history against this build.
//! A history that does not replay is a run this build would break: it is named with the node
//! where it diverges. CI runs this before `deploy`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use futures::StreamExt;
use temporalio_client::{Client, UntypedWorkflow, WorkflowFetchHistoryOptions, WorkflowHistory, WorkflowListOptions};
use temporalio_common::protos::temporal::api::history::v1::{History, HistoryEvent};
use temporalio_sdk::workflow_replayer::{WorkflowReplayError, WorkflowReplayer};

use super::cli::Worker;

/// Where the histories come from.
pub(crate) enum Source {
    File(PathBuf),
    Dir(PathBuf),
    Open,
}

/// One history to replay and what to call it in the report.
pub(crate) struct Recorded {
    pub(crate) label: String,
    pub(crate) events: Vec<HistoryEvent>,
}

/// Exit code of `replay` when a history does not replay: this build is incompatible.
const INCOMPATIBLE: u8 = 1;

pub(crate) async fn replay(spec: &Worker, source: Source) -> anyhow::Result<ExitCode> {
    let histories = match source {
        Source::File(file) => vec![read(&file).await?],
        Source::Dir(dir) => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            let mut histories = Vec::new();
            for file in files {
                histories.push(read(&file).await?);
            }
            histories
        }
        Source::Open => open(&super::connect().await?, spec.name).await?,
    };
    if histories.is_empty() {
        println!("ok: no history to replay");
        return Ok(ExitCode::SUCCESS);
    }
    let mut broken = 0;
    for history in &histories {
        match check(spec, &history.events).await? {
            None => println!("ok: {}", history.label),
            Some(divergence) => {
                broken += 1;
                println!("breaks: {}: {divergence}", history.label);
            }
        }
    }
    if broken == 0 {
        println!("this build of `{}` replays all {} histories", spec.name, histories.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("incompatible: this build of `{}` would break {broken} of {} runs", spec.name, histories.len());
        eprintln!("help: keep the old build serving them (a pinned flow does this by itself), or build this one with `wfc build NEW --previous OLD` so it patches the change");
        Ok(ExitCode::from(INCOMPATIBLE))
    }
}

/// `None` when this build replays `events`; otherwise where and why it diverges.
pub(crate) async fn check(spec: &Worker, events: &[HistoryEvent]) -> anyhow::Result<Option<String>> {
    match replay_events(spec, events).await? {
        Ok(()) => Ok(None),
        Err(WorkflowReplayError::Replay(failure)) => {
            let failure = failure.to_string();
            let reason = nondeterminism(&failure).unwrap_or(&failure);
            Ok(Some(match diverging_event(&failure) {
                Some(id) => match super::timeline::nodes(events).remove(&id) {
                    Some(node) => format!("diverges at node `{node}` (history event {id} is its work; this build does something else there): {reason}"),
                    None => format!("diverges at history event {id}: {reason}"),
                },
                None => format!("diverges: {reason}"),
            }))
        }
        Err(e) => Err(anyhow!("replay failed: {e}")),
    }
}

/// Runs this build's workflow code over `events`, as a worker would after losing its cache: the
/// outer error is a replayer that cannot start, the inner one a history that does not replay.
pub(crate) async fn replay_events(spec: &Worker, events: &[HistoryEvent]) -> anyhow::Result<Result<(), WorkflowReplayError>> {
    let replayer = WorkflowReplayer::new((spec.replayer)()?).map_err(|e| anyhow!("cannot create the replayer: {e}"))?;
    Ok(replayer.replay_workflow(WorkflowHistory::from(History { events: events.to_vec() })).await)
}

/// The core's own sentence (`[TMPRL1100] Nondeterminism error: …`) out of the failure's debug
/// text.
fn nondeterminism(failure: &str) -> Option<&str> {
    let start = failure.find("[TMPRL")?;
    let rest = &failure[start..];
    Some(rest.split_once("\", source").map_or(rest, |(message, _)| message))
}

/// The id of the history event a nondeterminism error names (`HistoryEvent(id: 5, …)`).
fn diverging_event(failure: &str) -> Option<i64> {
    let (_, rest) = failure.split_once("HistoryEvent(id: ")?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

async fn read(file: &Path) -> anyhow::Result<Recorded> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let history = WorkflowHistory::from_json(&bytes).map_err(|e| anyhow!("{} is not a history written by `history`: {e}", file.display()))?;
    let events = history.into_events().await.map_err(|e| anyhow!("{}: {e}", file.display()))?;
    Ok(Recorded { label: file.display().to_string(), events })
}

/// The histories of every open run of the workflow type `name`.
async fn open(client: &Client, name: &str) -> anyhow::Result<Vec<Recorded>> {
    let query = format!("WorkflowType = '{}' AND ExecutionStatus = 'Running'", name.replace('\'', "\\'"));
    let mut runs = client.list_workflows(query, WorkflowListOptions::default());
    let mut histories = Vec::new();
    while let Some(run) = runs.next().await {
        let run = run.map_err(|e| anyhow!("cannot list the open runs of `{name}`: {e}"))?;
        let handle = client.get_workflow_handle::<UntypedWorkflow>(run.id());
        let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.map_err(|e| anyhow!("cannot read the history of `{}`: {e}", run.id()))?;
        histories.push(Recorded { label: format!("run {}", run.id()), events });
    }
    histories.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(histories)
}
