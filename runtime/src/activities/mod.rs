//! Built-in activities. Generated crates register the ones their flow uses, each delegating here.

mod http;

pub use http::http_request;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secrets::Deferred;

/// The input of every built-in activity: the node's rendered configuration, the parts of it that
/// read `env` (resolved inside the activity), and the call's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltinInput {
    pub node: String,
    /// `<workflowId>/<nodeId>`, sent as `Idempotency-Key` by `HttpRequest`.
    pub idempotency_key: String,
    pub config: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Deferred>,
}
