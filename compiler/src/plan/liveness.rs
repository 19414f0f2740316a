//! Live outputs: after which node each node's output can no longer be read, so the generated
//! code drops it from the flow state there (and continue-as-new no longer carries it).
//!
//! Node P may release X's output when every step that reads X is guaranteed to have completed
//! before P (`Facts::guaranteed`, which already knows parallel branches and exclusive paths),
//! and no reader can run again after P: no loop, `Retry` or `ReactiveSequence` around P
//! holds a reader of X unless it holds X too (then X runs again before it is read again).
//! A running ancestor that reads X (a `While` condition, a choice re-decided after
//! continue-as-new) is never guaranteed complete inside itself, so it keeps X alive.
//!
//! Nothing is released when the flow's result is every output (no `output:`), when an
//! expression reads `nodes`, or in a bare btree document whose names resolve at run time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::facts::Facts;
use super::{Plan, RegionIdx, RegionKind, Role, StepIdx};
use crate::check::Reads;
use crate::model::{Flow, NodeKind};

/// Node id → the outputs released when that node ends.
pub type Releases = BTreeMap<String, Vec<String>>;

/// At most this many readers are weighed per output; an output read more often stays live.
const MAX_READERS: usize = 16;

/// Where each output of `flow` dies.
pub fn releases(flow: &Flow, plan: &Plan, reads: &Reads) -> Releases {
    let mut releases = Releases::new();
    if flow.output.is_none() || flow.open_blackboard || reads.everything {
        return releases;
    }
    let facts = Facts::new(plan);
    let mut steps: HashMap<&str, Vec<StepIdx>> = HashMap::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if !matches!(step.role, Role::Start | Role::End) {
            steps.entry(step.node.as_str()).or_default().push(StepIdx(i as u32));
        }
    }
    let end = plan.region(RegionIdx::WORKFLOW).end;
    let mut readers: HashMap<&str, BTreeSet<StepIdx>> = HashMap::new();
    let mut pinned: BTreeSet<&str> = BTreeSet::new();
    for (at, node) in &reads.at {
        if *at == end {
            pinned.insert(node);
        } else {
            readers.entry(node.as_str()).or_default().insert(*at);
        }
    }
    let reruns = rerun_regions(flow, plan);
    for node in flow.nodes() {
        let id = node.id.as_str();
        let Some([x]) = steps.get(id).map(Vec::as_slice) else { continue };
        if node.passes_output() || pinned.contains(id) {
            continue;
        }
        let readers: Vec<StepIdx> = readers.get(id).map(|r| r.iter().copied().collect()).unwrap_or_default();
        if readers.len() > MAX_READERS {
            continue;
        }
        let candidates = if readers.is_empty() { vec![*x] } else { readers.clone() };
        for p in candidates {
            let owner = plan.step(p).node.as_str();
            let single = steps.get(owner).is_some_and(|s| s.len() == 1);
            if single && dead_after(plan, &facts, &reruns, p, *x, &readers) {
                releases.entry(owner.to_string()).or_default().push(id.to_string());
                break;
            }
        }
    }
    releases
}

/// Regions whose steps may run again after they complete: loops, and the bodies of `Retry`
/// and `ReactiveSequence` (whose leading conditions are re-checked while the rest runs).
fn rerun_regions(flow: &Flow, plan: &Plan) -> BTreeSet<RegionIdx> {
    let reruns: BTreeSet<&str> = flow.nodes().into_iter().filter(|n| matches!(n.kind, NodeKind::Retry { .. } | NodeKind::ReactiveSequence(_))).map(|n| n.id.as_str()).collect();
    (0..plan.regions.len())
        .map(|i| RegionIdx(i as u32))
        .filter(|&r| {
            let region = plan.region(r);
            matches!(region.kind, RegionKind::Loop { .. }) || region.container.is_some_and(|c| reruns.contains(plan.step(c).node.as_str()))
        })
        .collect()
}

/// True when nothing can read `x`'s output once `p` has ended.
fn dead_after(plan: &Plan, facts: &Facts, reruns: &BTreeSet<RegionIdx>, p: StepIdx, x: StepIdx, readers: &[StepIdx]) -> bool {
    if readers.iter().any(|&r| r != p && !facts.guaranteed(p, r)) {
        return false;
    }
    let inside = |step: StepIdx, region: RegionIdx| plan.ancestry(plan.step(step).region).any(|r| r == region);
    plan.ancestry(plan.step(p).region).filter(|r| reruns.contains(r)).all(|l| inside(x, l) || !readers.iter().any(|&r| inside(r, l)))
}
