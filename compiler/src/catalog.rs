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
            NodeType::Parallel => Spec { fields: &["strategy"], children: (1, usize::MAX), child_help: "a Parallel runs its children at once: give it at least one" },
            NodeType::Conditional => Spec { fields: &["condition"], children: (1, 2), child_help: "a Conditional has a `then` child and an optional `else` child" },
            NodeType::Delay => Spec { fields: &["duration", "delayMs"], children: (0, 1), child_help: "a Delay sleeps, then runs its one child if it has one" },
            NodeType::HttpRequest => Spec { fields: &["method", "url", "headers", "query", "body", "json", "timeout", "expectStatus"], children: LEAF, child_help: LEAF_HELP },
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
pub const SUPPORTED: &[&str] = &[
    "Activity", "CheckCondition", "Conditional", "Delay", "Fail", "HttpRequest", "Log", "Parallel", "PrintAction", "Script",
    "Sequence", "SetVariable",
];

/// Types of the product contract that later versions compile.
const PLANNED: &[&str] = &[
    "Selector", "Fallback", "Switch", "ForEach", "While", "Recovery", "SubTree", "SubWorkflow", "MemorySequence",
    "ReactiveSequence", "Timeout", "Retry", "Repeat", "Invert", "ForceSuccess", "ForceFailure", "RunOnce", "Precondition",
    "KeepRunningUntilFailure", "SoftAssert", "Template", "JsonPath", "HumanApproval", "WaitForSignal", "Pause", "EmailSend",
    "SlackMessage", "DatabaseQuery", "AI", "Llm", "CounterAction", "WaitAction", "AlwaysCondition", "SuccessNode",
    "FailureNode", "LogMessage", "RegexExtract",
];

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

pub fn is_planned(name: &str) -> bool {
    PLANNED.contains(&name)
}
