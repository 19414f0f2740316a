//! HTTP as the built-in activities use it: one client, responses read up to a size cap, status
//! codes classified for retries, `Retry-After` honoured.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use base64::Engine;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Map, Value};

use super::{Call, Fault, chain, is_tls_refusal, too_large};

pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| builder().build().unwrap_or_default())
}

/// The client that answers a redirect as it is, rather than following it.
pub(crate) fn client_without_redirects() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default())
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("wfc-runtime/", env!("CARGO_PKG_VERSION"))).connect_timeout(Duration::from_secs(30))
}

/// A response, its body read whole.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

/// Sends a request, stopping a little before the attempt's deadline, and reads the body, failing
/// as soon as it passes `settings.maxOutputBytes`. Transport errors and timeouts are retryable.
pub(crate) async fn send(mut request: RequestBuilder, operation: &str, call: &Call) -> Result<Reply, Fault> {
    if let Some(left) = call.time_left() {
        request = request.timeout(left);
    }
    let limit = call.max_output_bytes;
    let mut response = request.send().await.map_err(|e| transport(operation, e))?;
    if let (Some(max), Some(length)) = (limit, response.content_length())
        && length > max as u64
    {
        return Err(too_large(operation, usize::try_from(length).unwrap_or(usize::MAX), max));
    }
    let (status, headers) = (response.status(), response.headers().clone());
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(operation, e))? {
        bytes.extend_from_slice(&chunk);
        if let Some(max) = limit
            && bytes.len() > max
        {
            return Err(too_large(operation, bytes.len(), max));
        }
    }
    Ok(Reply { status, headers, bytes })
}

fn transport(operation: &str, error: reqwest::Error) -> Fault {
    // The operation shows the URL as far as it may be shown; the error's own copy may hold a secret.
    let error = error.without_url();
    if error.is_timeout() {
        return Fault::transient(operation, format!("timed out ({})", chain(&error)));
    }
    let cause = chain(&error);
    if is_tls_refusal(&cause) {
        return Fault::fatal(operation, cause);
    }
    Fault::transient(operation, cause)
}

impl Reply {
    /// The failure for an unexpected status: 5xx, 408 and 429 are retryable, after the delay the
    /// server asked for; any other status is not. `detail` is what the body says.
    pub(crate) fn status_fault(&self, operation: &str, detail: &str) -> Fault {
        let code = self.status.as_u16();
        let cause = if detail.is_empty() { format!("{}", self.status) } else { format!("{}: {detail}", self.status) };
        if self.status.is_server_error() || code == 408 || code == 429 {
            Fault::transient(operation, cause).retry_after(retry_after(&self.headers))
        } else {
            Fault::fatal(operation, cause)
        }
    }

    pub(crate) fn content_type(&self) -> String {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase()
    }

    pub(crate) fn is_json(&self) -> bool {
        let content_type = self.content_type();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence == "application/json" || essence.ends_with("+json")
    }

    /// The body parsed as JSON (an empty body is `null`).
    pub(crate) fn json(&self, operation: &str) -> Result<Value, Fault> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.bytes).map_err(|e| Fault::fatal(operation, format!("the response is not valid JSON ({e}): {}", self.snippet())))
    }

    /// The body as its content type says: JSON parsed, a form decoded to an object, text as a
    /// string, anything else base64 (with `true` for "encoded").
    pub(crate) fn body(&self, operation: &str) -> Result<(Value, bool), Fault> {
        let content_type = self.content_type();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if self.is_json() {
            return Ok((self.json(operation)?, false));
        }
        if essence == "application/x-www-form-urlencoded" {
            let pairs: Map<String, Value> = form_urlencoded::parse(&self.bytes).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
            return Ok((Value::Object(pairs), false));
        }
        let textual = essence.is_empty() || essence.starts_with("text/") || essence.ends_with("xml") || essence.ends_with("javascript") || essence.contains("yaml");
        match std::str::from_utf8(&self.bytes) {
            Ok(text) if textual => Ok((Value::String(text.to_string()), false)),
            _ => Ok((Value::String(base64::engine::general_purpose::STANDARD.encode(&self.bytes)), true)),
        }
    }

    /// The start of the body as text, for messages.
    pub(crate) fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let text = text.trim();
        let mut snippet: String = text.chars().take(200).collect();
        if snippet.len() < text.len() {
            snippet.push('…');
        }
        snippet
    }

    /// Headers as a JSON object (names in lower case; repeated headers joined with `, `).
    pub(crate) fn header_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match map.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    map.insert(name.as_str().to_string(), Value::String(value));
                }
            }
        }
        map
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// `<base>/<path>`, where `base` is the node's `baseUrl` or the service's own.
pub(crate) fn endpoint(base: Option<&str>, default: &str, path: &str) -> Result<reqwest::Url, Fault> {
    let base = base.unwrap_or(default).trim_end_matches('/');
    reqwest::Url::parse(&format!("{base}/{path}")).map_err(|e| Fault::fatal("configuration", format!("invalid `baseUrl`: {e}")))
}

/// The URL as messages show it: without its password or query, either of which may carry a
/// secret, and only its origin when it was completed from `env`.
pub(crate) fn shown(url: &reqwest::Url, secret: bool) -> String {
    if secret {
        return format!("{}/…", url.origin().ascii_serialization());
    }
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.to_string()
}
