//! SIM blocks as nodes of the graph form: each block type with a wfc equivalent maps its
//! sub-blocks onto that node's fields; a sub-block with no equivalent is a warning
//! (`W0002`), a value the export leaves empty that the node needs is an error naming it, and
//! any other block type is an activity of the same name (declared under `activities:` or in a
//! `--registry` file) whose sub-blocks are its input.

use std::collections::{BTreeMap, BTreeSet};

use super::references::{Names, Translator};
use crate::diagnostic::{Code, Diagnostic, one_of};
use crate::lower::Lowerer;
use crate::lower::graph::{string_value, synth};
use crate::model::Schedule;
use crate::source::Span;
use crate::syntax::{Key, Kind, Value};

/// A block's configuration, by wfc field name.
type Config = BTreeMap<String, Value>;

/// A block's sub-block values, without the empty ones SIM keeps for every unused setting.
pub(super) fn sub_block_values(block: &Value) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    for (key, sub) in block.get("subBlocks").and_then(Value::as_map).unwrap_or_default() {
        let value = sub.get("value").unwrap_or(sub);
        if !is_empty(value) {
            values.insert(key.name.clone(), value.clone());
        }
    }
    values
}

fn is_empty(value: &Value) -> bool {
    match &value.kind {
        Kind::Null => true,
        Kind::String(s) => s.trim().is_empty(),
        Kind::Seq(items) => items.is_empty(),
        Kind::Map(entries) => entries.is_empty(),
        _ => false,
    }
}

impl Lowerer<'_> {
    /// One block as a node value of the tree form's shape. `enclosing` is the normalised name
    /// of the container the block is in.
    pub(super) fn sim_block(&mut self, block: &Value, id: &str, container: Option<&Value>, names: &Names, enclosing: Option<&str>) -> Option<Value> {
        let type_value = self.required(block, "type", block.span)?;
        let block_type = self.string(type_value)?;
        let label = block.get("name").and_then(Value::as_str).unwrap_or(id).to_string();
        let raw = sub_block_values(block);
        let mut tr = Translator { names, enclosing, unresolved: Vec::new() };
        let span = block.span;
        let sim = Block { block_type: &block_type, label: &label, block, raw: &raw };
        let (node_type, config) = match block_type.as_str() {
            "condition" => ("Condition", self.sim_conditions(&raw, span, &mut tr)?),
            "loop" => ("Loop", self.sim_container(&sim, container, &mut tr, true)),
            "parallel" => ("Parallel", self.sim_container(&sim, container, &mut tr, false)),
            "wait" => {
                let amount = raw.get("timeValue").map(|v| v.to_json().to_string().trim_matches('"').to_string()).unwrap_or_else(|| "0".into());
                let unit = raw.get("timeUnit").and_then(Value::as_str).unwrap_or("seconds").to_string();
                self.ignore_rest(&sim, &["timeValue", "timeUnit"]);
                ("Delay", Config::from([("duration".to_string(), string_value(&format!("{amount} {unit}"), span))]))
            }
            "api" => ("HttpRequest", self.renamed(&sim, &mut tr, &[("url", "url"), ("method", "method"), ("headers", "headers"), ("params", "query"), ("body", "body")])),
            "agent" => ("AI", self.sim_agent(&sim, &mut tr)?),
            "slack" if raw.get("operation").and_then(Value::as_str).is_none_or(|op| op == "send") => ("SlackMessage", self.sim_slack(&sim, &mut tr)?),
            "human_in_the_loop" => {
                let mut config = self.renamed(&sim, &mut tr, &[("timeout", "timeout")]);
                config.insert("signal".into(), string_value(id, span));
                ("HumanApproval", config)
            }
            "workflow" => ("SubWorkflow", self.renamed(&sim, &mut tr, &[("workflowId", "workflow"), ("input", "input")])),
            // Anything else (a Slack operation other than sending, too) is an activity of the
            // block type's name; its sub-blocks are its input.
            _ => ("", raw.iter().map(|(k, v)| (k.clone(), self.translated(v, &mut tr))).collect()),
        };
        let node_type = if node_type.is_empty() { block_type.as_str() } else { node_type };
        let mut entries = vec![("id", string_value(id, block.get("id").map_or(span, |v| v.span))), ("type", string_value(node_type, type_value.span))];
        if let Some(name) = block.get("name") {
            entries.push(("name", name.clone()));
        }
        if !config.is_empty() {
            let config = config.into_iter().map(|(k, v)| (Key { name: k, span: v.span }, v)).collect();
            entries.push(("config", Value { kind: Kind::Map(config), span }));
        }
        Some(synth(entries, span))
    }

    /// A value with SIM's references translated; each reference that cannot be is reported
    /// where it is written.
    fn translated(&mut self, value: &Value, tr: &mut Translator) -> Value {
        let kind = match &value.kind {
            Kind::String(text) => {
                let translated = tr.template(text);
                self.report_unresolved(value.span, text, tr);
                Kind::String(translated)
            }
            Kind::Seq(items) => Kind::Seq(items.iter().map(|v| self.translated(v, tr)).collect()),
            Kind::Map(entries) => Kind::Map(entries.iter().map(|(k, v)| (k.clone(), self.translated(v, tr))).collect()),
            other => other.clone(),
        };
        Value { kind, span: value.span }
    }

    /// A SIM expression (a condition, a collection) as CEL.
    fn translated_expr(&mut self, value: &Value, tr: &mut Translator) -> Value {
        match value.as_str() {
            Some(text) => {
                let expr = tr.expression(text);
                self.report_unresolved(value.span, text, tr);
                string_value(&expr, value.span)
            }
            None => string_value(&value.to_json().to_string(), value.span),
        }
    }

    fn report_unresolved(&mut self, span: Span, text: &str, tr: &mut Translator) {
        if tr.unresolved.is_empty() {
            return;
        }
        let positions = self.source.string_positions(span, text);
        for problem in tr.unresolved.drain(..) {
            self.diagnostics
                .push(Diagnostic::error(Code::UnknownReference, positions.span(problem.offset, problem.len), problem.message).label("cannot be read").help(problem.help));
        }
    }

    /// Sub-blocks renamed to the node type's fields (`(from, to)`), translated; any other
    /// sub-block is reported as ignored.
    fn renamed(&mut self, sim: &Block, tr: &mut Translator, fields: &[(&str, &str)]) -> Config {
        let mut config = Config::new();
        for (from, to) in fields {
            if let Some(value) = sim.raw.get(*from) {
                config.insert(to.to_string(), table_to_map(self.translated(value, tr)));
            }
        }
        self.ignore_rest(sim, &fields.iter().map(|(from, _)| *from).collect::<Vec<_>>());
        config
    }

    /// Warns about each sub-block outside `used`: it has no wfc equivalent.
    fn ignore_rest(&mut self, sim: &Block, used: &[&str]) {
        for (key, value) in sim.raw {
            if !used.contains(&key.as_str()) {
                self.diagnostics.push(
                    Diagnostic::warning(Code::IgnoredField, value.span, format!("SIM's `{key}` setting of the `{}` block `{}` has no wfc equivalent", sim.block_type, sim.label))
                        .label("ignored")
                        .help(format!("wfc reads {} of this block", one_of(used))),
                );
            }
        }
    }

    /// A value the export leaves empty that the node cannot run without.
    fn empty(&mut self, sim: &Block, field: &str, what: &str, help: &str) {
        let sub_block = sim.block.get("subBlocks").and_then(|s| s.get(field));
        let span = sub_block.map(|s| s.get("value").unwrap_or(s).span).or(sim.block.get("type").map(|t| t.span)).unwrap_or(sim.block.span);
        self.diagnostics.push(
            Diagnostic::error(Code::MissingField, span, format!("the `{}` block `{}` leaves {what} empty", sim.block_type, sim.label))
                .label(format!("fill in `{field}`"))
                .help(help),
        );
    }

    /// An agent: an OpenAI-compatible chat completion at the model's provider.
    fn sim_agent(&mut self, sim: &Block, tr: &mut Translator) -> Option<Config> {
        let raw = sim.raw;
        let mut config = Config::new();
        let mut ok = true;
        match raw.get("model") {
            Some(model) => {
                match model.as_str().map(provider) {
                    Some(Some((base_url, key))) => {
                        if let Some(base_url) = base_url {
                            config.insert("baseUrl".into(), string_value(base_url, model.span));
                        }
                        if !raw.contains_key("apiKey") {
                            config.insert("apiKey".into(), string_value(&format!("{{{{ env.{key} }}}}"), model.span));
                        }
                    }
                    _ => self.diagnostics.push(
                        Diagnostic::warning(Code::IgnoredField, model.span, format!("wfc does not know which provider serves the model of agent `{}`", sim.label))
                            .label("sent to OpenAI's API")
                            .help("wfc knows OpenAI, Anthropic, Gemini, xAI, DeepSeek and Mistral models by name; for another, give the agent an `apiKey` and make sure the model is served at OpenAI's API"),
                    ),
                }
                config.insert("model".into(), self.translated(model, tr));
            }
            None => {
                self.empty(sim, "model", "the model", "choose the model in SIM and export again, or write it as the `model` sub-block's value, e.g. `gpt-4o`");
                ok = false;
            }
        }
        if let Some(key) = raw.get("apiKey") {
            config.insert("apiKey".into(), self.translated(key, tr));
        }
        for field in ["temperature", "maxTokens"] {
            if let Some(value) = raw.get(field) {
                config.insert(field.into(), number(value));
            }
        }
        let mut messages = Vec::new();
        if let Some(list) = raw.get("messages") {
            messages = self.chat_messages(list, tr)?;
        }
        // Older exports: a system prompt goes first unless there is one, the user's last.
        let message = |lowerer: &mut Self, role: &str, content: &Value, tr: &mut Translator| {
            synth(vec![("role", string_value(role, content.span)), ("content", lowerer.translated(content, tr))], content.span)
        };
        if let Some(content) = raw.get("systemPrompt")
            && !messages.iter().any(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        {
            let system = message(self, "system", content, tr);
            messages.insert(0, system);
        }
        if let Some(content) = raw.get("userPrompt") {
            let user = message(self, "user", content, tr);
            messages.push(user);
        }
        if messages.is_empty() {
            self.empty(sim, "messages", "its messages", "write the agent's prompt in SIM and export again");
            ok = false;
        } else {
            config.insert("messages".into(), Value { kind: Kind::Seq(messages), span: raw.get("messages").map_or(sim.block.span, |m| m.span) });
        }
        if let Some(format) = raw.get("responseFormat") {
            match response_format(format) {
                Ok(json) => {
                    config.insert("responseFormat".into(), from_json(&json, format.span));
                }
                Err(problem) => {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, format.span, format!("the `responseFormat` of agent `{}` is not a JSON Schema: {problem}", sim.label))
                            .label("not a response format")
                            .help("write the answer's JSON Schema, as `{\"name\": …, \"schema\": {…}}` or the schema itself"),
                    );
                    ok = false;
                }
            }
        }
        if let Some(list) = raw.get("tools") {
            let tools = match list.as_str().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) {
                Some(json) => from_json(&json, list.span),
                None => list.clone(),
            };
            let tools = tools.as_seq().unwrap_or_default();
            let names: Vec<String> = tools.iter().filter_map(|t| t.get("toolId").or(t.get("type")).and_then(Value::as_str).map(|n| format!("`{n}`"))).collect();
            let names = if names.is_empty() { vec![format!("{} of them", tools.len().max(1))] } else { names };
            self.diagnostics.push(
                Diagnostic::warning(Code::IgnoredField, list.span, format!("the tools of agent `{}` ({}) have no wfc equivalent", sim.label, names.join(", ")))
                    .label("the model answers without these tools")
                    .help("run each tool as a node before the agent (a built-in, or an activity in `--registry`) and pass its output in the prompt"),
            );
        }
        let memory = raw.get("memoryType").and_then(Value::as_str);
        if let Some(kind) = memory.filter(|m| *m != "none") {
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::IgnoredField,
                    raw.get("memoryType").map_or(sim.block.span, |m| m.span),
                    format!("agent `{}` keeps SIM's `{kind}` conversation memory, which wfc does not have", sim.label),
                )
                .label("ignored")
                .help("each run asks the model afresh: pass earlier turns in the messages if they matter"),
            );
        }
        let used = ["model", "apiKey", "temperature", "maxTokens", "messages", "systemPrompt", "userPrompt", "responseFormat", "tools", "memoryType"];
        self.ignore_rest(sim, &used);
        ok.then_some(config)
    }

    /// SIM's messages: a list of `{role, content}`, or that list as a JSON string.
    fn chat_messages(&mut self, list: &Value, tr: &mut Translator) -> Option<Vec<Value>> {
        let parsed = match &list.kind {
            Kind::String(text) => serde_json::from_str::<serde_json::Value>(text).ok().map(|json| from_json(&json, list.span)),
            _ => Some(list.clone()),
        };
        let items = parsed.as_ref().and_then(Value::as_seq).filter(|items| items.iter().all(|m| m.get("role").and_then(Value::as_str).is_some() && m.get("content").is_some()));
        let Some(items) = items else {
            self.error(
                Diagnostic::error(Code::WrongType, list.span, "an agent's `messages` is not a list of `{role, content}`")
                    .label("expected a JSON list of messages")
                    .help("re-export the workflow from SIM"),
            );
            return None;
        };
        Some(
            items
                .iter()
                .map(|m| {
                    let role = m.get("role").cloned().unwrap_or_else(|| string_value("user", m.span));
                    let content = m.get("content").map(|c| self.translated(c, tr)).unwrap_or_else(|| string_value("", m.span));
                    synth(vec![("role", role), ("content", content)], m.span)
                })
                .collect(),
        )
    }

    /// A Slack message: a bot token from the environment, the channel, the text.
    fn sim_slack(&mut self, sim: &Block, tr: &mut Translator) -> Option<Config> {
        let raw = sim.raw;
        let mut config = Config::new();
        let mut ok = true;
        let token_help = "wfc posts with a bot token: write `{{SLACK_BOT_TOKEN}}` as the credential (or as `botToken`) and give the worker that variable (`xoxb-…`)";
        if let Some(url) = raw.get("webhookUrl") {
            config.insert("webhookUrl".into(), self.translated(url, tr));
        } else {
            let by_token = raw.get("authMethod").and_then(Value::as_str) == Some("bot_token");
            let fields: &[&str] = if by_token { &["botToken"] } else { &["credential", "manualCredential", "botToken"] };
            match fields.iter().find_map(|f| raw.get(*f)) {
                Some(token) if token.as_str().is_some_and(|t| t.trim_start().starts_with("{{")) => {
                    config.insert("token".into(), self.translated(token, tr));
                }
                Some(token) => {
                    let (message, label) = if token.as_str().is_some_and(|t| t.starts_with("xox")) {
                        ("is given a Slack token as text", "a secret in the flow would reach every copy of it and the run's history")
                    } else {
                        ("uses a credential kept by SIM", "wfc cannot read this credential")
                    };
                    self.error(Diagnostic::error(Code::InvalidValue, token.span, format!("the Slack block `{}` {message}", sim.label)).label(label).help(token_help));
                    ok = false;
                }
                None => {
                    self.empty(sim, fields[0], "its credential", token_help);
                    ok = false;
                }
            }
            let dm = raw.get("destinationType").and_then(Value::as_str) == Some("dm");
            let fields: &[&str] = if dm { &["dmUserId", "manualDmUserId"] } else { &["channel", "manualChannel"] };
            match fields.iter().find_map(|f| raw.get(*f)) {
                Some(channel) => {
                    config.insert("channel".into(), self.translated(channel, tr));
                }
                None => {
                    let what = if dm { "the user to message" } else { "the channel" };
                    self.empty(sim, fields[0], what, "pick it in SIM and export again, or write its id (`C0123ABC`, `U0123ABC`) as the sub-block's value");
                    ok = false;
                }
            }
        }
        match raw.get("text") {
            Some(text) => {
                config.insert("text".into(), self.translated(text, tr));
            }
            None => {
                self.empty(sim, "text", "the message", "write the message in SIM and export again");
                ok = false;
            }
        }
        if raw.get("messageFormat").and_then(Value::as_str) == Some("blocks")
            && let Some(blocks) = raw.get("blocks")
        {
            let blocks = match blocks.as_str().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) {
                Some(json) => from_json(&json, blocks.span),
                None => blocks.clone(),
            };
            config.insert("blocks".into(), self.translated(&blocks, tr));
        }
        if let Some(thread) = raw.get("threadTs") {
            config.insert("threadTs".into(), self.translated(thread, tr));
        }
        let used = [
            "webhookUrl",
            "authMethod",
            "botToken",
            "credential",
            "manualCredential",
            "destinationType",
            "channel",
            "manualChannel",
            "dmUserId",
            "manualDmUserId",
            "text",
            "messageFormat",
            "blocks",
            "threadTs",
            "operation",
        ];
        self.ignore_rest(sim, &used);
        ok.then_some(config)
    }

    /// SIM keeps a condition block's branches as a JSON string of `[{id, title, value}]`.
    fn sim_conditions(&mut self, raw: &BTreeMap<String, Value>, span: Span, tr: &mut Translator) -> Option<Config> {
        let Some(conditions) = raw.get("conditions") else { return Some(Config::new()) };
        let parsed: Option<serde_json::Value> = match &conditions.kind {
            Kind::String(text) => serde_json::from_str(text).ok(),
            _ => Some(conditions.to_json()),
        };
        let Some(serde_json::Value::Array(items)) = parsed else {
            self.error(
                Diagnostic::error(Code::WrongType, conditions.span, "a SIM condition block's `conditions` is not a list")
                    .label("expected a JSON list of `{id, title, value}`")
                    .help("re-export the workflow from SIM"),
            );
            return None;
        };
        let branches = items
            .iter()
            .map(|item| {
                let text = |k: &str| item.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                let mut entries = vec![("id", string_value(&text("id"), conditions.span))];
                if text("title") != "else" {
                    let expression = self.translated_expr(&string_value(&text("value"), conditions.span), tr);
                    entries.push(("expression", expression));
                }
                synth(entries, conditions.span)
            })
            .collect();
        Some(Config::from([("conditions".to_string(), Value { kind: Kind::Seq(branches), span })]))
    }

    /// A loop's or parallel's configuration, from the `loops`/`parallels` map when present (it
    /// wins), else from the block's own sub-blocks, else from its `data`.
    fn sim_container(&mut self, sim: &Block, spec: Option<&Value>, tr: &mut Translator, is_loop: bool) -> Config {
        let data = sim.block.get("data");
        let field = |name: &str| -> Option<Value> { spec.and_then(|s| s.get(name)).or(sim.raw.get(name)).or(data.and_then(|d| d.get(name))).filter(|v| !is_empty(v)).cloned() };
        // The collection is read where the container is; a loop's condition is read in each
        // iteration, where the loop's own name reads it.
        let own = super::references::normalise(sim.label);
        let names = tr.names;
        let mut config = Config::new();
        let mut expr = |lowerer: &mut Self, v: &Value| lowerer.translated_expr(v, tr);
        let condition = |lowerer: &mut Self, v: &Value| lowerer.translated_expr(v, &mut Translator { names, enclosing: Some(&own), unresolved: Vec::new() });
        if is_loop {
            let loop_type = field("loopType").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| "for".into());
            if let Some(v) = field("loopType") {
                config.insert("loopType".into(), v);
            }
            match loop_type.as_str() {
                "forEach" => {
                    if let Some(v) = field("forEachItems").or(field("collection")) {
                        config.insert("collection".into(), expr(self, &v));
                    }
                }
                "while" | "doWhile" => {
                    let condition_value = if loop_type == "doWhile" { field("doWhileCondition").or(field("whileCondition")) } else { field("whileCondition") };
                    if let Some(v) = condition_value.or(field("condition")) {
                        config.insert("condition".into(), condition(self, &v));
                    }
                }
                _ => {
                    if let Some(v) = field("iterations").or(field("count")) {
                        config.insert("iterations".into(), v);
                    }
                }
            }
        } else {
            if let Some(v) = field("parallelType") {
                config.insert("parallelType".into(), v);
            }
            if let Some(v) = field("count") {
                config.insert("count".into(), v);
            }
            if let Some(v) = field("distribution").or(field("collection")) {
                config.insert("collection".into(), expr(self, &v));
            }
            if let Some(v) = field("batchSize") {
                config.insert("batchSize".into(), v);
            }
        }
        config
    }
}

/// What the mappings read of one block.
struct Block<'a> {
    block_type: &'a str,
    /// The block's name as SIM shows it, for messages.
    label: &'a str,
    block: &'a Value,
    raw: &'a BTreeMap<String, Value>,
}

/// The provider that serves a model, by its name: the OpenAI-compatible base URL (`None` for
/// OpenAI itself) and the environment variable its API key is conventionally in.
fn provider(model: &str) -> Option<(Option<&'static str>, &'static str)> {
    let model = model.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| model.starts_with(p));
    Some(if starts(&["gpt-", "o1", "o3", "o4", "chatgpt-"]) {
        (None, "OPENAI_API_KEY")
    } else if starts(&["claude-"]) {
        (Some("https://api.anthropic.com/v1"), "ANTHROPIC_API_KEY")
    } else if starts(&["gemini-"]) {
        (Some("https://generativelanguage.googleapis.com/v1beta/openai"), "GEMINI_API_KEY")
    } else if starts(&["grok-"]) {
        (Some("https://api.x.ai/v1"), "XAI_API_KEY")
    } else if starts(&["deepseek-"]) {
        (Some("https://api.deepseek.com/v1"), "DEEPSEEK_API_KEY")
    } else if starts(&["mistral-", "magistral-", "codestral-", "ministral-"]) {
        (Some("https://api.mistral.ai/v1"), "MISTRAL_API_KEY")
    } else {
        return None;
    })
}

/// An agent's `responseFormat` as OpenAI's `json_schema` object `{name, schema, strict?}`: SIM
/// writes that object, wraps it (`{json_schema: …}`), or gives the bare schema; often as JSON
/// text.
fn response_format(value: &Value) -> Result<serde_json::Value, String> {
    let json = match &value.kind {
        Kind::String(text) => serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())?,
        _ => value.to_json(),
    };
    let inner = json.get("json_schema").cloned().unwrap_or(json);
    let format = if inner.get("schema").is_some() { inner } else { serde_json::json!({"name": "answer", "schema": inner}) };
    if !format["schema"].is_object() {
        return Err("its `schema` is not an object".into());
    }
    if !format.get("name").is_some_and(serde_json::Value::is_string) {
        let mut format = format;
        format["name"] = "answer".into();
        return Ok(format);
    }
    Ok(format)
}

/// The top-level fields of an agent's answer when it has a `responseFormat`.
pub(super) fn answer_fields(block: &Value) -> Option<BTreeSet<String>> {
    let format = sub_block_values(block).remove("responseFormat")?;
    let format = response_format(&format).ok()?;
    Some(format["schema"].get("properties").and_then(serde_json::Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default())
}

/// A number SIM may keep as text (`"0.3"`).
fn number(value: &Value) -> Value {
    match value.as_str().and_then(|t| t.trim().parse::<f64>().ok()) {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => Value { kind: Kind::Int(n as i64), span: value.span },
        Some(n) => Value { kind: Kind::Float(n), span: value.span },
        None => value.clone(),
    }
}

/// JSON (parsed from a string SIM wrote) as a value located at that string.
fn from_json(json: &serde_json::Value, span: Span) -> Value {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => Kind::Null,
        J::Bool(b) => Kind::Bool(*b),
        J::Number(n) => n.as_i64().map_or_else(|| Kind::Float(n.as_f64().unwrap_or(0.0)), Kind::Int),
        J::String(s) => Kind::String(s.clone()),
        J::Array(items) => Kind::Seq(items.iter().map(|v| from_json(v, span)).collect()),
        J::Object(entries) => Kind::Map(entries.iter().map(|(k, v)| (Key { name: k.clone(), span }, from_json(v, span))).collect()),
    };
    Value { kind, span }
}

/// SIM's table sub-blocks (`[{cells: {Key, Value}}]`) become maps; other values stay.
fn table_to_map(value: Value) -> Value {
    let Some(rows) = value.as_seq() else { return value };
    let cells: Option<Vec<(Key, Value)>> = rows
        .iter()
        .map(|row| {
            let cells = row.get("cells")?;
            let key = cells.get("Key").or(cells.get("key"))?.as_str()?.to_string();
            let v = cells.get("Value").or(cells.get("value"))?.clone();
            Some((Key { name: key, span: v.span }, v))
        })
        .collect();
    match cells {
        Some(entries) => Value { kind: Kind::Map(entries.into_iter().filter(|(k, _)| !k.name.is_empty()).collect()), span: value.span },
        None => value,
    }
}

/// The flow's schedule from SIM's schedule settings.
pub(super) fn schedule(config: &BTreeMap<String, Value>) -> Schedule {
    let timezone = config.get("timezone").and_then(Value::as_str).unwrap_or_default().to_string();
    Schedule { cron: schedule_cron(config), timezone, input: serde_json::json!({}) }
}

/// A cron spec from SIM's schedule settings.
fn schedule_cron(config: &BTreeMap<String, Value>) -> String {
    let text = |k: &str| config.get(k).map(|v| v.to_json().to_string().trim_matches('"').to_string());
    let time = |k: &str| {
        let t = text(k).unwrap_or_else(|| "09:00".into());
        let (h, m) = t.split_once(':').unwrap_or(("9", "0"));
        (h.trim_start_matches('0').parse::<u32>().unwrap_or(0), m.trim_start_matches('0').parse::<u32>().unwrap_or(0))
    };
    match text("scheduleType").as_deref().unwrap_or("daily") {
        "minutes" => format!("*/{} * * * *", text("minutesInterval").unwrap_or_else(|| "15".into())),
        "hourly" => format!("{} * * * *", text("hourlyMinute").unwrap_or_else(|| "0".into())),
        "weekly" => {
            let (h, m) = time("weeklyDayTime");
            format!("{m} {h} * * {}", text("weeklyDay").unwrap_or_else(|| "MON".into()))
        }
        "monthly" => {
            let (h, m) = time("monthlyTime");
            format!("{m} {h} {} * *", text("monthlyDay").unwrap_or_else(|| "1".into()))
        }
        "custom" => text("cronExpression").unwrap_or_default(),
        _ => {
            let (h, m) = time("dailyTime");
            format!("{m} {h} * * *")
        }
    }
}
