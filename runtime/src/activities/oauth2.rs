//! OAuth2 and OpenID Connect access tokens for a Serverless Workflow call's `authentication`,
//! asked of the authority's token endpoint by the activity, with the grants that need no person:
//! client credentials, a password, a token exchange (RFC 6749 §4.3 and §4.4, RFC 8693). The
//! token lives only in the activity: it never reaches workflow code or history. It is asked
//! for on every attempt, not cached.

use reqwest::header::AUTHORIZATION;
use serde_json::{Map, Value};

use super::{Call, Fault, web};

/// The token endpoint when `endpoints.token` is not given.
const DEFAULT_TOKEN_PATH: &str = "/oauth2/token";

/// An access token for `settings` (an `oauth2` or, with `oidc`, an `oidc` policy). `Ok(Err)`:
/// the authority refused, which the call reports as the specification's authentication error;
/// `Err`: it could not be asked (a transport failure, retried like any).
pub(crate) async fn access_token(settings: &Value, oidc: bool, call: &Call) -> Result<Result<String, String>, Fault> {
    let text = |pointer: &str| settings.pointer(pointer).and_then(Value::as_str);
    let Some(authority) = text("/authority") else { return Ok(Err("the authentication names no `authority`".into())) };
    // A policy read from a secret was not seen by `wfc check`: what it cannot do is refused here.
    let grant = text("/grant").unwrap_or_default();
    if !GRANTS.contains(&grant) {
        return Ok(Err(format!("the OAuth2 grant `{grant}` is not one a worker can run (client_credentials, password, token exchange)")));
    }
    if settings.get("issuers").is_some() {
        return Ok(Err("checking a token's issuer (`issuers`) is not supported".into()));
    }
    let token_url = if oidc {
        match discover(authority, call).await? {
            Ok(url) => url,
            Err(why) => return Ok(Err(why)),
        }
    } else {
        joined(authority, text("/endpoints/token").unwrap_or(DEFAULT_TOKEN_PATH))
    };
    // The authority may come from a secret: messages show only its origin.
    let url = reqwest::Url::parse(&token_url).map_err(|e| Fault::fatal("configuration", format!("invalid token endpoint: {e}")))?;
    let operation = format!("POST {}", web::shown(&url, true));

    let mut form = Map::new();
    form.insert("grant_type".into(), grant.into());
    let list = |pointer: &str| settings.pointer(pointer).and_then(Value::as_array).map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
    if let Some(scopes) = list("/scopes").filter(|s| !s.is_empty()) {
        form.insert("scope".into(), scopes.into());
    }
    if let Some(audiences) = list("/audiences").filter(|a| !a.is_empty()) {
        form.insert("audience".into(), audiences.into());
    }
    if grant == "password" {
        form.insert("username".into(), text("/username").unwrap_or_default().into());
        form.insert("password".into(), text("/password").unwrap_or_default().into());
    }
    for party in ["subject", "actor"] {
        if let (Some(token), Some(kind)) = (text(&format!("/{party}/token")), text(&format!("/{party}/type"))) {
            form.insert(format!("{party}_token"), token.into());
            form.insert(format!("{party}_token_type"), kind.into());
        }
    }
    let (id, secret) = (text("/client/id"), text("/client/secret"));
    let mut request = web::client().post(url);
    match text("/client/authentication").unwrap_or("client_secret_post") {
        "client_secret_basic" => {
            use base64::Engine;
            // RFC 6749 §2.3.1: each part form-encoded before joining.
            let encode = |part: Option<&str>| form_urlencoded::byte_serialize(part.unwrap_or_default().as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(id), encode(secret));
            request = request.header(AUTHORIZATION, format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)));
        }
        method => {
            if let Some(id) = id {
                form.insert("client_id".into(), id.into());
            }
            if let (Some(secret), "client_secret_post") = (secret, method) {
                form.insert("client_secret".into(), secret.into());
            }
        }
    }
    request = match text("/request/encoding") {
        Some("application/json") => request.json(&form),
        _ => {
            let pairs: Vec<(String, String)> = form.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect();
            request.form(&pairs)
        }
    };
    let reply = web::send(request, &operation, call).await?;
    // Only the fields RFC 6749 §5.2 defines are quoted: the body could echo a credential.
    let answer = reply.json(&operation).unwrap_or(Value::Null);
    if unavailable(reply.status) {
        return Err(reply.status_fault(&operation, ""));
    }
    if !reply.status.is_success() {
        let error = [answer.get("error"), answer.get("error_description")].into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(": ");
        let error = if error.is_empty() { String::new() } else { format!(" ({error})") };
        return Ok(Err(format!("the token endpoint {operation} answered {}{error}", reply.status)));
    }
    Ok(answer.get("access_token").and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("the token endpoint {operation} answered no `access_token`")))
}

/// The token endpoint an OpenID provider publishes (OpenID Connect Discovery 1.0 §4): the
/// authority is its issuer, or the address of its configuration document itself.
async fn discover(authority: &str, call: &Call) -> Result<Result<String, String>, Fault> {
    let address = if authority.contains("/.well-known/") { authority.to_string() } else { joined(authority, "/.well-known/openid-configuration") };
    let url = reqwest::Url::parse(&address).map_err(|e| Fault::fatal("configuration", format!("invalid OpenID Connect authority: {e}")))?;
    let operation = format!("GET {}", web::shown(&url, true));
    let reply = web::send(web::client().get(url), &operation, call).await?;
    if unavailable(reply.status) {
        return Err(reply.status_fault(&operation, ""));
    }
    if !reply.status.is_success() {
        return Ok(Err(format!("the OpenID Connect configuration {operation} answered {}", reply.status)));
    }
    let configuration = reply.json(&operation).unwrap_or(Value::Null);
    Ok(configuration
        .get("token_endpoint")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("the OpenID Connect configuration {operation} names no `token_endpoint`")))
}

/// The grants a worker can run unattended.
const GRANTS: &[&str] = &["client_credentials", "password", "urn:ietf:params:oauth:grant-type:token-exchange"];

/// An authority that is down or busy is a transport failure, retried like any, not a refusal.
fn unavailable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::REQUEST_TIMEOUT || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// A path relative to the authority, kept under its path (`…/realms/x` + `/token`); an
/// absolute URL as it is.
fn joined(authority: &str, path: &str) -> String {
    if path.contains("://") { path.to_string() } else { format!("{}/{}", authority.trim_end_matches('/'), path.trim_start_matches('/')) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_paths_stay_under_the_authority() {
        assert_eq!(super::joined("http://keycloak/realms/fake/", "/auth/token"), "http://keycloak/realms/fake/auth/token");
        assert_eq!(super::joined("http://idp", "https://other/token"), "https://other/token");
    }
}
