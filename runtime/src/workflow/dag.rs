//! Graph regions: the dataflow schedule of DESIGN section 3.
//!
//! The generated code describes each region of a graph (the workflow, a loop body, a parallel
//! branch) as a static table: its steps and the links between them, each link following one
//! outcome of its source (success, error, a branch). This scheduler walks that table. A step
//! starts as soon as all its incoming links are settled and one is live, so independent nodes
//! run concurrently and no node waits for an unrelated one (no level-by-level batching). A step
//! whose incoming links are all dead is skipped and its own links die (dead-path elimination).
//! Which branch a choice node takes is decided by its generated function, which puts the branch
//! in its output.

use std::collections::VecDeque;

use futures::future::select_all;
use serde_json::{Map, Value};

use super::control::Branch;
use super::cx::{Cx, Flow};
use crate::values::{Failure, NodeResult};

/// Which outcome of its source a link follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Success,
    /// The source failed: the target runs with `error.*` in scope.
    Error,
    /// The source, a choice node, took this branch (`condition-<id>`, `case-<v>`, …).
    Branch(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub from: usize,
    pub to: usize,
    pub on: On,
}

/// A region's steps and links. Step 0 is the region's start, step 1 its end; the others are
/// nodes, named by id.
#[derive(Debug, Clone, Copy)]
pub struct Dag {
    pub steps: &'static [&'static str],
    pub links: &'static [Link],
}

/// The output key a choice node's output names its branch with.
pub const BRANCH: &str = "branch";

const START: usize = 0;
const END: usize = 1;

impl<'a, W: Flow> Cx<'a, W> {
    /// Runs a region: every step whose links allow it, at most `limit` nodes at once. A node
    /// failure with no `error` link fails the region after its running nodes are cancelled.
    /// The output is the result of the steps that lead to the end: one step's output, or an
    /// object by node id when several do.
    pub async fn region(&self, dag: &Dag, limit: usize, run: impl Fn(usize, Cx<'a, W>) -> Branch<'a>) -> NodeResult {
        let inner = self.fork();
        let count = dag.steps.len();
        let mut incoming = vec![Vec::new(); count];
        let mut outgoing = vec![Vec::new(); count];
        for (i, link) in dag.links.iter().enumerate() {
            incoming[link.to].push(i);
            outgoing[link.from].push(i);
        }
        let mut live: Vec<Option<bool>> = vec![None; dag.links.len()];
        let mut results: Vec<Option<NodeResult>> = vec![None; count];
        let mut settled = VecDeque::from([START]);
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut running: Vec<(usize, Branch<'a>)> = Vec::new();
        let mut failure: Option<Failure> = None;
        loop {
            // Steps whose incoming links are all settled: run, skip or finish.
            while let Some(step) = settled.pop_front() {
                let any_live = step == START || incoming[step].iter().any(|&l| live[l] == Some(true));
                if step == END {
                    continue;
                }
                if step == START || !any_live || failure.is_some() {
                    let result = if step == START { Ok(Value::Null) } else { Err(Failure::cancelled("not on a live path")) };
                    if step != START {
                        self.ctx.state_mut(|w| w.flow_mut().skip(&[dag.steps[step]]));
                    }
                    settle(step, &result, dag, &outgoing, &incoming, &mut live, &mut settled);
                    results[step] = Some(result);
                } else {
                    queue.push_back(step);
                }
            }
            while failure.is_none() && running.len() < limit.max(1) {
                let Some(step) = queue.pop_front() else { break };
                let error = incoming[step].iter().filter(|&&l| live[l] == Some(true) && dag.links[l].on == On::Error).find_map(|&l| match &results[dag.links[l].from] {
                    Some(Err(f)) => Some(f.clone()),
                    _ => None,
                });
                let cx = match &error {
                    Some(f) => inner.with_error(f),
                    None => inner.fork(),
                };
                running.push((step, run(step, cx)));
            }
            if running.is_empty() {
                break;
            }
            let (result, at, _) = select_all(running.iter_mut().map(|(_, f)| f)).await;
            let (step, _) = running.remove(at);
            if let Err(f) = &result {
                let handled = !f.cancelled && outgoing[step].iter().any(|&l| dag.links[l].on == On::Error);
                if !handled && failure.is_none() {
                    failure = Some(f.clone());
                    inner.cancel();
                }
            }
            settle(step, &result, dag, &outgoing, &incoming, &mut live, &mut settled);
            results[step] = Some(result);
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        let mut ends: Vec<(&str, Value)> = incoming[END]
            .iter()
            .filter(|&&l| live[l] == Some(true))
            .filter_map(|&l| match &results[dag.links[l].from] {
                Some(Ok(v)) => Some((dag.steps[dag.links[l].from], v.clone())),
                _ => None,
            })
            .collect();
        Ok(match ends.len() {
            0 => Value::Null,
            1 => ends.pop().map(|(_, v)| v).unwrap_or_default(),
            _ => Value::Object(ends.into_iter().map(|(id, v)| (id.to_string(), v)).collect::<Map<String, Value>>()),
        })
    }
}

/// Settles `step`'s outgoing links by its result and queues targets that became settled.
fn settle(step: usize, result: &NodeResult, dag: &Dag, outgoing: &[Vec<usize>], incoming: &[Vec<usize>], live: &mut [Option<bool>], settled: &mut VecDeque<usize>) {
    for &l in &outgoing[step] {
        let link = dag.links[l];
        live[l] = Some(match (link.on, result) {
            (On::Success, Ok(_)) => true,
            (On::Error, Err(f)) => !f.cancelled,
            (On::Branch(branch), Ok(output)) => output.get(BRANCH).and_then(Value::as_str) == Some(branch),
            _ => false,
        });
        if incoming[link.to].iter().all(|&i| live[i].is_some()) {
            settled.push_back(link.to);
        }
    }
}
