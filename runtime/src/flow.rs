//! The flow context: workflow input, node outputs, variables and node states, kept in the
//! workflow struct so the `status` query can read it. Everything here is deterministic.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What generated code knows about a node: its id, its type as written, and its source line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: &'static str,
    pub kind: &'static str,
    pub line: u32,
}

impl NodeInfo {
    pub const fn new(id: &'static str, kind: &'static str, line: u32) -> Self {
        NodeInfo { id, kind, line }
    }
}

/// Timeout and retry policy of an activity call, resolved at compile time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityPolicy {
    /// Start-to-close timeout of one attempt.
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub initial_interval_ms: u64,
    pub backoff: f64,
    pub max_interval_ms: u64,
}

/// Flow-wide facts and settings that the workflow enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowSettings {
    /// Every node id of the flow: a node that has no output yet reads as `{}` in expressions, so
    /// `has(node.field)` is false rather than an error.
    pub nodes: &'static [&'static str],
    /// A node output larger than this (as JSON) fails the node.
    pub max_output_bytes: Option<usize>,
}

/// A template from the flow: a string, or JSON text whose strings are templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Text(&'static str),
    Json(&'static str),
}

impl Template {
    /// The template as a JSON value whose strings are still templates.
    pub fn value(self) -> Result<Value, Failure> {
        match self {
            Template::Text(text) => Ok(Value::String(text.to_string())),
            Template::Json(json) => serde_json::from_str(json).map_err(|e| Failure::new(format!("invalid template JSON: {e}"))),
        }
    }

    /// Renders every template in the value against the flow's state.
    pub fn render(self, scope: &dyn wfc_expr::Scope) -> Result<Value, Failure> {
        wfc_expr::render_json(&self.value()?, scope).map_err(Failure::from)
    }
}

/// Log levels of `Log` nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Why a node failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The node that failed; filled in by the node that raised the failure.
    pub node: Option<String>,
    pub node_type: Option<String>,
    pub message: String,
    /// True when the node stopped because its scope was cancelled, not because it failed.
    pub cancelled: bool,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure { node: None, node_type: None, message: message.into(), cancelled: false }
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Failure { cancelled: true, ..Failure::new(message) }
    }

    /// Attributes the failure to `node` unless a descendant already claimed it.
    pub fn at(mut self, node: &NodeInfo) -> Self {
        if self.node.is_none() {
            self.node = Some(node.id.to_string());
            self.node_type = Some(node.kind.to_string());
        }
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.node, &self.node_type) {
            (Some(node), Some(kind)) => write!(f, "node `{node}` ({kind}) failed: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}

impl From<wfc_expr::EvalError> for Failure {
    fn from(e: wfc_expr::EvalError) -> Self {
        Failure::new(format!("expression {e}"))
    }
}

/// The result of running a node.
pub type NodeResult = Result<(), Failure>;

/// The lifecycle state of a node, as the `status` query reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Running,
    Completed,
    Failed,
    Skipped,
}

/// Everything the workflow knows while it runs.
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    name: String,
    input: Value,
    workflow: Value,
    outputs: BTreeMap<String, Value>,
    variables: BTreeMap<String, Value>,
    states: BTreeMap<String, NodeState>,
    failure: Option<Failure>,
    finished: bool,
    settings: FlowSettings,
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
    /// Nodes waiting for a signal or a person; none in this version.
    pub waiting: Vec<String>,
    pub paused: bool,
    pub outputs: BTreeMap<String, Value>,
    pub variables: BTreeMap<String, Value>,
    pub failure: Option<Failure>,
}

impl FlowState {
    pub fn start(&mut self, name: &str, workflow_id: &str, run_id: &str, input: Value, settings: FlowSettings) {
        self.name = name.to_string();
        self.workflow = serde_json::json!({ "id": workflow_id, "runId": run_id, "name": name });
        self.input = input;
        self.settings = settings;
    }

    pub fn enter(&mut self, node: &NodeInfo) {
        self.states.insert(node.id.to_string(), NodeState::Running);
    }

    /// Records a node's end; an output too large for `maxOutputBytes` fails the node.
    pub fn exit(&mut self, node: &NodeInfo, result: Result<Value, Failure>) -> NodeResult {
        let result = result.and_then(|output| self.check_size(output));
        match result {
            Ok(output) => {
                self.states.insert(node.id.to_string(), NodeState::Completed);
                if !output.is_null() {
                    self.outputs.insert(node.id.to_string(), output);
                }
                Ok(())
            }
            Err(failure) => {
                let failure = failure.at(node);
                self.states.insert(node.id.to_string(), NodeState::Failed);
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

    pub fn status(&self) -> Status {
        let with = |state: NodeState| -> Vec<String> {
            self.states.iter().filter(|(_, s)| **s == state).map(|(id, _)| id.clone()).collect()
        };
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
            waiting: Vec::new(),
            paused: false,
            outputs: self.outputs.clone(),
            variables: self.variables.clone(),
            failure: self.failure.clone(),
        }
    }
}

impl wfc_expr::Scope for FlowState {
    /// Names resolve in this order: the reserved names, node outputs (a `-` in an id reads as
    /// `_`), variables, then the input's top-level fields (the btree blackboard).
    fn lookup(&self, name: &str) -> Option<Value> {
        match name {
            "input" => return Some(self.input.clone()),
            "workflow" => return Some(self.workflow.clone()),
            "var" => return Some(Value::Object(self.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect())),
            "nodes" => return Some(self.outputs()),
            "env" => return None,
            _ => {}
        }
        if let Some(output) = self.outputs.get(name) {
            return Some(output.clone());
        }
        if let Some((_, output)) = self.outputs.iter().find(|(id, _)| id.replace('-', "_") == name) {
            return Some(output.clone());
        }
        if let Some(value) = self.variables.get(name) {
            return Some(value.clone());
        }
        if self.settings.nodes.iter().any(|id| id.replace('-', "_") == name) {
            return Some(Value::Object(Map::new()));
        }
        self.input.as_object().and_then(|input: &Map<String, Value>| input.get(name)).cloned()
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
