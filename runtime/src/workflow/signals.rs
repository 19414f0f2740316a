//! Waiting: `HumanApproval`/`WaitForSignal` (a signal or a durable deadline, whichever comes
//! first) and `Pause`, over the [mailbox](super::mailbox).

use std::pin::pin;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use serde_json::{Value, json};
use temporalio_sdk::{TimerOptions, TimerResult, WaitConditionOptions};

use super::cx::{Cx, Flow};
use super::mailbox::{Rejection, Waiting};
use crate::values::{Failure, NodeInfo};
use crate::values::{RESUME, validate};

/// What happens when a wait's deadline passes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// The node fails (the default).
    Fail,
    /// The node succeeds with `{"timedOut": true}`.
    Continue,
}

/// A `HumanApproval`/`WaitForSignal` node, resolved at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalWait {
    pub signal: &'static str,
    /// The payload's JSON Schema (the node's `schema`, else the declared signal's), as JSON text.
    pub schema: Option<&'static str>,
    pub timeout: Option<Duration>,
    pub on_timeout: OnTimeout,
}

impl<W: Flow> Cx<'_, W> {
    /// The workflow's current time, RFC 3339.
    fn timestamp(&self, after: Duration) -> String {
        let now = self.ctx.workflow_time().unwrap_or(SystemTime::UNIX_EPOCH) + after;
        humantime::format_rfc3339_seconds(now).to_string()
    }

    pub(crate) fn begin_wait(&self, node: &NodeInfo, signal: &str, timeout: Option<Duration>) {
        let waiting = Waiting { node: node.id.to_string(), signal: signal.to_string(), since: self.timestamp(Duration::ZERO), until: timeout.map(|t| self.timestamp(t)) };
        self.ctx.state_mut(|w| w.flow_mut().mailbox.waiting.insert(node.id.to_string(), waiting));
        self.note(node.id, || super::journal::What::Waiting { signal: signal.to_string() });
    }

    pub(crate) fn end_wait(&self, node: &NodeInfo) {
        self.ctx.state_mut(|w| w.flow_mut().mailbox.waiting.remove(node.id));
    }

    /// Waits until `ready` holds, in this scope; false when the scope was cancelled.
    pub(crate) async fn until(&self, ready: impl Fn(&W) -> bool) -> bool {
        let options = WaitConditionOptions::builder().cancellation_token(self.scope.clone()).build();
        self.ctx.wait_condition_with_options(ready, options).await.is_ok()
    }

    /// `HumanApproval`/`WaitForSignal`: the first valid payload of the signal is the output. An
    /// invalid one is rejected (logged, shown by `status`) and the node keeps waiting. The
    /// deadline is a durable timer, cancelled when the signal wins.
    pub async fn wait_signal(&self, node: &NodeInfo, wait: &SignalWait) -> Result<Value, Failure> {
        self.begin_wait(node, wait.signal, wait.timeout);
        let deadline = self.scope.child_token();
        let mut timer: LocalBoxFuture<TimerResult> = match wait.timeout {
            Some(timeout) => {
                let options = TimerOptions::builder(self.wait_deadline(node.id, timeout)).cancellation_token(deadline.clone()).summary(format!("{} timeout", node.id)).build();
                self.ctx.timer(options).boxed_local()
            }
            None => futures::future::pending().boxed_local(),
        };
        let mut timer = pin!(timer.as_mut().fuse());
        let result = loop {
            let mut arrived = pin!(self.until(|w| w.flow().mailbox.has(wait.signal)).fuse());
            let fired = temporalio_sdk::workflows::select! {
                fired = timer.as_mut() => Some(fired),
                _ = arrived.as_mut() => None,
            };
            match fired {
                Some(TimerResult::Fired) => {
                    break match wait.on_timeout {
                        OnTimeout::Fail => Err(Failure::new(format!("no `{}` signal within {}", wait.signal, humantime::format_duration(wait.timeout.unwrap_or_default())))),
                        OnTimeout::Continue => Ok(json!({ "timedOut": true })),
                    };
                }
                Some(TimerResult::Cancelled) => break Err(Failure::cancelled("cancelled while waiting for a signal")),
                None => {}
            }
            if self.scope.is_cancelled() {
                break Err(Failure::cancelled("cancelled while waiting for a signal"));
            }
            let Some(payload) = self.ctx.state_mut(|w| w.flow_mut().mailbox.take(wait.signal)) else { continue };
            match wait.schema.map_or(Ok(()), |schema| validate(schema, &payload)) {
                Ok(()) => {
                    deadline.cancel();
                    break Ok(payload);
                }
                Err(error) => {
                    tracing::warn!(target: "wfc::signal", node = node.id, signal = wait.signal, %error, "rejected a signal payload; still waiting");
                    let rejection = Rejection { node: node.id.to_string(), signal: wait.signal.to_string(), error };
                    self.ctx.state_mut(|w| w.flow_mut().mailbox.reject(rejection));
                }
            }
        };
        self.end_wait(node);
        result
    }

    /// `Pause`: pauses the flow and waits for the `resume` signal.
    pub async fn pause(&self, node: &NodeInfo) -> Result<(), Failure> {
        self.ctx.state_mut(|w| w.flow_mut().mailbox.paused = true);
        self.hold(node).await
    }

    /// Between nodes: while the flow is paused, `node` waits for `resume` before it starts.
    pub(crate) async fn hold(&self, node: &NodeInfo) -> Result<(), Failure> {
        if !self.ctx.state(|w| w.flow().mailbox.paused) {
            return Ok(());
        }
        self.begin_wait(node, RESUME, None);
        let resumed = self.until(|w| !w.flow().mailbox.paused).await;
        self.end_wait(node);
        if resumed { Ok(()) } else { Err(Failure::cancelled("cancelled while paused")) }
    }
}
