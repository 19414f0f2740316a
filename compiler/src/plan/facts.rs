//! What the plan guarantees at each step, for the expression checker.
//!
//! *Completion*: node X is guaranteed to have completed before step S when X succeeded in every
//! execution that reaches S. Executions differ only at choices (a branch taken, a failure
//! routed to an `error` edge), so every edge gets a liveness class: a success edge from a step
//! that cannot route its failure keeps the step's class, any other edge starts a new one.
//! Edges of one class are live together, so a join learns the union of what they guarantee;
//! across classes only one may be live, so it learns the intersection. This is exact for
//! fan-out/fan-in (a strict `Parallel`) and for exclusive branches (a `Conditional`), where
//! dominators would be wrong for the first.
//!
//! The answer for one X needs only the steps between X and S in topological order, computed on
//! demand and cached per X, so checking stays linear for the usual "read a recent node" flows.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use super::{EdgeKind, Plan, RegionIdx, RegionKind, Role, StepIdx};

pub struct Facts<'p> {
    plan: &'p Plan,
    /// Forward edges into each step: source, kind and liveness class.
    preds: Vec<Vec<(StepIdx, EdgeKind, u32)>>,
    /// Position in a topological order that puts a container before its region and its
    /// region's end before the container's successors.
    pos: Vec<usize>,
    order: Vec<StepIdx>,
    /// Reached only through `error` edges: `error.*` is in scope.
    error_route: Vec<bool>,
    /// A region's start → the container that enters it.
    container_of_start: HashMap<StepIdx, StepIdx>,
    /// Per X: guarantee flags for the steps from X's position on.
    cache: RefCell<HashMap<StepIdx, Vec<bool>>>,
}

impl<'p> Facts<'p> {
    pub fn new(plan: &'p Plan) -> Facts<'p> {
        let n = plan.steps.len();
        let container_of_start: HashMap<StepIdx, StepIdx> = plan.regions.iter().filter_map(|r| Some((r.start, r.container?))).collect();
        let mut has_error_edge = vec![false; n];
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut indegree = vec![0usize; n];
        let mut add = |deps: &mut Vec<Vec<usize>>, from: usize, to: usize| {
            deps[from].push(to);
            indegree[to] += 1;
        };
        for edge in plan.edges.iter().filter(|e| e.kind.is_forward()) {
            if edge.kind == EdgeKind::Error {
                has_error_edge[edge.from.index()] = true;
            }
            let from = match plan.step(edge.from).role {
                Role::Container(region) => plan.region(region).end.index(),
                _ => edge.from.index(),
            };
            add(&mut deps, from, edge.to.index());
        }
        for (&start, &container) in &container_of_start {
            add(&mut deps, container.index(), start.index());
        }
        let mut queue: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        queue.reverse();
        let mut order = Vec::with_capacity(n);
        while let Some(at) = queue.pop() {
            order.push(StepIdx(at as u32));
            for &next in deps[at].iter().rev() {
                indegree[next] -= 1;
                if indegree[next] == 0 {
                    queue.push(next);
                }
            }
        }
        let mut pos = vec![usize::MAX; n];
        for (i, step) in order.iter().enumerate() {
            pos[step.index()] = i;
        }

        let mut class = vec![0u32; n];
        let mut next_class = 1u32;
        let mut merged: HashMap<BTreeSet<u32>, u32> = HashMap::new();
        let mut preds: Vec<Vec<(StepIdx, EdgeKind, u32)>> = vec![Vec::new(); n];
        let mut incoming: Vec<Vec<(StepIdx, EdgeKind)>> = vec![Vec::new(); n];
        for edge in plan.edges.iter().filter(|e| e.kind.is_forward()) {
            incoming[edge.to.index()].push((edge.from, edge.kind.clone()));
        }
        let mut error_route = vec![false; n];
        // Edges of one branch of a choice are live together: one class per (choice, branch).
        let mut branch_class: HashMap<(StepIdx, String), u32> = HashMap::new();
        for &step in &order {
            let s = step.index();
            if let Some(container) = container_of_start.get(&step) {
                class[s] = class[container.index()];
                error_route[s] = error_route[container.index()];
                continue;
            }
            let mut classes = BTreeSet::new();
            for (from, kind) in &incoming[s] {
                let keeps = *kind == EdgeKind::Success && !has_error_edge[from.index()];
                let c = match kind {
                    _ if keeps => class[from.index()],
                    EdgeKind::Branch(label) => *branch_class.entry((*from, label.clone())).or_insert_with(|| {
                        next_class += 1;
                        next_class
                    }),
                    _ => {
                        next_class += 1;
                        next_class
                    }
                };
                classes.insert(c);
                preds[s].push((*from, kind.clone(), c));
            }
            class[s] = match classes.len() {
                0 => 0,
                1 => classes.first().copied().unwrap_or(0),
                _ => *merged.entry(classes).or_insert_with(|| {
                    next_class += 1;
                    next_class
                }),
            };
            error_route[s] = !incoming[s].is_empty() && incoming[s].iter().all(|(from, kind)| *kind == EdgeKind::Error || error_route[from.index()]);
        }
        Facts { plan, preds, pos, order, error_route, container_of_start, cache: RefCell::new(HashMap::new()) }
    }

    /// Whether `node` has completed successfully in every execution that reaches `at`.
    pub fn guaranteed(&self, at: StepIdx, node: StepIdx) -> bool {
        let (start, end) = (self.pos[node.index()], self.pos[at.index()]);
        if start == usize::MAX || end == usize::MAX || end <= start {
            return false;
        }
        let mut cache = self.cache.borrow_mut();
        let flags = cache.entry(node).or_insert_with(|| vec![false]);
        while start + flags.len() <= end {
            let step = self.order[start + flags.len()];
            let value = self.evaluate(step, node, flags, start);
            flags.push(value);
        }
        flags[end - start]
    }

    fn evaluate(&self, step: StepIdx, node: StepIdx, flags: &[bool], start: usize) -> bool {
        let known = |s: StepIdx| self.pos[s.index()].checked_sub(start).and_then(|i| flags.get(i).copied()).unwrap_or(false);
        let after = |s: StepIdx| match self.plan.step(s).role {
            _ if s == node => true,
            Role::Container(region) if self.plan.region(region).kind.transparent() => known(self.plan.region(region).end),
            _ => known(s),
        };
        if let Some(container) = self.container_of_start.get(&step) {
            return known(*container);
        }
        let preds = &self.preds[step.index()];
        if preds.is_empty() {
            return false;
        }
        let mut groups: HashMap<u32, bool> = HashMap::new();
        for (from, kind, class) in preds {
            let contributes = if *kind == EdgeKind::Error { known(*from) } else { after(*from) };
            *groups.entry(*class).or_insert(false) |= contributes;
        }
        groups.values().all(|g| *g)
    }

    /// Whether `error.*` is in scope at `at`: every path to it comes through an `error` edge.
    pub fn in_error_route(&self, at: StepIdx) -> bool {
        self.error_route[at.index()]
    }

    /// The innermost loop or parallel region around `at` that `wants` accepts.
    pub fn enclosing(&self, at: StepIdx, wants: impl Fn(&RegionKind) -> bool) -> Option<RegionIdx> {
        self.plan.ancestry(self.plan.step(at).region).find(|r| wants(&self.plan.region(*r).kind))
    }

    /// `Err(region)` when `node` runs inside a loop or parallel `region` that does not enclose
    /// `at`: its output exists per iteration or branch, not once.
    pub fn visible(&self, node: StepIdx, at: StepIdx) -> Result<(), RegionIdx> {
        let around_at: Vec<RegionIdx> = self.plan.ancestry(self.plan.step(at).region).collect();
        for region in self.plan.ancestry(self.plan.step(node).region) {
            let repeats = matches!(self.plan.region(region).kind, RegionKind::Loop { .. } | RegionKind::Parallel { .. } | RegionKind::Branch { .. });
            if repeats && !around_at.contains(&region) {
                return Err(region);
            }
        }
        Ok(())
    }
}
