//! `SubTree`/`SubWorkflow`: a child workflow, started by name with a JSON input. Its failure is
//! the node's failure, routed like any other; cancelling the node's scope cancels the child.

use serde_json::Value;
use temporalio_common::WorkflowDefinition;
use temporalio_sdk::ChildWorkflowOptions;

use super::cx::{Cx, Flow};
use crate::values::{Failure, NodeInfo, Template};

/// A child workflow call, resolved at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFlow {
    /// The child's workflow type name.
    pub workflow: &'static str,
    pub task_queue: &'static str,
    /// When the child is another flow of the same `wfc build`: its input schema (JSON text).
    /// The input is checked against it before the child starts, so a mismatch fails here, with
    /// the field named, instead of inside the child.
    pub input_schema: Option<&'static str>,
}

/// Any workflow type by name, with JSON input and output.
struct ByName(&'static str);

impl WorkflowDefinition for ByName {
    type Input = Value;
    type Output = Value;

    fn name(&self) -> &str {
        self.0
    }
}

impl<W: Flow> Cx<'_, W> {
    /// Starts the child (workflow id `<parent id>/<node id and iteration>`) and waits for its
    /// result, which becomes the node's output.
    pub async fn child(&self, node: &NodeInfo, child: &ChildFlow, input: Template) -> Result<Value, Failure> {
        let input = self.render(input)?;
        self.start_child(node, child, input).await
    }

    /// A child workflow with its input computed: checked, started, awaited.
    pub(crate) async fn start_child(&self, node: &NodeInfo, child: &ChildFlow, input: Value) -> Result<Value, Failure> {
        if let Some(schema) = child.input_schema {
            crate::values::validate(schema, &input).map_err(|e| Failure::new(format!("invalid input for child workflow `{}`: {e}", child.workflow)))?;
        }
        self.note(node.id, || super::journal::What::Input { input: input.clone() });
        if let Some(answer) = self.ctx.state(|w| w.flow().dry_run().map(|dry| dry.elsewhere(node.id, &format!("child workflow `{}`", child.workflow)))) {
            return answer;
        }
        let id = format!("{}/{}", self.ctx.workflow_id(), self.activity_id(node));
        let options = ChildWorkflowOptions::builder().workflow_id(id).task_queue(child.task_queue.to_string()).cancellation_token(self.scope.clone()).build();
        let started = self.ctx.start_child_workflow(ByName(child.workflow), input, options).await.map_err(|e| {
            if self.scope.is_cancelled() {
                Failure::cancelled("cancelled before the child workflow started")
            } else {
                Failure::new(format!("cannot start child workflow `{}`: {e}", child.workflow))
            }
        })?;
        started.result().await.map_err(|e| {
            if self.scope.is_cancelled() {
                Failure::cancelled("the child workflow was cancelled")
            } else {
                Failure::new(format!("child workflow `{}` failed: {}", child.workflow, child_failure(&e)))
            }
        })
    }
}

/// The child's own failure: the messages of the causes under the SDK's "Child Workflow
/// execution failed".
fn child_failure(error: &temporalio_sdk::ChildWorkflowExecutionError) -> String {
    let Some(mut failure) = error.failure() else { return error.to_string() };
    let mut messages = Vec::new();
    while let Some(cause) = failure.cause.as_deref() {
        messages.push(cause.message.clone());
        failure = cause;
    }
    if messages.is_empty() { failure.message.clone() } else { messages.join(": ") }
}
