//! What a built-in activity's configuration must say beyond its field types: the rules that
//! would otherwise fail the node at run time (an email with no server, a Slack message with
//! nowhere to go, SQL with values spliced in).

use super::Lowerer;
use crate::diagnostic::{Code, Diagnostic, one_of};
use crate::model::Builtin;
use crate::source::Span;
use crate::syntax::{Kind, Value};

impl Lowerer<'_> {
    /// Checks `config` against the rules of `builtin`; field types are already checked.
    pub(super) fn builtin_rules(&mut self, builtin: Builtin, config: &Value, type_span: Span) -> Option<()> {
        match builtin {
            Builtin::Http => self.http_config(config, type_span),
            // Not a node type: the Serverless Workflow form checks its `call: http` itself.
            Builtin::CallHttp => Some(()),
            Builtin::Email => self.email_rules(config, type_span),
            Builtin::Slack => {
                let by_token = config.get("token").is_some() && config.get("channel").is_some();
                if config.get("webhookUrl").is_none() && !by_token {
                    return self.missing(
                        config,
                        type_span,
                        "a `SlackMessage` needs `webhookUrl`, or `token` and `channel`",
                        "add `webhookUrl: \"{{ env.SLACK_WEBHOOK_URL }}\"`, or a bot `token` and a `channel`",
                    );
                }
                Some(())
            }
            Builtin::Ai => {
                if config.get("messages").is_none() && config.get("prompt").is_none() {
                    return self.missing(
                        config,
                        type_span,
                        "an `AI` node needs `messages` or `prompt`",
                        "add `prompt: \"Summarise {{ input.text }}\"`, or `messages: [{role: user, content: …}]`",
                    );
                }
                if let Some(messages) = config.get("messages").and_then(Value::as_seq) {
                    for message in messages {
                        if !self.known_fields(message, &["role", "content"], "a chat message") {
                            return None;
                        }
                        self.required(message, "role", message.span)?;
                        self.required(message, "content", message.span)?;
                    }
                }
                if let Some(format) = config.get("responseFormat") {
                    if !self.known_fields(format, &["name", "schema", "strict", "description"], "a `responseFormat`") {
                        return None;
                    }
                    self.required(format, "name", format.span).and_then(|v| self.string(v))?;
                    self.required(format, "schema", format.span).and_then(|v| self.expect_map(v))?;
                }
                Some(())
            }
            Builtin::Database => self.query_rules(config),
        }
    }

    fn missing(&mut self, config: &Value, type_span: Span, message: &str, help: &str) -> Option<()> {
        let span = if config.as_map().is_some_and(|m| !m.is_empty()) { config.span } else { type_span };
        self.error(Diagnostic::error(Code::MissingField, span, message).label("incomplete configuration").help(help));
        None
    }

    fn email_rules(&mut self, config: &Value, type_span: Span) -> Option<()> {
        if config.get("body").is_none() && config.get("html").is_none() {
            return self.missing(config, type_span, "an `EmailSend` needs `body` (text) or `html`", "add `body: \"Hello {{ input.name }}\"`");
        }
        if config.get("provider").and_then(Value::as_str) == Some("sendgrid") {
            if config.get("apiKey").is_none() {
                return self.missing(config, type_span, "`provider: sendgrid` needs `apiKey`", "add `apiKey: \"{{ env.SENDGRID_API_KEY }}\"`");
            }
            return Some(());
        }
        let Some(smtp) = config.get("smtp") else {
            return self.missing(
                config,
                type_span,
                "an `EmailSend` over SMTP needs `smtp`",
                "add `smtp: {host: smtp.example.com, port: 587, security: starttls, username: …, password: \"{{ env.SMTP_PASSWORD }}\"}`, or `provider: sendgrid`",
            );
        };
        if !self.known_fields(smtp, &["host", "port", "security", "username", "password"], "`smtp`") {
            return None;
        }
        self.required(smtp, "host", smtp.span)?;
        if let Some(security) = smtp.get("security") {
            self.enumerated("security", security, &["starttls", "tls", "none"])?;
        }
        if let Some(port) = smtp.get("port")
            && port.as_str().is_none()
        {
            self.uint(port, 1, 65_535)?;
        }
        if smtp.get("username").is_some() != smtp.get("password").is_some() {
            let span = smtp.get("username").or_else(|| smtp.get("password")).map_or(smtp.span, |v| v.span);
            self.error(
                Diagnostic::error(Code::MissingField, span, "`smtp` has one of `username` and `password`")
                    .label("half a login")
                    .help("give both, or neither for a server that needs no login"),
            );
            return None;
        }
        Some(())
    }

    /// SQL is text, never a template, and its placeholders match `parameters`.
    fn query_rules(&mut self, config: &Value) -> Option<()> {
        let query = config.get("query")?;
        let sql = query.as_str()?;
        if sql.contains("{{") {
            self.error(
                Diagnostic::error(Code::InvalidValue, query.span, "a `DatabaseQuery` query is SQL, not a template")
                    .label("a value spliced into SQL")
                    .help("write `$1`, `$2`… in the query and list the values under `parameters`: they are bound, so no value can change the statement"),
            );
            return None;
        }
        let Some(parameters) = config.get("parameters") else {
            return self.placeholders_match(query, sql, 0, query.span);
        };
        match &parameters.kind {
            Kind::Seq(items) => self.placeholders_match(query, sql, items.len(), parameters.span),
            // One template that renders to the whole list, e.g. `{{ input.ids }}`.
            Kind::String(_) => Some(()),
            _ => {
                self.wrong_type(parameters, "a list");
                None
            }
        }
    }

    fn placeholders_match(&mut self, query: &Value, sql: &str, given: usize, at: Span) -> Option<()> {
        let highest = highest_placeholder(sql);
        if highest == given {
            return Some(());
        }
        self.error(
            Diagnostic::error(Code::InvalidValue, at, format!("the query uses {highest} placeholder(s) and `parameters` has {given} value(s)"))
                .label("does not match the query")
                .related(query.span, "the query")
                .help("give one value per placeholder: `$1` is the first value of `parameters`"),
        );
        None
    }

    /// An HTTP request: a `url`, a known method, `body` or `json`, statuses that exist.
    fn http_config(&mut self, config: &Value, type_span: Span) -> Option<()> {
        self.required(config, "url", type_span)?;
        if let Some(method) = config.get("method") {
            let m = self.string(method)?;
            const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
            if !METHODS.contains(&m.to_ascii_uppercase().as_str()) {
                self.error(
                    Diagnostic::error(Code::InvalidValue, method.span, format!("`{m}` is not an HTTP method"))
                        .label("unknown method")
                        .help(format!("use one of {}", one_of(METHODS))),
                );
                return None;
            }
        }
        for key in ["headers", "query"] {
            if let Some(v) = config.get(key) {
                self.expect_map(v)?;
            }
        }
        if let (Some(_), Some(json)) = (config.get("body"), config.get("json")) {
            self.error(
                Diagnostic::error(Code::InvalidValue, json.span, "an HTTP request has `body` or `json`, not both")
                    .label("second body")
                    .help("`json` sends a JSON body; `body` sends text (or JSON for a map)"),
            );
            return None;
        }
        if let Some(expect) = config.get("expectStatus") {
            let codes: Vec<&Value> = match &expect.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![expect],
            };
            for code in codes {
                self.uint(code, 100, 599)?;
            }
        }
        Some(())
    }
}

/// The highest `$n` of a statement, outside quoted text, quoted names and comments.
fn highest_placeholder(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut i, mut highest) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<usize>() {
                    highest = highest.max(n);
                }
                i += digits.len();
            }
            _ => {}
        }
        i += 1;
    }
    highest
}
