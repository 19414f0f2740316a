//! Stage 1, path: which graph nodes run at all. A breadth-first search from the start nodes (a
//! `Start` node, else the top-level nodes with no incoming edge), entering containers through
//! their body entries. Unreachable nodes are a warning and are dropped.

use std::collections::{HashMap, VecDeque};

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Graph, Handle, NodeKind};

/// The result of the path stage.
#[derive(Debug, Clone)]
pub struct Reach {
    /// Per graph node, in `graph.nodes` order.
    pub reachable: Vec<bool>,
    /// Top-level nodes the flow starts from.
    pub starts: Vec<usize>,
    /// Per graph node, its container when `parentId` names a node that is one.
    pub parent: Vec<Option<usize>>,
    /// Per container node, the members that run first when the body is entered.
    pub entries: HashMap<usize, Vec<usize>>,
}

pub fn is_container(kind: &NodeKind) -> bool {
    matches!(kind, NodeKind::Loop(_) | NodeKind::ParallelGroup(_))
}

pub fn path(graph: &Graph, diagnostics: &mut Vec<Diagnostic>) -> Reach {
    let index: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.node.id.as_str(), i)).collect();
    let parent: Vec<Option<usize>> =
        graph.nodes.iter().map(|n| n.parent.as_ref().and_then(|(id, _)| index.get(id.as_str()).copied()).filter(|&p| is_container(&graph.nodes[p].node.kind))).collect();
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    let mut has_incoming = vec![false; graph.nodes.len()];
    let mut entries: HashMap<usize, Vec<usize>> = HashMap::new();
    for edge in &graph.edges {
        let (from, to) = (index[edge.source.as_str()], index[edge.target.as_str()]);
        if matches!(edge.handle, Handle::BodyStart(_)) {
            entries.entry(from).or_default().push(to);
        } else {
            outgoing[from].push(to);
            // An edge from outside a body does not make a member less of an entry.
            if parent[from] == parent[to] {
                has_incoming[to] = true;
            }
        }
    }
    for (container, node) in graph.nodes.iter().enumerate() {
        if is_container(&node.node.kind) && !entries.contains_key(&container) {
            let implicit = (0..graph.nodes.len()).filter(|&m| parent[m] == Some(container) && !has_incoming[m]).collect();
            entries.insert(container, implicit);
        }
    }
    let top = |i: &usize| parent[*i].is_none() && graph.nodes[*i].parent.is_none();
    let mut starts: Vec<usize> = (0..graph.nodes.len()).filter(|i| top(i) && matches!(graph.nodes[*i].node.kind, NodeKind::Start)).collect();
    if starts.is_empty() {
        starts = (0..graph.nodes.len()).filter(|i| top(i) && !has_incoming[*i]).collect();
    }
    let mut reachable = vec![false; graph.nodes.len()];
    if starts.is_empty() {
        if let Some(first) = graph.nodes.first() {
            diagnostics.push(
                Diagnostic::error(Code::NoStart, first.node.id_span, "the graph has no node to start from")
                    .label("every node has an incoming edge")
                    .help("add a `Start` node with an edge to the first step, or remove the edge that leads back to the beginning"),
            );
        }
        return Reach { reachable, starts, parent, entries };
    }
    let mut queue: VecDeque<usize> = starts.iter().copied().collect();
    while let Some(at) = queue.pop_front() {
        if std::mem::replace(&mut reachable[at], true) {
            continue;
        }
        queue.extend(outgoing[at].iter().copied());
        queue.extend(entries.get(&at).into_iter().flatten().copied());
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        // A member of an unreachable container, or of a node that is not a container (reported
        // by the loop stage), is not reported again here.
        let container_runs = match (parent[i], &node.parent) {
            (Some(p), _) => reachable[p],
            (None, parent) => parent.is_none(),
        };
        if !reachable[i] && container_runs {
            diagnostics.push(
                Diagnostic::warning(Code::Unreachable, node.node.id_span, format!("no path from the start reaches `{}`", node.node.id))
                    .label("never runs")
                    .help("connect it with an edge from a node that runs, or delete it; it is left out of the plan"),
            );
        }
    }
    Reach { reachable, starts, parent, entries }
}
