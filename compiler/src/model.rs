//! The checked flow: what the front end produces and code generation consumes.
//!
//! Everything here has passed validation: ids are unique and well formed, configurations have the
//! right shape, durations are milliseconds. Templates keep their spanned syntax so the expression
//! checker can point into them.

use std::collections::BTreeMap;

use crate::source::Span;
use crate::syntax::Value;

#[derive(Debug, Clone)]
pub struct Flow {
    /// The Temporal workflow type name, `[a-z][a-z0-9-]*`.
    pub name: String,
    pub description: Option<String>,
    pub task_queue: String,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    /// How the result is built: a JSON value whose strings are templates.
    pub output: Option<Value>,
    pub settings: Settings,
    /// Activities implemented by other workers, by name.
    pub activities: BTreeMap<String, RemoteActivity>,
    pub root: Node,
    /// A bare btree document: it has no input schema, so a bare name may be an input field read
    /// from the blackboard at run time.
    pub open_blackboard: bool,
    /// Document features this version validates but does not compile yet (a schedule trigger,
    /// declared signals), with where they are.
    pub pending_features: Vec<(String, Span)>,
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Workflow execution timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    pub activity: ActivityPolicy,
    pub max_concurrency: Option<u64>,
    pub max_output_bytes: Option<u64>,
}

/// Timeout and retry policy of one activity call, fully resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityPolicy {
    pub timeout_ms: u64,
    pub max_attempts: u32,
    pub initial_interval_ms: u64,
    pub backoff: f64,
    pub max_interval_ms: u64,
}

impl Default for ActivityPolicy {
    /// DESIGN section 5: 3 attempts, 1s initial interval, backoff 2.0, at most 1m; 30s per attempt.
    fn default() -> Self {
        ActivityPolicy {
            timeout_ms: 30_000,
            max_attempts: 3,
            initial_interval_ms: 1_000,
            backoff: 2.0,
            max_interval_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RemoteActivity {
    pub name: String,
    pub span: Span,
    pub task_queue: String,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub id_span: Span,
    /// The type as written (an alias such as `PrintAction` stays as written).
    pub type_name: String,
    /// The span of the whole node.
    pub span: Span,
    /// The span of the node's `type` value.
    pub type_span: Span,
    /// 1-based line of the node's start, for generated doc comments.
    pub line: usize,
    pub name: Option<String>,
    pub description: Option<String>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Sequence(Vec<Node>),
    /// Strategy `strict`: every child must succeed; the first failure cancels the others.
    Parallel(Vec<Node>),
    Conditional { condition: Expr, then: Box<Node>, otherwise: Option<Box<Node>> },
    /// A durable sleep, then the child if there is one.
    Delay { duration_ms: u64, child: Option<Box<Node>> },
    HttpRequest { config: Value, policy: ActivityPolicy },
    /// A call of an activity implemented by another worker.
    Activity { activity: String, task_queue: String, input: Value, policy: ActivityPolicy },
    Log { message: Value, level: LogLevel, output_key: Option<String> },
    SetVariable { name: String, value: Value },
    /// `name = expression` lines; each is a variable and part of the node's output.
    Script { assignments: Vec<(String, Expr)> },
    CheckCondition { condition: Expr },
    Fail { message: Value },
    /// A node type this version validates but does not compile yet (see `catalog::PLANNED`).
    Pending {
        /// Children, and nodes given in fields (a `Switch`'s cases and default).
        children: Vec<Node>,
        /// Conditions, checked like any expression.
        exprs: Vec<Expr>,
        /// Template values, checked like any template.
        templates: Vec<Value>,
        /// Runs as an activity: its templates may read `env.*`.
        activity: bool,
        /// Variables the node writes.
        writes: Vec<String>,
    },
}

impl Node {
    pub fn children(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Sequence(children) | NodeKind::Parallel(children) => children.iter().collect(),
            NodeKind::Conditional { then, otherwise, .. } => std::iter::once(then.as_ref()).chain(otherwise.as_deref()).collect(),
            NodeKind::Delay { child, .. } => child.as_deref().into_iter().collect(),
            NodeKind::Pending { children, .. } => children.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// This node and all its descendants, parents first.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for child in self.children() {
            out.extend(child.walk());
        }
        out
    }

    /// True when the node runs as an activity on a worker (its configuration may read `env.*`).
    pub fn is_activity(&self) -> bool {
        matches!(self.kind, NodeKind::HttpRequest { .. } | NodeKind::Activity { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// A CEL expression written bare (`input.vip`), as one template (`"{{ input.vip }}"`), or in
/// btree's `{key, operator, value}` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub source: String,
    /// Where `source` is in the file.
    pub span: Span,
    /// Written in btree's `key` form: its names are blackboard keys looked up at run time, so they
    /// are not checked against the flow's names.
    pub blackboard: bool,
}
