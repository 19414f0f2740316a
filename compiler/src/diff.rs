//! `wfc diff OLD NEW`: what an edit does to runs in flight. A running workflow is replayed on
//! the new build from its history, so the new code must issue the same Temporal commands
//! (activities, timers, child workflows), in the same order, up to where the run is. Each changed
//! node is classified: *safe* when it cannot change that sequence (a log text, an activity's
//! input or timeout, a delay's length), *breaks* when it can (a command added, removed, moved or
//! replaced; a decision changed above nodes that issue commands; a read of an output the old
//! build releases), with the reason.
//!
//! Nodes are matched by id. A node's own configuration is compared as written, with its child
//! nodes replaced by their ids, so an edit inside a child is the child's change, not its parent's.

use std::collections::{BTreeMap, BTreeSet};

use crate::Checked;
use crate::model::{Assertion, Body, FanOut, Flow, Iterate, LoopKind, Node, NodeKind, SignalWait};
use crate::source::SourceFile;
use crate::syntax::{self, Value};

/// One side of the comparison: a flow that checked without errors.
pub struct Side<'a> {
    pub source: &'a SourceFile,
    pub flow: &'a Flow,
    pub checked: &'a Checked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Runs in flight replay the new build unchanged.
    Safe,
    /// A run in flight would meet a nondeterminism error, or silently take another path.
    Breaks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Added,
    Removed,
    Changed,
    Moved,
}

impl Edit {
    pub fn as_str(self) -> &'static str {
        match self {
            Edit::Added => "added",
            Edit::Removed => "removed",
            Edit::Changed => "changed",
            Edit::Moved => "moved",
        }
    }
}

/// One changed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub node: String,
    pub type_name: String,
    pub edit: Edit,
    /// The node's line in the new flow, or in the old one for a removed node.
    pub line: usize,
    pub verdict: Verdict,
    pub reason: String,
    /// The node's parent in the new flow (the old one for a removed node), when it is a
    /// `Sequence`: where [`crate::patch`] can keep or skip it by itself.
    pub in_sequence: Option<String>,
}

/// A Temporal command a node issues itself (its children's are theirs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Activity(String),
    /// Recorded as a marker, so a switch between local and not is a different command.
    LocalActivity(String),
    Child(String),
    Timer(&'static str),
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Activity(name) => write!(f, "activity `{name}`"),
            Command::LocalActivity(name) => write!(f, "local activity `{name}`"),
            Command::Child(name) => write!(f, "child workflow `{name}`"),
            Command::Timer(what) => write!(f, "a {what} timer"),
        }
    }
}

fn commands(kind: &NodeKind) -> Vec<Command> {
    match kind {
        NodeKind::Builtin { builtin, .. } | NodeKind::Call { builtin, .. } => vec![Command::Activity(builtin.activity_name().to_string())],
        NodeKind::Activity { activity, .. } | NodeKind::Custom { node_type: activity, local: false, .. } => vec![Command::Activity(activity.clone())],
        NodeKind::Custom { node_type, local: true, .. } => vec![Command::LocalActivity(node_type.clone())],
        NodeKind::Child { workflow, .. } => vec![Command::Child(workflow.clone())],
        NodeKind::Delay { .. } => vec![Command::Timer("delay")],
        NodeKind::Timeout { .. } => vec![Command::Timer("deadline")],
        NodeKind::WaitSignal(SignalWait { timeout_ms: Some(_), .. }) => vec![Command::Timer("deadline")],
        NodeKind::Retry { .. } | NodeKind::Try { retry: Some(_), .. } => vec![Command::Timer("retry wait")],
        NodeKind::WaitSignal(SignalWait { timeout_ms: None, .. })
        | NodeKind::Sequence(_)
        | NodeKind::ReactiveSequence(_)
        | NodeKind::Selector(_)
        | NodeKind::Parallel { .. }
        | NodeKind::Conditional { .. }
        | NodeKind::GuardedConditional { .. }
        | NodeKind::Switch { .. }
        | NodeKind::Repeat(_)
        | NodeKind::Recovery { .. }
        | NodeKind::Decorated { .. }
        | NodeKind::Precondition { .. }
        | NodeKind::SoftAssert(_)
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
        | NodeKind::Choice { .. }
        | NodeKind::Try { retry: None, .. } => Vec::new(),
    }
}

/// What a node decides (a condition, a loop's bounds, a quorum), as text; `None` when it
/// decides nothing, so that only its children's commands matter.
fn decision(kind: &NodeKind) -> Option<String> {
    let branches = |branches: &[crate::model::Branch]| {
        branches.iter().map(|b| format!("{}: {}", b.id, b.condition.as_ref().map_or("else", |c| c.source.as_str()))).collect::<Vec<_>>().join("; ")
    };
    match kind {
        NodeKind::Conditional { condition, .. } | NodeKind::Precondition { condition, .. } | NodeKind::CheckCondition { condition } => Some(condition.source.clone()),
        NodeKind::SoftAssert(Assertion::Condition(condition)) => Some(condition.source.clone()),
        NodeKind::Switch { value, cases, .. } => Some(format!("{} {:?}", value.source, cases.iter().map(|(label, _)| label).collect::<Vec<_>>())),
        NodeKind::Repeat(repeat) => {
            let iterate = match &repeat.iterate {
                Iterate::Items { collection, item, index } => format!("each {} as {item}, {index}", collection.source),
                Iterate::Times(n) => format!("{n} times"),
                Iterate::UntilFailure => "until failure".to_string(),
                Iterate::While { condition, do_while } => format!("while {} (do-while {do_while})", condition.source),
                Iterate::WhileGuard => "while the guard succeeds".to_string(),
                Iterate::Each { collection, item, index, while_ } => {
                    format!("each {} as ${item}, ${index} while {}", collection.source, while_.as_ref().map_or("true", |w| w.source.as_str()))
                }
            };
            Some(format!("{iterate}, at most {}, {} at once", repeat.max_iterations, repeat.concurrency))
        }
        NodeKind::Parallel { quorum, at_once, .. } => Some(format!("{quorum:?} {at_once:?}")),
        NodeKind::Retry { policy, .. } => Some(format!("{policy:?}")),
        NodeKind::Decorated { decorator, .. } => Some(format!("{decorator:?}")),
        NodeKind::Condition { branches: b } => Some(branches(b)),
        NodeKind::Router { value, routes } => Some(format!("{} {}", value.as_ref().map_or("", |v| v.source.as_str()), branches(routes))),
        NodeKind::Loop(spec) => Some(match &spec.kind {
            LoopKind::For { iterations } => format!("for {iterations}, at most {}", spec.max_iterations),
            LoopKind::ForEach { collection } => format!("each {}, at most {}", collection.source, spec.max_iterations),
            LoopKind::While { condition, do_while } => format!("while {} ({do_while}), at most {}", condition.source, spec.max_iterations),
        }),
        NodeKind::ParallelGroup(spec) => Some(match &spec.fan_out {
            FanOut::Count(n) => format!("{n} branches, {:?} at once", spec.batch_size),
            FanOut::Collection(c) => format!("each {}, {:?} at once", c.source, spec.batch_size),
        }),
        NodeKind::WaitSignal(wait) => Some(format!("{} {}", wait.signal, wait.continue_on_timeout)),
        NodeKind::Choice { cases, .. } => Some(cases.iter().map(|(when, _)| when.source.as_str()).collect::<Vec<_>>().join("; ")),
        NodeKind::Try { filter, bind, retry, .. } => Some(format!("{filter:?} as ${bind} {retry:?}")),
        NodeKind::SoftAssert(Assertion::Child(_))
        | NodeKind::Sequence(_)
        | NodeKind::ReactiveSequence(_)
        | NodeKind::Selector(_)
        | NodeKind::GuardedConditional { .. }
        | NodeKind::Recovery { .. }
        | NodeKind::Timeout { .. }
        | NodeKind::Delay { .. }
        | NodeKind::Builtin { .. }
        | NodeKind::Activity { .. }
        | NodeKind::Custom { .. }
        | NodeKind::Child { .. }
        | NodeKind::Pause
        | NodeKind::Log { .. }
        | NodeKind::SetVariable { .. }
        | NodeKind::Script { .. }
        | NodeKind::Succeed
        | NodeKind::Fail { .. }
        | NodeKind::Template { .. }
        | NodeKind::JsonPath { .. }
        | NodeKind::Counter { .. }
        | NodeKind::RegexExtract { .. }
        | NodeKind::Start
        | NodeKind::Jq(_)
        | NodeKind::Call { .. } => None,
    }
}

/// What one side knows of each node.
struct Facts<'a> {
    graph: bool,
    nodes: BTreeMap<&'a str, &'a Node>,
    /// The parent of each node (tree children, graph container members).
    parent: BTreeMap<&'a str, &'a Node>,
    /// The nodes each node governs: its subtree (a tree), or what it reaches by edges (a graph).
    governed: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Each node's place: a tree node's siblings in order; a graph node's incoming edges.
    place: BTreeMap<&'a str, Vec<String>>,
    /// The node's own configuration as written, child nodes replaced by their ids.
    config: BTreeMap<&'a str, serde_json::Value>,
    /// (reader, output read).
    reads: BTreeSet<(String, String)>,
    /// Output → the node after which the build releases it.
    released: BTreeMap<String, String>,
}

impl<'a> Facts<'a> {
    fn new(side: &Side<'a>) -> Facts<'a> {
        let mut facts = Facts {
            graph: matches!(side.flow.body, Body::Graph(_)),
            nodes: BTreeMap::new(),
            parent: BTreeMap::new(),
            governed: BTreeMap::new(),
            place: BTreeMap::new(),
            config: BTreeMap::new(),
            reads: side.checked.reads.clone(),
            released: side.checked.releases.iter().flat_map(|(at, outputs)| outputs.iter().map(move |o| (o.clone(), at.clone()))).collect(),
        };
        let all = side.flow.nodes();
        for node in &all {
            facts.nodes.insert(node.id.as_str(), node);
            let subtree: BTreeSet<&str> = node.walk().into_iter().map(|n| n.id.as_str()).collect();
            facts.governed.insert(node.id.as_str(), subtree);
            let children = node.children();
            let order: Vec<String> = children.iter().map(|c| c.id.clone()).collect();
            for child in children.iter().copied().chain(node.on_error.as_deref()) {
                facts.parent.insert(child.id.as_str(), node);
                facts.place.insert(child.id.as_str(), order.clone());
            }
        }
        if let Body::Graph(graph) = &side.flow.body {
            let by_id: BTreeMap<&str, &Node> = graph.nodes.iter().map(|g| (g.node.id.as_str(), &g.node)).collect();
            for member in &graph.nodes {
                if let Some((container, _)) = &member.parent
                    && let Some(container) = by_id.get(container.as_str())
                {
                    facts.parent.insert(member.node.id.as_str(), container);
                }
            }
            let mut incoming: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for edge in &graph.edges {
                incoming.entry(edge.target.as_str()).or_default().push(format!("{} {:?}", edge.source, edge.handle));
                next.entry(edge.source.as_str()).or_default().push(edge.target.as_str());
            }
            for (target, mut sources) in incoming {
                sources.sort();
                facts.place.insert(target, sources);
            }
            // A graph node governs what it reaches: its decision picks among those paths.
            for node in &graph.nodes {
                let reached = facts.governed.entry(node.node.id.as_str()).or_default();
                let mut stack = vec![node.node.id.as_str()];
                while let Some(at) = stack.pop() {
                    for target in next.get(at).into_iter().flatten() {
                        if reached.insert(target) {
                            stack.push(target);
                        }
                    }
                }
            }
        }
        if let (Some(root), _) = syntax::parse(&side.source.text) {
            let ids: BTreeSet<&str> = all.iter().map(|n| n.id.as_str()).collect();
            for node in &all {
                if let Some(value) = find(&root, node.span.start, node.span.end) {
                    facts.config.insert(node.id.as_str(), own(value, &ids, true));
                }
            }
        }
        facts
    }

    /// Every command the nodes `id` governs issue, with its own when `itself`.
    fn commands_under(&self, id: &str, itself: bool) -> Vec<Command> {
        let Some(governed) = self.governed.get(id) else { return Vec::new() };
        governed.iter().filter(|n| itself || **n != id).filter_map(|n| self.nodes.get(n)).flat_map(|n| commands(&n.kind)).collect()
    }

    fn in_sequence(&self, id: &str) -> Option<String> {
        self.parent.get(id).filter(|p| matches!(p.kind, NodeKind::Sequence(_))).map(|p| p.id.clone())
    }
}

/// The value whose span is exactly `start..end`.
fn find(value: &Value, start: usize, end: usize) -> Option<&Value> {
    if value.span.start == start && value.span.end == end {
        return Some(value);
    }
    if value.span.start > start || value.span.end < end {
        return None;
    }
    match &value.kind {
        syntax::Kind::Map(entries) => entries.iter().find_map(|(_, v)| find(v, start, end)),
        syntax::Kind::Seq(items) => items.iter().find_map(|v| find(v, start, end)),
        _ => None,
    }
}

/// Keys a visual builder writes that say where a node is drawn, not what it does.
const LAYOUT: &[&str] = &["position", "positionAbsolute", "width", "height", "selected", "dragging", "measured", "style", "className", "zIndex"];

/// A node's value with its layout dropped and nested nodes left out (a list of children) or
/// replaced by `"$node"` (a single child): a child's own edits, additions, removals and moves
/// are reported on the child.
fn own(value: &Value, nodes: &BTreeSet<&str>, top: bool) -> serde_json::Value {
    let is_node = |v: &Value| v.get("type").is_some() && v.get("id").and_then(Value::as_str).is_some_and(|id| nodes.contains(id));
    if !top && is_node(value) {
        return serde_json::Value::String("$node".to_string());
    }
    match &value.kind {
        syntax::Kind::Map(entries) => {
            serde_json::Value::Object(entries.iter().filter(|(k, _)| !(top && LAYOUT.contains(&k.name.as_str()))).map(|(k, v)| (k.name.clone(), own(v, nodes, false))).collect())
        }
        syntax::Kind::Seq(items) => serde_json::Value::Array(items.iter().filter(|v| !is_node(v)).map(|v| own(v, nodes, false)).collect()),
        _ => value.to_json(),
    }
}

/// The dotted paths at which two values differ (`config.message`).
fn changed_fields(old: &serde_json::Value, new: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => changed_fields(x, y, &path, out),
                    _ => out.push(path),
                }
            }
        }
        (a, b) if a != b => out.push(if at.is_empty() { "the node".to_string() } else { at.to_string() }),
        _ => {}
    }
}

fn list(commands: &[Command]) -> String {
    let mut seen = BTreeSet::new();
    let mut names: Vec<String> = commands.iter().map(ToString::to_string).filter(|name| seen.insert(name.clone())).collect();
    match names.len() {
        0 => "no command".to_string(),
        1 => names.remove(0),
        _ => names.join(", "),
    }
}

/// Compares two checked flows node by node.
pub fn diff(old: &Side, new: &Side) -> Vec<Change> {
    let (before, after) = (Facts::new(old), Facts::new(new));
    let mut changes = Vec::new();
    for (id, node) in &after.nodes {
        match before.nodes.get(id) {
            Some(previous) => changes.extend(compare(id, previous, node, &before, &after)),
            None => changes.push(one_sided(node, Edit::Added, &after)),
        }
    }
    changes.extend(before.nodes.iter().filter(|(id, _)| !after.nodes.contains_key(*id)).map(|(_, node)| one_sided(node, Edit::Removed, &before)));
    changes.sort_by(|a, b| (a.line, &a.node).cmp(&(b.line, &b.node)));
    changes
}

/// A node only one flow has: breaking when it issues a command.
fn one_sided(node: &Node, edit: Edit, side: &Facts) -> Change {
    let issued = commands(&node.kind);
    let (verdict, reason) = match (issued.is_empty(), edit) {
        (true, Edit::Added) => (Verdict::Safe, "issues no Temporal command".to_string()),
        (true, _) => (Verdict::Safe, "issued no Temporal command".to_string()),
        (false, Edit::Added) => (Verdict::Breaks, format!("issues {}: a run replayed on this build meets it where its history holds the next recorded command", list(&issued))),
        (false, _) => (Verdict::Breaks, format!("issued {}: a run that recorded it no longer finds it in this build", list(&issued))),
    };
    Change { node: node.id.clone(), type_name: node.type_name.clone(), edit, line: node.line, verdict, reason, in_sequence: side.in_sequence(&node.id) }
}

/// A node present in both flows: how it changed, if it did.
fn compare(id: &str, old: &Node, new: &Node, before: &Facts, after: &Facts) -> Option<Change> {
    let mut breaks: Vec<String> = Vec::new();
    let mut safe: Vec<String> = Vec::new();
    let (was, is) = (commands(&old.kind), commands(&new.kind));
    if was != is {
        breaks.push(format!("issued {}, now {}", list(&was), list(&is)));
    }
    if decision(&old.kind) != decision(&new.kind) {
        let governed = after.commands_under(id, false);
        // A check without children decides for the siblings after it.
        let governed =
            if governed.is_empty() && new.children().is_empty() { after.parent.get(id).map(|p| after.commands_under(&p.id, false)).unwrap_or_default() } else { governed };
        if governed.is_empty() {
            safe.push("its decision changed, but what it decides issues no command".to_string());
        } else {
            breaks.push(format!("its decision changed and what it decides issues {}: a replayed run may take another path", list(&governed)));
        }
    }
    let mut fields = Vec::new();
    if let (Some(a), Some(b)) = (before.config.get(id), after.config.get(id)) {
        changed_fields(a, b, "", &mut fields);
    }
    let moved = before.parent.get(id).map(|p| &p.id) != after.parent.get(id).map(|p| &p.id) || order_changed(id, before, after);
    // A new read of an output the old build drops.
    for (reader, output) in &after.reads {
        if reader == id
            && !before.reads.contains(&(reader.clone(), output.clone()))
            && let Some(at) = before.released.get(output)
        {
            breaks.push(format!("now reads `{output}`, which the old build releases after `{at}`: a run the old build continued as new no longer has it"));
        }
    }
    if breaks.is_empty() && safe.is_empty() && fields.is_empty() && !moved {
        return None;
    }
    let edit = if moved { Edit::Moved } else { Edit::Changed };
    if moved {
        let issued: Vec<Command> = new.walk().iter().flat_map(|n| commands(&n.kind)).collect();
        if issued.is_empty() {
            safe.push("issues no command".to_string());
        } else {
            breaks.push(format!("it issues {}, which now comes at another point of the recorded order", list(&issued)));
        }
    }
    if !fields.is_empty() && breaks.is_empty() {
        safe.push(format!("`{}` changed; the commands it issues are the same", fields.join("`, `")));
    }
    let (verdict, reasons) = if breaks.is_empty() { (Verdict::Safe, safe) } else { (Verdict::Breaks, breaks) };
    Some(Change { node: id.to_string(), type_name: new.type_name.clone(), edit, line: new.line, verdict, reason: reasons.join("; "), in_sequence: after.in_sequence(id) })
}

/// Whether `id` changed places among the siblings (or incoming edges) both flows share.
fn order_changed(id: &str, before: &Facts, after: &Facts) -> bool {
    let (Some(old), Some(new)) = (before.place.get(id), after.place.get(id)) else {
        return before.place.contains_key(id) != after.place.contains_key(id);
    };
    if after.graph {
        // A graph node: its incoming edges, sources that exist on both sides.
        let keep = |edges: &Vec<String>| {
            edges.iter().filter(|e| e.split(' ').next().is_some_and(|s| before.nodes.contains_key(s) && after.nodes.contains_key(s))).cloned().collect::<Vec<_>>()
        };
        return keep(old) != keep(new);
    }
    // Among the siblings both flows share, the ones outside their longest common order moved.
    let shared = |order: &Vec<String>| order.iter().filter(|s| before.nodes.contains_key(s.as_str()) && after.nodes.contains_key(s.as_str())).cloned().collect::<Vec<_>>();
    let (old, new) = (shared(old), shared(new));
    old != new && !stayed(&old, &new).contains(id)
}

/// The siblings in a longest common subsequence of two orders: those that kept their places.
/// Quadratic, so a very long list of siblings (never written by hand) counts as all moved.
fn stayed<'s>(old: &'s [String], new: &[String]) -> BTreeSet<&'s str> {
    const MAX: usize = 2_000;
    if old.len() > MAX || new.len() > MAX {
        return BTreeSet::new();
    }
    let mut table = vec![vec![0u16; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            table[i][j] = if old[i] == new[j] { table[i + 1][j + 1] + 1 } else { table[i + 1][j].max(table[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut kept) = (0, 0, BTreeSet::new());
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            kept.insert(old[i].as_str());
            (i, j) = (i + 1, j + 1);
        } else if table[i + 1][j] >= table[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    kept
}

/// The diff's verdict as text: one line per change, then a summary.
pub fn render(changes: &[Change]) -> String {
    let mut out = String::new();
    for change in changes {
        let verdict = match change.verdict {
            Verdict::Safe => "safe  ",
            Verdict::Breaks => "BREAKS",
        };
        out.push_str(&format!("{verdict}  line {:<4} {} `{}` ({}): {}\n", change.line, change.edit.as_str(), change.node, change.type_name, change.reason));
    }
    let breaking = changes.iter().filter(|c| c.verdict == Verdict::Breaks).count();
    out.push_str(&match (changes.len(), breaking) {
        (0, _) => "no node changed\n".to_string(),
        (n, 0) => format!("{n} changed node(s), all safe for running workflows\n"),
        (n, b) => format!("{n} changed node(s); {b} break(s) running workflows: keep the old build serving them (pinned), or build with `--previous` (auto-upgrade)\n"),
    });
    out
}
