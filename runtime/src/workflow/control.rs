//! Composites and decorators: how generated code runs children concurrently, repeatedly, under a
//! deadline or with retries. The generated code decides which children these are; the helpers
//! here only keep the bookkeeping (cancellation, quorum, durable timers, continue-as-new) in
//! one tested place.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, select_all};
use serde_json::{Value, json};
use temporalio_sdk::{TimerOptions, TimerResult, WorkflowCancellationToken};

use super::cx::{Cx, Flow};
use crate::values::{Failure, NodeInfo, NodeResult};
use crate::workflow::state::View;

/// A child's run, as generated code hands it over: boxed, owning its `Cx`.
pub type Branch<'a> = LocalBoxFuture<'a, NodeResult>;

/// History length at which a loop continues as new even if the server has not suggested it yet.
const HISTORY_LIMIT: u32 = 10_000;

/// When a `Parallel` is decided: it succeeds once `successes` branches have succeeded and fails
/// once `failures` have failed (or success has become impossible). The rest are cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub successes: usize,
    pub failures: usize,
}

/// A tree `Parallel` as the generated code describes it: its children, how many run at once,
/// and when it is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fan {
    pub branches: usize,
    /// `usize::MAX` for no limit (`maxConcurrency`).
    pub at_once: usize,
    pub quorum: Quorum,
}

/// A graph `Parallel` container as the generated code describes it: a branch per index
/// (`count`) or per item of the list an expression gives (`collection`), so many at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread<'s> {
    pub count: Option<u64>,
    pub collection: Option<&'s str>,
    /// `usize::MAX` for no limit (`batchSize`).
    pub at_once: usize,
}

/// What a loop iterates over.
#[derive(Debug, Clone, Copy)]
pub enum Iterate<'s> {
    /// A fixed number of times (`Repeat`, a graph `for` loop).
    Times(u64),
    /// Each item of the list the expression gives (`ForEach`, a graph `forEach` loop).
    Items(&'s str),
    /// While the condition holds, checked before each iteration.
    While(&'s str),
    /// While the condition holds, checked after each iteration.
    DoWhile(&'s str),
    /// Until the body fails (`KeepRunningUntilFailure`): the failure fails the node.
    UntilFailure,
    /// While a condition node succeeds (btree's `While` with a condition child): the loop's
    /// closure runs it for [`Pass::Guard`].
    WhileGuard,
    /// A Serverless Workflow `for`: each item of the list jq gives on the data, while `while`
    /// holds on the data the last iteration left.
    #[cfg(feature = "jq")]
    Jq { collection: &'s super::dsl::Jq, while_: Option<&'s super::dsl::Jq> },
}

/// What a loop asks its closure to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The condition child of a [`Iterate::WhileGuard`] loop.
    Guard,
    /// The body, for this iteration.
    Body(u64),
}

/// A loop, as the generated code describes it.
#[derive(Debug, Clone, Copy)]
pub struct Loop<'s> {
    pub iterate: Iterate<'s>,
    pub max_iterations: u64,
    /// Iterations at once; only a list's items run concurrently.
    pub concurrency: usize,
    /// Names the item and its index are bound to besides `loop.item`/`loop.index` (a
    /// `ForEach`'s `itemKey`/`indexKey`); empty for none.
    pub item: &'s str,
    pub index: &'s str,
    /// The body's nodes, as spans of the flow's node list: their states are reset for each
    /// iteration.
    pub body: &'s [crate::values::NodeSpan],
    /// The loop and the nodes around it: when nothing else runs, the loop may continue as new.
    pub around: &'s [&'s str],
}

/// A `Retry` decorator's policy: attempts, and the durable wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySpec {
    pub max_attempts: u32,
    pub delay_ms: u64,
    pub exponential: bool,
    pub max_delay_ms: u64,
}

/// Runs `count` branches, at most `limit` at once, feeding each result to `decide` as it
/// arrives. When `decide` returns true the scope is cancelled, nothing new starts, and the
/// running branches are awaited (they end as cancelled). `select_all` is the deterministic
/// choice here (see the SDK notes, section 11): it never wakes itself.
async fn run_branches<'f>(
    count: usize,
    limit: usize,
    scope: &WorkflowCancellationToken,
    mut start: impl FnMut(usize) -> LocalBoxFuture<'f, NodeResult>,
    mut decide: impl FnMut(usize, NodeResult) -> bool,
) {
    let limit = limit.max(1);
    let (mut next, mut stopped) = (0, false);
    let mut running: Vec<(usize, LocalBoxFuture<'f, NodeResult>)> = Vec::new();
    loop {
        while !stopped && next < count && running.len() < limit {
            running.push((next, start(next)));
            next += 1;
        }
        if running.is_empty() {
            break;
        }
        let (result, at, _) = select_all(running.iter_mut().map(|(_, f)| f)).await;
        let (branch, _) = running.remove(at);
        if decide(branch, result) && !stopped {
            stopped = true;
            scope.cancel();
        }
    }
}

impl<'a, W: Flow> Cx<'a, W> {
    /// A tree `Parallel`: runs its children in a scope of their own, at most `fan.at_once` at
    /// once, until its quorum decides; the output lists each child's output.
    pub async fn parallel(&self, fan: Fan, branch: impl Fn(usize, Cx<'a, W>) -> Branch<'a>) -> NodeResult {
        let inner = self.fork();
        self.quorum(&inner, fan.quorum, fan.at_once, fan.branches, |i| branch(i, inner.own_branch())).await
    }

    /// A graph `Parallel` container: one branch per index (`count`) or per item of a list
    /// (`collection`), each with `parallel.index`/`parallel.currentItem` in scope, at most
    /// `spread.at_once` at once. Every branch must succeed; the output lists each branch's result.
    pub async fn fan_out(&self, spread: Spread<'_>, branch: impl Fn(usize, Cx<'a, W>) -> Branch<'a>) -> NodeResult {
        let Spread { count, collection, at_once: batch } = spread;
        let items = match collection {
            Some(source) => Some(self.list(source)?),
            None => None,
        };
        let total = items.as_ref().map_or(count.unwrap_or(0) as usize, Vec::len);
        let inner = self.fork();
        let quorum = Quorum { successes: total, failures: 1 };
        self.quorum(&inner, quorum, batch, total, |i| {
            let item = items.as_ref().and_then(|items| items.get(i)).cloned().unwrap_or(Value::Null);
            let names = BTreeMap::from([("parallel".to_string(), json!({"index": i, "currentItem": item, "total": total}))]);
            branch(i, inner.own_branch().frame(names, Some(i as u64)))
        })
        .await
    }

    async fn quorum(&self, inner: &Cx<'a, W>, quorum: Quorum, limit: usize, count: usize, start: impl FnMut(usize) -> Branch<'a>) -> NodeResult {
        let mut outputs = vec![Value::Null; count];
        let (mut succeeded, mut failed) = (0, 0);
        let mut outcome: Option<NodeResult> = None;
        run_branches(count, limit, &inner.scope, start, |i, result| {
            match result {
                Ok(output) => {
                    outputs[i] = output;
                    succeeded += 1;
                    if succeeded >= quorum.successes {
                        outcome.get_or_insert(Ok(Value::Null));
                        return true;
                    }
                }
                Err(failure) if failure.cancelled => {
                    // Cancelled from outside (or after the decision): end like the scope did.
                    outcome.get_or_insert(Err(failure));
                    return true;
                }
                Err(failure) => {
                    failed += 1;
                    if failed >= quorum.failures || count - failed < quorum.successes {
                        outcome.get_or_insert(Err(failure));
                        return true;
                    }
                }
            }
            false
        })
        .await;
        match outcome {
            Some(Err(failure)) => Err(failure),
            _ => Ok(Value::Array(outputs)),
        }
    }

    /// A loop (`ForEach`, `While`, `Repeat`, `KeepRunningUntilFailure`, a graph `Loop`). The
    /// output lists each iteration's result. Between iterations of a loop that runs alone, the
    /// workflow continues as new when its history grows long, carrying the loop's position.
    pub async fn repeat(&self, node: &NodeInfo, spec: Loop<'_>, body: impl Fn(Pass, Cx<'a, W>) -> Branch<'a>) -> NodeResult {
        let items = match spec.iterate {
            Iterate::Items(source) => Some(self.list(source)?),
            #[cfg(feature = "jq")]
            Iterate::Jq { collection, .. } => Some(self.jq_list(collection)?),
            _ => None,
        };
        let total = match (&items, spec.iterate) {
            (Some(items), _) => Some(items.len() as u64),
            (None, Iterate::Times(n)) => Some(n),
            _ => None,
        };
        let names = |i: u64| {
            let item = items.as_ref().and_then(|items| items.get(i as usize)).cloned();
            let mut frame = json!({"index": i, "iteration": i + 1});
            if let Some(total) = total {
                frame["total"] = json!(total);
            }
            let mut names = BTreeMap::new();
            if let Some(item) = &item {
                frame["item"] = item.clone();
                if !spec.item.is_empty() {
                    names.insert(spec.item.to_string(), item.clone());
                }
                if !spec.index.is_empty() {
                    names.insert(spec.index.to_string(), json!(i));
                }
            }
            names.insert("loop".to_string(), frame);
            names
        };
        if let (Some(items), true) = (&items, spec.concurrency > 1) {
            // Items at once: no iteration waits for another, so there is no position to carry.
            let count = items.len().min(spec.max_iterations as usize);
            let inner = self.fork();
            let quorum = Quorum { successes: count, failures: 1 };
            return self.quorum(&inner, quorum, spec.concurrency, count, |i| body(Pass::Body(i as u64), inner.own_branch().frame(names(i as u64), Some(i as u64)))).await;
        }
        let saved = self.ctx.state(|w| w.flow().progress(node.id).cloned());
        let mut next = saved.as_ref().and_then(|p| p["next"].as_u64()).unwrap_or(0);
        let mut results: Vec<Value> = saved.and_then(|p| p["results"].as_array().cloned()).unwrap_or_default();
        loop {
            let more = match spec.iterate {
                Iterate::Times(_) | Iterate::Items(_) => next < total.unwrap_or(0),
                #[cfg(feature = "jq")]
                Iterate::Jq { while_, .. } => next < total.unwrap_or(0) && while_.map_or(Ok(true), |w| self.jq_holds(w))?,
                Iterate::While(condition) => self.condition(condition)?,
                Iterate::DoWhile(condition) => next == 0 || self.condition(condition)?,
                Iterate::UntilFailure => true,
                Iterate::WhileGuard => {
                    self.ctx.state_mut(|w| w.flow_mut().reset(spec.body));
                    match body(Pass::Guard, self.frame(names(next), Some(next))).await {
                        Ok(_) => true,
                        Err(failure) if failure.cancelled => return Err(failure),
                        Err(_) => false,
                    }
                }
            };
            if !more {
                break;
            }
            if next >= spec.max_iterations {
                if matches!(spec.iterate, Iterate::While(_) | Iterate::DoWhile(_) | Iterate::WhileGuard) {
                    self.ctx.state_mut(|w| w.flow_mut().set_progress(node.id, None));
                    return Err(Failure::new(format!("the condition still held after {} iterations (maxIterations)", spec.max_iterations)));
                }
                break;
            }
            if !matches!(spec.iterate, Iterate::WhileGuard) {
                self.ctx.state_mut(|w| w.flow_mut().reset(spec.body));
            }
            match body(Pass::Body(next), self.frame(names(next), Some(next))).await {
                Ok(output) => results.push(output),
                Err(failure) => {
                    if !failure.cancelled {
                        self.ctx.state_mut(|w| w.flow_mut().set_progress(node.id, None));
                    }
                    return Err(failure);
                }
            }
            next += 1;
            if self.should_continue_as_new(spec.around) {
                let progress = json!({"next": next, "results": results});
                #[cfg_attr(not(feature = "jq"), allow(unused_mut))]
                let mut resume = self.ctx.state_mut(|w| {
                    w.flow_mut().set_progress(node.id, Some(progress));
                    w.flow().snapshot()
                });
                #[cfg(feature = "jq")]
                {
                    resume.dsl = self.data.borrow().is_document().then(|| self.data.borrow().carried());
                }
                *self.resume.borrow_mut() = Some(resume);
                return Err(Failure::cancelled("the workflow continues as new"));
            }
        }
        self.ctx.state_mut(|w| w.flow_mut().set_progress(node.id, None));
        Ok(Value::Array(results))
    }

    /// Long history, and nothing running but this loop and the nodes around it.
    fn should_continue_as_new(&self, around: &[&str]) -> bool {
        let long = self.ctx.continue_as_new_suggested() || self.ctx.history_length() >= HISTORY_LIMIT;
        long && self.ctx.state(|w| w.flow().quiet_except(around))
    }

    /// The list an expression gives; anything else fails the node.
    fn list(&self, source: &str) -> Result<Vec<Value>, Failure> {
        match self.eval(source)? {
            Value::Array(items) => Ok(items),
            other => Err(Failure::new(format!("`{source}` gives {}, not a list", wfc_expr::type_name(&other)))),
        }
    }

    /// `Timeout`: runs `body` (started in `inner`, a fork of this scope) against a durable
    /// timer. When the timer wins, every activity and timer of the subtree is cancelled (the
    /// history shows the cancellations) and the node fails; when the body wins, the timer is
    /// cancelled.
    pub async fn timeout(&self, node: &NodeInfo, limit: Duration, inner: &Cx<'a, W>, body: impl Future<Output = NodeResult>) -> NodeResult {
        let timer_scope = self.scope.child_token();
        let options = TimerOptions::builder(self.timer_duration(limit)).cancellation_token(timer_scope.clone()).summary(format!("{} deadline", node.id)).build();
        let mut timer = pin!(self.ctx.timer(options));
        let mut body = pin!(body.fuse());
        temporalio_sdk::workflows::select! {
            result = body.as_mut() => {
                timer_scope.cancel();
                result
            }
            fired = timer.as_mut() => {
                inner.cancel();
                let result = body.await;
                match fired {
                    TimerResult::Fired => Err(Failure::new(format!("timed out after {}", human(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX))))),
                    TimerResult::Cancelled => result,
                }
            }
        }
    }

    /// `Retry`: runs the subtree again after a durable wait until it succeeds or the attempts
    /// are spent. A cancellation is never retried.
    pub async fn retry(&self, node: &NodeInfo, spec: RetrySpec, body: &[crate::values::NodeSpan], attempt: impl Fn(Cx<'a, W>) -> Branch<'a>) -> NodeResult {
        self.retry_if(node, spec, body, |_| Ok(true), attempt).await
    }

    /// [`Cx::retry`], retrying only the failures `retryable` accepts.
    pub(crate) async fn retry_if(
        &self,
        node: &NodeInfo,
        spec: RetrySpec,
        body: &[crate::values::NodeSpan],
        retryable: impl Fn(&Failure) -> Result<bool, Failure>,
        attempt: impl Fn(Cx<'a, W>) -> Branch<'a>,
    ) -> NodeResult {
        let mut delay = spec.delay_ms;
        let mut number = 1;
        loop {
            self.ctx.state_mut(|w| w.flow_mut().reset(body));
            let failure = match attempt(self.frame(BTreeMap::new(), Some(u64::from(number)))).await {
                Err(failure) if !failure.cancelled && number < spec.max_attempts && retryable(&failure)? => failure,
                Err(failure) if !failure.cancelled && !retryable(&failure)? => return Err(failure),
                Err(failure) if !failure.cancelled => {
                    return Err(Failure { message: format!("{} (after {number} attempts)", failure.message), ..failure });
                }
                done => return done,
            };
            if delay > 0 {
                let summary = format!("{} retry {} after: {}", node.id, number + 1, failure.message);
                let options = TimerOptions::builder(self.timer_duration(Duration::from_millis(delay))).cancellation_token(self.scope.clone()).summary(summary).build();
                if self.ctx.timer(options).await == TimerResult::Cancelled {
                    return Err(Failure::cancelled("cancelled while waiting to retry"));
                }
            }
            if spec.exponential {
                delay = delay.saturating_mul(2).min(spec.max_delay_ms.max(spec.delay_ms));
            }
            number += 1;
        }
    }

    /// `ReactiveSequence`: the leading conditions are checked first and again whenever the
    /// workflow state changes while `body` (started in `inner`) runs; one turning false cancels
    /// the body and fails the node.
    pub async fn reactive(&self, conditions: &[&str], inner: &Cx<'a, W>, body: impl Future<Output = NodeResult>) -> NodeResult {
        let frame = self.frame.clone();
        let broken = move |w: &W| conditions.iter().find(|c| !wfc_expr::eval_bool(c, &View { flow: w.flow(), frame: &frame }).unwrap_or(false)).copied();
        if let Some(condition) = self.ctx.state(&broken) {
            return Err(Failure::new(format!("condition `{condition}` does not hold")));
        }
        let mut body = pin!(body.fuse());
        let mut watch = pin!(self.ctx.wait_condition(|w: &W| broken(w).is_some()));
        temporalio_sdk::workflows::select! {
            result = body.as_mut() => result,
            _ = watch.as_mut() => {
                inner.cancel();
                let _ = body.await;
                let condition = self.ctx.state(&broken).unwrap_or_default();
                Err(Failure::new(format!("condition `{condition}` no longer holds")))
            }
        }
    }

    /// `RunOnce`: true the first time this node is reached in the workflow (across loop
    /// iterations and continue-as-new).
    pub fn first_time(&self, node: &NodeInfo) -> bool {
        self.ctx.state_mut(|w| w.flow_mut().first_time(node.id))
    }
}

/// `Invert`: success becomes failure and failure success; a cancellation stays one.
pub fn invert(result: NodeResult) -> NodeResult {
    match result {
        Ok(_) => Err(Failure::new("the child succeeded (Invert)")),
        Err(failure) if !failure.cancelled => Ok(Value::Null),
        cancelled => cancelled,
    }
}

/// `ForceSuccess`: a failure becomes success; a cancellation stays one.
pub fn force_success(result: NodeResult) -> NodeResult {
    match result {
        Err(failure) if !failure.cancelled => Ok(Value::Null),
        other => other,
    }
}

/// `ForceFailure`: success becomes failure.
pub fn force_failure(result: NodeResult) -> NodeResult {
    match result {
        Ok(_) => Err(Failure::new("forced to fail (ForceFailure)")),
        other => other,
    }
}

/// The next alternative of a `Selector` runs only after a real failure, never after a
/// cancellation: `Some` is the result to return now.
pub fn settled(result: NodeResult) -> Option<NodeResult> {
    match result {
        Err(failure) if !failure.cancelled => None,
        done => Some(done),
    }
}

/// `120000` → `2m`, for messages.
fn human(ms: u64) -> String {
    match ms {
        ms if ms % 60_000 == 0 && ms > 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 && ms > 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}
