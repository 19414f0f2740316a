//! Signals and waiting: the mailbox of received signals, `HumanApproval`/`WaitForSignal` (a
//! signal or a durable deadline, whichever comes first), and the built-in `pause`/`resume`.

use std::collections::{BTreeMap, VecDeque};
use std::pin::pin;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use temporalio_sdk::{TimerOptions, TimerResult, WaitConditionOptions};

use crate::cx::{Cx, Flow};
use crate::flow::{Failure, NodeInfo};

/// The built-in signals every generated workflow accepts.
pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

/// How many rejected payloads the `status` query keeps (the newest).
const REJECTIONS_KEPT: usize = 10;

/// What the flow has received and who waits for what; part of the flow state.
#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    /// Signals received and not yet taken, per name, oldest first. A signal that arrives before
    /// its node waits is kept, not lost.
    queued: BTreeMap<String, VecDeque<Value>>,
    waiting: BTreeMap<String, Waiting>,
    rejected: VecDeque<Rejection>,
    paused: bool,
}

/// A node waiting for a signal (or, for `resume`, a paused flow), as the `status` query shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub node: String,
    pub signal: String,
    /// When the wait began (workflow time, RFC 3339).
    pub since: String,
    /// When it times out, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// A signal payload that failed its schema; the node kept waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub node: String,
    pub signal: String,
    pub error: String,
}

/// What the mailbox carries into the next run when the workflow continues as new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    #[serde(default)]
    pub queued: BTreeMap<String, VecDeque<Value>>,
    #[serde(default)]
    pub paused: bool,
}

impl Mailbox {
    /// A signal arrived (the generated signal handlers call this).
    pub fn receive(&mut self, signal: &str, payload: Value) {
        match signal {
            PAUSE => self.paused = true,
            RESUME => self.paused = false,
            _ => self.queued.entry(signal.to_string()).or_default().push_back(payload),
        }
    }

    /// A signal arrived as payloads, as any client may send it: one JSON payload (or none, or
    /// `binary/null`, read as `null`) is received; anything else is rejected (shown by `status`,
    /// logged), so a payload no handler can decode never fails the workflow task.
    pub fn receive_payloads(&mut self, signal: &str, payload: SignalPayload) {
        match decode(&payload.payloads) {
            Ok(value) => self.receive(signal, value),
            Err(error) => {
                tracing::warn!(target: "wfc::signal", signal, %error, "rejected a signal payload");
                let node = self.waiting.values().find(|w| w.signal == signal).map(|w| w.node.clone()).unwrap_or_default();
                self.reject(Rejection { node, signal: signal.to_string(), error });
            }
        }
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn waiting(&self) -> Vec<Waiting> {
        self.waiting.values().cloned().collect()
    }

    pub fn rejected(&self) -> Vec<Rejection> {
        self.rejected.iter().cloned().collect()
    }

    fn has(&self, signal: &str) -> bool {
        self.queued.get(signal).is_some_and(|q| !q.is_empty())
    }

    fn take(&mut self, signal: &str) -> Option<Value> {
        self.queued.get_mut(signal)?.pop_front()
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejected.push_back(rejection);
        while self.rejected.len() > REJECTIONS_KEPT {
            self.rejected.pop_front();
        }
    }

    pub fn carry(&self) -> Carried {
        Carried { queued: self.queued.clone(), paused: self.paused }
    }

    pub fn restore(&mut self, carried: Carried) {
        self.queued = carried.queued;
        self.paused = carried.paused;
    }
}

/// A signal's payloads as they arrived, undecoded: what generated signal handlers take, so
/// that decoding is the mailbox's and can never fail the workflow task.
pub type SignalPayload = temporalio_common::data_converters::RawValue;

/// The JSON value of a signal's payloads.
fn decode(payloads: &[temporalio_common::protos::temporal::api::common::v1::Payload]) -> Result<Value, String> {
    use temporalio_common::protos::{ENCODING_PAYLOAD_KEY, JSON_ENCODING_VAL};
    match payloads {
        [] => Ok(Value::Null),
        [payload] => match payload.metadata.get(ENCODING_PAYLOAD_KEY).map(Vec::as_slice) {
            Some(b"binary/null") => Ok(Value::Null),
            Some(encoding) if encoding == JSON_ENCODING_VAL.as_bytes() => serde_json::from_slice(&payload.data).map_err(|e| format!("the payload is not JSON: {e}")),
            encoding => Err(format!("the payload is `{}`, not JSON", String::from_utf8_lossy(encoding.unwrap_or(b"without an encoding")))),
        },
        many => Err(format!("{} payloads: a signal of a wfc workflow takes one JSON value", many.len())),
    }
}

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

/// Checks a payload against a JSON Schema; the error names each offending field.
pub fn validate(schema: &str, payload: &Value) -> Result<(), String> {
    let schema: Value = serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() { e.to_string() } else { format!("at `{at}`: {e}") }
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

impl<W: Flow> Cx<'_, W> {
    /// The workflow's current time, RFC 3339.
    fn timestamp(&self, after: Duration) -> String {
        let now = self.ctx.workflow_time().unwrap_or(SystemTime::UNIX_EPOCH) + after;
        humantime::format_rfc3339_seconds(now).to_string()
    }

    fn begin_wait(&self, node: &NodeInfo, signal: &str, timeout: Option<Duration>) {
        let waiting = Waiting { node: node.id.to_string(), signal: signal.to_string(), since: self.timestamp(Duration::ZERO), until: timeout.map(|t| self.timestamp(t)) };
        self.ctx.state_mut(|w| w.flow_mut().mailbox.waiting.insert(node.id.to_string(), waiting));
    }

    fn end_wait(&self, node: &NodeInfo) {
        self.ctx.state_mut(|w| w.flow_mut().mailbox.waiting.remove(node.id));
    }

    /// Waits until `ready` holds, in this scope; false when the scope was cancelled.
    async fn until(&self, ready: impl Fn(&W) -> bool) -> bool {
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
                let options = TimerOptions::builder(timeout).cancellation_token(deadline.clone()).summary(format!("{} timeout", node.id)).build();
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
