//! The values that cross between the runtime's three execution contexts: what generated code
//! declares (nodes, policies, templates), what workflow code hands an activity (its rendered
//! configuration and the `env` parts it completes), and what every context reports (a
//! [`Failure`]). Nothing here runs anything.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What generated code knows about a node: its id, its type as written, and its source line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: &'static str,
    pub kind: &'static str,
    pub line: u32,
    /// Whether the output is kept in the flow state for expressions and the result. Composites
    /// that only pass a child's output through do not keep a second copy.
    pub keep: bool,
    /// Outputs nothing can read once this node has ended (the compiler's liveness analysis):
    /// they are dropped from the flow state then, and not carried by continue-as-new.
    pub releases: &'static [&'static str],
    /// `wfc build --previous`: the Temporal patch this node is on, and on which side. A node
    /// whose side is not taken succeeds at once, skipped, with no output.
    pub patch: Option<(&'static str, bool)>,
    /// A Serverless Workflow task: a test's mock stands for its body only, inside its data flow
    /// (`input.from`, `output.as`, `export.as` still apply), as the task's own code would.
    pub data_flow: bool,
}

impl NodeInfo {
    pub const fn new(id: &'static str, kind: &'static str, line: u32) -> Self {
        NodeInfo { id, kind, line, keep: true, releases: &[], patch: None, data_flow: false }
    }

    /// A composite whose output is one of its children's, not kept twice.
    pub const fn passing(id: &'static str, kind: &'static str, line: u32) -> Self {
        NodeInfo { id, kind, line, keep: false, releases: &[], patch: None, data_flow: false }
    }

    /// A Serverless Workflow task, whose data flow wraps its body ([`NodeInfo::data_flow`]).
    pub const fn task(self) -> Self {
        NodeInfo { data_flow: true, ..self }
    }

    /// This node, run only when the patch `id` is taken (`when_patched`), or only when it is
    /// not: an added node runs on new runs and on old ones that reach it under the new build; a
    /// removed node's code is kept for old runs that passed it.
    pub const fn patched(self, id: &'static str, when_patched: bool) -> Self {
        NodeInfo { patch: Some((id, when_patched)), ..self }
    }

    /// This node, releasing these outputs when it ends.
    pub const fn releasing(self, releases: &'static [&'static str]) -> Self {
        NodeInfo { releases, ..self }
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

/// A template from the flow, as typed data the compiler emits: a JSON-shaped value whose strings
/// are templates (`Hello {{ input.name }}`). Nothing is parsed at run time but the expressions
/// themselves, once per process (`wfc_expr`'s cache).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Template {
    Text(&'static str),
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    List(&'static [Template]),
    Map(&'static [(&'static str, Template)]),
}

impl Template {
    /// Renders every string of the template against the flow's state; keys stay as written.
    pub fn render(self, scope: &dyn wfc_expr::Scope) -> Result<Value, Failure> {
        Ok(match self {
            Template::Text(text) => wfc_expr::render(text, scope)?,
            Template::Null => Value::Null,
            Template::Bool(b) => Value::Bool(b),
            Template::Int(n) => Value::from(n),
            Template::Float(f) => Value::from(f),
            Template::List(items) => Value::Array(items.iter().map(|item| item.render(scope)).collect::<Result<_, _>>()?),
            Template::Map(entries) => Value::Object(entries.iter().map(|(k, v)| Ok(((*k).to_string(), v.render(scope)?))).collect::<Result<_, Failure>>()?),
        })
    }
}

/// Nodes of the flow as the range `start..end` of [`FlowSettings::nodes`]: that list has each
/// node before its subtree, so generated code names a subtree by two numbers, however large.
pub type NodeSpan = (usize, usize);

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
    /// The error as an RFC 7807 problem (`type`, `status`, `title`, …), as the Serverless
    /// Workflow form raises and catches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Box<Value>>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure { node: None, node_type: None, message: message.into(), cancelled: false, problem: None }
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

/// The result of running a node: its output, or why it failed.
pub type NodeResult = Result<Value, Failure>;

/// The lifecycle state of a node, as the `status` query reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Running,
    Completed,
    Failed,
    Skipped,
}

/// A string of an activity configuration that is completed inside the activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    /// RFC 6901 pointer to the string in the configuration.
    pub pointer: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Text, already rendered in the workflow.
    Text(String),
    /// An expression reading `env`, evaluated inside the activity.
    Env(String),
}

/// The input of every built-in activity: the node's rendered configuration, the parts of it that
/// read `env` (resolved inside the activity), and the call's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltinInput {
    pub node: String,
    /// `<workflowId>/<nodeId>[#<iteration path>]`, sent as `Idempotency-Key` by `HttpRequest`.
    pub idempotency_key: String,
    pub config: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Deferred>,
    /// `settings.maxOutputBytes`: a larger output (or HTTP response body) fails the node here,
    /// before it reaches history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
}

/// How long Temporal waits for a built-in's heartbeat before it counts the attempt as lost. The
/// SDK sends heartbeats at most every 0.8 × this, so a cancel reaches a call within about 4 s.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The built-in signals every generated workflow accepts.
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

/// Checks a payload against a JSON Schema; the error names each offending field.
pub fn validate(schema: &str, payload: &Value) -> Result<(), String> {
    let schema: Value = serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() { e.to_string() } else { format!("at `{at}`: {e}") }
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}
