//! `case`: one test case of `wfc test`, run by the flow's own binary. It starts a test run (mocked
//! nodes, compressed timers) on a task queue the caller's worker polls, sends each signal once
//! its node waits for it, waits for the end, and prints what the expectations are checked
//! against as one JSON object: `output` or `error`, and the `completed`, `failed` and `skipped`
//! nodes. Judging is the caller's (`wfc test`); this only runs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_client::{UntypedQuery, UntypedWorkflow, WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions};
use temporalio_common::data_converters::RawValue;

use super::cli::Worker;
use crate::workflow::mock::TestRun;
use crate::workflow::run::Run;
use crate::workflow::state::Status;

/// A signal a case sends once node `when` waits.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Step {
    pub when: String,
    pub signal: String,
    #[serde(default)]
    pub payload: Value,
}

/// How often the run's status is read while signals are still to be sent.
const EVERY: Duration = Duration::from_millis(50);

pub(crate) async fn case(spec: &Worker, id: &str, task_queue: &str, input: &str, test: TestRun, steps: Vec<Step>, limit: Duration) -> anyhow::Result<ExitCode> {
    let typed = (spec.input)(input).map_err(|e| anyhow!("{e}"))?;
    let client = super::connect().await?;
    let run = Run { test: Some(test), ..Run::from(typed) };
    let options = WorkflowStartOptions::new(task_queue.to_string(), id.to_string()).maybe_execution_timeout(Some(limit)).build();
    let payload = RawValue { payloads: vec![temporalio_common::protos::coresdk::AsJsonPayloadExt::as_json_payload(&serde_json::to_value(&run)?)?] };
    let handle = client.start_workflow(UntypedWorkflow::new(spec.name), payload, options).await.map_err(|e| anyhow!("cannot start the case: {e}"))?;
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    let mut pending = steps;
    let deadline = Instant::now() + limit;
    let outcome = loop {
        if pending.is_empty() {
            break (&mut result).await;
        }
        tokio::select! {
            outcome = &mut result => break outcome,
            () = tokio::time::sleep(EVERY) => {
                if Instant::now() > deadline {
                    return Err(anyhow!("the case did not end within {} s", limit.as_secs()));
                }
                let Some(status) = status(&handle).await else { continue };
                let waiting: Vec<&str> = status.waiting.iter().map(|w| w.node.as_str()).collect();
                if let Some(at) = pending.iter().position(|step| waiting.contains(&step.when.as_str())) {
                    let step = pending.remove(at);
                    if let Err(refused) = super::cli::deliver(spec, &client, id, &step.signal, &step.payload).await? {
                        return Err(anyhow!("the signal for `{}`: {refused}", step.when));
                    }
                }
            }
        }
    };
    let status = status(&handle).await;
    let (key, value) = match outcome {
        Ok(raw) => ("output", raw.payloads.first().and_then(|p| serde_json::from_slice::<Value>(&p.data).ok()).unwrap_or(Value::Null)),
        Err(e) => ("error", Value::String(e.to_string())),
    };
    let nodes = |pick: fn(&Status) -> &Vec<String>| status.as_ref().map_or_else(Vec::new, |s| pick(s).clone());
    let report = json!({
        key: value,
        "completed": nodes(|s| &s.completed),
        "failed": nodes(|s| &s.failed),
        "skipped": nodes(|s| &s.skipped),
        "unsent": pending.iter().map(|s| s.when.clone()).collect::<Vec<_>>(),
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

async fn status(handle: &temporalio_client::WorkflowHandle<temporalio_client::Client, UntypedWorkflow>) -> Option<Status> {
    let raw: RawValue = handle.query(UntypedQuery::<UntypedWorkflow>::new("status"), RawValue { payloads: Vec::new() }, WorkflowQueryOptions::default()).await.ok()?;
    serde_json::from_slice(&raw.payloads.first()?.data).ok()
}
