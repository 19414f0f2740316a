//! The tree form, lowered into the plan. A tree is structured already, so there is nothing to
//! search: every composite and decorator becomes a container with a region, and the meaning of
//! its type becomes edges inside it (a `Sequence` chains its children with success edges, a
//! `Selector` with error edges, a `Conditional` branches from its start), so a tree and the
//! equivalent graph give the same plan.

use super::{EdgeKind, Plan, RegionIdx, RegionKind, Role, Step, StepIdx, run_of};
use crate::model::{Decorator, Node, NodeKind};

pub fn lower(name: &str, root: &Node) -> Plan {
    let mut plan = Plan { name: name.to_string(), ..Plan::default() };
    let workflow = plan.push_region(RegionKind::Workflow, None, None, "workflow", root.span);
    let (start, end) = (plan.region(workflow).start, plan.region(workflow).end);
    let (entry, exits) = node(&mut plan, root, workflow);
    plan.edge(start, entry, EdgeKind::Success);
    for (exit, kind) in exits {
        plan.edge(exit, end, kind);
    }
    plan.mark_joins();
    plan
}

type Exits = Vec<(StepIdx, EdgeKind)>;

/// Adds a node and everything under it to `region`. Returns its step and the outcomes that
/// continue after it (its success, and its `onError` handler's).
fn node(plan: &mut Plan, node: &Node, region: RegionIdx) -> (StepIdx, Exits) {
    let step = plan.push_step(Step {
        id: node.id.clone(),
        node: node.id.clone(),
        type_name: node.type_name.clone(),
        role: Role::Action,
        region,
        span: node.span,
        run: run_of(&node.kind),
        join: false,
    });
    let children = node.children();
    if !children.is_empty() {
        let inner = plan.push_region(region_kind(node), Some(region), Some(step), &node.id, node.span);
        plan.steps[step.index()].role = Role::Container(inner);
        body(plan, node, &children, inner);
    } else if let NodeKind::Conditional { .. } = node.kind {
        plan.steps[step.index()].role = Role::Choice;
    }
    let mut exits = vec![(step, EdgeKind::Success)];
    if let Some(handler) = &node.on_error {
        let (entry, handler_exits) = self::node(plan, handler, region);
        plan.edge(step, entry, EdgeKind::Error);
        exits.extend(handler_exits);
    }
    (step, exits)
}

fn region_kind(node: &Node) -> RegionKind {
    let type_name = node.type_name.clone();
    match &node.kind {
        NodeKind::Repeat(_) => RegionKind::Loop { description: type_name },
        // The children's outputs are not all guaranteed when these succeed.
        NodeKind::Decorated { decorator: Decorator::Invert | Decorator::ForceSuccess | Decorator::ForceFailure | Decorator::RunOnce, .. }
        | NodeKind::Precondition { .. }
        | NodeKind::SoftAssert(_) => RegionKind::Scope { type_name, transparent: false },
        // Only when every branch must succeed are all of them complete after it.
        NodeKind::Parallel { children, quorum, .. } => RegionKind::Scope { transparent: quorum.successes as usize >= children.len(), type_name },
        NodeKind::Sequence(_)
        | NodeKind::ReactiveSequence(_)
        | NodeKind::Selector(_)
        | NodeKind::Conditional { .. }
        | NodeKind::GuardedConditional { .. }
        | NodeKind::Switch { .. }
        | NodeKind::Recovery { .. }
        | NodeKind::Timeout { .. }
        | NodeKind::Retry { .. }
        | NodeKind::Delay { .. }
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
        | NodeKind::Call { .. }
        | NodeKind::Choice { .. }
        | NodeKind::Try { .. } => RegionKind::Scope { type_name, transparent: true },
    }
}

/// Wires a container's children inside its region, by the container's meaning.
fn body(plan: &mut Plan, node: &Node, children: &[&Node], region: RegionIdx) {
    let (start, end) = (plan.region(region).start, plan.region(region).end);
    let lowered: Vec<(StepIdx, Exits)> = children.iter().map(|child| self::node(plan, child, region)).collect();
    let link = |plan: &mut Plan, exits: &Exits, to: StepIdx| {
        for (from, kind) in exits {
            plan.edge(*from, to, kind.clone());
        }
    };
    match &node.kind {
        NodeKind::Parallel { .. } => {
            for (entry, exits) in &lowered {
                plan.edge(start, *entry, EdgeKind::Success);
                link(plan, exits, end);
            }
        }
        NodeKind::Selector(_) => {
            plan.edge(start, lowered[0].0, EdgeKind::Success);
            for (i, (_, exits)) in lowered.iter().enumerate() {
                link(plan, exits, end);
                if let Some((next, _)) = lowered.get(i + 1) {
                    // The next alternative runs when this one fails.
                    for (from, _) in exits {
                        plan.edge(*from, *next, EdgeKind::Error);
                    }
                }
            }
        }
        NodeKind::Conditional { .. } => {
            plan.edge(start, lowered[0].0, EdgeKind::Branch("then".into()));
            link(plan, &lowered[0].1, end);
            match lowered.get(1) {
                Some((entry, exits)) => {
                    plan.edge(start, *entry, EdgeKind::Branch("else".into()));
                    link(plan, exits, end);
                }
                None => plan.edge(start, end, EdgeKind::Branch("else".into())),
            }
        }
        NodeKind::GuardedConditional { .. } => {
            // btree's form: the first child is the condition; its outcome picks the branch.
            plan.edge(start, lowered[0].0, EdgeKind::Success);
            let condition = &lowered[0].1;
            for (from, _) in condition {
                plan.edge(*from, lowered[1].0, EdgeKind::Branch("then".into()));
            }
            link(plan, &lowered[1].1, end);
            for (from, _) in condition {
                match lowered.get(2) {
                    Some((entry, _)) => plan.edge(*from, *entry, EdgeKind::Branch("else".into())),
                    None => plan.edge(*from, end, EdgeKind::Branch("else".into())),
                }
            }
            if let Some((_, exits)) = lowered.get(2) {
                link(plan, exits, end);
            }
        }
        NodeKind::Switch { cases, default, .. } => {
            let labels = cases.iter().map(|(value, _)| format!("case-{value}")).chain(default.as_ref().map(|_| "default".to_string()));
            for ((entry, exits), label) in lowered.iter().zip(labels) {
                plan.edge(start, *entry, EdgeKind::Branch(label));
                link(plan, exits, end);
            }
            if default.is_none() {
                plan.edge(start, end, EdgeKind::Branch("default".into()));
            }
        }
        NodeKind::Choice { cases, otherwise } => {
            let labels = (0..cases.len()).map(|i| format!("case-{i}")).chain(otherwise.as_ref().map(|_| "otherwise".to_string()));
            for ((entry, exits), label) in lowered.iter().zip(labels) {
                plan.edge(start, *entry, EdgeKind::Branch(label));
                link(plan, exits, end);
            }
            if otherwise.is_none() {
                plan.edge(start, end, EdgeKind::Branch("otherwise".into()));
            }
        }
        // Children: the attempt, the catch if any, then (`catch.then`) where each way leads.
        NodeKind::Try { catch, then, .. } => {
            let attempt = &lowered[0];
            let handler = catch.as_ref().map(|_| &lowered[1]);
            let ways = then.as_ref().map(|_| {
                let at = 1 + usize::from(handler.is_some());
                (&lowered[at], &lowered[at + 1])
            });
            plan.edge(start, attempt.0, EdgeKind::Success);
            link(plan, &attempt.1, ways.map_or(end, |(passed, _)| passed.0));
            let after_catch = ways.map_or(end, |(_, caught)| caught.0);
            let on_error = handler.map(|h| h.0).or(ways.map(|(_, caught)| caught.0));
            if let Some(target) = on_error {
                for (from, _) in &attempt.1 {
                    plan.edge(*from, target, EdgeKind::Error);
                }
            }
            if let Some((_, exits)) = handler {
                link(plan, exits, after_catch);
            }
            if let Some((passed, caught)) = ways {
                link(plan, &passed.1, end);
                link(plan, &caught.1, end);
            }
        }
        NodeKind::Recovery { .. } => {
            plan.edge(start, lowered[0].0, EdgeKind::Success);
            let after = lowered.get(2).map_or(end, |(finally, _)| *finally);
            link(plan, &lowered[0].1, after);
            if let Some((catch, exits)) = lowered.get(1) {
                for (from, _) in &lowered[0].1 {
                    plan.edge(*from, *catch, EdgeKind::Error);
                }
                link(plan, exits, after);
            }
            if let Some((_, exits)) = lowered.get(2) {
                link(plan, exits, end);
            }
        }
        // Sequences, loops and decorators run their children in order.
        NodeKind::Sequence(_)
        | NodeKind::ReactiveSequence(_)
        | NodeKind::Repeat(_)
        | NodeKind::Timeout { .. }
        | NodeKind::Retry { .. }
        | NodeKind::Decorated { .. }
        | NodeKind::Precondition { .. }
        | NodeKind::SoftAssert(_)
        | NodeKind::Delay { .. }
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
        | NodeKind::Call { .. } => {
            plan.edge(start, lowered[0].0, EdgeKind::Success);
            for pair in lowered.windows(2) {
                link(plan, &pair[0].1, pair[1].0);
            }
            if let Some((_, exits)) = lowered.last() {
                link(plan, exits, end);
            }
        }
    }
    if matches!(plan.region(region).kind, RegionKind::Loop { .. }) {
        plan.edge(end, start, EdgeKind::Back);
    }
}
