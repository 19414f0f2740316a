//! The flow state: workflow input, node outputs, variables and node states, kept in the
//! workflow struct so the `status` query can read it. Everything here is deterministic.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::dry::DryRun;
use super::mailbox::{Carried, Mailbox, Rejection, Waiting};
use super::mock::TestRun;
use crate::values::{Failure, FlowSettings, NodeInfo, NodeResult, NodeSpan, NodeState};

/// Everything the workflow knows while it runs.
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    name: String,
    input: Value,
    workflow: Value,
    outputs: BTreeMap<String, Value>,
    /// Nodes whose output was dropped because nothing could read it any more.
    released: BTreeSet<String>,
    variables: BTreeMap<String, Value>,
    states: BTreeMap<String, NodeState>,
    /// Why each failed node failed, so a continued run can give the same answer.
    failures: BTreeMap<String, Failure>,
    /// The branch each choice node took (`then`, `else`, a case, a condition id).
    decisions: BTreeMap<String, String>,
    /// Where each running loop is, carried across continue-as-new.
    progress: BTreeMap<String, Value>,
    /// `RunOnce` nodes that have run.
    once: BTreeSet<String>,
    /// What the previous run of a continued workflow had finished; consumed as nodes ask.
    restored: Option<Restored>,
    /// How many times this workflow has continued as new.
    continued: u32,
    /// Received signals, waiting nodes, the paused flag.
    pub(crate) mailbox: Mailbox,
    failure: Option<Failure>,
    finished: bool,
    settings: FlowSettings,
    /// Set in a dry run: built-ins are recorded and answered, not called.
    dry_run: Option<DryRun>,
    /// Set in a test run: mocked nodes and compressed timers.
    test: Option<TestRun>,
    /// A continued run's Serverless Workflow data, until the document takes it.
    dsl: Option<Value>,
}

/// The state a workflow carries into its next run when it continues as new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub outputs: BTreeMap<String, Value>,
    #[serde(default)]
    pub released: BTreeSet<String>,
    pub variables: BTreeMap<String, Value>,
    pub states: BTreeMap<String, NodeState>,
    pub failures: BTreeMap<String, Failure>,
    pub decisions: BTreeMap<String, String>,
    pub progress: BTreeMap<String, Value>,
    pub once: BTreeSet<String>,
    pub continued: u32,
    #[serde(default)]
    pub mailbox: Carried,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestRun>,
    /// A Serverless Workflow document's data where the run stopped (`workflow::dsl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsl: Option<Value>,
}

/// Node results of the previous run, answered once each while the new run finds its place.
#[derive(Debug, Clone, Default)]
struct Restored {
    states: BTreeMap<String, NodeState>,
    failures: BTreeMap<String, Failure>,
    decisions: BTreeMap<String, String>,
}

/// The answer to the built-in `status` query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub workflow: String,
    /// `running`, `completed` or `failed`.
    pub state: String,
    pub completed: Vec<String>,
    pub running: Vec<String>,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
    /// Nodes waiting for a signal or a person, or for `resume` while the flow is paused.
    pub waiting: Vec<Waiting>,
    pub paused: bool,
    /// The newest signal payloads that failed their schema (the nodes kept waiting).
    #[serde(default)]
    pub rejected: Vec<Rejection>,
    /// How many times the workflow has continued as new (long loops).
    #[serde(default)]
    pub continued: u32,
    pub outputs: BTreeMap<String, Value>,
    /// Nodes that completed but whose output was released: nothing could read it any more.
    #[serde(default)]
    pub released: Vec<String>,
    pub variables: BTreeMap<String, Value>,
    pub failure: Option<Failure>,
}

impl FlowState {
    /// `settings.maxOutputBytes`, which built-in activities enforce before their output is recorded.
    pub fn max_output_bytes(&self) -> Option<usize> {
        self.settings.max_output_bytes
    }

    pub fn start(&mut self, name: &str, workflow_id: &str, run_id: &str, input: Value, settings: FlowSettings) {
        self.name = name.to_string();
        self.workflow = serde_json::json!({ "id": workflow_id, "runId": run_id, "name": name });
        self.input = input;
        self.settings = settings;
    }

    /// Picks up where the previous run stopped: its outputs and variables are live again, and
    /// the nodes it finished answer with their old result instead of running.
    pub fn restore(&mut self, resume: Resume) {
        self.outputs = resume.outputs;
        self.released = resume.released;
        self.variables = resume.variables;
        self.progress = resume.progress;
        self.once = resume.once;
        self.continued = resume.continued;
        self.mailbox.restore(resume.mailbox);
        self.dry_run = resume.dry_run;
        self.test = resume.test;
        self.dsl = resume.dsl;
        self.restored = Some(Restored { states: resume.states, failures: resume.failures, decisions: resume.decisions });
    }

    /// What a continued run carries: everything needed to find its place again.
    pub fn snapshot(&self) -> Resume {
        Resume {
            outputs: self.outputs.clone(),
            released: self.released.clone(),
            variables: self.variables.clone(),
            states: self.states.clone(),
            failures: self.failures.clone(),
            decisions: self.decisions.clone(),
            progress: self.progress.clone(),
            once: self.once.clone(),
            continued: self.continued + 1,
            mailbox: self.mailbox.carry(),
            dry_run: self.dry_run.clone(),
            test: self.test.clone(),
            dsl: None,
        }
    }

    /// A continued run's Serverless Workflow data, taken once by the document.
    #[cfg(feature = "jq")]
    pub(crate) fn take_dsl(&mut self) -> Option<Value> {
        self.dsl.take()
    }

    /// The dry run this run is, if it is one.
    pub fn dry_run(&self) -> Option<&DryRun> {
        self.dry_run.as_ref()
    }

    pub fn set_dry_run(&mut self, dry_run: Option<DryRun>) {
        self.dry_run = dry_run;
    }

    /// The test run this run is, if it is one.
    pub fn test_run(&self) -> Option<&TestRun> {
        self.test.as_ref()
    }

    pub fn set_test_run(&mut self, test: Option<TestRun>) {
        self.test = test;
    }

    /// The result the previous run recorded for `id`, when it finished there (once).
    pub fn recall(&mut self, id: &str) -> Option<NodeResult> {
        let restored = self.restored.as_mut()?;
        match restored.states.remove(id)? {
            NodeState::Completed => {
                self.states.insert(id.to_string(), NodeState::Completed);
                Some(Ok(self.outputs.get(id).cloned().unwrap_or(Value::Null)))
            }
            NodeState::Failed => {
                let failure = restored.failures.remove(id).unwrap_or_else(|| Failure::new("failed before the workflow continued as new"));
                self.states.insert(id.to_string(), NodeState::Failed);
                self.failures.insert(id.to_string(), failure.clone());
                Some(Err(failure))
            }
            NodeState::Running | NodeState::Skipped => None,
        }
    }

    /// Records the branch a choice node took; a continued run gets the previous run's choice.
    /// The branch the run before a continue-as-new took at `id`, while it is still to be
    /// taken again.
    #[cfg(feature = "jq")]
    pub(crate) fn restored_decision(&self, id: &str) -> Option<String> {
        self.restored.as_ref().and_then(|r| r.decisions.get(id).cloned())
    }

    pub fn decide(&mut self, id: &str, branch: String) -> String {
        let branch = self.restored.as_mut().and_then(|r| r.decisions.remove(id)).unwrap_or(branch);
        self.decisions.insert(id.to_string(), branch.clone());
        branch
    }

    /// Starts a fresh pass over the nodes at these ranges of `settings.nodes` (a loop
    /// iteration, a retry attempt): their old states no longer stand for this pass.
    pub fn reset(&mut self, spans: &[NodeSpan]) {
        let nodes = self.settings.nodes;
        for id in spans.iter().flat_map(|&(start, end)| nodes.get(start..end).unwrap_or_default()) {
            self.states.remove(*id);
            self.decisions.remove(*id);
            if let Some(restored) = self.restored.as_mut() {
                restored.states.remove(*id);
                restored.decisions.remove(*id);
            }
        }
    }

    /// A loop's saved position, e.g. `{next, results}`.
    pub fn progress(&self, id: &str) -> Option<&Value> {
        self.progress.get(id)
    }

    pub fn set_progress(&mut self, id: &str, value: Option<Value>) {
        match value {
            Some(v) => self.progress.insert(id.to_string(), v),
            None => self.progress.remove(id),
        };
    }

    /// Marks a `RunOnce` node; false when it had run already.
    pub fn first_time(&mut self, id: &str) -> bool {
        self.once.insert(id.to_string())
    }

    /// True when no node runs except `active` (a loop and the containers around it): the one
    /// moment a workflow can continue as new without abandoning work in flight.
    pub fn quiet_except(&self, active: &[&str]) -> bool {
        self.states.iter().all(|(id, state)| *state != NodeState::Running || active.contains(&id.as_str()))
    }

    /// A variable of the blackboard: a literal (flat) key first, then a path into nested values.
    pub fn blackboard(&self, key: &str) -> Option<Value> {
        if let Some(v) = self.variables.get(key) {
            return Some(v.clone());
        }
        let mut parts = key.split('.');
        let first = parts.next()?;
        let mut value = self.variables.get(first).or_else(|| self.input.get(first))?;
        for part in parts {
            value = value.get(part)?;
        }
        Some(value.clone())
    }

    /// The workflow name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn enter(&mut self, node: &NodeInfo) {
        self.states.insert(node.id.to_string(), NodeState::Running);
    }

    /// Records a node's end; an output too large for `maxOutputBytes` fails the node. The
    /// outputs nothing can read after this node are released.
    pub fn exit(&mut self, node: &NodeInfo, result: Result<Value, Failure>) -> NodeResult {
        let result = result.and_then(|output| self.check_size(output));
        let result = self.record(node, result);
        for id in node.releases {
            if self.outputs.remove(*id).is_some() {
                self.released.insert((*id).to_string());
            }
        }
        result
    }

    fn record(&mut self, node: &NodeInfo, result: NodeResult) -> NodeResult {
        match result {
            Ok(output) => {
                self.states.insert(node.id.to_string(), NodeState::Completed);
                if node.keep && !output.is_null() {
                    self.outputs.insert(node.id.to_string(), output.clone());
                    self.released.remove(node.id);
                }
                Ok(output)
            }
            Err(failure) => {
                let failure = failure.at(node);
                let state = if failure.cancelled { NodeState::Skipped } else { NodeState::Failed };
                self.states.insert(node.id.to_string(), state);
                if !failure.cancelled {
                    self.failures.insert(node.id.to_string(), failure.clone());
                }
                Err(failure)
            }
        }
    }

    fn check_size(&self, output: Value) -> Result<Value, Failure> {
        let Some(max) = self.settings.max_output_bytes else { return Ok(output) };
        let size = serde_json::to_vec(&output).map_or(0, |v| v.len());
        if size > max {
            return Err(Failure::new(format!("the output is {size} bytes, more than settings.maxOutputBytes ({max})")));
        }
        Ok(output)
    }

    pub fn skip(&mut self, ids: &[&str]) {
        for id in ids {
            self.states.insert((*id).to_string(), NodeState::Skipped);
        }
    }

    /// Skips the nodes at these spans of `settings.nodes` (spans outside it are ignored) and
    /// returns them.
    pub fn skip_spans(&mut self, spans: &[NodeSpan]) -> Vec<&'static str> {
        let nodes = self.settings.nodes;
        let mut skipped = Vec::new();
        for &(start, end) in spans {
            for id in nodes.get(start..end).unwrap_or_default() {
                self.states.insert((*id).to_string(), NodeState::Skipped);
                skipped.push(*id);
            }
        }
        skipped
    }

    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    pub fn set_variable(&mut self, name: &str, value: Value) {
        self.variables.insert(name.to_string(), value);
    }

    /// Marks the run finished, with the failure that ended it if any.
    pub fn finish(&mut self, failure: Option<Failure>) {
        self.finished = true;
        self.failure = failure;
    }

    /// Every node output by id: the workflow's result when the flow declares no `output`.
    pub fn outputs(&self) -> Value {
        Value::Object(self.outputs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// The built-in `pause` signal.
    pub fn pause(&mut self) {
        self.mailbox.receive(crate::values::PAUSE, Value::Null);
    }

    /// The built-in `resume` signal.
    pub fn resume(&mut self) {
        self.mailbox.receive(crate::values::RESUME, Value::Null);
    }

    /// A signal arrived; generated signal handlers call this with its payloads undecoded.
    pub fn receive(&mut self, signal: &str, payload: super::mailbox::SignalPayload) {
        self.mailbox.receive_payloads(signal, payload);
    }

    pub fn status(&self) -> Status {
        let with = |state: NodeState| -> Vec<String> { self.states.iter().filter(|(_, s)| **s == state).map(|(id, _)| id.clone()).collect() };
        let state = match (self.finished, &self.failure) {
            (_, Some(_)) => "failed",
            (true, None) => "completed",
            (false, None) => "running",
        };
        Status {
            workflow: self.name.clone(),
            state: state.to_string(),
            completed: with(NodeState::Completed),
            running: with(NodeState::Running),
            failed: with(NodeState::Failed),
            skipped: with(NodeState::Skipped),
            waiting: self.mailbox.waiting(),
            paused: self.mailbox.paused(),
            rejected: self.mailbox.rejected(),
            continued: self.continued,
            outputs: self.outputs.clone(),
            released: self.released.iter().cloned().collect(),
            variables: self.variables.clone(),
            failure: self.failure.clone(),
        }
    }
}

impl wfc_expr::Scope for FlowState {
    /// Names resolve in this order: the reserved names, node outputs (a `-` in an id reads as
    /// `_`), variables, then the input's top-level fields (the btree blackboard). btree's flat
    /// dotted keys (`agent.steps` written by a `CounterAction`) overlay the nested value, so
    /// `agent.steps` reads the flat key first.
    /// Node outputs and the input are projected where they are kept, never copied whole.
    fn project(&self, name: &str, paths: &[wfc_expr::FieldPath]) -> Option<Value> {
        let kept = match name {
            "input" => Some(&self.input),
            "workflow" | "var" | "nodes" | "env" | "loop" | "parallel" | "error" => None,
            _ => self.outputs.get(name).or_else(|| self.outputs.iter().find(|(id, _)| id.replace('-', "_") == name).map(|(_, v)| v)),
        };
        match kept {
            Some(value) => Some(wfc_expr::project(value, paths)),
            None => self.lookup(name).map(|value| wfc_expr::project(&value, paths)),
        }
    }

    fn lookup(&self, name: &str) -> Option<Value> {
        match name {
            "input" => return Some(self.input.clone()),
            "workflow" => return Some(self.workflow.clone()),
            "var" => return Some(Value::Object(self.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect())),
            "nodes" => return Some(self.outputs()),
            "env" | "loop" | "parallel" | "error" => return None,
            _ => {}
        }
        if let Some(output) = self.outputs.get(name) {
            return Some(output.clone());
        }
        if let Some((_, output)) = self.outputs.iter().find(|(id, _)| id.replace('-', "_") == name) {
            return Some(output.clone());
        }
        if self.variables.contains_key(name) {
            return overlay(self.variables.get(name).cloned(), name, &self.variables);
        }
        if self.settings.nodes.iter().any(|id| id.replace('-', "_") == name) {
            return Some(Value::Object(Map::new()));
        }
        let input = self.input.as_object().and_then(|input: &Map<String, Value>| input.get(name)).cloned();
        let input = match self.input.as_object() {
            Some(fields) => overlay(input, name, fields.iter()),
            None => input,
        };
        overlay(input, name, &self.variables)
    }
}

/// `base` with every flat key `name.a.b` of `flat` set at path `a.b`.
fn overlay<'v>(base: Option<Value>, name: &str, flat: impl IntoIterator<Item = (&'v String, &'v Value)>) -> Option<Value> {
    let prefix = format!("{name}.");
    let mut result = base;
    for (key, value) in flat {
        let Some(path) = key.strip_prefix(&prefix) else { continue };
        let parts: Vec<&str> = path.split('.').collect();
        set_path(result.get_or_insert_with(|| Value::Object(Map::new())), &parts, value.clone());
    }
    result
}

fn set_path(at: &mut Value, parts: &[&str], value: Value) {
    let Some((first, rest)) = parts.split_first() else {
        *at = value;
        return;
    };
    if !at.is_object() {
        *at = Value::Object(Map::new());
    }
    if let Value::Object(map) = at {
        set_path(map.entry((*first).to_string()).or_insert(Value::Null), rest, value);
    }
}

/// The names a region binds for the nodes inside it: a loop iteration (`loop`, a `ForEach`'s
/// item and index names), a parallel branch (`parallel`), an error handler (`error`). Outputs of
/// nodes that ran in an iteration or branch live here too, so concurrent iterations of the same
/// nodes never read each other's results.
#[derive(Debug, Default)]
pub struct Frame {
    parent: Option<Rc<Frame>>,
    names: BTreeMap<String, Value>,
    outputs: Option<RefCell<BTreeMap<String, Value>>>,
    /// The iteration path (`2`, `2.0`): part of activity ids and idempotency keys.
    pub path: String,
}

impl Frame {
    /// A frame inside `parent` binding `names`; `step` extends the iteration path and gives the
    /// frame its own node outputs.
    pub fn child(parent: &Rc<Frame>, names: BTreeMap<String, Value>, step: Option<u64>) -> Rc<Frame> {
        let path = match (step, parent.path.is_empty()) {
            (Some(i), true) => i.to_string(),
            (Some(i), false) => format!("{}.{i}", parent.path),
            (None, _) => parent.path.clone(),
        };
        let outputs = step.map(|_| RefCell::new(BTreeMap::new()));
        Rc::new(Frame { parent: Some(parent.clone()), names, outputs, path })
    }

    /// Records a node's output in the innermost iteration or branch.
    pub fn record(&self, id: &str, output: &Value) {
        match &self.outputs {
            Some(outputs) => {
                outputs.borrow_mut().insert(id.to_string(), output.clone());
            }
            None => {
                if let Some(parent) = &self.parent {
                    parent.record(id, output);
                }
            }
        }
    }

    /// The value `name` has in this frame or an enclosing one.
    #[cfg(feature = "jq")]
    pub(crate) fn name(&self, name: &str) -> Option<Value> {
        self.find(name, &Value::clone)
    }

    /// What `read` makes of the value `name` has in this frame or an enclosing one.
    fn find<T>(&self, name: &str, read: &impl Fn(&Value) -> T) -> Option<T> {
        if let Some(value) = self.names.get(name) {
            return Some(read(value));
        }
        if let Some(outputs) = &self.outputs {
            let outputs = outputs.borrow();
            if let Some((_, v)) = outputs.iter().find(|(id, _)| id.as_str() == name || id.replace('-', "_") == name) {
                return Some(read(v));
            }
        }
        self.parent.as_ref().and_then(|p| p.find(name, read))
    }
}

/// The flow state as seen from inside a frame: the frame's names and outputs first.
pub struct View<'s> {
    pub flow: &'s FlowState,
    pub frame: &'s Frame,
}

impl wfc_expr::Scope for View<'_> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.frame.find(name, &Value::clone).or_else(|| self.flow.lookup(name))
    }

    fn project(&self, name: &str, paths: &[wfc_expr::FieldPath]) -> Option<Value> {
        self.frame.find(name, &|value| wfc_expr::project(value, paths)).or_else(|| self.flow.project(name, paths))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wfc_expr::{Scope, eval};

    use super::*;

    const A: NodeInfo = NodeInfo::new("create-user", "HttpRequest", 3);
    const B: NodeInfo = NodeInfo::new("review", "Activity", 9);

    fn state(max_output_bytes: Option<usize>) -> FlowState {
        let mut s = FlowState::default();
        let settings = FlowSettings { nodes: &["create-user", "review"], max_output_bytes };
        s.start("flow", "wf-1", "run-1", json!({"plan": "pro", "x": 1}), settings);
        s
    }

    #[test]
    fn names_resolve_outputs_then_variables_then_input_fields() {
        let mut s = state(None);
        s.enter(&A);
        s.exit(&A, Ok(json!({"body": {"id": 7}}))).unwrap();
        s.set_variable("x", json!(2));
        assert_eq!(eval("create_user.body.id + x", &s).unwrap(), json!(9));
        assert_eq!(eval("nodes['create-user'].body.id", &s).unwrap(), json!(7));
        assert_eq!(eval("plan == input.plan && var.x == 2", &s).unwrap(), json!(true));
        assert_eq!(eval("workflow.id + '/' + workflow.runId", &s).unwrap(), json!("wf-1/run-1"));
        assert_eq!(s.lookup("env"), None, "env never resolves in workflow code");
    }

    #[test]
    fn a_node_that_has_not_run_reads_as_empty_so_has_is_false() {
        let s = state(None);
        assert_eq!(eval("has(review.reviewer) ? review.reviewer : 'policy'", &s).unwrap(), json!("policy"));
        assert!(eval("review.reviewer", &s).is_err());
        assert!(eval("nosuchnode.x", &s).is_err());
    }

    #[test]
    fn outputs_over_the_limit_fail_the_node_and_status_says_so() {
        let mut s = state(Some(16));
        s.enter(&A);
        let failure = s.exit(&A, Ok(json!({"body": "a long response body"}))).unwrap_err();
        assert_eq!(failure.node.as_deref(), Some("create-user"));
        assert!(failure.to_string().contains("maxOutputBytes"), "{failure}");
        s.skip(&["review"]);
        s.finish(Some(failure));
        let status = s.status();
        assert_eq!(status.state, "failed");
        assert_eq!(status.failed, ["create-user"]);
        assert_eq!(status.skipped, ["review"]);
    }

    #[test]
    fn a_failure_is_attributed_to_the_innermost_node() {
        let inner = Failure::new("boom").at(&B);
        assert_eq!(inner.clone().at(&A).node.as_deref(), Some("review"));
        assert_eq!(inner.to_string(), "node `review` (Activity) failed: boom");
    }
}
