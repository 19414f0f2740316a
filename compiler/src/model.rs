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
    /// Declared signals and their payload schemas (`signals:`).
    pub signals: BTreeMap<String, serde_json::Value>,
    /// What runs: a tree of nodes or a graph of nodes and edges.
    pub body: Body,
    /// A bare btree document: it has no input schema, so a bare name may be an input field read
    /// from the blackboard at run time.
    pub open_blackboard: bool,
    /// `trigger: {type: schedule}` (or a SIM `schedule` block): the worker binary's `schedule
    /// apply` creates it as a Temporal Schedule.
    pub schedule: Option<Schedule>,
    /// A Serverless Workflow document: the output is the data its tasks thread, not `output`.
    pub dsl: Option<Dsl>,
}

/// A schedule trigger: when runs start, and with what input.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cron: String,
    /// An IANA time zone; empty is UTC.
    pub timezone: String,
    pub input: serde_json::Value,
}

/// The two input forms of DESIGN sections 2 and 3. Both construct the same plan (`plan`).
#[derive(Debug, Clone)]
pub enum Body {
    Tree(Box<Node>),
    Graph(Graph),
}

impl Flow {
    /// Every node of the flow, parents first (containers before their members).
    pub fn nodes(&self) -> Vec<&Node> {
        match &self.body {
            Body::Tree(root) => root.walk(),
            Body::Graph(graph) => graph.nodes.iter().flat_map(|g| g.node.walk()).collect(),
        }
    }
}

/// The graph form: nodes joined by control-flow edges ("then"), after the dialect is normalised.
#[derive(Debug, Clone)]
pub struct Graph {
    pub dialect: Dialect,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<Edge>,
}

/// Where a graph came from; its meaning is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// wfc's own `nodes`/`edges`.
    Wfc,
    /// A React Flow export (`data`, `position`, `viewport`).
    ReactFlow,
    /// A SIM-style export (`state.blocks`).
    Sim,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Wfc => "wfc",
            Dialect::ReactFlow => "React Flow",
            Dialect::Sim => "SIM",
        }
    }
}

#[derive(Debug, Clone)]
pub struct GraphNode {
    pub node: Node,
    /// The container (a `Loop` or `Parallel` node) this node is a member of, and where it says so.
    pub parent: Option<(String, Span)>,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub source: String,
    pub target: String,
    pub handle: Handle,
    /// The whole edge, the source value and the handle value (or the edge when absent).
    pub span: Span,
    pub source_span: Span,
    pub target_span: Span,
    pub handle_span: Span,
}

/// What an edge's `sourceHandle` says: which outcome of the source node the edge follows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Handle {
    /// Absent, `null` or `source`: on success.
    Success,
    /// `error`: on failure.
    Error,
    /// `condition-<id>`: a branch of a `Condition` node.
    Condition(String),
    /// `router-<id>`: a route of a `Switch` node.
    Route(String),
    /// `case-<value>`: a case of a `Switch` node.
    Case(String),
    /// `loop-start-source` / `parallel-start-source`: into the container's body (`loop` or
    /// `parallel`).
    BodyStart(&'static str),
    /// `loop-end-source` / `parallel-end-source`: after the container.
    BodyEnd(&'static str),
}

impl Handle {
    /// Parses a `sourceHandle`; `None` for a name no node kind has.
    pub fn parse(text: &str) -> Option<Handle> {
        Some(match text {
            "" | "source" => Handle::Success,
            "error" => Handle::Error,
            "loop-start-source" => Handle::BodyStart("loop"),
            "parallel-start-source" => Handle::BodyStart("parallel"),
            "loop-end-source" => Handle::BodyEnd("loop"),
            "parallel-end-source" => Handle::BodyEnd("parallel"),
            _ => {
                if let Some(id) = text.strip_prefix("condition-") {
                    Handle::Condition(id.to_string())
                } else if let Some(id) = text.strip_prefix("router-") {
                    Handle::Route(id.to_string())
                } else if let Some(value) = text.strip_prefix("case-") {
                    Handle::Case(value.to_string())
                } else {
                    return None;
                }
            }
        })
    }

    /// How the handle reads in plans and messages.
    pub fn label(&self) -> String {
        match self {
            Handle::Success => "success".into(),
            Handle::Error => "error".into(),
            Handle::Condition(id) => format!("condition-{id}"),
            Handle::Route(id) => format!("router-{id}"),
            Handle::Case(value) => format!("case-{value}"),
            Handle::BodyStart(word) => format!("{word}-start-source"),
            Handle::BodyEnd(word) => format!("{word}-end-source"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Workflow execution timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    pub activity: ActivityPolicy,
    pub max_concurrency: Option<u64>,
    pub max_output_bytes: Option<u64>,
    pub versioning: Versioning,
    /// The Worker Deployment's name; the flow's name when unset.
    pub deployment: Option<String>,
}

/// `settings.versioning`: whether a run stays on the build that started it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Versioning {
    /// A run finishes on the build that started it.
    #[default]
    Pinned,
    /// A run moves to the deployment's current build at its next workflow task; edits that
    /// break running workflows must then be patched (`wfc build --previous`).
    AutoUpgrade,
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
        ActivityPolicy { timeout_ms: 30_000, max_attempts: 3, initial_interval_ms: 1_000, backoff: 2.0, max_interval_ms: 60_000 }
    }
}

/// An activity declared under `activities:` (in the flow or a registry): served by another
/// worker on its task queue, or implemented in a Rust crate and served by this flow's worker
/// (a custom node type).
#[derive(Debug, Clone)]
pub struct RemoteActivity {
    pub name: String,
    pub span: Span,
    pub served: Served,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub timeout_ms: Option<u64>,
    pub description: Option<String>,
}

/// Who serves a declared activity.
#[derive(Debug, Clone, PartialEq)]
pub enum Served {
    /// Another worker, on this task queue.
    Queue(String),
    /// This flow's own worker, with the implementation from a Rust crate.
    Crate(NodeCrate),
}

/// The Rust crate that implements custom node types (`crate:` of a declaration).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCrate {
    /// The package name, e.g. `lead-nodes`.
    pub name: String,
    /// Where it comes from: `path` is relative to the declaring document's folder.
    pub source: crate::RuntimeSource,
    /// The declaring document's path as given (a flow or a registry), for relative paths.
    pub declared_in: String,
    pub span: Span,
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
    /// Tree-form error routing: runs instead of failing, with `error.*` in scope.
    pub on_error: Option<Box<Node>>,
    /// Set by `wfc build --previous` on a node only one side of a flow edit has.
    pub patch: Option<Patch>,
    /// A Serverless Workflow task: the data it is handed and what it hands on.
    pub task: Option<Box<Task>>,
}

/// A node of an edited flow that runs on one path of a Temporal patch only: an added node on
/// runs that reach it under the new build, a removed one on runs that passed it under the old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The patch marker's id, e.g. `wfc:added:notify`.
    pub id: String,
    /// Runs when the patch is taken (added nodes), or when it is not (removed nodes).
    pub when_patched: bool,
}

/// What a node does, with every default and alias resolved by lowering. Plan, check and codegen
/// match on it exhaustively: a new node type is a compile error in wfc, never in a user's crate.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Children in order (`Sequence`, `MemorySequence`).
    Sequence(Vec<Node>),
    /// A sequence whose leading condition nodes are re-checked while the rest runs.
    ReactiveSequence(Vec<Node>),
    /// The first child that succeeds (`Selector`, `Fallback`).
    Selector(Vec<Node>),
    /// Children at once, decided by a quorum; the rest are cancelled.
    Parallel {
        children: Vec<Node>,
        quorum: Quorum,
        /// How many branches run at once; all when `None`.
        at_once: Option<u64>,
    },
    Conditional {
        condition: Expr,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    /// btree's `Conditional`: the `condition` node succeeding selects `then`.
    GuardedConditional {
        condition: Box<Node>,
        then: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    /// A tree `Switch`: the case whose label equals the value, else `default`.
    Switch {
        value: Expr,
        cases: Vec<(String, Node)>,
        default: Option<Box<Node>>,
    },
    /// A tree loop (`ForEach`, `While`, `Repeat`, `KeepRunningUntilFailure`).
    Repeat(Repeat),
    /// Try `attempt`; on failure `catch` (with `error` in scope); `finally` either way.
    Recovery {
        attempt: Box<Node>,
        catch: Option<Box<Node>>,
        finally: Option<Box<Node>>,
    },
    Timeout {
        ms: u64,
        child: Box<Node>,
    },
    Retry {
        policy: RetryPolicy,
        child: Box<Node>,
    },
    /// A decorator that changes its child's outcome.
    Decorated {
        decorator: Decorator,
        child: Box<Node>,
    },
    Precondition {
        condition: Expr,
        child: Box<Node>,
    },
    /// A check that warns instead of failing.
    SoftAssert(Assertion),
    /// A durable sleep, then the child if there is one (`Delay`, `WaitAction`).
    Delay {
        duration_ms: u64,
        child: Option<Box<Node>>,
    },
    /// A built-in activity, run on this flow's worker; `config` holds templates.
    Builtin {
        builtin: Builtin,
        config: Value,
        policy: ActivityPolicy,
    },
    /// A call of an activity implemented by another worker.
    Activity {
        activity: String,
        task_queue: String,
        input: Payload,
        policy: ActivityPolicy,
    },
    /// A custom node type: an activity implemented in a Rust crate and served by this flow's
    /// own worker (as a local activity when `temporal: {local: true}`).
    Custom {
        node_type: String,
        input: Payload,
        policy: ActivityPolicy,
        local: bool,
    },
    /// Another flow, run as a child workflow (`SubWorkflow`, `SubTree`).
    Child {
        workflow: String,
        /// The child's task queue when the node names one; else its flow's, or its name.
        task_queue: Option<String>,
        input: Option<Payload>,
    },
    /// `HumanApproval`/`WaitForSignal`: a signal or a durable deadline.
    WaitSignal(SignalWait),
    /// Held until the built-in `resume` signal.
    Pause,
    /// `Log`, `PrintAction`, `LogMessage`.
    Log {
        message: Value,
        level: LogLevel,
        output_key: Option<String>,
    },
    SetVariable {
        name: String,
        value: Value,
    },
    /// `name = expression` lines; each is a variable and part of the node's output.
    Script {
        assignments: Vec<(String, Expr)>,
    },
    CheckCondition {
        condition: Expr,
    },
    /// Succeeds at once (`SuccessNode`; `AlwaysCondition`, a condition that always holds).
    Succeed,
    /// `Fail`, `FailureNode`.
    Fail {
        message: Value,
    },
    Template {
        template: Value,
    },
    JsonPath {
        input: Value,
        path: String,
    },
    /// btree's counter on a flat blackboard key.
    Counter {
        key: String,
        increment: f64,
    },
    RegexExtract {
        input: Value,
        pattern: String,
        group: u64,
        output_key: Option<String>,
    },
    /// Graph form: where the flow starts (`Start`, SIM's `starter`, `start_trigger`, `schedule`).
    Start,
    /// Graph form: branches taken by the first true condition (`condition-<id>` handles); a
    /// branch without an expression is the `else`.
    Condition {
        branches: Vec<Branch>,
    },
    /// Graph form: a `Switch` on `value` (`case-<value>` handles) or on routes
    /// (`router-<id>` handles, each with a condition).
    Router {
        value: Option<Expr>,
        routes: Vec<Branch>,
    },
    /// Graph form: a loop container; its members are the nodes whose `parentId` names it.
    Loop(LoopSpec),
    /// Graph form: a parallel container; its members run once per branch.
    ParallelGroup(ParallelSpec),
    /// A Serverless Workflow step computed in workflow code by jq (`set`, `emit`, `raise`).
    Jq(JqStep),
    /// The first case whose condition holds, else `otherwise` (a Serverless Workflow `switch`,
    /// a task's `if`).
    Choice {
        cases: Vec<(Jq, Node)>,
        otherwise: Option<Box<Node>>,
    },
    /// A Serverless Workflow `call`: the request computed by jq in workflow code, sent by the
    /// built-in activity.
    Call {
        builtin: Builtin,
        request: JqValue,
        output: CallOutput,
        policy: ActivityPolicy,
    },
    /// A Serverless Workflow `try`: `attempt`, and on an error that `filter` matches, `retry`
    /// it or run `catch` with the error bound under `bind`; any other error goes on.
    Try {
        attempt: Box<Node>,
        filter: ErrorFilter,
        bind: String,
        retry: Option<RetryPolicy>,
        catch: Option<Box<Node>>,
        /// `catch.then`: the tasks that follow when the attempt passes, and those the `then`
        /// leads to once an error is caught.
        then: Option<Box<TryThen>>,
    },
}

/// Where a `try` whose `catch` has `then` goes on: each way a `Sequence`.
#[derive(Debug, Clone)]
pub struct TryThen {
    pub passed: Node,
    pub caught: Node,
}

/// A node, then those of the optional ones that are present.
fn with_optional<'n>(first: &'n Node, rest: &[&'n Option<Box<Node>>]) -> Vec<&'n Node> {
    std::iter::once(first).chain(rest.iter().filter_map(|n| n.as_deref())).collect()
}

/// How many branches of a `Parallel` must succeed, or fail, to decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub successes: u64,
    pub failures: u64,
}

/// A tree loop, its bounds resolved.
#[derive(Debug, Clone)]
pub struct Repeat {
    pub iterate: Iterate,
    pub max_iterations: u64,
    /// Iterations at once (`ForEach`'s `maxConcurrency`); 1 for every other loop.
    pub concurrency: u64,
    /// The body; for [`Iterate::WhileGuard`] the guard node, then the body.
    pub body: Vec<Node>,
}

/// What drives a tree loop.
#[derive(Debug, Clone)]
pub enum Iterate {
    /// Once per item of the collection, with the item and index bound under these names.
    Items {
        collection: Expr,
        item: String,
        index: String,
    },
    Times(u64),
    UntilFailure,
    While {
        condition: Expr,
        do_while: bool,
    },
    /// While the guard node (the first of the body) succeeds.
    WhileGuard,
    /// A Serverless Workflow `for`: each item of the list `collection` gives, bound as `$item`
    /// and `$index`, while `while` holds; each iteration is handed the previous one's data.
    Each {
        collection: Jq,
        item: String,
        index: String,
        while_: Option<Jq>,
    },
}

/// A `Retry` decorator's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub delay_ms: u64,
    pub exponential: bool,
    pub max_delay_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decorator {
    Invert,
    ForceSuccess,
    ForceFailure,
    RunOnce,
}

/// What a `SoftAssert` checks.
#[derive(Debug, Clone)]
pub enum Assertion {
    Condition(Expr),
    Child(Box<Node>),
}

/// A wait for a signal, its payload schema resolved (the node's own, else the declared signal's).
#[derive(Debug, Clone)]
pub struct SignalWait {
    pub signal: String,
    pub schema: Option<serde_json::Value>,
    pub timeout_ms: Option<u64>,
    /// `onTimeout: continue`: the deadline passing is a success.
    pub continue_on_timeout: bool,
    /// A Serverless Workflow `listen`: the events it consumes, until when; `signal` is then
    /// only what `status` shows it waits for.
    pub listen: Option<Listen>,
}

/// A `listen`: events arrive as signals named after their type, or as the generic
/// `cloudevent` signal; those no filter matches stay queued for another `listen`.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    pub consume: Consume,
    pub filters: Vec<EventFilter>,
    pub until: Option<Until>,
    pub read: EventRead,
}

impl Listen {
    /// The signals its events may arrive as: each type named, then the generic one.
    pub fn signals(&self) -> Vec<&str> {
        let mut named: Vec<&str> = self.filters.iter().chain(self.until.iter().flat_map(Until::filters)).filter_map(|f| f.kind.as_deref()).collect();
        named.sort_unstable();
        named.dedup();
        named.retain(|n| *n != EVENT_SIGNAL);
        named.push(EVENT_SIGNAL);
        named
    }
}

/// The signal any CloudEvent may be sent as, its type in its payload.
pub const EVENT_SIGNAL: &str = "cloudevent";

/// `listen.to`'s strategy: one event for each filter, events of any filter, or one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consume {
    All,
    Any,
    One,
}

/// When a `listen` to `any` stops: a jq condition on the events kept so far, or events.
#[derive(Debug, Clone, PartialEq)]
pub enum Until {
    Condition(Jq),
    Events(Consume, Vec<EventFilter>),
}

impl Until {
    fn filters(&self) -> &[EventFilter] {
        match self {
            Until::Condition(_) => &[],
            Until::Events(_, filters) => filters,
        }
    }
}

/// An event filter: the CloudEvent `type`, and other attributes (`data` among them), each a
/// value to equal or a jq condition on it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub with: Vec<(String, JqValue)>,
}

/// What a `listen` outputs of each event (`listen.read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRead {
    /// The event's `data` (the default).
    Data,
    /// The whole CloudEvent, its context attributes included.
    Envelope,
    /// The data as received (`data_base64` when the event carries binary data).
    Raw,
}

impl Node {
    /// The children in the order they run in the plan (a `Switch`: its cases, then `default`).
    pub fn children(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Sequence(children) | NodeKind::ReactiveSequence(children) | NodeKind::Selector(children) | NodeKind::Parallel { children, .. } => children.iter().collect(),
            NodeKind::Repeat(repeat) => repeat.body.iter().collect(),
            NodeKind::Conditional { then, otherwise, .. } => with_optional(then, &[otherwise]),
            NodeKind::GuardedConditional { condition, then, otherwise } => std::iter::once(condition.as_ref()).chain(with_optional(then, &[otherwise])).collect(),
            NodeKind::Switch { cases, default, .. } => cases.iter().map(|(_, n)| n).chain(default.as_deref()).collect(),
            NodeKind::Recovery { attempt, catch, finally } => with_optional(attempt, &[catch, finally]),
            NodeKind::Timeout { child, .. } | NodeKind::Retry { child, .. } | NodeKind::Decorated { child, .. } | NodeKind::Precondition { child, .. } => vec![child],
            NodeKind::SoftAssert(Assertion::Child(child)) => vec![child],
            NodeKind::Delay { child, .. } => child.as_deref().into_iter().collect(),
            NodeKind::Choice { cases, otherwise } => cases.iter().map(|(_, n)| n).chain(otherwise.as_deref()).collect(),
            NodeKind::Try { attempt, catch, then, .. } => {
                let mut children = with_optional(attempt, &[catch]);
                children.extend(then.iter().flat_map(|t| [&t.passed, &t.caught]));
                children
            }
            NodeKind::SoftAssert(Assertion::Condition(_))
            | NodeKind::Builtin { .. }
            | NodeKind::Activity { .. }
            | NodeKind::Custom { .. }
            | NodeKind::Child { .. }
            | NodeKind::WaitSignal(_)
            | NodeKind::Pause
            | NodeKind::Log { .. }
            | NodeKind::SetVariable { .. }
            | NodeKind::Script { .. }
            | NodeKind::CheckCondition { .. }
            | NodeKind::Succeed
            | NodeKind::Fail { .. }
            | NodeKind::Template { .. }
            | NodeKind::JsonPath { .. }
            | NodeKind::Counter { .. }
            | NodeKind::RegexExtract { .. }
            | NodeKind::Start
            | NodeKind::Condition { .. }
            | NodeKind::Router { .. }
            | NodeKind::Loop(_)
            | NodeKind::ParallelGroup(_)
            | NodeKind::Jq(_)
            | NodeKind::Call { .. } => Vec::new(),
        }
    }

    /// The variables the node writes. A dotted btree key `agent.steps` makes `agent` readable.
    pub fn writes(&self) -> Vec<&str> {
        match &self.kind {
            NodeKind::SetVariable { name, .. } => vec![name.as_str()],
            NodeKind::Script { assignments } => assignments.iter().map(|(n, _)| n.as_str()).collect(),
            NodeKind::Log { output_key: Some(key), .. } | NodeKind::RegexExtract { output_key: Some(key), .. } | NodeKind::Counter { key, .. } => {
                vec![key.split('.').next().unwrap_or(key)]
            }
            _ => Vec::new(),
        }
    }

    /// The children and the `onError` handler.
    fn owned(&self) -> Vec<&Node> {
        let mut nodes = self.children();
        nodes.extend(self.on_error.as_deref());
        nodes
    }

    /// [`Node::owned`], mutable: the children in plan order, then the `onError` handler.
    pub fn owned_mut(&mut self) -> Vec<&mut Node> {
        let mut nodes: Vec<&mut Node> = match &mut self.kind {
            NodeKind::Sequence(c) | NodeKind::ReactiveSequence(c) | NodeKind::Selector(c) | NodeKind::Parallel { children: c, .. } => c.iter_mut().collect(),
            NodeKind::Repeat(repeat) => repeat.body.iter_mut().collect(),
            NodeKind::Conditional { then, otherwise, .. } => std::iter::once(then.as_mut()).chain(otherwise.as_deref_mut()).collect(),
            NodeKind::GuardedConditional { condition, then, otherwise } => [condition.as_mut(), then.as_mut()].into_iter().chain(otherwise.as_deref_mut()).collect(),
            NodeKind::Switch { cases, default, .. } => cases.iter_mut().map(|(_, n)| n).chain(default.as_deref_mut()).collect(),
            NodeKind::Recovery { attempt, catch, finally } => std::iter::once(attempt.as_mut()).chain(catch.as_deref_mut()).chain(finally.as_deref_mut()).collect(),
            NodeKind::Timeout { child, .. } | NodeKind::Retry { child, .. } | NodeKind::Decorated { child, .. } | NodeKind::Precondition { child, .. } => vec![child.as_mut()],
            NodeKind::SoftAssert(Assertion::Child(child)) => vec![child.as_mut()],
            NodeKind::Delay { child, .. } => child.as_deref_mut().into_iter().collect(),
            NodeKind::Choice { cases, otherwise } => cases.iter_mut().map(|(_, n)| n).chain(otherwise.as_deref_mut()).collect(),
            NodeKind::Try { attempt, catch, then, .. } => {
                let then = then.as_deref_mut().into_iter().flat_map(|t| [&mut t.passed, &mut t.caught]);
                std::iter::once(attempt.as_mut()).chain(catch.as_deref_mut()).chain(then).collect()
            }
            NodeKind::SoftAssert(Assertion::Condition(_))
            | NodeKind::Builtin { .. }
            | NodeKind::Activity { .. }
            | NodeKind::Custom { .. }
            | NodeKind::Child { .. }
            | NodeKind::WaitSignal(_)
            | NodeKind::Pause
            | NodeKind::Log { .. }
            | NodeKind::SetVariable { .. }
            | NodeKind::Script { .. }
            | NodeKind::CheckCondition { .. }
            | NodeKind::Succeed
            | NodeKind::Fail { .. }
            | NodeKind::Template { .. }
            | NodeKind::JsonPath { .. }
            | NodeKind::Counter { .. }
            | NodeKind::RegexExtract { .. }
            | NodeKind::Start
            | NodeKind::Condition { .. }
            | NodeKind::Router { .. }
            | NodeKind::Loop(_)
            | NodeKind::ParallelGroup(_)
            | NodeKind::Jq(_)
            | NodeKind::Call { .. } => Vec::new(),
        };
        nodes.extend(self.on_error.as_deref_mut());
        nodes
    }

    /// This node and all its descendants, parents first.
    pub fn walk(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for child in self.owned() {
            out.extend(child.walk());
        }
        out
    }

    /// A composite whose output is one of its children's: it is not kept a second time.
    pub fn passes_output(&self) -> bool {
        match &self.kind {
            NodeKind::Sequence(_)
            | NodeKind::ReactiveSequence(_)
            | NodeKind::Selector(_)
            | NodeKind::Conditional { .. }
            | NodeKind::GuardedConditional { .. }
            | NodeKind::Switch { .. }
            | NodeKind::Recovery { .. }
            | NodeKind::Timeout { .. }
            | NodeKind::Retry { .. }
            | NodeKind::Decorated { .. }
            | NodeKind::Precondition { .. }
            | NodeKind::Delay { child: Some(_), .. }
            | NodeKind::Choice { .. }
            | NodeKind::Try { .. } => true,
            NodeKind::Parallel { .. }
            | NodeKind::Repeat(_)
            | NodeKind::SoftAssert(_)
            | NodeKind::Delay { child: None, .. }
            | NodeKind::Builtin { .. }
            | NodeKind::Activity { .. }
            | NodeKind::Custom { .. }
            | NodeKind::Child { .. }
            | NodeKind::WaitSignal(_)
            | NodeKind::Pause
            | NodeKind::Log { .. }
            | NodeKind::SetVariable { .. }
            | NodeKind::Script { .. }
            | NodeKind::CheckCondition { .. }
            | NodeKind::Succeed
            | NodeKind::Fail { .. }
            | NodeKind::Template { .. }
            | NodeKind::JsonPath { .. }
            | NodeKind::Counter { .. }
            | NodeKind::RegexExtract { .. }
            | NodeKind::Start
            | NodeKind::Condition { .. }
            | NodeKind::Router { .. }
            | NodeKind::Loop(_)
            | NodeKind::ParallelGroup(_)
            | NodeKind::Jq(_)
            | NodeKind::Call { .. } => false,
        }
    }

    /// True when the node runs as an activity on a worker (its configuration may read `env.*`).
    pub fn is_activity(&self) -> bool {
        matches!(self.kind, NodeKind::Builtin { .. } | NodeKind::Activity { .. } | NodeKind::Custom { .. } | NodeKind::Call { .. })
    }
}

/// The built-in activities (DESIGN section 2, "Activities"), implemented in `wfc-runtime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Builtin {
    Http,
    Email,
    Slack,
    Database,
    Ai,
    /// A Serverless Workflow `call: http`.
    CallHttp,
}

impl Builtin {
    /// The Temporal activity type, as registered on the worker.
    pub fn activity_name(self) -> &'static str {
        match self {
            Builtin::Http => "HttpRequest",
            Builtin::Email => "EmailSend",
            Builtin::Slack => "SlackMessage",
            Builtin::Database => "DatabaseQuery",
            Builtin::Ai => "AI",
            Builtin::CallHttp => "CallHttp",
        }
    }

    /// The function of `wfc_runtime::activities` that implements it.
    pub fn runtime_fn(self) -> &'static str {
        match self {
            Builtin::Http => "http_request",
            Builtin::Email => "email_send",
            Builtin::Slack => "slack_message",
            Builtin::Database => "database_query",
            Builtin::Ai => "chat_completion",
            Builtin::CallHttp => "call_http",
        }
    }

    /// One line for the generated code's documentation.
    pub fn summary(self) -> &'static str {
        match self {
            Builtin::Http => "sends the request a node describes; returns `{status, headers, body}`.",
            Builtin::Email => "sends an email over SMTP or SendGrid; returns `{provider, messageId, accepted, response}`.",
            Builtin::Slack => "posts to Slack by webhook or `chat.postMessage`; returns `{ok, channel, ts}`.",
            Builtin::Database => "runs one PostgreSQL statement with bound parameters; returns `{rows, rowCount}`.",
            Builtin::Ai => "asks an OpenAI-compatible chat model; returns `{text, model, finishReason, usage, id}`, and `json` (the parsed answer) with a `responseFormat`.",
            Builtin::CallHttp => "sends a Serverless Workflow `call: http` request; returns `{status, reason, headers, body}` for any status.",
        }
    }
}

/// A branch of a graph `Condition` or a route of a graph `Switch`.
#[derive(Debug, Clone)]
pub struct Branch {
    pub id: String,
    /// `None` for the `else` branch.
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct LoopSpec {
    pub kind: LoopKind,
    pub max_iterations: u64,
}

#[derive(Debug, Clone)]
pub enum LoopKind {
    For { iterations: u64 },
    ForEach { collection: Expr },
    While { condition: Expr, do_while: bool },
}

impl LoopKind {
    pub fn name(&self) -> &'static str {
        match self {
            LoopKind::For { .. } => "for",
            LoopKind::ForEach { .. } => "forEach",
            LoopKind::While { do_while: false, .. } => "while",
            LoopKind::While { do_while: true, .. } => "doWhile",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParallelSpec {
    pub fan_out: FanOut,
    /// How many branches run at once; all when `None`.
    pub batch_size: Option<u64>,
}

#[derive(Debug, Clone)]
pub enum FanOut {
    /// A fixed number of branches, known at compile time: expanded into copies.
    Count(u64),
    /// One branch per item of a collection, known at run time.
    Collection(Expr),
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

// The Serverless Workflow form (DSL 1.0): its tasks thread one value, the *data*, from task to
// task, and compute with jq. Lowering compiles every jq program with the `$` names in scope
// where it is written; the worker compiles it again, once per process.

/// A jq program: the text inside `${ }`, or a bare expression field such as `if`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jq {
    pub source: String,
    /// Where `source` is in the file.
    pub span: Span,
    /// The `$` names it reads (`$input`, `$color`), which the worker binds.
    pub vars: Vec<String>,
}

/// What an activity or a child workflow is handed: templates rendered on the run's variables
/// (the tree and graph forms), or jq on the task's input (the Serverless Workflow form).
#[derive(Debug, Clone)]
pub enum Payload {
    Template(Value),
    Jq(JqValue),
}

/// A value whose strings that are whole `${ }` expressions are jq; every other string is text.
#[derive(Debug, Clone, PartialEq)]
pub enum JqValue {
    Json(serde_json::Value),
    Jq(Jq),
    /// A `call` request's leaf that reads `$secrets`: computed inside the activity.
    Secret(Jq),
    List(Vec<JqValue>),
    Map(Vec<(String, JqValue)>),
}

/// A step of workflow code whose result jq computes.
#[derive(Debug, Clone, PartialEq)]
pub enum JqStep {
    /// `set`: the value is the task's output, replacing the data.
    Set(JqValue),
    /// `emit`: a CloudEvent (`id`, `specversion`, `time` filled in), recorded as the output.
    Emit(JqValue),
    /// `raise`: fails with an RFC 7807 problem (`type`, `status`, `title`, `detail`, `instance`).
    Raise(JqValue),
}

/// Which errors a `try` catches: every field of `with` equal (an error `type` by its last path
/// segment, as the specification's own documents spell the standard types three ways), `when`
/// true and `except_when` false.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFilter {
    pub with: Vec<(String, serde_json::Value)>,
    pub when: Option<Jq>,
    pub except_when: Option<Jq>,
}

/// A Serverless Workflow task's name, place and data flow (DSL "Data flow"): `input.from`
/// transforms the data it is handed, `output.as` what it produced, and `export.as` sets
/// `$context` from the transformed output.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub name: String,
    /// The task's JSON pointer in the document (`/do/0/setRed`): `$task.reference` and a
    /// raised error's default `instance`.
    pub reference: String,
    pub input: Option<JqValue>,
    pub output: Option<JqValue>,
    pub export: Option<JqValue>,
    /// JSON Schemas the raw input, the transformed output and the exported context must fit.
    pub input_schema: Option<serde_json::Value>,
    pub output_schema: Option<serde_json::Value>,
    pub export_schema: Option<serde_json::Value>,
    pub result: TaskResult,
}

/// What a task produced, before `output.as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResult {
    /// Its body's result (`set`, `call`, `emit`, `fork` without `compete`).
    Body,
    /// The data its subtasks left (`do`, `for`, `switch`, `try`).
    Data,
    /// Its input, unchanged (`wait`).
    Input,
    /// The output of the branch that finished first (`fork` with `compete`).
    Winner,
}

/// What a `call: http` task outputs (`with.output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutput {
    Content,
    Response,
    Raw,
}

/// A Serverless Workflow document's own data flow: `input.from` makes the first task's data,
/// and the output is the last data, through `output.as`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dsl {
    pub input: Option<JqValue>,
    pub output: Option<JqValue>,
    /// The document as JSON: `$workflow.definition`.
    pub definition: serde_json::Value,
    /// `schedule.on`: the events that start a run (the worker binary's `event` command).
    pub starts_on: Option<Listen>,
}
