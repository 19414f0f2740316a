//! The `HttpRequest` activity.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use temporalio_common::error::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::BuiltinInput;
use crate::secrets::{self, ProcessEnv};

/// A node's `HttpRequest` configuration, after its templates are rendered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HttpConfig {
    #[serde(default)]
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    query: BTreeMap<String, Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    json: Option<Value>,
    /// Applied as the activity's start-to-close timeout by the workflow.
    #[serde(default)]
    #[allow(dead_code)]
    timeout: Option<Value>,
    #[serde(default)]
    expect_status: Option<OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u16),
    Many(Vec<u16>),
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().user_agent(concat!("wfc-runtime/", env!("CARGO_PKG_VERSION"))).build().unwrap_or_default())
}

/// Sends the request a node describes. The output is `{status, headers, body}`; the body is
/// parsed as JSON when the response says it is JSON.
///
/// Failures are classified for Temporal's retries: a 4xx other than 408 and 429 and a bad
/// configuration are not retryable; 5xx, 408, 429 and transport errors are, and `Retry-After` sets
/// the next attempt's delay.
pub async fn http_request(_ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    let node = input.node.clone();
    let fail = |message: String, retryable: bool, delay: Option<Duration>| {
        let failure = ApplicationFailure::builder(format!("HttpRequest `{node}`: {message}"))
            .type_name(if retryable { "HttpRetryable" } else { "HttpError" }.to_string())
            .non_retryable(!retryable)
            .maybe_next_retry_delay(delay)
            .build();
        ActivityError::Application(Box::new(failure))
    };
    let config = secrets::resolve(input.config, &input.secrets, &ProcessEnv).map_err(|f| fail(f.message, false, None))?;
    let config: HttpConfig = serde_json::from_value(config).map_err(|e| fail(format!("invalid configuration: {e}"), false, None))?;
    let method = config.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| fail(format!("`{method}` is not an HTTP method"), false, None))?;
    let url = reqwest::Url::parse(&config.url).map_err(|e| fail(format!("invalid URL `{}`: {e}", config.url), false, None))?;

    let mut request = client().request(method.clone(), url.clone()).header("Idempotency-Key", &input.idempotency_key);
    for (name, value) in &config.headers {
        request = request.header(name.as_str(), wfc_expr::interpolate(value));
    }
    if !config.query.is_empty() {
        let pairs: Vec<(&str, String)> = config.query.iter().map(|(k, v)| (k.as_str(), wfc_expr::interpolate(v))).collect();
        request = request.query(&pairs);
    }
    request = match (config.json, config.body) {
        (Some(json), _) => request.json(&json),
        (None, Some(Value::String(text))) => request.body(text),
        (None, Some(other)) => request.json(&other),
        (None, None) => request,
    };

    let response = request.send().await.map_err(|e| fail(format!("{method} {url}: {}", describe(&e)), true, None))?;
    let status = response.status();
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
        .collect();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let is_json = headers.get("content-type").and_then(Value::as_str).is_some_and(|ct| ct.contains("json"));
    let text = response.text().await.map_err(|e| fail(format!("reading the response: {}", describe(&e)), true, None))?;
    let body = if is_json && !text.is_empty() {
        serde_json::from_str(&text).map_err(|e| fail(format!("the response says JSON but is not: {e}"), false, None))?
    } else {
        Value::String(text)
    };

    let code = status.as_u16();
    let expected = match &config.expect_status {
        Some(OneOrMany::One(c)) => *c == code,
        Some(OneOrMany::Many(cs)) => cs.contains(&code),
        None => status.is_success(),
    };
    if !expected {
        let retryable = status.is_server_error() || code == 408 || code == 429;
        let snippet: String = wfc_expr::interpolate(&body).chars().take(200).collect();
        return Err(fail(format!("{method} {url} returned {status}: {snippet}"), retryable, retry_after));
    }
    Ok(json!({ "status": code, "headers": headers, "body": body }))
}

/// A transport error with its causes, e.g. "error sending request: connection refused".
fn describe(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
