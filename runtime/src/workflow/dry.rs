//! Dry runs (`wfc run --dry-run`): the real flow walks its real paths, but no built-in
//! integration is called. Each built-in node's request is rendered as usual, recorded in the
//! journal as what would have been sent, and answered with the node's canned output or a success
//! of the built-in's own shape. Activities of other workers and child workflows cannot be faked
//! by shape: they need a canned output, or the node fails saying so. A dry run is a property of
//! the run (its input envelope), not of the worker, so it is safe on a shared server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::values::{Deferred, Failure, Part};

/// A dry run's canned outputs, by node id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    #[serde(default)]
    pub canned: BTreeMap<String, Value>,
}

impl DryRun {
    /// A built-in's answer: its canned output, else a success of the built-in's own shape.
    pub fn builtin(&self, node: &str, kind: &str, request: &Value) -> Value {
        self.canned.get(node).cloned().unwrap_or_else(|| success(kind, request))
    }

    /// The answer of an activity of another worker or a child workflow: its canned output only.
    pub fn elsewhere(&self, node: &str, what: &str) -> Result<Value, Failure> {
        self.canned.get(node).cloned().ok_or_else(|| Failure::new(format!("{what} cannot run dry: give node `{node}` a canned output (`wfc run --dry-run --canned FILE`)")))
    }
}

/// What each built-in returns when it succeeds, with nothing sent.
fn success(kind: &str, request: &Value) -> Value {
    match kind {
        "HttpRequest" => json!({ "status": 200, "headers": {}, "body": null }),
        "EmailSend" => json!({ "provider": "dry-run", "messageId": "dry-run", "accepted": request.get("to").cloned().unwrap_or(Value::Null), "response": "not sent: dry run" }),
        "SlackMessage" => json!({ "ok": true }),
        "DatabaseQuery" => json!({ "rows": [], "rowCount": 0 }),
        "AI" => json!({
            "text": "",
            "model": request.get("model").cloned().unwrap_or(Value::Null),
            "finishReason": "dry-run",
            "usage": { "promptTokens": 0, "completionTokens": 0, "totalTokens": 0 },
            "id": null,
        }),
        _ => Value::Null,
    }
}

/// A built-in's configuration as people may see it: each string that reads `env` shows its
/// template (`Bearer {{ env.TOKEN }}`), never a value, which only the activity resolves.
pub fn shown(config: &Value, secrets: &[Deferred]) -> Value {
    let mut shown = config.clone();
    for deferred in secrets {
        let text: String = deferred
            .parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Env(expression) => format!("{{{{ {expression} }}}}"),
            })
            .collect();
        if let Some(slot) = shown.pointer_mut(&deferred.pointer) {
            *slot = Value::String(text);
        }
    }
    shown
}
