//! `Cx`: what generated node functions call. Each method implements one node's action; which
//! nodes run, in what order and on which branch is decided by the generated code.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, LocalActivityOptions, TimerOptions, TimerResult, WorkflowCancellationToken, WorkflowContext, WorkflowResult,
    WorkflowTermination,
};

use super::journal::{self, What};
use super::run::Run;
use super::secrets;
use crate::values::{ActivityPolicy, Failure, FlowSettings, Level, NodeInfo, NodeResult, Template};
use crate::values::{BuiltinInput, HEARTBEAT_TIMEOUT};
use crate::workflow::state::{FlowState, Frame, Resume, View};

/// Implemented by every generated workflow struct: where its flow state lives.
pub trait Flow: Sized + 'static {
    fn flow(&self) -> &FlowState;
    fn flow_mut(&mut self) -> &mut FlowState;
}

/// The workflow context of a running flow, the cancellation scope of the current region, and
/// the names the current frame binds (loop, parallel branch, error handler).
pub struct Cx<'a, W: Flow> {
    pub(crate) ctx: &'a WorkflowContext<W>,
    pub(crate) scope: WorkflowCancellationToken,
    pub(crate) frame: Rc<Frame>,
    /// Set when a loop decided to continue as new: the run unwinds and `run` hands it over.
    pub(crate) resume: Rc<RefCell<Option<Resume>>>,
    /// The data a Serverless Workflow task hands to the next; shared along a branch, copied
    /// for each parallel branch.
    #[cfg(feature = "jq")]
    pub(crate) data: Rc<RefCell<super::dsl::Data>>,
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
    /// Records the run's input and identity in the flow state; a continued run restores what
    /// the previous run carried.
    pub fn start<I: Serialize>(ctx: &'a WorkflowContext<W>, name: &str, run: &Run<I>, settings: FlowSettings) -> Result<Self, WorkflowTermination> {
        let typed = run.input.as_ref().map_err(|invalid| terminate(&Failure::new(invalid.to_string())))?;
        let input = serde_json::to_value(typed).map_err(|e| terminate(&Failure::new(format!("the input is not JSON: {e}"))))?;
        let (workflow_id, run_id) = (ctx.workflow_id().to_string(), ctx.run_id().to_string());
        ctx.state_mut(|w| {
            let flow = w.flow_mut();
            flow.start(name, &workflow_id, &run_id, input, settings);
            flow.set_dry_run(run.dry_run.clone());
            flow.set_test_run(run.test.clone());
            if let Some(resume) = &run.resume {
                flow.restore(resume.clone());
            }
        });
        Ok(Cx {
            ctx,
            scope: ctx.cancellation_token(),
            frame: Rc::new(Frame::default()),
            resume: Rc::default(),
            #[cfg(feature = "jq")]
            data: Rc::default(),
        })
    }

    fn with(&self, scope: WorkflowCancellationToken, frame: Rc<Frame>) -> Self {
        Cx {
            ctx: self.ctx,
            scope,
            frame,
            resume: self.resume.clone(),
            #[cfg(feature = "jq")]
            data: self.data.clone(),
        }
    }

    /// A parallel branch: a fork with its own copy of the data, which it hands on alone.
    pub(crate) fn own_branch(&self) -> Self {
        #[cfg_attr(not(feature = "jq"), allow(unused_mut))]
        let mut cx = self.fork();
        #[cfg(feature = "jq")]
        {
            cx.data = Rc::new(RefCell::new(self.data.borrow().clone()));
        }
        cx
    }

    /// A region with its own cancellation scope inside this one (parallel branches, a
    /// `Timeout`'s subtree): cancelling it cancels every activity and timer started inside.
    pub fn fork(&self) -> Self {
        self.with(self.scope.child_token(), self.frame.clone())
    }

    /// A frame binding `names` inside this one; `step` makes it an iteration or branch.
    pub(crate) fn frame(&self, names: BTreeMap<String, Value>, step: Option<u64>) -> Self {
        self.with(self.scope.clone(), Frame::child(&self.frame, names, step))
    }

    /// An error handler's context: `error.message`, `error.type` and `error.node` in scope.
    pub fn with_error(&self, failure: &Failure) -> Self {
        let error = json!({
            "message": failure.message,
            "type": failure.node_type.clone().unwrap_or_default(),
            "node": failure.node.clone().unwrap_or_default(),
        });
        self.frame(BTreeMap::from([("error".to_string(), error)]), None)
    }

    /// Cancels everything started in this scope.
    pub fn cancel(&self) {
        self.scope.cancel();
    }

    /// Runs one node: marks it running, runs its body, and records its output or failure. A
    /// node the previous run of a continued workflow finished answers with that result.
    pub async fn node<T: IntoOutput>(&self, node: &NodeInfo, body: impl Future<Output = Result<T, Failure>>) -> NodeResult {
        // Asked first, at the same point on every run: a run replaying history without the
        // marker takes the old side, every other run the new one and records the marker. The
        // marker is recorded as deprecated (in SDK 1.1.1 `deprecate_patch` answers exactly as
        // `patched` does), so a later build without the patch still replays the runs that took
        // the new side: Temporal skips a deprecated marker no code asks about.
        if let Some((patch, when_patched)) = node.patch
            && self.ctx.deprecate_patch(patch) != when_patched
        {
            self.ctx.state_mut(|w| w.flow_mut().skip(&[node.id]));
            self.note(node.id, || What::Skipped);
            return Ok(Value::Null);
        }
        if let Some(result) = self.ctx.state_mut(|w| w.flow_mut().recall(node.id)) {
            if let Ok(output) = &result {
                self.frame.record(node.id, output);
            }
            return result;
        }
        if self.scope.is_cancelled() || self.hold(node).await.is_err() {
            self.ctx.state_mut(|w| w.flow_mut().skip(&[node.id]));
            self.note(node.id, || What::Skipped);
            return Err(Failure::cancelled("cancelled before it started").at(node));
        }
        self.ctx.state_mut(|w| w.flow_mut().enter(node));
        self.note(node.id, || What::Started { kind: node.kind.to_string() });
        let started = self.ctx.workflow_time();
        // A node a test mocks answers without running: its body (a future, so nothing of it has
        // run) is dropped, and its configuration is never rendered.
        let answer = if node.data_flow { None } else { self.mocked(node) };
        let result = match answer {
            Some(answer) => answer,
            None => body.await.map(IntoOutput::into_output),
        };
        let result = self.ctx.state_mut(|w| w.flow_mut().exit(node, result));
        self.note(node.id, || match &result {
            Ok(output) => What::Completed { output: output.clone() },
            Err(failure) if failure.cancelled => What::Skipped,
            Err(failure) => What::Failed { error: failure.message.clone() },
        });
        if !self.ctx.is_replaying() {
            let took = self.ctx.workflow_time().zip(started).and_then(|(end, start)| end.duration_since(start).ok()).unwrap_or_default();
            self.ctx.state(|w| super::metrics::node_finished(w.flow().name(), node.id, result.is_ok(), took));
        }
        if let Ok(output) = &result
            && node.keep
        {
            self.frame.record(node.id, output);
        }
        result
    }

    /// What a test answers for `node` instead of running it, if the test mocks it.
    pub(crate) fn mocked(&self, node: &NodeInfo) -> Option<NodeResult> {
        self.ctx.state(|w| w.flow().test_run().and_then(|t| t.answer(node.id)))
    }

    /// A timer's duration in this run: as written, or compressed in a test run.
    pub(crate) fn timer_duration(&self, duration: Duration) -> Duration {
        self.ctx.state(|w| w.flow().test_run().map_or(duration, |test| test.scale(duration)))
    }

    /// The deadline of `node`'s wait in this run: as written, or compressed in a test run
    /// unless the test answers the wait with a signal.
    pub(crate) fn wait_deadline(&self, node: &str, duration: Duration) -> Duration {
        self.ctx.state(|w| w.flow().test_run().map_or(duration, |test| test.deadline(node, duration)))
    }

    /// Marks nodes that will not run, e.g. the branch a `Conditional` did not take.
    /// Marks the nodes of branches not taken as skipped: spans of the flow's node list.
    pub fn skip(&self, spans: &[crate::values::NodeSpan]) {
        let skipped = self.ctx.state_mut(|w| w.flow_mut().skip_spans(spans));
        for id in skipped {
            self.note(id, || What::Skipped);
        }
    }

    /// Writes to the journal, which only `logs` and `ui` keep (while they replay a history).
    pub(crate) fn note(&self, node: &str, what: impl FnOnce() -> What) {
        if journal::on() {
            journal::record(self.ctx.workflow_time(), node, what());
        }
    }

    pub(crate) fn render(&self, template: Template) -> Result<Value, Failure> {
        self.ctx.state(|w| template.render(&View { flow: w.flow(), frame: &self.frame }))
    }

    /// Evaluates an expression against the flow state and this frame.
    pub fn eval(&self, source: &str) -> Result<Value, Failure> {
        self.ctx.state(|w| wfc_expr::eval(source, &View { flow: w.flow(), frame: &self.frame })).map_err(Failure::from)
    }

    /// Evaluates a condition against the flow state and this frame.
    pub fn condition(&self, source: &str) -> Result<bool, Failure> {
        self.ctx.state(|w| wfc_expr::eval_bool(source, &View { flow: w.flow(), frame: &self.frame })).map_err(Failure::from)
    }

    /// A `Conditional`'s choice: recorded, so a continued run takes the same branch.
    pub fn choose(&self, node: &NodeInfo, source: &str) -> Result<bool, Failure> {
        let taken = if self.condition(source)? { "then" } else { "else" };
        Ok(self.ctx.state_mut(|w| w.flow_mut().decide(node.id, taken.to_string())) == "then")
    }

    /// A `Switch`'s subject as a case label: a string as is, anything else as JSON text.
    pub fn switch(&self, node: &NodeInfo, source: &str) -> Result<String, Failure> {
        let label = case_label(self.eval(source)?);
        Ok(self.ctx.state_mut(|w| w.flow_mut().decide(node.id, label)))
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
    pub fn log(&self, node: &NodeInfo, level: Level, message: Template, output_key: Option<&str>) -> Result<Value, Failure> {
        let text = wfc_expr::interpolate(&self.render(message)?);
        // A replay for `logs` or `ui` sees the last workflow task as new: the journal has the line.
        if !self.ctx.is_replaying() && !journal::on() {
            let workflow = self.ctx.workflow_id();
            match level {
                Level::Debug => tracing::debug!(target: "wfc::flow", workflow, "{text}"),
                Level::Info => tracing::info!(target: "wfc::flow", workflow, "{text}"),
                Level::Warn => tracing::warn!(target: "wfc::flow", workflow, "{text}"),
                Level::Error => tracing::error!(target: "wfc::flow", workflow, "{text}"),
            }
        }
        self.note(node.id, || What::Log { level: journal::level(level), message: text.clone() });
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
            let value = self.eval(source)?;
            self.ctx.state_mut(|w| w.flow_mut().set_variable(name, value.clone()));
            output.insert((*name).to_string(), value);
        }
        Ok(Value::Object(output))
    }

    /// `Delay`: a durable timer in this scope.
    pub async fn sleep(&self, node: &NodeInfo, duration: Duration) -> Result<(), Failure> {
        let options = TimerOptions::builder(self.timer_duration(duration)).cancellation_token(self.scope.clone()).summary(format!("{} delay", node.id)).build();
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
        let rendered = self.ctx.state(|w| secrets::render_deferring(config, &View { flow: w.flow(), frame: &self.frame }));
        let (config, secrets) = rendered?;
        self.send_builtin(node, activity, config, secrets, policy).await
    }

    /// A built-in activity with a configuration workflow code already computed, secrets
    /// deferred to the activity as `secrets` says.
    pub(crate) async fn send_builtin<AD>(
        &self,
        node: &NodeInfo,
        activity: AD,
        config: Value,
        secrets: Vec<crate::values::Deferred>,
        policy: &ActivityPolicy,
    ) -> Result<Value, Failure>
    where
        AD: ActivityDefinition<Input = BuiltinInput, Output = Value>,
    {
        let max_output_bytes = self.ctx.state(|w| w.flow().max_output_bytes());
        self.note(node.id, || What::Input { input: super::dry::shown(&config, &secrets) });
        if let Some(answer) = self.ctx.state(|w| w.flow().dry_run().map(|dry| dry.builtin(node.id, activity.name(), &config))) {
            self.note(node.id, || What::Recorded { kind: activity.name().to_string(), request: super::dry::shown(&config, &secrets) });
            return Ok(answer);
        }
        let input =
            BuiltinInput { node: node.id.to_string(), idempotency_key: format!("{}/{}", self.ctx.workflow_id(), self.activity_id(node)), config, secrets, max_output_bytes };
        let mut options = self.options(node, policy, None);
        // Built-ins heartbeat, so a cancel (a `Timeout`, a decided `Parallel`, a cancelled run)
        // reaches a call in flight, and a lost worker's attempt is retried soon.
        options.heartbeat_timeout = Some(HEARTBEAT_TIMEOUT);
        self.ctx.execute_activity(activity, input, options).await.map_err(activity_failure)
    }

    /// An activity served by another worker, called with its typed input on `task_queue`.
    pub async fn remote<AD>(&self, node: &NodeInfo, activity: AD, task_queue: &str, input: Template, policy: &ActivityPolicy) -> Result<Value, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let input = self.render(input)?;
        self.scheduled(node, activity, task_queue, &format!("on task queue `{task_queue}`"), input, policy, activity_failure).await
    }

    /// A custom node type: an activity implemented in a Rust crate and served by this flow's
    /// own worker. On the workflow's task queue, named rather than left empty, because the SDK
    /// requests eager execution (the server hands the task straight back to this worker
    /// instead of through matching, where it allows that) only for a command naming it.
    pub async fn custom<AD>(&self, node: &NodeInfo, activity: AD, input: Template, policy: &ActivityPolicy) -> Result<Value, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let input = self.render(input)?;
        let own = self.ctx.task_queue().to_string();
        self.scheduled(node, activity, &own, "implemented by this worker", input, policy, activity_failure).await
    }

    /// An activity scheduled on `task_queue` with its input computed; `failed` says what its
    /// failure means to the flow (the Serverless Workflow form keeps the failure's type).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn scheduled<AD>(
        &self,
        node: &NodeInfo,
        activity: AD,
        task_queue: &str,
        served: &str,
        input: Value,
        policy: &ActivityPolicy,
        failed: fn(ActivityExecutionError) -> Failure,
    ) -> Result<Value, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let input = match self.typed_input(node, &activity, input, served)? {
            Ok(input) => input,
            Err(answer) => return answer,
        };
        let options = self.options(node, policy, Some(task_queue));
        let output = self.ctx.execute_activity(activity, input, options).await.map_err(failed);
        json_output(node, output)
    }

    /// A custom node type run as a local activity (`temporal: {local: true}`): by this worker,
    /// without a round trip through the server, recorded as a marker. The same timeout and
    /// retries as any activity; longer retry waits become durable timers.
    pub async fn local<AD>(&self, node: &NodeInfo, activity: AD, input: Template, policy: &ActivityPolicy) -> Result<Value, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
        AD::Output: Serialize,
    {
        let input = self.render(input)?;
        let input = match self.typed_input(node, &activity, input, "as a local activity of this worker")? {
            Ok(input) => input,
            Err(answer) => return answer,
        };
        let options = LocalActivityOptions::builder()
            .activity_id(self.activity_id(node))
            .start_to_close_timeout(Duration::from_millis(policy.timeout_ms))
            .retry_policy(retry_policy(policy))
            .cancellation_token(self.scope.clone())
            .summary(format!("{} ({})", node.id, node.kind))
            .build();
        let output = self.ctx.execute_local_activity(activity, input, options).await.map_err(activity_failure);
        json_output(node, output)
    }

    /// An activity's computed input journaled and converted to its declared type; or, in a
    /// dry run, the answer that stands in for the call (`Err`), since the activity runs code
    /// wfc cannot see.
    #[allow(clippy::type_complexity)]
    fn typed_input<AD>(&self, node: &NodeInfo, activity: &AD, value: Value, served: &str) -> Result<Result<AD::Input, Result<Value, Failure>>, Failure>
    where
        AD: ActivityDefinition,
        AD::Input: DeserializeOwned,
    {
        let name = activity.name().to_string();
        self.note(node.id, || What::Input { input: value.clone() });
        if let Some(answer) = self.ctx.state(|w| w.flow().dry_run().map(|dry| dry.elsewhere(node.id, &format!("activity `{name}` {served}")))) {
            return Ok(Err(answer));
        }
        serde_path_to_error::deserialize(value).map(Ok).map_err(|e| Failure::new(format!("the input does not fit activity `{name}`: at `{}`: {}", e.path(), e.inner())))
    }

    /// The node id, plus the iteration path inside loops and parallel branches (`fetch#2.0`).
    pub(crate) fn activity_id(&self, node: &NodeInfo) -> String {
        if self.frame.path.is_empty() { node.id.to_string() } else { format!("{}#{}", node.id, self.frame.path) }
    }

    fn options(&self, node: &NodeInfo, policy: &ActivityPolicy, task_queue: Option<&str>) -> ActivityOptions {
        let retry = retry_policy(policy);
        let mut options = ActivityOptions::with_start_to_close_timeout(Duration::from_millis(policy.timeout_ms))
            .activity_id(self.activity_id(node))
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
        let value = result.and_then(|_| self.render(output).map_err(|f| Failure { node: Some("output".into()), ..f }));
        self.finish_value(value)
    }

    /// Ends the run of a flow without `output`: the result is every node's output by id.
    pub fn finish_with_outputs<O: DeserializeOwned>(&self, result: NodeResult) -> WorkflowResult<O> {
        let value = result.map(|_| self.ctx.state(|w| w.flow().outputs()));
        self.finish_value(value)
    }

    /// Ends the run of a Serverless Workflow document: the result is the data its tasks left.
    pub fn finish_data<O: DeserializeOwned>(&self, result: NodeResult) -> WorkflowResult<O> {
        self.finish_value(result)
    }

    /// The next run's input when a loop decided to continue as new: the same input, carrying
    /// the state. `run` passes it to `continue_as_new`.
    pub fn continuation<I: Clone>(&self, run: &Run<I>) -> Option<Run<I>> {
        let resume = self.resume.borrow_mut().take()?;
        Some(Run { input: run.input.clone(), resume: Some(resume), dry_run: None, test: None })
    }

    fn finish_value<O: DeserializeOwned>(&self, value: Result<Value, Failure>) -> WorkflowResult<O> {
        let typed =
            value.and_then(|v| serde_path_to_error::deserialize(v).map_err(|e| Failure::new(format!("the output does not fit `outputSchema`: at `{}`: {}", e.path(), e.inner()))));
        let failure = typed.as_ref().err().cloned();
        self.ctx.state_mut(|w| w.flow_mut().finish(failure));
        typed.map_err(|f| terminate(&f))
    }
}

/// A switch subject as a case label: a string as is, anything else as its JSON text.
pub(crate) fn case_label(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The workflow failure for a node failure: non-retryable, typed `NodeFailed` (or `Cancelled`).
pub(crate) fn terminate(failure: &Failure) -> WorkflowTermination {
    let kind = if failure.cancelled { "Cancelled" } else { "NodeFailed" };
    let builder = ApplicationFailure::builder(failure.to_string()).type_name(kind.to_string()).non_retryable(true);
    // A Serverless Workflow error travels whole, as the failure's details.
    match &failure.problem {
        Some(problem) => builder.details(Value::clone(problem)).build().into(),
        None => builder.build().into(),
    }
}

/// A node failure from an activity's failure, keeping the cause's message.
fn retry_policy(policy: &ActivityPolicy) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(policy.initial_interval_ms))
        .backoff_coefficient(policy.backoff)
        .maximum_interval(Duration::from_millis(policy.max_interval_ms))
        .maximum_attempts(policy.max_attempts)
        .build()
}

/// A typed activity output as the JSON the flow's state keeps.
fn json_output<T: Serialize>(node: &NodeInfo, output: Result<T, Failure>) -> Result<Value, Failure> {
    serde_json::to_value(output?).map_err(|e| Failure::new(format!("the output of `{}` is not JSON: {e}", node.id)))
}

pub(crate) fn activity_failure(error: ActivityExecutionError) -> Failure {
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
