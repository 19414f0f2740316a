//! The node catalog: every node type of the tree form, its aliases, configuration fields and
//! child counts. This one table feeds lowering (which fields a node takes, how each is
//! checked), the published JSON Schema (`schema.rs`), the node reference (`docs/nodes.md`) and
//! the guide's pages (`docs/guide/`). Lowering turns each entry into its typed
//! `model::NodeKind`; nothing after it reads a type name.

/// Every node type wfc compiles, by its canonical name. Lowering matches on this exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeType {
    Sequence,
    MemorySequence,
    ReactiveSequence,
    Selector,
    Parallel,
    Conditional,
    Switch,
    ForEach,
    While,
    Repeat,
    KeepRunningUntilFailure,
    Recovery,
    Timeout,
    Retry,
    Invert,
    ForceSuccess,
    ForceFailure,
    RunOnce,
    Precondition,
    SoftAssert,
    Delay,
    WaitAction,
    HttpRequest,
    EmailSend,
    SlackMessage,
    DatabaseQuery,
    Ai,
    Activity,
    SubWorkflow,
    HumanApproval,
    WaitForSignal,
    Pause,
    Log,
    SetVariable,
    Script,
    CheckCondition,
    AlwaysCondition,
    SuccessNode,
    FailureNode,
    Fail,
    Template,
    JsonPath,
    CounterAction,
    RegexExtract,
}

/// How a configuration field is checked.
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

impl FieldKind {
    /// How the node reference names the kind.
    pub fn describe(self) -> String {
        match self {
            FieldKind::Expr => "expression".into(),
            FieldKind::Template => "template".into(),
            FieldKind::Duration => "duration".into(),
            FieldKind::Int(min) => format!("integer ≥ {min}"),
            FieldKind::Millis => "milliseconds".into(),
            FieldKind::Number => "number".into(),
            FieldKind::Bool => "boolean".into(),
            FieldKind::Str => "string".into(),
            FieldKind::Enum(values) => values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" \\| "),
            FieldKind::Node => "node".into(),
            FieldKind::NodeMap => "map of nodes".into(),
            FieldKind::Map => "map".into(),
        }
    }
}

/// A configuration field: its name, how it is checked, and whether it is required.
pub type Field = (&'static str, FieldKind, bool);

/// One node type of the catalog.
pub struct NodeSpec {
    pub node_type: NodeType,
    /// The canonical name (`type:` in a flow).
    pub name: &'static str,
    /// Other names that mean the same type (btree's and other builders' spellings).
    pub aliases: &'static [&'static str],
    /// One sentence for the reference and the schema.
    pub summary: &'static str,
    pub fields: &'static [Field],
    /// Fields of which at least one must be present (e.g. `timeout` or `timeoutMs`).
    pub one_of: &'static [&'static str],
    /// Minimum and maximum number of children.
    pub children: (usize, usize),
    /// Help shown when the child count is wrong.
    pub child_help: &'static str,
    /// Runs as an activity on the worker: its configuration may read `env.*`.
    pub activity: bool,
}

const ANY: usize = usize::MAX;
const LEAF_HELP: &str = "this node is an action: remove `children`";

const fn leaf(node_type: NodeType, name: &'static str, summary: &'static str, fields: &'static [Field]) -> NodeSpec {
    NodeSpec { node_type, name, aliases: &[], summary, fields, one_of: &[], children: (0, 0), child_help: LEAF_HELP, activity: false }
}

const fn parent(node_type: NodeType, name: &'static str, summary: &'static str, fields: &'static [Field], children: (usize, usize), child_help: &'static str) -> NodeSpec {
    NodeSpec { node_type, name, aliases: &[], summary, fields, one_of: &[], children, child_help, activity: false }
}

const fn decorator(node_type: NodeType, name: &'static str, summary: &'static str, fields: &'static [Field]) -> NodeSpec {
    parent(node_type, name, summary, fields, (1, 1), "a decorator wraps exactly one child")
}

use FieldKind as F;

const LEVELS: &[&str] = &["debug", "info", "warn", "error"];
const WAIT_FIELDS: &[Field] = &[("signal", F::Str, true), ("timeout", F::Duration, false), ("schema", F::Map, false), ("onTimeout", F::Enum(&["fail", "continue"]), false)];
const CHILD_FIELDS: &[Field] = &[("workflow", F::Str, true), ("taskQueue", F::Str, false), ("input", F::Template, false)];

/// The catalog, in the order of the reference.
pub const TABLE: &[NodeSpec] = &[
    // Composites.
    parent(
        NodeType::Sequence,
        "Sequence",
        "Runs its children in order; fails at the first failure. Its output is the last child's.",
        &[],
        (1, ANY),
        "a Sequence runs its children in order: give it at least one",
    ),
    parent(
        NodeType::MemorySequence,
        "MemorySequence",
        "A `Sequence` that resumes at the child that was running: in a durable run every sequence does.",
        &[],
        (1, ANY),
        "a MemorySequence runs its children in order: give it at least one",
    ),
    parent(
        NodeType::ReactiveSequence,
        "ReactiveSequence",
        "A `Sequence` whose leading conditions are re-checked while the rest runs; the first one that turns false cancels it.",
        &[],
        (1, ANY),
        "a ReactiveSequence runs its children in order: give it at least one",
    ),
    NodeSpec {
        aliases: &["Fallback"],
        ..parent(
            NodeType::Selector,
            "Selector",
            "Tries its children in order until one succeeds; fails when all fail.",
            &[],
            (1, ANY),
            "a Selector tries its children in order: give it at least one",
        )
    },
    parent(
        NodeType::Parallel,
        "Parallel",
        "Runs its children at once. `strict` (the default) needs all to succeed; `any` one; thresholds set the quorum. Once decided, the rest are cancelled.",
        &[("strategy", F::Enum(&["strict", "any"]), false), ("successThreshold", F::Int(1), false), ("failureThreshold", F::Int(1), false), ("maxConcurrency", F::Int(1), false)],
        (1, ANY),
        "a Parallel runs its children at once: give it at least one",
    ),
    parent(
        NodeType::Conditional,
        "Conditional",
        "Runs `then` (its first child) when `condition` holds, else the optional second child. In btree's form, without `condition`, the first child is the condition node.",
        &[("condition", F::Expr, false)],
        (1, 3),
        "a Conditional has `then` and optional `else` children; in btree's form, a condition child first",
    ),
    leaf(
        NodeType::Switch,
        "Switch",
        "Runs the case whose key equals `value` (a string as is, anything else as JSON text), else `default`.",
        &[("value", F::Expr, true), ("cases", F::NodeMap, true), ("default", F::Node, false)],
    ),
    // Loops.
    NodeSpec {
        one_of: &["collection", "collectionKey"],
        ..parent(
            NodeType::ForEach,
            "ForEach",
            "Runs its child once per item of `collection` (or btree's `collectionKey`), `maxConcurrency` at a time, with `item` and `index` (or `itemKey`/`indexKey`) in scope.",
            &[("collection", F::Expr, false), ("collectionKey", F::Str, false), ("itemKey", F::Str, false), ("indexKey", F::Str, false), ("maxConcurrency", F::Int(1), false)],
            (1, 1),
            "a ForEach runs its one child per item",
        )
    },
    parent(
        NodeType::While,
        "While",
        "Runs its child while `condition` holds (checked after each pass with `doWhile`), at most `maxIterations` (1000) times. Without `condition`, its first child is a guard node.",
        &[("condition", F::Expr, false), ("maxIterations", F::Int(1), false), ("doWhile", F::Bool, false)],
        (1, 2),
        "a While with `condition` has one child, the body; without, two: a guard node, then the body",
    ),
    parent(
        NodeType::Repeat,
        "Repeat",
        "Runs its child `count` times; fails at the first failure.",
        &[("count", F::Int(1), true)],
        (1, 1),
        "a Repeat runs its one child `count` times",
    ),
    parent(
        NodeType::KeepRunningUntilFailure,
        "KeepRunningUntilFailure",
        "Runs its child until it fails (at most `maxIterations` times), then succeeds.",
        &[("maxIterations", F::Int(1), false)],
        (1, 1),
        "a KeepRunningUntilFailure runs its one child until it fails",
    ),
    // Error handling and decorators.
    parent(
        NodeType::Recovery,
        "Recovery",
        "Runs its first child; on failure the second (with `error` in scope); the optional third runs afterwards either way.",
        &[],
        (1, 3),
        "a Recovery has a child to try, then optionally a handler and a `finally` child",
    ),
    NodeSpec {
        one_of: &["timeout", "timeoutMs"],
        ..decorator(
            NodeType::Timeout,
            "Timeout",
            "Fails its child (cancelling it) when it runs longer than `timeout` (or btree's `timeoutMs`): a durable timer.",
            &[("timeout", F::Duration, false), ("timeoutMs", F::Millis, false)],
        )
    },
    decorator(
        NodeType::Retry,
        "Retry",
        "Runs its child again when it fails, up to `maxAttempts` (3) times, waiting `delay` (1s; doubling with `backoff: exponential`, at most `maxDelay`, 1m) between attempts.",
        &[("maxAttempts", F::Int(1), false), ("delay", F::Duration, false), ("backoff", F::Enum(&["fixed", "exponential"]), false), ("maxDelay", F::Duration, false)],
    ),
    decorator(NodeType::Invert, "Invert", "Succeeds when its child fails and fails when it succeeds.", &[]),
    decorator(NodeType::ForceSuccess, "ForceSuccess", "Succeeds whatever its child does.", &[]),
    decorator(NodeType::ForceFailure, "ForceFailure", "Fails whatever its child does.", &[]),
    decorator(NodeType::RunOnce, "RunOnce", "Runs its child the first time it is reached in a run; afterwards succeeds at once.", &[]),
    decorator(NodeType::Precondition, "Precondition", "Runs its child only when `condition` holds; fails otherwise.", &[("condition", F::Expr, true)]),
    parent(
        NodeType::SoftAssert,
        "SoftAssert",
        "Checks `condition` (or runs its one child): a false condition or failed child is logged as a warning, never a failure.",
        &[("condition", F::Expr, false)],
        (0, 1),
        "a SoftAssert checks a `condition` or its one child, not both",
    ),
    // Waiting.
    NodeSpec {
        one_of: &["duration", "delayMs"],
        ..parent(
            NodeType::Delay,
            "Delay",
            "Sleeps on a durable timer for `duration` (or btree's `delayMs`), then runs its child if it has one.",
            &[("duration", F::Duration, false), ("delayMs", F::Millis, false)],
            (0, 1),
            "a Delay sleeps, then runs its one child if it has one",
        )
    },
    leaf(NodeType::WaitAction, "WaitAction", "btree's sleep: a durable timer of `waitMs` milliseconds.", &[("waitMs", F::Millis, true)]),
    leaf(
        NodeType::HumanApproval,
        "HumanApproval",
        "Waits for the `signal` (its payload checked against `schema`), or until `timeout`, then fails or continues (`onTimeout`).",
        WAIT_FIELDS,
    ),
    leaf(
        NodeType::WaitForSignal,
        "WaitForSignal",
        "Waits for the `signal` (its payload checked against `schema`), or until `timeout`, then fails or continues (`onTimeout`).",
        WAIT_FIELDS,
    ),
    leaf(NodeType::Pause, "Pause", "Holds the flow here until the built-in `resume` signal.", &[]),
    // Activities.
    NodeSpec {
        activity: true,
        ..leaf(
            NodeType::HttpRequest,
            "HttpRequest",
            "Sends an HTTP request; returns `{status, headers, body}`. A status outside `expectStatus` (2xx) fails the attempt.",
            &[
                ("method", F::Str, false),
                ("url", F::Template, true),
                ("headers", F::Template, false),
                ("query", F::Template, false),
                ("body", F::Template, false),
                ("json", F::Template, false),
                ("form", F::Template, false),
                ("timeout", F::Duration, false),
                ("expectStatus", F::Template, false),
            ],
        )
    },
    NodeSpec {
        activity: true,
        ..leaf(
            NodeType::EmailSend,
            "EmailSend",
            "Sends an email over SMTP or SendGrid; returns `{provider, messageId, accepted, response}`.",
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
        )
    },
    NodeSpec {
        activity: true,
        ..leaf(
            NodeType::SlackMessage,
            "SlackMessage",
            "Posts to Slack by webhook or `chat.postMessage`; returns `{ok, channel, ts}`.",
            &[
                ("webhookUrl", F::Template, false),
                ("token", F::Template, false),
                ("channel", F::Template, false),
                ("text", F::Template, true),
                ("blocks", F::Template, false),
                ("threadTs", F::Template, false),
                ("baseUrl", F::Template, false),
            ],
        )
    },
    NodeSpec {
        activity: true,
        ..leaf(
            NodeType::DatabaseQuery,
            "DatabaseQuery",
            "Runs one PostgreSQL statement with bound `$n` parameters; returns `{rows, rowCount}`.",
            &[("connectionString", F::Template, true), ("query", F::Str, true), ("parameters", F::Template, false)],
        )
    },
    NodeSpec {
        activity: true,
        aliases: &["Llm"],
        ..leaf(
            NodeType::Ai,
            "AI",
            "Asks an OpenAI-compatible chat model; returns `{text, model, finishReason, usage, id}`, and `json` (the parsed answer) with a `responseFormat`.",
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
        )
    },
    leaf(
        NodeType::Activity,
        "Activity",
        "Calls an activity served by another worker on `taskQueue` (or its declaration's). A declared activity's name also works as a node type.",
        &[("activity", F::Str, true), ("taskQueue", F::Str, false), ("input", F::Template, false)],
    ),
    NodeSpec { aliases: &["SubTree"], ..leaf(NodeType::SubWorkflow, "SubWorkflow", "Runs another flow as a child workflow, by its name, and returns its result.", CHILD_FIELDS) },
    // Workflow-side actions.
    NodeSpec {
        aliases: &["PrintAction", "LogMessage"],
        ..leaf(
            NodeType::Log,
            "Log",
            "Writes the rendered `message` to the worker's log (not again on replay); the output is `{message}`, also kept in the variable `outputKey`.",
            &[("message", F::Template, true), ("level", F::Enum(LEVELS), false), ("outputKey", F::Str, false)],
        )
    },
    leaf(
        NodeType::SetVariable,
        "SetVariable",
        "Sets the variable `name` to the rendered `value`; the output is the value.",
        &[("name", F::Str, true), ("value", F::Template, true)],
    ),
    leaf(NodeType::Script, "Script", "`name = expression` lines; each is a variable (visible to the next lines) and a field of the output.", &[("script", F::Str, true)]),
    leaf(
        NodeType::CheckCondition,
        "CheckCondition",
        "Succeeds when `condition` (or btree's `key`/`operator`/`value`) holds; fails otherwise.",
        &[("condition", F::Expr, false), ("key", F::Str, false), ("operator", F::Str, false), ("value", F::Template, false)],
    ),
    leaf(NodeType::AlwaysCondition, "AlwaysCondition", "A condition that always holds.", &[]),
    leaf(NodeType::SuccessNode, "SuccessNode", "Succeeds at once.", &[]),
    leaf(NodeType::FailureNode, "FailureNode", "Fails at once.", &[]),
    leaf(NodeType::Fail, "Fail", "Fails the node with the rendered `message`.", &[("message", F::Template, false)]),
    leaf(NodeType::Template, "Template", "Renders `template`; the output is the rendered value.", &[("template", F::Template, true)]),
    leaf(
        NodeType::JsonPath,
        "JsonPath",
        "Queries the rendered `input` with a JSONPath (RFC 9535); the output is the list of matches.",
        &[("input", F::Template, true), ("path", F::Str, true)],
    ),
    NodeSpec {
        one_of: &["key", "counterKey"],
        ..leaf(
            NodeType::CounterAction,
            "CounterAction",
            "Adds `increment` (1) to the number in the blackboard key (0 when unset); the output is the new value.",
            &[("key", F::Str, false), ("counterKey", F::Str, false), ("increment", F::Number, false)],
        )
    },
    leaf(
        NodeType::RegexExtract,
        "RegexExtract",
        "The `group` of the first match of `pattern` in the rendered `input`, also kept in `outputKey`; no match fails the node.",
        &[("input", F::Template, true), ("pattern", F::Str, true), ("group", F::Int(0), false), ("outputKey", F::Str, false)],
    ),
];

/// The catalog entry of a type name or alias.
pub fn lookup(name: &str) -> Option<&'static NodeSpec> {
    TABLE.iter().find(|spec| spec.name == name || spec.aliases.contains(&name))
}

/// Every type name wfc knows, aliases included, for suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
}

/// Composites and decorators that mean nothing as the source of a control-flow edge: an edge
/// from one of these marks a btree containment graph. (`Parallel` and `Delay` also exist in
/// control-flow graphs, as a container and a sleep.)
pub fn is_composite(name: &str) -> bool {
    !matches!(name, "Parallel" | "Delay") && takes_children(name)
}

/// Node types that have children in the tree form.
pub fn takes_children(name: &str) -> bool {
    lookup(name).is_some_and(|spec| spec.children.1 > 0)
}

/// `docs/nodes.md`: the node reference, generated from [`TABLE`].
pub fn reference() -> String {
    let mut page = String::from(
        "# Node types\n\n<!-- Generated from compiler/src/catalog.rs by tests/it/docs.rs. Do not edit. -->\n\n\
         The node types of the tree form (`type:`), with their configuration (`config:`, or btree's `props:`). \
         Any node also takes `id`, `name`, `description`, `temporal` (an activity's timeout and retries) and `onError`. \
         A type may also be the name of an activity declared under `activities:`.\n",
    );
    for spec in TABLE {
        page.push_str(&format!("\n## {}\n\n{}", spec.name, section(spec)));
    }
    page
}

/// One type's entry, below its heading: summary, aliases, children and field table, in
/// Markdown. The node reference and the guide's page of the type (`docs/guide/`) both print it.
pub fn section(spec: &NodeSpec) -> String {
    let mut text = format!("{}\n", spec.summary);
    if !spec.aliases.is_empty() {
        text.push_str(&format!("\nAlso written {}.\n", spec.aliases.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")));
    }
    let children = match spec.children {
        (0, 0) => "none".to_string(),
        (a, b) if a == b => a.to_string(),
        (a, ANY) => format!("{a} or more"),
        (a, b) => format!("{a} to {b}"),
    };
    text.push_str(&format!("\nChildren: {children}.{}\n", if spec.activity { " Runs as an activity: its configuration may read `env.NAME`." } else { "" }));
    if !spec.fields.is_empty() {
        text.push_str("\n| field | kind | required |\n|---|---|---|\n");
        for field in spec.fields {
            text.push_str(&field_row(spec, field));
            text.push('\n');
        }
    }
    text
}

/// A field's row of the reference's table: name, kind, and whether it is required.
pub fn field_row(spec: &NodeSpec, (name, kind, required): &Field) -> String {
    let required = if *required {
        "yes"
    } else if spec.one_of.contains(name) {
        "one of these"
    } else {
        ""
    };
    format!("| `{name}` | {} | {required} |", kind.describe())
}
