//! The `HttpRequest` activity.

use std::collections::BTreeMap;

use reqwest::RequestBuilder;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{BuiltinInput, Call, Fault, web};

/// A node's `HttpRequest` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpConfig {
    /// `GET` unless given; any case.
    #[serde(default)]
    pub method: Option<String>,
    pub url: String,
    /// Values that are not strings are sent as their JSON text.
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    /// Added to the URL's query; an array value repeats the key.
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    /// A string is sent as text; anything else as JSON, or as a form when the `Content-Type`
    /// header says `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub body: Option<Value>,
    /// Sent as JSON.
    #[serde(default)]
    pub json: Option<Value>,
    /// Sent as `application/x-www-form-urlencoded`.
    #[serde(default)]
    pub form: Option<BTreeMap<String, Value>>,
    /// The workflow applies it as the activity's start-to-close timeout; the request stops a
    /// little before that deadline.
    #[serde(default)]
    pub timeout: Option<Value>,
    /// The statuses that succeed; any 2xx when absent.
    #[serde(default)]
    pub expect_status: Option<ExpectStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ExpectStatus {
    One(u16),
    Many(Vec<u16>),
}

impl ExpectStatus {
    fn accepts(&self, code: u16) -> bool {
        match self {
            ExpectStatus::One(c) => *c == code,
            ExpectStatus::Many(cs) => cs.contains(&code),
        }
    }
}

/// Sends the request a node describes. The output is `{status, headers, body}`; the body is
/// parsed by its content type (JSON, form, text; anything else base64 with `encoding: base64`).
///
/// Failures are classified for Temporal's retries: a 4xx other than 408 and 429 and a bad
/// configuration are not retryable; 5xx, 408, 429 and transport errors are, and `Retry-After` sets
/// the next attempt's delay. The request carries `Idempotency-Key: <workflowId>/<nodeId>[#path]`,
/// the same on every attempt.
pub async fn http_request(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("HttpRequest", &ctx, input, request).await
}

async fn request(config: HttpConfig, call: Call) -> Result<Value, Fault> {
    let method_name = config.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method_name.as_bytes()).map_err(|_| Fault::fatal("configuration", format!("`{method_name}` is not an HTTP method")))?;
    let url = reqwest::Url::parse(&config.url).map_err(|e| Fault::fatal("configuration", format!("invalid URL `{}`: {e}", config.url)))?;
    let operation = format!("{method} {}", web::shown(&url, call.is_secret("/url")));

    let mut request = web::client().request(method, url).header("Idempotency-Key", &call.idempotency_key);
    let content_type;
    (request, content_type) = with_headers(request, &config.headers)?;
    request = with_query(request, &config.query);
    let form_typed = content_type.as_deref().is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    request = match (config.json, config.form, config.body) {
        (Some(json), _, _) => request.json(&json),
        (None, Some(form), _) => request.form(&form_pairs(&form)),
        (None, None, Some(Value::Object(map))) if form_typed => request.form(&form_pairs(&map.into_iter().collect())),
        (None, None, Some(Value::String(text))) => {
            let request = if content_type.is_none() { request.header(CONTENT_TYPE, "text/plain; charset=utf-8") } else { request };
            request.body(text)
        }
        (None, None, Some(other)) => request.json(&other),
        (None, None, None) => request,
    };

    let reply = web::send(request, &operation, &call).await?;
    let code = reply.status.as_u16();
    let expected = match &config.expect_status {
        Some(expect) => expect.accepts(code),
        None => reply.status.is_success(),
    };
    if !expected {
        return Err(reply.status_fault(&operation, &reply.snippet()));
    }
    let (body, encoded) = reply.body(&operation)?;
    let mut output = json!({ "status": code, "headers": reply.header_map(), "body": body });
    if encoded {
        output["encoding"] = json!("base64");
    }
    Ok(output)
}

/// The headers added (values that are not strings as their JSON text), and the
/// `Content-Type` among them, in lower case.
fn with_headers(mut request: RequestBuilder, headers: &BTreeMap<String, Value>) -> Result<(RequestBuilder, Option<String>), Fault> {
    let mut content_type = None;
    for (name, value) in headers {
        let text = wfc_expr::interpolate(value);
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Fault::fatal("configuration", format!("`{name}` is not a valid header name")))?;
        let value = HeaderValue::from_str(&text).map_err(|_| Fault::fatal("configuration", format!("header `{name}` has a character a header cannot carry")))?;
        if header == CONTENT_TYPE {
            content_type = Some(text.to_ascii_lowercase());
        }
        request = request.header(header, value);
    }
    Ok((request, content_type))
}

/// The query added: an array value repeats the key, `null` leaves it out.
fn with_query(request: RequestBuilder, query: &BTreeMap<String, Value>) -> RequestBuilder {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (key, value) in query {
        match value {
            Value::Array(items) => pairs.extend(items.iter().map(|item| (key.as_str(), wfc_expr::interpolate(item)))),
            Value::Null => {}
            other => pairs.push((key.as_str(), wfc_expr::interpolate(other))),
        }
    }
    if pairs.is_empty() { request } else { request.query(&pairs) }
}

fn form_pairs(form: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    form.iter().map(|(k, v)| (k.clone(), wfc_expr::interpolate(v))).collect()
}

/// A Serverless Workflow `call: http` request, as workflow code computed it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    pub method: String,
    pub uri: String,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    #[serde(default)]
    pub body: Option<Value>,
    /// Follow redirects; else a 3xx answers as it is.
    #[serde(default)]
    pub redirect: bool,
    /// The body is returned base64-encoded, as received (`output: raw`).
    #[serde(default)]
    pub raw: bool,
    /// `basic` (`username`, `password`), `bearer` (`token`), `oauth2` or `oidc` (a token asked
    /// of the authority): the `Authorization` header, made here, after `$secrets` are completed.
    #[serde(default)]
    pub auth: Option<Value>,
}

/// The `Authorization` header of a `basic` or `bearer` authentication.
fn authorization(auth: &Value) -> Option<String> {
    use base64::Engine;
    if let Some(basic) = auth.get("basic") {
        let (user, password) = (basic.get("username")?.as_str()?, basic.get("password")?.as_str()?);
        return Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))));
    }
    let token = auth.get("bearer")?.get("token")?.as_str()?;
    Some(format!("Bearer {token}"))
}

/// The `Authorization` header of any authentication; `Ok(Err)` when the authority refused
/// to issue a token.
async fn authorization_header(auth: &Value, call: &Call) -> Result<Result<String, String>, Fault> {
    for (scheme, oidc) in [("oauth2", false), ("oidc", true)] {
        if let Some(settings) = auth.get(scheme) {
            return Ok(super::oauth2::access_token(settings, oidc, call).await?.map(|token| format!("Bearer {token}")));
        }
    }
    authorization(auth).map(Ok).ok_or_else(|| Fault::fatal("configuration", "an authentication without its username and password, or token"))
}

/// Completes the request's fields that read `$secrets` (`deferred: [{at, jq}]`, computed on
/// `input`, the task's input): each secret is the environment variable of its name, read here
/// and nowhere else. A failure never quotes the expression's error, which could hold a secret.
#[cfg(feature = "jq")]
fn complete(mut request: Value) -> Result<Value, Fault> {
    let Some(deferred) = request.as_object_mut().and_then(|r| r.remove("deferred")) else { return Ok(request) };
    let input = request.as_object_mut().and_then(|r| r.remove("input")).unwrap_or(Value::Null);
    for entry in deferred.as_array().into_iter().flatten() {
        let (Some(at), Some(source)) = (entry["at"].as_str(), entry["jq"].as_str()) else { continue };
        let mut secrets = serde_json::Map::new();
        for name in wfc_expr::jq::secret_names(source) {
            let value = std::env::var(name).map_err(|_| Fault::fatal("configuration", format!("the secret `{name}` is not set in the worker's environment")))?;
            secrets.insert(name.to_string(), Value::String(value));
        }
        let failed = || Fault::fatal("configuration", format!("the expression at `{at}` that reads `$secrets` failed"));
        let program = wfc_expr::jq::compile(source, &["$secrets"]).map_err(|_| failed())?;
        let secrets = Value::Object(secrets);
        let value = program.run(&input, &[("$secrets", &secrets)]).map_err(|_| failed())?.into_iter().next().ok_or_else(failed)?;
        *request.pointer_mut(at).ok_or_else(failed)? = value;
    }
    Ok(request)
}

#[cfg(not(feature = "jq"))]
fn complete(request: Value) -> Result<Value, Fault> {
    match request.get("deferred") {
        Some(_) => Err(Fault::fatal("configuration", "a request that reads `$secrets` needs wfc-runtime's `jq` feature")),
        None => Ok(request),
    }
}

/// Sends a Serverless Workflow `call: http` request. Every status answers (`{status, headers,
/// body}`): workflow code turns an unsuccessful one into the specification's communication
/// error, whose `status` a `catch` may filter on. Transport errors fail as for `HttpRequest`.
pub async fn call_http(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("call: http", &ctx, input, call).await
}

async fn call(request: Value, call: Call) -> Result<Value, Fault> {
    let request: CallRequest = serde_json::from_value(complete(request)?).map_err(|e| Fault::fatal("configuration", format!("invalid request: {e}")))?;
    let method_name = request.method.to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method_name.as_bytes()).map_err(|_| Fault::fatal("configuration", format!("`{method_name}` is not an HTTP method")))?;
    let url = reqwest::Url::parse(&request.uri).map_err(|e| Fault::fatal("configuration", format!("invalid URI `{}`: {e}", request.uri)))?;
    let operation = format!("{method} {}", web::shown(&url, false));
    let client = if request.redirect { web::client() } else { web::client_without_redirects() };
    let mut builder = client.request(method, url);
    if let Some(auth) = &request.auth {
        match authorization_header(auth, &call).await? {
            Ok(header) => builder = builder.header(reqwest::header::AUTHORIZATION, header),
            // Workflow code makes this the specification's authentication error.
            Err(refused) => return Ok(json!({ "status": 401, "reason": "Unauthorized", "headers": {}, "body": null, "authentication": refused })),
        }
    }
    let content_type;
    (builder, content_type) = with_headers(builder, &request.headers)?;
    let has_content_type = content_type.is_some();
    builder = with_query(builder, &request.query);
    builder = match request.body {
        None | Some(Value::Null) => builder,
        Some(Value::String(text)) if has_content_type => builder.body(text),
        Some(Value::String(text)) => builder.header(CONTENT_TYPE, "text/plain; charset=utf-8").body(text),
        Some(other) => builder.json(&other),
    };
    let reply = web::send(builder, &operation, &call).await?;
    let body = if request.raw {
        use base64::Engine;
        Value::String(base64::engine::general_purpose::STANDARD.encode(&reply.bytes))
    } else {
        reply.body(&operation)?.0
    };
    let reason = reply.status.canonical_reason().unwrap_or_default();
    Ok(json!({ "status": reply.status.as_u16(), "reason": reason, "headers": reply.header_map(), "body": body }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn authentication_becomes_the_authorization_header() {
        assert_eq!(super::authorization(&json!({"basic": {"username": "u", "password": "p"}})).as_deref(), Some("Basic dTpw"));
        assert_eq!(super::authorization(&json!({"bearer": {"token": "t"}})).as_deref(), Some("Bearer t"));
    }
}
