//! `Cx`: what generated node functions call. Each method implements one node's action; which
//! nodes run, in what order and on which branch is decided by the generated code.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, TimerOptions, TimerResult, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult, WorkflowTermination,
};

use crate::activities::BuiltinInput;
use crate::flow::{ActivityPolicy, Failure, FlowSettings, FlowState, Level, NodeInfo, NodeResult, Template};
use crate::secrets;

/// Implemented by every generated workflow struct: where its flow state lives.
pub trait Flow: Sized + 'static {
    fn flow(&self) -> &FlowState;
    fn flow_mut(&mut self) -> &mut FlowState;
}

/// The workflow context of a running flow plus the cancellation scope of the current region.
pub struct Cx<'a, W: Flow> {
    ctx: &'a WorkflowContext<W>,
    scope: WorkflowCancellationToken,
}

/// A node body's result that becomes its output.
pub trait IntoOutput {
    fn into_output(self) -> Value;
}

impl IntoOutput for () {
    fn into_output(self) -> Value {
        Value::Null
    }
}

impl IntoOutput for Value {
    fn into_output(self) -> Value {
        self
    }
}

impl<'a, W: Flow> Cx<'a, W> {
    /// Records the run's input and identity in the flow state.
    pub fn start(ctx: &'a WorkflowContext<W>, name: &str, input: &impl Serialize, settings: FlowSettings) -> Result<Self, WorkflowTermination> {
        let input = serde_json::to_value(input).map_err(|e| terminate(&Failure::new(format!("the input is not JSON: {e}"))))?;
        let (workflow_id, run_id) = (ctx.workflow_id().to_string(), ctx.run_id().to_string());
        ctx.state_mut(|w| w.flow_mut().start(name, &workflow_id, &run_id, input, settings));
        Ok(Cx { ctx, scope: ctx.cancellation_token() })
    }

    /// A region with its own cancellation scope, inside this one: for parallel branches.
    pub fn fork(&self) -> Self {
        Cx { ctx: self.ctx, scope: self.scope.child_token() }
    }

    /// Runs a branch; when it fails, cancels the rest of this scope (a strict parallel's siblings).
    pub async fn guard(&self, branch: impl Future<Output = NodeResult>) -> NodeResult {
        let result = branch.await;
        if let Err(failure) = &result
            && !failure.cancelled
        {
            self.scope.cancel();
        }
        result
    }

    /// Runs one node: marks it running, runs its body, and records its output or failure.
    pub async fn node<T: IntoOutput>(&self, node: &NodeInfo, body: impl Future<Output = Result<T, Failure>>) -> NodeResult {
        if self.scope.is_cancelled() {
            self.ctx.state_mut(|w| w.flow_mut().skip(&[node.id]));
            return Err(Failure::cancelled("cancelled before it started").at(node));
        }
        self.ctx.state_mut(|w| w.flow_mut().enter(node));
        let result = body.await.map(IntoOutput::into_output);
        self.ctx.state_mut(|w| w.flow_mut().exit(node, result))
    }

    /// Marks nodes that will not run, e.g. the branch a `Conditional` did not take.
    pub fn skip(&self, ids: &[&str]) {
        self.ctx.state_mut(|w| w.flow_mut().skip(ids));
    }

    fn render(&self, template: Template) -> Result<Value, Failure> {
        self.ctx.state(|w| template.render(w.flow()))
    }

    /// Evaluates a condition against the flow state.
    pub fn condition(&self, source: &str) -> Result<bool, Failure> {
        self.ctx.state(|w| wfc_expr::eval_bool(source, w.flow())).map_err(Failure::from)
    }

    /// `CheckCondition`: succeeds when the condition holds, fails otherwise.
    pub fn check(&self, source: &str) -> Result<(), Failure> {
        if self.condition(source)? { Ok(()) } else { Err(Failure::new(format!("condition `{source}` is false"))) }
    }

    /// `Fail`: fails with the rendered message.
    pub fn fail(&self, message: Template) -> Result<(), Failure> {
        Err(Failure::new(wfc_expr::interpolate(&self.render(message)?)))
    }

    /// `Log`: writes the rendered message to the worker's log (not again on replay); the output is
    /// `{message}`, also stored in the variable `output_key` when given.
    pub fn log(&self, level: Level, message: Template, output_key: Option<&str>) -> Result<Value, Failure> {
        let text = wfc_expr::interpolate(&self.render(message)?);
        if !self.ctx.is_replaying() {
            let workflow = self.ctx.workflow_id();
            match level {
                Level::Debug => tracing::debug!(target: "wfc::flow", workflow, "{text}"),
                Level::Info => tracing::info!(target: "wfc::flow", workflow, "{text}"),
                Level::Warn => tracing::warn!(target: "wfc::flow", workflow, "{text}"),
                Level::Error => tracing::error!(target: "wfc::flow", workflow, "{text}"),
            }
        }
        if let Some(key) = output_key {
            self.ctx.state_mut(|w| w.flow_mut().set_variable(key, Value::String(text.clone())));
        }
        Ok(json!({ "message": text }))
    }

    /// `SetVariable`: the output is the value.
    pub fn set_variable(&self, name: &str, value: Template) -> Result<Value, Failure> {
        let value = self.render(value)?;
        self.ctx.state_mut(|w| w.flow_mut().set_variable(name, value.clone()));
        Ok(value)
    }

    /// `Script`: each line's value is a variable (visible to the next lines) and part of the output.
    pub fn script(&self, lines: &[(&str, &str)]) -> Result<Value, Failure> {
        let mut output = Map::new();
        for (name, source) in lines {
            let value = self.ctx.state(|w| wfc_expr::eval(source, w.flow()))?;
            self.ctx.state_mut(|w| w.flow_mut().set_variable(name, value.clone()));
            output.insert((*name).to_string(), value);
        }
        Ok(Value::Object(output))
    }

    /// `Delay`: a durable timer in this scope.
    pub async fn sleep(&self, duration: Duration) -> Result<(), Failure> {
        let options = TimerOptions::builder(duration).cancellation_token(self.scope.clone()).build();
        match self.ctx.timer(options).await {
            TimerResult::Fired => Ok(()),
            TimerResult::Cancelled => Err(Failure::cancelled("the timer was cancelled")),
        }
    }

    /// A built-in activity on this worker: the configuration is rendered here, except its `env`
    /// parts, which the activity resolves.
    pub async fn builtin<AD>(&self, node: &NodeInfo, activity: AD, config: Template, policy: &ActivityPolicy) -> Result<Value, Failure>
    where
        AD: ActivityDefinition<Input = BuiltinInput, Output = Value>,
    {
        let template = config.value()?;
        let (config, secrets) = self.ctx.state(|w| secrets::render_deferring(&template, w.flow()))?;
        let input = BuiltinInput {
            node: node.id.to_string(),
            idempotency_key: format!("{}/{}", self.ctx.workflow_id(), node.id),
            config,
            secrets,
        };
        let options = self.options(node, policy, None);
        self.ctx.execute_activity(activity, input, options).await.map_err(activity_failure)
    }

    /// An activity served by another worker, called with its typed input on `task_queue`.
    pub async fn remote<AD>(&self, node: &NodeInfo, activity: AD, task_queue: &str, input: Template, policy: &ActivityPolicy) -> Result<Value, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let name = activity.name().to_string();
        let value = self.render(input)?;
        let input: AD::Input = serde_path_to_error::deserialize(value)
            .map_err(|e| Failure::new(format!("the input does not fit activity `{name}`: at `{}`: {}", e.path(), e.inner())))?;
        let options = self.options(node, policy, Some(task_queue));
        let output = self.ctx.execute_activity(activity, input, options).await.map_err(activity_failure)?;
        serde_json::to_value(output).map_err(|e| Failure::new(format!("the output of `{name}` is not JSON: {e}")))
    }

    fn options(&self, node: &NodeInfo, policy: &ActivityPolicy, task_queue: Option<&str>) -> ActivityOptions {
        let retry = RetryPolicy::builder()
            .initial_interval(Duration::from_millis(policy.initial_interval_ms))
            .backoff_coefficient(policy.backoff)
            .maximum_interval(Duration::from_millis(policy.max_interval_ms))
            .maximum_attempts(policy.max_attempts)
            .build();
        let mut options = ActivityOptions::with_start_to_close_timeout(Duration::from_millis(policy.timeout_ms))
            .activity_id(node.id.to_string())
            .retry_policy(retry)
            .cancellation_token(self.scope.clone())
            .summary(format!("{} ({})", node.id, node.kind))
            .build();
        options.task_queue = task_queue.map(str::to_string);
        options
    }

    /// Ends the run: a failure fails the workflow; otherwise `output` is rendered into the typed
    /// output.
    pub fn finish<O: DeserializeOwned>(&self, result: NodeResult, output: Template) -> WorkflowResult<O> {
        let value = result.and_then(|()| self.render(output).map_err(|f| Failure { node: Some("output".into()), ..f }));
        self.finish_value(value)
    }

    /// Ends the run of a flow without `output`: the result is every node's output by id.
    pub fn finish_with_outputs<O: DeserializeOwned>(&self, result: NodeResult) -> WorkflowResult<O> {
        let value = result.map(|()| self.ctx.state(|w| w.flow().outputs()));
        self.finish_value(value)
    }

    fn finish_value<O: DeserializeOwned>(&self, value: Result<Value, Failure>) -> WorkflowResult<O> {
        let typed = value.and_then(|v| {
            serde_path_to_error::deserialize(v)
                .map_err(|e| Failure::new(format!("the output does not fit `outputSchema`: at `{}`: {}", e.path(), e.inner())))
        });
        let failure = typed.as_ref().err().cloned();
        self.ctx.state_mut(|w| w.flow_mut().finish(failure));
        typed.map_err(|f| terminate(&f))
    }
}

/// The workflow failure for a node failure: non-retryable, typed `NodeFailed` (or `Cancelled`).
fn terminate(failure: &Failure) -> WorkflowTermination {
    let kind = if failure.cancelled { "Cancelled" } else { "NodeFailed" };
    ApplicationFailure::builder(failure.to_string()).type_name(kind.to_string()).non_retryable(true).build().into()
}

/// A node failure from an activity's failure, keeping the cause's message.
fn activity_failure(error: ActivityExecutionError) -> Failure {
    match &error {
        ActivityExecutionError::Cancelled(_) => Failure::cancelled("the activity was cancelled"),
        ActivityExecutionError::Failed(f) => {
            let cause = f.cause().map_or_else(|| error.to_string(), ToString::to_string);
            Failure::new(cause)
        }
        ActivityExecutionError::Serialization(e) => Failure::new(format!("the activity's payload could not be converted: {e}")),
        _ => Failure::new(error.to_string()),
    }
}

/// All branches of a strict parallel succeeded, or the first real failure (not a cancellation).
pub fn all_succeeded<const N: usize>(results: [NodeResult; N]) -> NodeResult {
    let mut cancelled = None;
    for result in results {
        match result {
            Ok(()) => {}
            Err(f) if f.cancelled => cancelled = cancelled.or(Some(f)),
            Err(f) => return Err(f),
        }
    }
    cancelled.map_or(Ok(()), Err)
}
