//! The node catalog: which node types exist, their aliases, fields and child counts.

/// The node types this version compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    Sequence,
    Parallel,
    Conditional,
    Delay,
    HttpRequest,
    Activity,
    Log,
    SetVariable,
    Script,
    CheckCondition,
    Fail,
}

/// What a node type accepts.
pub struct Spec {
    /// Keys allowed in `config`.
    pub fields: &'static [&'static str],
    /// Minimum and maximum number of children.
    pub children: (usize, usize),
    /// Help shown when the child count is wrong.
    pub child_help: &'static str,
}

const LEAF: (usize, usize) = (0, 0);
const LEAF_HELP: &str = "this node is an action: remove `children`";

impl NodeType {
    pub fn name(self) -> &'static str {
        match self {
            NodeType::Sequence => "Sequence",
            NodeType::Parallel => "Parallel",
            NodeType::Conditional => "Conditional",
            NodeType::Delay => "Delay",
            NodeType::HttpRequest => "HttpRequest",
            NodeType::Activity => "Activity",
            NodeType::Log => "Log",
            NodeType::SetVariable => "SetVariable",
            NodeType::Script => "Script",
            NodeType::CheckCondition => "CheckCondition",
            NodeType::Fail => "Fail",
        }
    }

    pub fn spec(self) -> Spec {
        match self {
            NodeType::Sequence => Spec { fields: &[], children: (1, usize::MAX), child_help: "a Sequence runs its children in order: give it at least one" },
            NodeType::Parallel => Spec {
                fields: &["strategy", "successThreshold", "failureThreshold", "maxConcurrency"],
                children: (1, usize::MAX),
                child_help: "a Parallel runs its children at once: give it at least one",
            },
            NodeType::Conditional => {
                Spec { fields: &["condition"], children: (1, 3), child_help: "a Conditional has `then` and optional `else` children; in btree's form, a condition child first" }
            }
            NodeType::Delay => Spec { fields: &["duration", "delayMs"], children: (0, 1), child_help: "a Delay sleeps, then runs its one child if it has one" },
            NodeType::HttpRequest => {
                Spec { fields: &["method", "url", "headers", "query", "body", "json", "form", "timeout", "expectStatus"], children: LEAF, child_help: LEAF_HELP }
            }
            NodeType::Activity => Spec { fields: &["activity", "taskQueue", "input"], children: LEAF, child_help: LEAF_HELP },
            NodeType::Log => Spec { fields: &["message", "level", "outputKey"], children: LEAF, child_help: LEAF_HELP },
            NodeType::SetVariable => Spec { fields: &["name", "value"], children: LEAF, child_help: LEAF_HELP },
            NodeType::Script => Spec { fields: &["script"], children: LEAF, child_help: LEAF_HELP },
            NodeType::CheckCondition => Spec { fields: &["condition", "key", "operator", "value"], children: LEAF, child_help: LEAF_HELP },
            NodeType::Fail => Spec { fields: &["message"], children: LEAF, child_help: LEAF_HELP },
        }
    }
}

/// Every type name accepted here, aliases included, for suggestions.
pub const SUPPORTED: &[&str] =
    &["Activity", "CheckCondition", "Conditional", "Delay", "Fail", "HttpRequest", "Log", "Parallel", "PrintAction", "Script", "Sequence", "SetVariable"];

/// How a field of a not-yet-compiled node type is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A condition: a CEL expression, or btree's `{key, operator, value}` map.
    Expr,
    /// Any JSON value whose strings are templates.
    Template,
    Duration,
    /// A whole number of at least the given minimum.
    Int(u64),
    /// A duration in milliseconds (btree's `…Ms` fields): 1ms to 100 years.
    Millis,
    Number,
    Bool,
    Str,
    Enum(&'static [&'static str]),
    /// A node.
    Node,
    /// A map from literal case values to nodes.
    NodeMap,
    /// A JSON Schema or other free-form map.
    Map,
}

/// A node type whose configuration is checked from this table (field by field), then lowered
/// by its own rules: composites and decorators, waits, btree's utilities, the integrations.
pub struct TableSpec {
    pub name: &'static str,
    /// Allowed `config` fields, with how each is checked and whether it is required.
    pub fields: &'static [(&'static str, FieldKind, bool)],
    /// Fields of which at least one must be present (e.g. `timeout` or `timeoutMs`).
    pub one_of: &'static [&'static str],
    pub children: (usize, usize),
    /// Runs as an activity on the worker: its templates may read `env.*`.
    pub activity: bool,
    /// Fields whose value names a variable the node writes (the btree blackboard).
    pub writes: &'static [&'static str],
}

const ANY: usize = usize::MAX;
const fn spec(name: &'static str, fields: &'static [(&'static str, FieldKind, bool)], children: (usize, usize)) -> TableSpec {
    TableSpec { name, fields, one_of: &[], children, activity: false, writes: &[] }
}

use FieldKind as F;

/// The node types of DESIGN section 2 that are described by a [`TableSpec`].
pub const TABLE: &[TableSpec] = &[
    spec("Selector", &[], (1, ANY)),
    spec("Fallback", &[], (1, ANY)),
    spec("Switch", &[("value", F::Expr, true), ("cases", F::NodeMap, true), ("default", F::Node, false)], (0, 0)),
    TableSpec {
        one_of: &["collection", "collectionKey"],
        ..spec(
            "ForEach",
            &[("collection", F::Expr, false), ("collectionKey", F::Str, false), ("itemKey", F::Str, false), ("indexKey", F::Str, false), ("maxConcurrency", F::Int(1), false)],
            (1, 1),
        )
    },
    spec("While", &[("condition", F::Expr, false), ("maxIterations", F::Int(1), false), ("doWhile", F::Bool, false)], (1, 2)),
    spec("Recovery", &[], (1, 3)),
    spec("SubTree", &[("workflow", F::Str, true), ("taskQueue", F::Str, false), ("input", F::Template, false)], (0, 0)),
    spec("SubWorkflow", &[("workflow", F::Str, true), ("taskQueue", F::Str, false), ("input", F::Template, false)], (0, 0)),
    spec("MemorySequence", &[], (1, ANY)),
    spec("ReactiveSequence", &[], (1, ANY)),
    TableSpec { one_of: &["timeout", "timeoutMs"], ..spec("Timeout", &[("timeout", F::Duration, false), ("timeoutMs", F::Millis, false)], (1, 1)) },
    spec(
        "Retry",
        &[("maxAttempts", F::Int(1), false), ("delay", F::Duration, false), ("backoff", F::Enum(&["fixed", "exponential"]), false), ("maxDelay", F::Duration, false)],
        (1, 1),
    ),
    spec("Repeat", &[("count", F::Int(1), true)], (1, 1)),
    spec("Invert", &[], (1, 1)),
    spec("ForceSuccess", &[], (1, 1)),
    spec("ForceFailure", &[], (1, 1)),
    spec("RunOnce", &[], (1, 1)),
    spec("Precondition", &[("condition", F::Expr, true)], (1, 1)),
    spec("KeepRunningUntilFailure", &[("maxIterations", F::Int(1), false)], (1, 1)),
    spec("SoftAssert", &[("condition", F::Expr, false)], (0, 1)),
    spec("Template", &[("template", F::Template, true)], (0, 0)),
    spec("JsonPath", &[("input", F::Template, true), ("path", F::Str, true)], (0, 0)),
    spec("HumanApproval", &[("signal", F::Str, true), ("timeout", F::Duration, false), ("schema", F::Map, false), ("onTimeout", F::Enum(&["fail", "continue"]), false)], (0, 0)),
    spec("WaitForSignal", &[("signal", F::Str, true), ("timeout", F::Duration, false), ("schema", F::Map, false), ("onTimeout", F::Enum(&["fail", "continue"]), false)], (0, 0)),
    spec("Pause", &[], (0, 0)),
    TableSpec {
        activity: true,
        ..spec(
            "EmailSend",
            &[
                ("provider", F::Enum(&["smtp", "sendgrid"]), false),
                ("to", F::Template, true),
                ("from", F::Template, true),
                ("cc", F::Template, false),
                ("bcc", F::Template, false),
                ("subject", F::Template, true),
                ("body", F::Template, false),
                ("html", F::Template, false),
                ("smtp", F::Template, false),
                ("apiKey", F::Template, false),
                ("baseUrl", F::Template, false),
            ],
            (0, 0),
        )
    },
    TableSpec {
        activity: true,
        ..spec(
            "SlackMessage",
            &[
                ("webhookUrl", F::Template, false),
                ("token", F::Template, false),
                ("channel", F::Template, false),
                ("text", F::Template, true),
                ("blocks", F::Template, false),
                ("threadTs", F::Template, false),
                ("baseUrl", F::Template, false),
            ],
            (0, 0),
        )
    },
    TableSpec { activity: true, ..spec("DatabaseQuery", &[("connectionString", F::Template, true), ("query", F::Str, true), ("parameters", F::Template, false)], (0, 0)) },
    TableSpec {
        activity: true,
        ..spec(
            "AI",
            &[
                ("baseUrl", F::Template, false),
                ("model", F::Template, true),
                ("messages", F::Template, false),
                ("prompt", F::Template, false),
                ("temperature", F::Number, false),
                ("maxTokens", F::Int(1), false),
                ("apiKey", F::Template, false),
                ("responseFormat", F::Map, false),
            ],
            (0, 0),
        )
    },
    TableSpec {
        activity: true,
        ..spec(
            "Llm",
            &[
                ("baseUrl", F::Template, false),
                ("model", F::Template, true),
                ("messages", F::Template, false),
                ("prompt", F::Template, false),
                ("temperature", F::Number, false),
                ("maxTokens", F::Int(1), false),
                ("apiKey", F::Template, false),
                ("responseFormat", F::Map, false),
            ],
            (0, 0),
        )
    },
    TableSpec {
        one_of: &["key", "counterKey"],
        writes: &["key", "counterKey"],
        ..spec("CounterAction", &[("key", F::Str, false), ("counterKey", F::Str, false), ("increment", F::Number, false)], (0, 0))
    },
    spec("WaitAction", &[("waitMs", F::Millis, true)], (0, 0)),
    spec("AlwaysCondition", &[], (0, 0)),
    spec("SuccessNode", &[], (0, 0)),
    spec("FailureNode", &[], (0, 0)),
    TableSpec {
        writes: &["outputKey"],
        ..spec("LogMessage", &[("message", F::Template, true), ("level", F::Enum(&["debug", "info", "warn", "error"]), false), ("outputKey", F::Str, false)], (0, 0))
    },
    TableSpec {
        writes: &["outputKey"],
        ..spec("RegexExtract", &[("input", F::Template, true), ("pattern", F::Str, true), ("group", F::Int(0), false), ("outputKey", F::Str, false)], (0, 0))
    },
];

/// A `Parallel` beyond `strategy: strict` (`any`, thresholds, `maxConcurrency`) is validated here
/// and compiled by a later version.
pub const PARALLEL_EXTENDED: TableSpec = spec(
    "Parallel",
    &[("strategy", F::Enum(&["strict", "any"]), false), ("successThreshold", F::Int(1), false), ("failureThreshold", F::Int(1), false), ("maxConcurrency", F::Int(1), false)],
    (1, ANY),
);

/// The table entry of a node type, if it has one.
pub fn table_spec(name: &str) -> Option<&'static TableSpec> {
    TABLE.iter().find(|spec| spec.name == name)
}

/// Every type name wfc knows, compiled or not, for suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    SUPPORTED.iter().copied().chain(TABLE.iter().map(|s| s.name))
}

pub fn lookup(name: &str) -> Option<NodeType> {
    Some(match name {
        "Sequence" => NodeType::Sequence,
        "Parallel" => NodeType::Parallel,
        "Conditional" => NodeType::Conditional,
        "Delay" => NodeType::Delay,
        "HttpRequest" => NodeType::HttpRequest,
        "Activity" => NodeType::Activity,
        "Log" | "PrintAction" => NodeType::Log,
        "SetVariable" => NodeType::SetVariable,
        "Script" => NodeType::Script,
        "CheckCondition" => NodeType::CheckCondition,
        "Fail" => NodeType::Fail,
        _ => return None,
    })
}

/// Composites and decorators that mean nothing as the source of a control-flow edge: an edge
/// from one of these marks a btree containment graph. (`Parallel` and `Delay` also exist in
/// control-flow graphs, as a container and a sleep.)
pub fn is_composite(name: &str) -> bool {
    !matches!(name, "Parallel" | "Delay") && takes_children(name)
}

/// Node types that have children in the tree form.
pub fn takes_children(name: &str) -> bool {
    match lookup(name) {
        Some(node_type) => node_type.spec().children.1 > 0,
        None => table_spec(name).is_some_and(|spec| spec.children.1 > 0),
    }
}
