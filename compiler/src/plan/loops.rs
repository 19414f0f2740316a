//! Stage 2, loop: the region tree. The workflow and every reachable container get a region;
//! its body entries (what the container's start leads to), its exits (outcomes that reach the
//! end) and, for loops, the back edge from end to start are decided here and wired by `edges`
//! for every copy that `nodes` makes. Nesting works to any depth within `MAX_CONTAINER_DEPTH`.

use std::collections::HashMap;

use super::path::{Reach, is_container};
use super::{EdgeKind, FanOutPlan};
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::model::{FanOut, Graph, Handle, LoopKind, NodeKind};

/// The result of the loop stage: one template per region, instantiated by `nodes`.
#[derive(Debug, Clone)]
pub struct Regions {
    pub name: String,
    /// The workflow's template comes first; a container's after its parent's.
    pub templates: Vec<Template>,
    /// Container node → its template.
    pub template_of: HashMap<usize, usize>,
    pub reach: Reach,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub kind: TemplateKind,
    pub container: Option<usize>,
    /// Reachable member nodes, in document order.
    pub members: Vec<usize>,
    pub entries: Vec<usize>,
    /// Outcomes of members that leave the body: they lead to the region's end.
    pub exits: Vec<(usize, EdgeKind)>,
}

#[derive(Debug, Clone)]
pub enum TemplateKind {
    Workflow,
    Loop { description: String },
    Parallel { fan_out: FanOutPlan, batch_size: Option<u64> },
}

pub fn loops(name: &str, graph: &Graph, reach: &Reach) -> Regions {
    let mut regions = Regions { name: name.to_string(), templates: Vec::new(), template_of: HashMap::new(), reach: reach.clone() };
    let top: Vec<usize> = (0..graph.nodes.len()).filter(|&i| reach.reachable[i] && reach.parent[i].is_none() && graph.nodes[i].parent.is_none()).collect();
    let mut handles: HashMap<&str, Vec<&Handle>> = HashMap::new();
    for edge in &graph.edges {
        handles.entry(edge.source.as_str()).or_default().push(&edge.handle);
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..graph.nodes.len() {
        if let Some(p) = reach.parent[i].filter(|_| reach.reachable[i]) {
            members.entry(p).or_default().push(i);
        }
    }
    let cx = Cx { graph, handles, members };
    template(&cx, &mut regions, TemplateKind::Workflow, None, top, reach.starts.clone());
    regions
}

/// Indexes built once, so every template costs only its own members.
struct Cx<'g> {
    graph: &'g Graph,
    /// Node id → the handles of its outgoing edges.
    handles: HashMap<&'g str, Vec<&'g Handle>>,
    /// Container → its reachable members, in document order.
    members: HashMap<usize, Vec<usize>>,
}

fn template(cx: &Cx, regions: &mut Regions, kind: TemplateKind, container: Option<usize>, members: Vec<usize>, entries: Vec<usize>) {
    let graph = cx.graph;
    let exits = members.iter().flat_map(|&m| exits(cx, m)).collect();
    let at = regions.templates.len();
    if let Some(c) = container {
        regions.template_of.insert(c, at);
    }
    regions.templates.push(Template { kind, container, members: members.clone(), entries, exits });
    for &m in &members {
        let kind = match &graph.nodes[m].node.kind {
            NodeKind::Loop(spec) => {
                let description = match &spec.kind {
                    LoopKind::For { iterations } => format!("for {iterations} iterations"),
                    LoopKind::ForEach { collection } => format!("for each item of `{}`", collection.source),
                    LoopKind::While { condition, do_while: false } => format!("while `{}` (at most {})", condition.source, spec.max_iterations),
                    LoopKind::While { condition, do_while: true } => format!("do, then while `{}` (at most {})", condition.source, spec.max_iterations),
                };
                TemplateKind::Loop { description }
            }
            NodeKind::ParallelGroup(spec) => TemplateKind::Parallel {
                fan_out: match &spec.fan_out {
                    FanOut::Count(n) => FanOutPlan::Static(*n),
                    FanOut::Collection(e) => FanOutPlan::Dynamic(e.source.clone()),
                },
                batch_size: spec.batch_size,
            },
            _ => continue,
        };
        let body = cx.members.get(&m).cloned().unwrap_or_default();
        let entries = regions.reach.entries.get(&m).cloned().unwrap_or_default();
        template(cx, regions, kind, Some(m), body, entries);
    }
}

/// A member's outcomes that no edge continues: its success (or each unwired branch of a
/// choice) leads to the region's end. Failures without an `error` edge fail the region instead.
fn exits(cx: &Cx, member: usize) -> Vec<(usize, EdgeKind)> {
    let graph = cx.graph;
    let handles: &[&Handle] = cx.handles.get(graph.nodes[member].node.id.as_str()).map_or(&[], Vec::as_slice);
    let unwired = |handle: Handle, label: String| (!handles.contains(&&handle)).then_some((member, EdgeKind::Branch(label)));
    match &graph.nodes[member].node.kind {
        NodeKind::Condition { branches } => branches.iter().filter_map(|b| unwired(Handle::Condition(b.id.clone()), format!("condition-{}", b.id))).collect(),
        NodeKind::Router { value: None, routes } => routes.iter().filter_map(|r| unwired(Handle::Route(r.id.clone()), format!("router-{}", r.id))).collect(),
        NodeKind::Router { value: Some(_), .. } => unwired(Handle::Case("default".into()), "case-default".into()).into_iter().collect(),
        _ if handles.iter().any(|h| matches!(h, Handle::Success | Handle::BodyEnd(_))) => Vec::new(),
        _ => vec![(member, EdgeKind::Success)],
    }
}

/// How deeply containers may nest through `parentId`: the bound that the syntax layer's nesting
/// limit gives a tree, for a graph written flat (each walk up a chain stops here, so checking is
/// linear in the number of nodes).
pub const MAX_CONTAINER_DEPTH: usize = 32;

/// `parentId` must name a container, containers must not contain each other in a circle, and
/// they nest at most [`MAX_CONTAINER_DEPTH`] deep. False when they nest deeper: the later
/// stages, which recurse into containers, must not run.
pub fn check_parents(graph: &Graph, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let mut too_deep = false;
    let index: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.node.id.as_str(), i)).collect();
    for node in &graph.nodes {
        let Some((parent, span)) = &node.parent else { continue };
        match index.get(parent.as_str()) {
            None => {
                let near = closest(parent, graph.nodes.iter().map(|n| n.node.id.as_str()));
                let help = if near.is_empty() {
                    "`parentId` names the `Loop` or `Parallel` container this node belongs to".to_string()
                } else {
                    format!("did you mean {}?", one_of(&near))
                };
                diagnostics.push(Diagnostic::error(Code::InvalidContainer, *span, format!("no node has the id `{parent}`")).label("unknown container").help(help));
            }
            Some(&p) if !is_container(&graph.nodes[p].node.kind) => diagnostics.push(
                Diagnostic::error(Code::InvalidContainer, *span, format!("`{parent}` is a `{}`, not a container", graph.nodes[p].node.type_name))
                    .label("not a container")
                    .help("only `Loop` and `Parallel` nodes have members; remove `parentId` or point it at a container"),
            ),
            Some(_) => {
                let mut seen = vec![node.node.id.as_str()];
                let mut at = parent.as_str();
                while let Some(next) = index.get(at).and_then(|&i| graph.nodes[i].parent.as_ref()) {
                    if seen.len() > MAX_CONTAINER_DEPTH {
                        if !too_deep {
                            too_deep = true;
                            diagnostics.push(
                                Diagnostic::error(Code::InvalidContainer, *span, format!("containers nest deeper than {MAX_CONTAINER_DEPTH} levels"))
                                    .label("too deep")
                                    .help("flatten the containers, or move the inner part into a sub-workflow"),
                            );
                        }
                        break;
                    }
                    if seen.contains(&at) {
                        seen.push(at);
                        diagnostics.push(
                            Diagnostic::error(Code::InvalidContainer, *span, format!("containers contain each other: {}", seen.join(" → ")))
                                .label("container cycle")
                                .help("a container's `parentId` must lead out to the top level"),
                        );
                        break;
                    }
                    seen.push(at);
                    at = next.0.as_str();
                }
            }
        }
    }
    !too_deep
}
