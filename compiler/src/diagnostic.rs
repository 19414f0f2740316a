//! The diagnostic data model: what went wrong, where (a byte span), and how to fix it.
//!
//! Rendering lives in `render`; passes only build these values. Every diagnostic has a stable
//! code, a span, a label and help: there is no span-less diagnostic.

use crate::source::Span;

macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $code:literal, $slug:literal;)+) => {
        /// Stable diagnostic codes. Codes are never reused or renumbered.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The code as users see it, e.g. `E0102`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)+ }
            }

            /// A short kebab-case name for the code.
            pub fn slug(self) -> &'static str {
                match self { $(Code::$variant => $slug,)+ }
            }

            /// What the code means, from its doc comment.
            pub fn doc(self) -> &'static str {
                match self { $(Code::$variant => concat!($($doc, "\n"),+),)+ }
            }

            /// The doc comment as one paragraph of plain text.
            pub fn description(self) -> String {
                self.doc().split_whitespace().collect::<Vec<_>>().join(" ")
            }
        }
    };
}

codes! {
    /// The text is not valid YAML or JSON.
    Syntax = "E0001", "syntax";
    /// A map sets the same key twice; one of the two values would be silently lost.
    DuplicateKey = "E0002", "duplicate-key";
    /// The document is neither a workflow (`root:` or `nodes:`) nor a single btree node (`type:`).
    DocumentShape = "E0003", "document-shape";
    /// A required field is missing.
    MissingField = "E0004", "missing-field";
    /// A field has a value of the wrong type.
    WrongType = "E0005", "wrong-type";
    /// A field that this place does not know; usually a typo.
    UnknownField = "E0006", "unknown-field";
    /// A node `type` that is neither built in nor declared under `activities:`.
    UnknownNodeType = "E0007", "unknown-node-type";
    /// Two nodes share an id; ids name activities and outputs, so they must be unique.
    DuplicateNodeId = "E0008", "duplicate-node-id";
    /// A workflow name or node id has characters outside its allowed set.
    InvalidName = "E0009", "invalid-name";
    /// A composite or decorator has the wrong number of children.
    ChildCount = "E0010", "child-count";
    /// A duration is not a number with a unit such as `500ms`, `30s`, `5 minutes`, `7 days`.
    InvalidDuration = "E0011", "invalid-duration";
    /// A value is outside its allowed range or set.
    InvalidValue = "E0012", "invalid-value";
    /// A JSON Schema uses a construct that wfc cannot turn into a Rust type.
    UnsupportedSchema = "E0013", "unsupported-schema";
    /// A Serverless Workflow construct that this version of wfc does not compile yet (the
    /// README's conformance table lists them). wfc names it rather than skip it.
    NotCompiled = "E0014", "not-compiled";
    /// A graph edge names a node id that no node has.
    UnknownEdgeEndpoint = "E0015", "unknown-edge-endpoint";
    /// An edge's `sourceHandle` is not a handle name, or not one its source node has (e.g.
    /// `condition-<id>` from a node that is not a `Condition`, or an id it does not define).
    InvalidHandle = "E0016", "invalid-handle";
    /// The edges form a cycle outside a `Loop` container. Repetition is written as a loop, so
    /// that it has a bound and a durable iteration count; the message prints the cycle.
    Cycle = "E0017", "cycle";
    /// A container is misused: `parentId` names a node that is not a `Loop` or `Parallel`, an
    /// edge crosses a container's boundary, or a btree containment graph has no single root.
    InvalidContainer = "E0018", "invalid-container";
    /// A graph has no node to start from: no `Start` node and every node has an incoming edge.
    NoStart = "E0019", "no-start";
    /// A `{{ }}` template or CEL expression does not parse.
    ExpressionSyntax = "E0101", "expression-syntax";
    /// An expression reads a name that is not in scope: no node has that id, and it is not
    /// `input`, a variable, `workflow` or `env`.
    UnknownReference = "E0102", "unknown-reference";
    /// `env.*` is read outside activity configuration. Secrets are resolved on the worker inside
    /// the activity, so they never enter workflow history; anywhere else they would.
    EnvOutsideActivity = "E0103", "env-outside-activity";
    /// One expression reads `env.*` together with workflow data. The env part is resolved inside
    /// the activity, where workflow data is not available.
    EnvMixedWithData = "E0104", "env-mixed-with-data";
    /// Two node ids become the same name in expressions once `-` reads as `_`.
    IdCollision = "E0105", "id-collision";
    /// An `Activity` node names an activity that is not declared under `activities:` and gives no
    /// `taskQueue` of its own; or a Serverless Workflow `call` names no function of
    /// `use.functions` and no activity of a `--registry` file.
    UnknownActivity = "E0106", "unknown-activity";
    /// An expression reads a node's output where that node may not have completed: on some
    /// path to this use the node is skipped, fails into an error route, or runs later. Guard the
    /// read with `has()`, e.g. `has(lookup.body) ? lookup.body.id : ""`.
    NotGuaranteed = "E0107", "not-guaranteed";
    /// A name is read outside the region that defines it: `loop.*` outside a loop, `parallel.*`
    /// outside a parallel container, `error.*` outside an error route, or a node inside a loop
    /// or parallel read from outside it (read the container's result instead).
    OutOfScope = "E0108", "out-of-scope";
    /// An expression's value has the wrong type for where it is used, as far as the input
    /// schema makes types known (e.g. a condition that is a string).
    TypeMismatch = "E0109", "type-mismatch";
    /// `env` is read other than as `env.NAME` (`env`, `env['X']`, `env.map(…)`): that would
    /// hand the worker's whole environment, its credentials included, to the activity. Name
    /// each variable the activity needs.
    EnvByName = "E0110", "env-by-name";
    /// `wfc build --previous`: an edit of an `auto-upgrade` flow that breaks running workflows
    /// and that no Temporal patch can make safe (a moved node, a node that now issues other
    /// commands, a changed decision, an edit of a graph, a read of an added node's output).
    /// Patched automatically are nodes added to or removed from a `Sequence`.
    Unpatchable = "E0111", "unpatchable";
    /// A graph node that no path from the start reaches. It is dropped from the plan.
    Unreachable = "W0001", "unreachable";
    /// A setting of an exported block that wfc has no equivalent for; it is ignored.
    IgnoredField = "W0002", "ignored-field";
    /// A bug in wfc: generated code did not parse. The message shows the offending code; please
    /// report it.
    Internal = "E9999", "internal";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: String,
    /// Other places that explain this one, e.g. the first definition of a duplicate.
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), span, label: String::new(), help: String::new(), related: Vec::new() }
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// "did you mean …": the candidates closest to `name`, best first.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates.into_iter().map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c)).filter(|(score, _)| *score > 0.7).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// Formats candidates as "`a`, `b` or `c`".
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
