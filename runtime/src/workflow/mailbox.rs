//! The mailbox of received signals: queued until a node takes them, carried across
//! continue-as-new, and the built-in `pause`/`resume`. Payloads arrive undecoded; what is not
//! one JSON value is rejected here, never a failed workflow task.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::{PAUSE, RESUME};

/// How many rejected payloads the `status` query keeps (the newest).
const REJECTIONS_KEPT: usize = 10;

/// What the flow has received and who waits for what; part of the flow state.
#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    /// Signals received and not yet taken, per name, oldest first. A signal that arrives before
    /// its node waits is kept, not lost.
    queued: BTreeMap<String, VecDeque<Value>>,
    pub(super) waiting: BTreeMap<String, Waiting>,
    rejected: VecDeque<Rejection>,
    pub(super) paused: bool,
    /// How many signals this run has received: a `listen` that leaves unmatched events queued
    /// waits for this to change, not for a queue to be non-empty.
    received: u64,
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
        self.received += 1;
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

    pub(super) fn has(&self, signal: &str) -> bool {
        self.queued.get(signal).is_some_and(|q| !q.is_empty())
    }

    pub(super) fn take(&mut self, signal: &str) -> Option<Value> {
        self.queued.get_mut(signal)?.pop_front()
    }

    /// Signals received so far in this run.
    #[cfg(feature = "jq")]
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// The payloads queued under `signal`, oldest first, to choose from.
    #[cfg(feature = "jq")]
    pub(super) fn queued(&self, signal: &str) -> Vec<Value> {
        self.queued.get(signal).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// Takes the payload at `index` of `signal`'s queue.
    #[cfg(feature = "jq")]
    pub(super) fn take_at(&mut self, signal: &str, index: usize) -> Option<Value> {
        self.queued.get_mut(signal)?.remove(index)
    }

    pub(super) fn reject(&mut self, rejection: Rejection) {
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
