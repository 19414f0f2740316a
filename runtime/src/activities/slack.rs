//! The `SlackMessage` activity: an incoming webhook, or `chat.postMessage` with a bot token.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{BuiltinInput, Call, Fault, web};

/// A node's `SlackMessage` configuration: `webhookUrl`, or `token` and `channel`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// A bot token (`xoxb-…`), sent as `Authorization: Bearer`.
    #[serde(default)]
    pub token: Option<String>,
    /// A channel id or name; with a webhook it is ignored by Slack unless the app allows it.
    #[serde(default)]
    pub channel: Option<String>,
    pub text: String,
    /// Block Kit blocks, sent as they are.
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Reply in this thread.
    #[serde(default)]
    pub thread_ts: Option<String>,
    /// Slack's Web API; `https://slack.com/api` unless given.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// Posts a message. The output is `{ok, channel, ts}` for `chat.postMessage` (Slack's answer) and
/// `{ok: true}` for a webhook. Slack's own errors (`{"ok": false, "error": "channel_not_found"}`,
/// a webhook's `invalid_token`) fail the node; `ratelimited`, 429 and 5xx are retried.
pub async fn slack_message(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("SlackMessage", &ctx, input, post).await
}

async fn post(config: SlackConfig, call: Call) -> Result<Value, Fault> {
    let mut message = Map::new();
    message.insert("text".into(), json!(config.text));
    if let Some(blocks) = &config.blocks {
        message.insert("blocks".into(), blocks.clone());
    }
    if let Some(thread) = &config.thread_ts {
        message.insert("thread_ts".into(), json!(thread));
    }
    match (&config.webhook_url, &config.token) {
        (Some(url), _) => {
            let operation = "post to the webhook";
            let url = reqwest::Url::parse(url).map_err(|e| Fault::fatal("configuration", format!("invalid `webhookUrl`: {e}")))?;
            if let Some(channel) = &config.channel {
                message.insert("channel".into(), json!(channel));
            }
            let request = web::client().post(url).json(&message);
            let reply = web::send(request, operation, &call).await?;
            if !reply.status.is_success() {
                return Err(reply.status_fault(operation, &reply.snippet()));
            }
            Ok(json!({ "ok": true }))
        }
        (None, Some(token)) => {
            let channel = config.channel.as_deref().ok_or_else(|| Fault::fatal("configuration", "a bot token needs a `channel`"))?;
            message.insert("channel".into(), json!(channel));
            let operation = "chat.postMessage";
            let url = web::endpoint(config.base_url.as_deref(), "https://slack.com/api", "chat.postMessage")?;
            let request = web::client()
                .post(url)
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Value::Object(message).to_string());
            let reply = web::send(request, operation, &call).await?;
            if !reply.status.is_success() {
                return Err(reply.status_fault(operation, &reply.snippet()));
            }
            let answer = reply.json(operation)?;
            if answer.get("ok") != Some(&Value::Bool(true)) {
                let error = answer.get("error").and_then(Value::as_str).unwrap_or("Slack did not answer `ok`");
                let fault = if error == "ratelimited" { Fault::transient(operation, error) } else { Fault::fatal(operation, error) };
                return Err(fault.retry_after(web::retry_after(&reply.headers)));
            }
            Ok(json!({ "ok": true, "channel": answer.get("channel"), "ts": answer.get("ts") }))
        }
        (None, None) => Err(Fault::fatal("configuration", "give `webhookUrl`, or `token` and `channel`")),
    }
}
