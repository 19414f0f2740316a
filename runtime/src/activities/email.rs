//! The `EmailSend` activity: SMTP (lettre), or SendGrid's v3 API over HTTP.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::{BuiltinInput, Call, Fault, chain, is_tls_refusal, web};

/// A node's `EmailSend` configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailConfig {
    #[serde(default)]
    pub provider: Provider,
    pub to: Recipients,
    /// `address` or `Name <address>`.
    pub from: String,
    #[serde(default)]
    pub cc: Option<Recipients>,
    #[serde(default)]
    pub bcc: Option<Recipients>,
    pub subject: String,
    /// The plain-text body.
    #[serde(default)]
    pub body: Option<String>,
    /// The HTML body; with `body`, the message carries both.
    #[serde(default)]
    pub html: Option<String>,
    /// The server, for `provider: smtp`.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// SendGrid's API key, for `provider: sendgrid`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// SendGrid's API; `https://api.sendgrid.com` unless given.
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Smtp,
    Sendgrid,
}

/// Addresses as a list, or as one string separated by commas.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    One(String),
    Many(Vec<String>),
}

/// An SMTP server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// 465 for `tls`, 587 for `starttls`, 25 for `none`, unless given. A number, or text such as
    /// `"{{ env.SMTP_PORT }}"`.
    #[serde(default, deserialize_with = "port")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    /// Usually `{{ env.SMTP_PASSWORD }}`.
    #[serde(default)]
    pub password: Option<String>,
}

fn port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Option::<Port>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Port::Number(n)) => Ok(Some(n)),
        Some(Port::Text(t)) => t.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("`{t}` is not a port number"))),
    }
}

/// How the SMTP connection is protected. Certificates are checked against the system's roots
/// (`SSL_CERT_FILE` names another bundle) and the bundled Web PKI roots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// STARTTLS, required: the message is never sent in the clear.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption, for a local relay.
    None,
}

/// Sends an email. The output is `{provider, messageId, accepted, response}`. A permanent SMTP
/// rejection (5xx) or an untrusted certificate fails the node; a transient one (4xx) or a lost
/// connection is retried. The `Message-ID` is derived from the idempotency key, so a retried
/// message is recognisably the same one.
pub async fn email_send(ctx: ActivityContext, input: BuiltinInput) -> Result<Value, ActivityError> {
    super::run("EmailSend", &ctx, input, send).await
}

async fn send(config: EmailConfig, call: Call) -> Result<Value, Fault> {
    if config.body.is_none() && config.html.is_none() {
        return Err(Fault::fatal("configuration", "give `body` or `html`"));
    }
    let message_id = format!("<{}@wfc>", call.idempotency_key.bytes().map(|b| format!("{b:02x}")).collect::<String>());
    match config.provider {
        Provider::Smtp => smtp(&config, &call, message_id).await,
        Provider::Sendgrid => sendgrid(&config, &call, message_id).await,
    }
}

fn mailboxes(field: &str, recipients: &Recipients) -> Result<Vec<Mailbox>, Fault> {
    let texts = match recipients {
        Recipients::One(text) => vec![text.clone()],
        Recipients::Many(list) => list.clone(),
    };
    let mut all = Vec::new();
    for text in texts.iter().filter(|t| !t.trim().is_empty()) {
        let parsed = Mailboxes::from_str(text).map_err(|e| Fault::fatal("configuration", format!("`{field}`: `{text}` is not an email address ({e})")))?;
        all.extend(parsed);
    }
    Ok(all)
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, Fault> {
    Mailbox::from_str(text).map_err(|e| Fault::fatal("configuration", format!("`{field}`: `{text}` is not an email address ({e})")))
}

async fn smtp(config: &EmailConfig, call: &Call, message_id: String) -> Result<Value, Fault> {
    let server = config.smtp.as_ref().ok_or_else(|| Fault::fatal("configuration", "`provider: smtp` needs `smtp: {host, port, security}`"))?;
    let to = mailboxes("to", &config.to)?;
    let mut builder = Message::builder().from(mailbox("from", &config.from)?).subject(&config.subject).message_id(Some(message_id.clone()));
    for address in &to {
        builder = builder.to(address.clone());
    }
    for address in config.cc.as_ref().map(|r| mailboxes("cc", r)).transpose()?.unwrap_or_default() {
        builder = builder.cc(address);
    }
    for address in config.bcc.as_ref().map(|r| mailboxes("bcc", r)).transpose()?.unwrap_or_default() {
        builder = builder.bcc(address);
    }
    let message = match (&config.body, &config.html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (None, Some(html)) => builder.singlepart(SinglePart::html(html.clone())),
        (text, None) => builder.header(ContentType::TEXT_PLAIN).body(text.clone().unwrap_or_default()),
    }
    .map_err(|e| Fault::fatal("configuration", format!("the message cannot be built: {e}")))?;

    let port = server.port.unwrap_or(match server.security {
        Security::Tls => 465,
        Security::Starttls => 587,
        Security::None => 25,
    });
    let operation = format!("SMTP send via {}:{port}", server.host);
    let tls = || TlsParameters::new(server.host.clone()).map_err(|e| Fault::fatal(&operation, chain(&e)));
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        .port(port)
        .timeout(Some(call.time_left().unwrap_or(Duration::from_secs(60))))
        .tls(match server.security {
            Security::Starttls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
            Security::None => Tls::None,
        });
    match (&server.username, &server.password) {
        (Some(user), Some(password)) => transport = transport.credentials(Credentials::new(user.clone(), password.clone())),
        (None, None) => {}
        _ => return Err(Fault::fatal("configuration", "`smtp` needs both `username` and `password`, or neither")),
    }
    let response = transport.build().send(message).await.map_err(|e| {
        let cause = chain(&e);
        if e.is_permanent() || e.is_tls() || is_tls_refusal(&cause) { Fault::fatal(&operation, cause) } else { Fault::transient(&operation, cause) }
    })?;
    let text: Vec<&str> = response.message().collect();
    Ok(json!({
        "provider": "smtp",
        "messageId": message_id,
        "accepted": to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>(),
        "response": format!("{} {}", response.code(), text.join(" ")),
    }))
}

async fn sendgrid(config: &EmailConfig, call: &Call, message_id: String) -> Result<Value, Fault> {
    let key = config.api_key.as_deref().ok_or_else(|| Fault::fatal("configuration", "`provider: sendgrid` needs `apiKey`"))?;
    let address = |m: &Mailbox| match &m.name {
        Some(name) => json!({"email": m.email.to_string(), "name": name}),
        None => json!({"email": m.email.to_string()}),
    };
    let to = mailboxes("to", &config.to)?;
    let mut personalization = json!({ "to": to.iter().map(address).collect::<Vec<_>>() });
    for (field, recipients) in [("cc", &config.cc), ("bcc", &config.bcc)] {
        if let Some(recipients) = recipients {
            personalization[field] = Value::Array(mailboxes(field, recipients)?.iter().map(address).collect());
        }
    }
    let mut content = Vec::new();
    if let Some(text) = &config.body {
        content.push(json!({"type": "text/plain", "value": text}));
    }
    if let Some(html) = &config.html {
        content.push(json!({"type": "text/html", "value": html}));
    }
    let body = json!({
        "personalizations": [personalization],
        "from": address(&mailbox("from", &config.from)?),
        "subject": config.subject,
        "content": content,
        "headers": {"Message-ID": message_id},
    });
    let url = web::endpoint(config.base_url.as_deref(), "https://api.sendgrid.com", "v3/mail/send")?;
    let operation = "SendGrid mail/send";
    let request = web::client().post(url).header(AUTHORIZATION, format!("Bearer {key}")).json(&body);
    let reply = web::send(request, operation, call).await?;
    if !reply.status.is_success() {
        let detail = reply.json(operation).ok().and_then(|v| v.pointer("/errors/0/message").and_then(Value::as_str).map(str::to_string));
        return Err(reply.status_fault(operation, &detail.unwrap_or_else(|| reply.snippet())));
    }
    let id = reply.headers.get("x-message-id").and_then(|v| v.to_str().ok()).map_or(message_id, str::to_string);
    Ok(json!({
        "provider": "sendgrid",
        "messageId": id,
        "accepted": to.iter().map(|m| m.email.to_string()).collect::<Vec<_>>(),
        "response": reply.status.to_string(),
    }))
}
