//! Stage 4, edge: every edge is wired with its handle kind in every instance, handles are
//! checked against the source node's kind, a cycle outside a loop is refused with the cycle
//! printed, and joins are marked.

use std::collections::{BTreeSet, HashMap};

use super::loops::TemplateKind;
use super::nodes::Expanded;
use super::path::is_container;
use super::{EdgeKind, Plan, StepIdx};
use crate::diagnostic::{Code, Diagnostic, one_of};
use crate::model::{Edge, Graph, Handle, NodeKind};

pub fn edges(graph: &Graph, expanded: Expanded, diagnostics: &mut Vec<Diagnostic>) -> Plan {
    let Expanded { mut plan, regions, instances } = expanded;
    let index: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.node.id.as_str(), i)).collect();
    // A node's copies, one per instance of its region, so wiring an edge costs its copies only.
    let mut copies: HashMap<usize, Vec<&HashMap<usize, StepIdx>>> = HashMap::new();
    for instance in &instances {
        for &member in instance.steps.keys() {
            copies.entry(member).or_default().push(&instance.steps);
        }
    }
    for instance in &instances {
        let template = &regions.templates[instance.template];
        let region = plan.region(instance.region).clone();
        for entry in &template.entries {
            if let Some(&step) = instance.steps.get(entry) {
                plan.edge(region.start, step, EdgeKind::Success);
            }
        }
        for (member, kind) in &template.exits {
            plan.edge(instance.steps[member], region.end, kind.clone());
        }
        if matches!(template.kind, TemplateKind::Loop { .. }) {
            plan.edge(region.end, region.start, EdgeKind::Back);
        }
    }
    for edge in &graph.edges {
        let (from, to) = (index[edge.source.as_str()], index[edge.target.as_str()]);
        if !regions.reach.reachable[from] || !regions.reach.reachable[to] {
            continue;
        }
        let Some(kind) = check_handle(graph, edge, from, diagnostics) else { continue };
        if matches!(edge.handle, Handle::BodyStart(_)) {
            if regions.reach.parent[to] != Some(from) {
                diagnostics.push(
                    Diagnostic::error(Code::InvalidContainer, edge.target_span, format!("`{}` is not a member of `{}`", edge.target, edge.source))
                        .label("outside the container")
                        .help(format!("set `parentId: {}` on `{}` to put it in the body", edge.source, edge.target)),
                );
            }
            continue;
        }
        if graph.nodes[from].parent.as_ref().map(|p| &p.0) != graph.nodes[to].parent.as_ref().map(|p| &p.0) {
            diagnostics.push(
                Diagnostic::error(Code::InvalidContainer, edge.span, format!("the edge from `{}` to `{}` crosses a container's boundary", edge.source, edge.target))
                    .label("different containers")
                    .help("enter a body with the container's `loop-start-source`/`parallel-start-source` edge, and leave it with `loop-end-source`/`parallel-end-source`"),
            );
            continue;
        }
        for steps in copies.get(&from).into_iter().flatten() {
            if let (Some(&a), Some(&b)) = (steps.get(&from), steps.get(&to)) {
                plan.edge(a, b, kind.clone());
            }
        }
    }
    report_cycles(graph, &plan, diagnostics);
    plan.mark_joins();
    plan.dropped = graph.nodes.iter().zip(&regions.reach.reachable).filter(|(_, r)| !**r).map(|(n, _)| n.node.id.clone()).collect();
    plan
}

/// The edge kind a handle gives, or `None` (reported) when the source node has no such handle.
fn check_handle(graph: &Graph, edge: &Edge, from: usize, diagnostics: &mut Vec<Diagnostic>) -> Option<EdgeKind> {
    let node = &graph.nodes[from].node;
    let choices: Vec<String> = match &node.kind {
        NodeKind::Condition { branches } => branches.iter().map(|b| format!("condition-{}", b.id)).collect(),
        NodeKind::Router { value: None, routes } => routes.iter().map(|r| format!("router-{}", r.id)).collect(),
        NodeKind::Router { value: Some(_), .. } => vec!["case-<value>".into(), "case-default".into()],
        NodeKind::Start => vec!["source".into()],
        kind if is_container(kind) => {
            let word = if matches!(kind, NodeKind::Loop(_)) { "loop" } else { "parallel" };
            vec![format!("{word}-start-source"), format!("{word}-end-source"), "error".into()]
        }
        _ => vec!["source".into(), "error".into()],
    };
    let kind = match (&edge.handle, &node.kind) {
        (Handle::Error, NodeKind::Start) => None,
        (Handle::Error, _) => Some(EdgeKind::Error),
        (Handle::Success, NodeKind::Condition { .. } | NodeKind::Router { .. }) => None,
        (Handle::Success, kind) if is_container(kind) => Some(EdgeKind::Success),
        (Handle::BodyStart(word) | Handle::BodyEnd(word), kind) if is_container(kind) => {
            (*word == if matches!(kind, NodeKind::Loop(_)) { "loop" } else { "parallel" }).then_some(EdgeKind::Success)
        }
        (Handle::BodyStart(_) | Handle::BodyEnd(_), _) => None,
        (Handle::Success, _) => Some(EdgeKind::Success),
        (Handle::Condition(_), NodeKind::Condition { .. }) | (Handle::Route(_), NodeKind::Router { value: None, .. }) => {
            let label = edge.handle.label();
            choices.contains(&label).then_some(EdgeKind::Branch(label))
        }
        (Handle::Case(_), NodeKind::Router { value: Some(_), .. }) => Some(EdgeKind::Branch(edge.handle.label())),
        _ => None,
    };
    if kind.is_none() {
        let choices: Vec<&str> = choices.iter().map(String::as_str).collect();
        diagnostics.push(
            Diagnostic::error(Code::InvalidHandle, edge.handle_span, format!("a `{}` node has no `{}` handle", node.type_name, edge.handle.label()))
                .label(format!("not a handle of `{}`", node.id))
                .help(format!("`{}` has {}", node.id, one_of(&choices))),
        );
    }
    kind
}

/// Reports every distinct cycle of forward edges; only loop back edges may repeat work.
fn report_cycles(graph: &Graph, plan: &Plan, diagnostics: &mut Vec<Diagnostic>) {
    let mut successors: Vec<Vec<StepIdx>> = vec![Vec::new(); plan.steps.len()];
    for edge in plan.edges.iter().filter(|e| e.kind.is_forward()) {
        successors[edge.from.index()].push(edge.to);
    }
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; plan.steps.len()];
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for root in 0..plan.steps.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some((at, next)) = stack.last_mut() {
            let at = *at;
            if let Some(&succ) = successors[at].get(*next) {
                *next += 1;
                match state[succ.index()] {
                    0 => {
                        state[succ.index()] = 1;
                        stack.push((succ.index(), 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(s, _)| *s == succ.index()).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..].iter().map(|(s, _)| plan.steps[*s].node.clone()).collect();
                        if reported.insert(cycle.clone()) {
                            let closing = graph.edges.iter().find(|e| e.source == plan.steps[at].node && e.target == plan.steps[succ.index()].node);
                            cycle.push(plan.steps[succ.index()].node.clone());
                            let span = closing.map_or(plan.steps[at].span, |e| e.span);
                            diagnostics.push(
                                Diagnostic::error(Code::Cycle, span, format!("the edges form a cycle: {}", cycle.join(" → ")))
                                    .label("this edge closes the cycle")
                                    .help("repeat work with a `Loop` container (`loopType: while` and a condition), which has a bound and survives restarts"),
                            );
                        }
                    }
                    _ => {}
                }
            } else {
                state[at] = 2;
                stack.pop();
            }
        }
    }
}
