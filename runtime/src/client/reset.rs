//! `reset ID --node NODE`: retry a run from a node on this build, not from the start. The run is
//! reset (Temporal's reset) to the workflow task that first started NODE: everything before it
//! is kept from the history and not executed again; NODE and what follows run on the build that
//! serves the run now. Refused when this build does not replay the kept prefix.

use std::process::ExitCode;

use anyhow::anyhow;
use temporalio_client::tonic::Request;
use temporalio_client::{NamespacedClient, UntypedWorkflow, WorkflowFetchHistoryOptions};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;

use super::cli::Worker;

/// Exit code when the reset is refused.
const REFUSED: u8 = 1;

pub(crate) async fn reset(spec: &Worker, id: &str, node: &str) -> anyhow::Result<ExitCode> {
    let client = super::connect().await?;
    let handle = client.get_workflow_handle::<UntypedWorkflow>(id);
    let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.map_err(|e| anyhow!("cannot read the history of `{id}`: {e}"))?;
    let Some(task) = first_task_of(&events, node) else {
        eprintln!("error: no activity, timer or child workflow of node `{node}` is in the history of `{id}`: the node runs inside the workflow, or the run never reached it");
        eprintln!("help: name a node of `{}` that calls out (an HTTP, activity, delay or sub-workflow node) at or before the one to retry", spec.name);
        return Ok(ExitCode::from(REFUSED));
    };
    // The kept prefix ends with the workflow task's start: this build must replay it exactly.
    let kept: Vec<HistoryEvent> = events.iter().filter(|e| e.event_id < task).cloned().collect();
    if let Some(divergence) = super::replay::check(spec, &kept).await? {
        eprintln!("refused: this build does not replay the part of `{id}` that the reset keeps: {divergence}");
        eprintln!("help: reset with the build that started the run, or to an earlier node");
        return Ok(ExitCode::from(REFUSED));
    }
    let request = ResetWorkflowExecutionRequest {
        namespace: client.options().namespace.clone(),
        workflow_execution: Some(WorkflowExecution { workflow_id: id.to_string(), run_id: String::new() }),
        reason: format!("wfc reset --node {node}"),
        workflow_task_finish_event_id: task,
        request_id: uuid::Uuid::new_v4().to_string(),
        identity: client.identity(),
        ..Default::default()
    };
    let response = client.connection().workflow_service().reset_workflow_execution(Request::new(request)).await.map_err(|s| anyhow!("cannot reset `{id}`: {}", s.message()))?;
    println!("reset `{id}` to before node `{node}` (event {task}); new run {}", response.into_inner().run_id);
    Ok(ExitCode::SUCCESS)
}

/// The `WorkflowTaskCompleted` event of the task that issued NODE's first command.
fn first_task_of(events: &[HistoryEvent], node: &str) -> Option<i64> {
    let owners = super::timeline::nodes(events);
    events.iter().find_map(|event| {
        let task = match event.attributes.as_ref()? {
            Attributes::ActivityTaskScheduledEventAttributes(a) => a.workflow_task_completed_event_id,
            Attributes::TimerStartedEventAttributes(a) => a.workflow_task_completed_event_id,
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => a.workflow_task_completed_event_id,
            _ => return None,
        };
        (owners.get(&event.event_id)? == node).then_some(task)
    })
}
