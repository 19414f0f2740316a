//! The execution plan: what will run, in which order, and under which conditions.
//!
//! Both input forms construct the same plan. A graph goes through the four stages of DESIGN
//! section 3, each a pure function from one structure to the next:
//! [`path`] (reachability) → [`loops`] (regions and sentinels) → [`nodes`] (parallel expansion,
//! execution metadata) → [`edges`] (handles checked, edges wired, cycles refused, joins). A tree
//! is structured already; [`tree`] lowers it directly into the same arena.
//!
//! Steps live in one arena indexed by [`StepIdx`]. Every region (the workflow, each container
//! and each tree composite) has a `Start` and an `End` sentinel step, so edges never need a
//! special case for "into" or "out of" a region: a container step stands for its whole region
//! in its parent, and its region's `Start` is entered when the container runs.

pub mod edges;
pub mod facts;
pub mod liveness;
pub mod loops;
pub mod nodes;
pub mod path;
pub mod render;
pub mod tree;

use crate::diagnostic::Diagnostic;
use crate::model::{Body, Flow};
use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepIdx(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionIdx(pub u32);

impl StepIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl RegionIdx {
    pub const WORKFLOW: RegionIdx = RegionIdx(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The workflow's name.
    pub name: String,
    pub steps: Vec<Step>,
    pub edges: Vec<PlanEdge>,
    pub regions: Vec<Region>,
    /// Graph nodes that no path from the start reaches; they are not in the plan.
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Unique in the plan: the node id, with `[i]` per enclosing parallel copy.
    pub id: String,
    /// The flow node this step runs (the same for every parallel copy); the region's id for
    /// sentinels.
    pub node: String,
    pub type_name: String,
    pub role: Role,
    pub region: RegionIdx,
    pub span: Span,
    pub run: Run,
    /// More than one forward edge comes in: the step waits until all are settled and runs when
    /// at least one is live; when all are dead it is skipped and its own edges die.
    pub join: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Action,
    /// Chooses among its outgoing edges (`Condition`, `Switch`, a tree `Conditional`): the
    /// edges not taken die.
    Choice,
    /// Stands for a region in its parent.
    Container(RegionIdx),
    Start,
    End,
}

/// Where a step's work happens, which decides what it may read and how it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Deterministic code inside the workflow.
    Workflow,
    /// An activity on a worker, retried by policy.
    Activity,
    /// A durable wait: a timer or a signal.
    Wait,
    /// Control flow only.
    Control,
}

impl Run {
    pub fn name(self) -> &'static str {
        match self {
            Run::Workflow => "workflow",
            Run::Activity => "activity",
            Run::Wait => "wait",
            Run::Control => "control",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEdge {
    pub from: StepIdx,
    pub to: StepIdx,
    pub kind: EdgeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// On success (or, from a container, after its region).
    Success,
    /// On failure, with `error.*` in scope.
    Error,
    /// A branch of a choice, live only when taken: `then`, `else`, `condition-<id>`,
    /// `case-<value>`, `router-<id>`, `default`.
    Branch(String),
    /// A loop's end back to its start, for the next iteration.
    Back,
}

impl EdgeKind {
    pub fn label(&self) -> String {
        match self {
            EdgeKind::Success => "success".into(),
            EdgeKind::Error => "error".into(),
            EdgeKind::Branch(name) => name.clone(),
            EdgeKind::Back => "next iteration".into(),
        }
    }

    /// Forward edges order the plan; back edges repeat it.
    pub fn is_forward(&self) -> bool {
        *self != EdgeKind::Back
    }
}

#[derive(Debug, Clone)]
pub struct Region {
    pub kind: RegionKind,
    pub parent: Option<RegionIdx>,
    /// The step that stands for this region in its parent (none for the workflow).
    pub container: Option<StepIdx>,
    pub start: StepIdx,
    pub end: StepIdx,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RegionKind {
    Workflow,
    /// A tree composite or decorator, by type. `transparent` when its children's outputs are
    /// guaranteed once it succeeds (a `Sequence`, a strict `Parallel`, a `Timeout`), not when it
    /// may succeed without them (`Invert`, `ForceSuccess`, `RunOnce`, …).
    Scope {
        type_name: String,
        transparent: bool,
    },
    /// Runs its body repeatedly; `loop.*` is in scope inside.
    Loop {
        description: String,
    },
    /// Runs its body once per branch; `parallel.*` is in scope inside.
    Parallel {
        fan_out: FanOutPlan,
        batch_size: Option<u64>,
    },
    /// One static copy of a parallel body.
    Branch {
        index: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FanOutPlan {
    /// Expanded at compile time into this many `Branch` regions.
    Static(u64),
    /// One branch per item of this collection, at run time.
    Dynamic(String),
}

impl RegionKind {
    /// Whether the region's nodes are visible after it completes.
    pub fn transparent(&self) -> bool {
        matches!(self, RegionKind::Workflow | RegionKind::Scope { transparent: true, .. })
    }
}

impl Plan {
    pub fn step(&self, idx: StepIdx) -> &Step {
        &self.steps[idx.index()]
    }

    pub fn region(&self, idx: RegionIdx) -> &Region {
        &self.regions[idx.index()]
    }

    /// The regions enclosing `region`, innermost first, itself included.
    pub fn ancestry(&self, region: RegionIdx) -> impl Iterator<Item = RegionIdx> + '_ {
        std::iter::successors(Some(region), |r| self.region(*r).parent)
    }

    pub fn push_step(&mut self, step: Step) -> StepIdx {
        self.steps.push(step);
        StepIdx(self.steps.len() as u32 - 1)
    }

    /// Adds a region with its sentinels; the caller links `container` to it.
    pub fn push_region(&mut self, kind: RegionKind, parent: Option<RegionIdx>, container: Option<StepIdx>, id: &str, span: Span) -> RegionIdx {
        let idx = RegionIdx(self.regions.len() as u32);
        let sentinel = |role: Role, suffix: &str| Step {
            id: format!("{id}.{suffix}"),
            node: id.to_string(),
            type_name: suffix.to_string(),
            role,
            region: idx,
            span,
            run: Run::Control,
            join: false,
        };
        let start = self.push_step(sentinel(Role::Start, "start"));
        let end = self.push_step(sentinel(Role::End, "end"));
        self.regions.push(Region { kind, parent, container, start, end });
        idx
    }

    pub fn edge(&mut self, from: StepIdx, to: StepIdx, kind: EdgeKind) {
        self.edges.push(PlanEdge { from, to, kind });
    }

    /// Marks joins: steps with more than one incoming forward edge.
    pub fn mark_joins(&mut self) {
        let mut incoming = vec![0usize; self.steps.len()];
        for edge in self.edges.iter().filter(|e| e.kind.is_forward()) {
            incoming[edge.to.index()] += 1;
        }
        for (step, count) in self.steps.iter_mut().zip(incoming) {
            step.join = count > 1;
        }
    }

    /// The step that runs a flow node (its first copy when a parallel expands it).
    pub fn step_of(&self) -> std::collections::HashMap<&str, StepIdx> {
        let mut map = std::collections::HashMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            if !matches!(step.role, Role::Start | Role::End) {
                map.entry(step.node.as_str()).or_insert(StepIdx(i as u32));
            }
        }
        map
    }
}

/// Constructs the plan of a lowered flow. Errors (a cycle, a bad handle, a misused container)
/// come back as diagnostics; the plan is then incomplete and only fit for reporting.
pub fn build(flow: &Flow) -> (Plan, Vec<Diagnostic>) {
    match &flow.body {
        Body::Tree(root) => (tree::lower(&flow.name, root), Vec::new()),
        Body::Graph(graph) => {
            let mut diagnostics = Vec::new();
            if !loops::check_parents(graph, &mut diagnostics) {
                return (Plan::default(), diagnostics);
            }
            let reach = path::path(graph, &mut diagnostics);
            let regions = loops::loops(&flow.name, graph, &reach);
            let expanded = nodes::nodes(graph, regions);
            let plan = edges::edges(graph, expanded, &mut diagnostics);
            (plan, diagnostics)
        }
    }
}

/// How a node runs, from its kind.
pub fn run_of(kind: &crate::model::NodeKind) -> Run {
    use crate::model::NodeKind as K;
    match kind {
        K::Builtin { .. } | K::Activity { .. } | K::Custom { .. } | K::Call { .. } => Run::Activity,
        K::Delay { child: None, .. } | K::WaitSignal(_) | K::Pause => Run::Wait,
        K::Log { .. }
        | K::SetVariable { .. }
        | K::Script { .. }
        | K::CheckCondition { .. }
        | K::Fail { .. }
        | K::Succeed
        | K::Template { .. }
        | K::JsonPath { .. }
        | K::Counter { .. }
        | K::RegexExtract { .. }
        | K::Child { .. }
        | K::SoftAssert(crate::model::Assertion::Condition(_))
        | K::Jq(_) => Run::Workflow,
        K::Sequence(_)
        | K::ReactiveSequence(_)
        | K::Selector(_)
        | K::Parallel { .. }
        | K::Conditional { .. }
        | K::GuardedConditional { .. }
        | K::Switch { .. }
        | K::Repeat(_)
        | K::Recovery { .. }
        | K::Timeout { .. }
        | K::Retry { .. }
        | K::Decorated { .. }
        | K::Precondition { .. }
        | K::SoftAssert(crate::model::Assertion::Child(_))
        | K::Delay { child: Some(_), .. }
        | K::Start
        | K::Condition { .. }
        | K::Router { .. }
        | K::Loop(_)
        | K::ParallelGroup(_)
        | K::Choice { .. }
        | K::Try { .. } => Run::Control,
    }
}
