//! The `AI` (`Llm`) activity: an OpenAI-compatible chat completion.

use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{BuiltinInput, Call, Fault, web};

/// A node's `AI` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatConfig {
    /// The API's base, up to `/chat/completions`; `https://api.openai.com/v1` unless given.
    #[serde(default)]
    pub base_url: Option<String>,
    pub model: String,
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// A user message, after `messages`.
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Sent as `Authorization: Bearer`; usually `{{ env.OPENAI_API_KEY }}`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The answer's JSON Schema as OpenAI's `json_schema` object (`{name, schema, strict?}`):
    /// the model is asked for JSON of that shape, and the output gains `json`, the parsed answer.
    #[serde(default)]
    pub response_format: Option<Value>,
}

/// One chat message; `content` is text or the API's list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: String,
    pub content: Value,
}

/// Asks the model. The output is `{text, model, finishReason, usage: {promptTokens,
/// completionTokens, totalTokens}, id}`, and `json` (the parsed answer) with a `responseFormat`. The API's error message (`{"error": {"message"}}`) is the
/// cause of a failure; 429 and 5xx are retried after `Retry-After`.
pub async fn chat_completion(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("AI", &ctx, input, complete).await
}

async fn complete(config: ChatConfig, call: Call) -> Result<Value, Fault> {
    let mut messages = config.messages;
    if let Some(prompt) = config.prompt {
        messages.push(ChatMessage { role: "user".into(), content: Value::String(prompt) });
    }
    if messages.is_empty() {
        return Err(Fault::fatal("configuration", "give `messages` or `prompt`"));
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), json!(messages));
    if let Some(t) = config.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = config.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(format) = &config.response_format {
        body.insert("response_format".into(), json!({"type": "json_schema", "json_schema": format}));
    }
    let url = web::endpoint(config.base_url.as_deref(), "https://api.openai.com/v1", "chat/completions")?;
    let operation = format!("chat completion at {}", web::shown(&url, call.is_secret("/baseUrl")));
    let mut request = web::client().post(url).json(&body);
    if let Some(key) = &config.api_key {
        request = request.header(AUTHORIZATION, format!("Bearer {key}"));
    }
    let reply = web::send(request, &operation, &call).await?;
    if !reply.status.is_success() {
        let detail = reply.json(&operation).ok().and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_string));
        return Err(reply.status_fault(&operation, &detail.unwrap_or_else(|| reply.snippet())));
    }
    let answer = reply.json(&operation)?;
    let choice = answer.pointer("/choices/0").ok_or_else(|| Fault::fatal(&operation, format!("the answer has no `choices`: {}", reply.snippet())))?;
    let text = match choice.pointer("/message/content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let usage = |name: &str| answer.pointer(&format!("/usage/{name}")).cloned().unwrap_or(Value::Null);
    let parsed = match config.response_format {
        // A model that does not keep to the format fails the attempt: another may.
        Some(_) => Some(serde_json::from_str::<Value>(&text).map_err(|e| {
            Fault::transient(&operation, format!("the answer is not the JSON that `responseFormat` asks for ({e}): {}", text.chars().take(200).collect::<String>()))
        })?),
        None => None,
    };
    let mut output = json!({
        "text": text,
        "model": answer.get("model").cloned().unwrap_or(Value::String(config.model)),
        "finishReason": choice.get("finish_reason").cloned().unwrap_or(Value::Null),
        "usage": {
            "promptTokens": usage("prompt_tokens"),
            "completionTokens": usage("completion_tokens"),
            "totalTokens": usage("total_tokens"),
        },
        "id": answer.get("id").cloned().unwrap_or(Value::Null),
    });
    if let Some(parsed) = parsed {
        output["json"] = parsed;
    }
    Ok(output)
}
