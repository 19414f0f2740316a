//! Built-in activities. Generated crates register the ones their flow uses, each delegating here.
//!
//! Every built-in activity takes a [`BuiltinInput`]: the node's configuration, rendered in the
//! workflow except for the strings that read `env`, which are completed here on the worker
//! ([`crate::secrets`]), so a secret never enters history. The completed configuration is then
//! read into the activity's typed config struct ([`HttpConfig`], [`EmailConfig`],
//! [`SlackConfig`], [`QueryConfig`], [`ChatConfig`]).
//!
//! A failure names the node, the operation and the cause (`EmailSend \`notify\`: SMTP send to
//! 127.0.0.1:2525: 550 mailbox unavailable`) and says whether Temporal should retry it.

mod ai;
mod database;
mod email;
mod http;
mod oauth2;
pub mod secrets;
mod slack;
mod web;

pub use ai::{ChatConfig, ChatMessage, chat_completion};
pub use database::{QueryConfig, database_query};
pub use email::{EmailConfig, Provider, Recipients, Security, SmtpConfig, email_send};
pub use http::{CallRequest, HttpConfig, call_http, http_request};
pub use slack::{SlackConfig, slack_message};

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;
use temporalio_common::error::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub use crate::values::BuiltinInput;
use crate::values::HEARTBEAT_TIMEOUT;
use secrets::ProcessEnv;

/// What a built-in activity knows about its call besides its configuration.
#[derive(Debug, Clone)]
pub struct Call {
    pub node: String,
    pub idempotency_key: String,
    pub max_output_bytes: Option<usize>,
    /// When Temporal gives up on this attempt (its start-to-close timeout).
    pub deadline: Option<SystemTime>,
    /// JSON pointers of the configuration strings that were completed from `env`: messages
    /// never show them.
    pub secret_fields: Vec<String>,
}

impl Call {
    /// The time left before the attempt's deadline, less a margin, so that the activity reports
    /// its own timeout (naming the operation) before Temporal cuts it off.
    /// A deadline already past says nothing useful (Temporal cuts the attempt off anyway).
    pub fn time_left(&self) -> Option<Duration> {
        let left = self.deadline?.duration_since(SystemTime::now()).ok().filter(|d| !d.is_zero())?;
        Some(left.saturating_sub(left / 20).max(Duration::from_millis(1)))
    }

    /// Whether the configuration string at `pointer` (e.g. `/url`) holds a secret.
    pub fn is_secret(&self, pointer: &str) -> bool {
        self.secret_fields.iter().any(|p| p == pointer)
    }
}

/// Why an operation failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What was being done: `connect`, `POST https://…`, `SMTP send to host:port`.
    pub operation: String,
    pub cause: String,
    pub retryable: bool,
    /// The server asked for this delay before the next attempt (`Retry-After`).
    pub delay: Option<Duration>,
}

impl Fault {
    /// A failure that the same attempt would meet again: bad configuration, a rejection.
    pub fn fatal(operation: impl Into<String>, cause: impl Into<String>) -> Fault {
        Fault { operation: operation.into(), cause: cause.into(), retryable: false, delay: None }
    }

    /// A failure that may pass: a transport error, an overloaded server.
    pub fn transient(operation: impl Into<String>, cause: impl Into<String>) -> Fault {
        Fault { retryable: true, ..Fault::fatal(operation, cause) }
    }

    pub fn retry_after(self, delay: Option<Duration>) -> Fault {
        Fault { delay, ..self }
    }
}

/// Runs a built-in activity: completes its secrets, reads its typed configuration, runs `body`,
/// and bounds the output by `maxOutputBytes`. `kind` is the node type, used in messages.
pub(crate) async fn run<C, F>(kind: &'static str, ctx: &ActivityContext, input: BuiltinInput, body: impl FnOnce(C, Call) -> F) -> Result<Value, ActivityError>
where
    C: DeserializeOwned,
    F: Future<Output = Result<Value, Fault>>,
{
    let call = Call {
        node: input.node,
        idempotency_key: input.idempotency_key,
        max_output_bytes: input.max_output_bytes,
        deadline: ctx.info().deadline,
        secret_fields: input.secrets.iter().map(|s| s.pointer.clone()).collect(),
    };
    let failed = |fault: Fault| error(kind, &call.node, fault);
    let config = secrets::resolve(input.config, &input.secrets, &ProcessEnv).map_err(|f| failed(Fault::fatal("configuration", f.message)))?;
    let config: C = read_config(config).map_err(|cause| failed(Fault::fatal("configuration", cause)))?;
    let limit = call.max_output_bytes;
    // The call races the cancellation Temporal delivers with a heartbeat's answer: a cancelled
    // call is dropped, which closes its connection (HTTP, SMTP, PostgreSQL) in flight.
    let work = body(config, call.clone());
    let output = tokio::select! {
        output = work => output.map_err(&failed)?,
        never = heartbeat(ctx) => match never {},
        () = ctx.cancelled() => return Err(ActivityError::cancelled()),
    };
    if let Some(max) = limit {
        let size = serde_json::to_vec(&output).map_or(0, |bytes| bytes.len());
        if size > max {
            return Err(failed(Fault::fatal("output", format!("the output is {size} bytes, more than settings.maxOutputBytes ({max})"))));
        }
    }
    Ok(output)
}

/// Heartbeats for as long as the call runs. A heartbeat that cannot be recorded is retried at
/// the next tick: the attempt's own deadline still bounds the call.
async fn heartbeat(ctx: &ActivityContext) -> std::convert::Infallible {
    loop {
        let _ = ctx.record_heartbeat(()).await;
        tokio::time::sleep(HEARTBEAT_TIMEOUT / 5).await;
    }
}

/// Reads a completed configuration into a typed config struct; the error names the field.
pub fn read_config<C: DeserializeOwned>(config: Value) -> Result<C, String> {
    serde_path_to_error::deserialize(config).map_err(|e| match e.path().to_string().as_str() {
        "." => e.inner().to_string(),
        path => format!("`{path}`: {}", e.inner()),
    })
}

/// The activity error Temporal sees: the message, the node type as the failure type, and whether
/// to retry (with the server's requested delay, if any).
fn error(kind: &str, node: &str, fault: Fault) -> ActivityError {
    let failure = ApplicationFailure::builder(format!("{kind} `{node}`: {}: {}", fault.operation, fault.cause))
        .type_name(kind.to_string())
        .non_retryable(!fault.retryable)
        .maybe_next_retry_delay(fault.delay)
        .build();
    ActivityError::Application(Box::new(failure))
}

/// An error and its causes, e.g. "error sending request: connection refused".
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Whether a transport error is TLS refusing the peer (an untrusted certificate, a server that
/// does not speak TLS): configuration, which no retry changes.
pub(crate) fn is_tls_refusal(cause: &str) -> bool {
    let lower = cause.to_ascii_lowercase();
    ["certificate", "invalidcontenttype", "handshake", "tls"].iter().any(|word| lower.contains(word))
}

/// A size cap shared by every activity that reads a response.
pub(crate) fn too_large(operation: &str, size: usize, max: usize) -> Fault {
    Fault::fatal(operation, format!("the response is {size} bytes or more, more than settings.maxOutputBytes ({max})"))
}
