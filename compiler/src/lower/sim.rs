//! SIM-style exports (`{version, state: {blocks, edges, loops, parallels, variables}}`), read
//! into the graph form: blocks map to node types, `subBlocks` become configuration, and SIM's
//! references (`<block.path>`, `<loop.index>`, `<variable.x>`, `{{ENV}}`) become CEL.

use std::collections::{BTreeMap, HashMap};

use super::Lowerer;
use super::graph::{RawEdge, string_value, synth};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ActivityPolicy, Body, Dialect, Schedule};
use crate::source::Span;
use crate::syntax::{Key, Kind, Value};

/// Where a block reference points, by the block's normalised name.
struct Names {
    /// Normalised block name → node id.
    blocks: HashMap<String, String>,
    /// The normalised names of start blocks: `<start.x>` reads the workflow input.
    starts: Vec<String>,
}

impl Lowerer<'_> {
    pub(super) fn sim_document(&mut self, doc: &Value, defaults: &ActivityPolicy, schedule: &mut Option<Schedule>) -> Option<Body> {
        let state = doc.get("state")?;
        if !self.known_fields(state, &["blocks", "edges", "loops", "parallels", "variables", "lastSaved", "isDeployed", "deployedAt"], "a SIM `state`") {
            return None;
        }
        let blocks = self.expect_map(state.get("blocks")?)?.to_vec();
        // Containers' member lists win over the members' own `data.parentId`.
        let mut members: HashMap<String, (String, Span)> = HashMap::new();
        let mut containers: HashMap<String, Value> = HashMap::new();
        for key in ["loops", "parallels"] {
            let Some(map) = state.get(key) else { continue };
            for (container, spec) in self.expect_map(map)?.to_vec() {
                if let Some(nodes) = spec.get("nodes").and_then(Value::as_seq) {
                    for member in nodes {
                        if let Some(id) = member.as_str() {
                            members.insert(id.to_string(), (container.name.clone(), member.span));
                        }
                    }
                }
                containers.insert(container.name.clone(), spec);
            }
        }
        let mut names = Names { blocks: HashMap::new(), starts: Vec::new() };
        let mut ids: HashMap<String, String> = HashMap::new();
        for (key, block) in &blocks {
            let block_type = block.get("type").and_then(Value::as_str).unwrap_or_default();
            if block_type == "note" {
                continue;
            }
            let name = block.get("name").and_then(Value::as_str).unwrap_or(&key.name);
            let normalised: String = name.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
            let id = node_id(&normalised);
            if matches!(block_type, "starter" | "start_trigger" | "schedule") {
                names.starts.push(normalised.clone());
            }
            names.blocks.insert(normalised, id.clone());
            ids.insert(key.name.clone(), id);
        }
        let mut nodes = Vec::new();
        for (key, block) in &blocks {
            let Some(id) = ids.get(&key.name) else { continue };
            let parent = match members.get(&key.name) {
                Some((container, span)) => Some((ids.get(container).cloned().unwrap_or_else(|| container.clone()), *span)),
                None => block.get("data").and_then(|d| d.get("parentId")).and_then(|p| Some((ids.get(p.as_str()?).cloned()?, p.span))),
            };
            let container = containers.get(&key.name);
            nodes.push(self.sim_block(block, id, container, &names, schedule).and_then(|value| self.raw_node(value, parent))?);
        }
        let mut edges = Vec::new();
        if let Some(list) = state.get("edges") {
            for edge in self.expect_seq(list)? {
                // A missing endpoint is reported by `required`, one that is not a string by
                // `string`: either way the edge is refused with a diagnostic.
                let mut endpoint = |field: &str| -> Option<(String, Span)> {
                    let v = self.required(edge, field, edge.span)?;
                    let text = self.string(v)?;
                    Some((ids.get(text.as_str()).cloned().unwrap_or(text), v.span))
                };
                let (Some(source), Some(target)) = (endpoint("source"), endpoint("target")) else { return None };
                let handle = edge.get("sourceHandle").and_then(|h| Some((h.as_str()?.to_string(), h.span)));
                edges.push(RawEdge { source, target, handle, span: edge.span });
            }
        }
        self.graph(Dialect::Sim, nodes, edges, defaults)
    }

    /// One block as a node value of the tree form's shape.
    fn sim_block(&mut self, block: &Value, id: &str, container: Option<&Value>, names: &Names, schedule: &mut Option<Schedule>) -> Option<Value> {
        let type_value = self.required(block, "type", block.span)?;
        let block_type = self.string(type_value)?;
        // Sub-blocks as written (conditions are translated as expressions, not as templates).
        let mut raw: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(sub_blocks) = block.get("subBlocks") {
            for (key, sub) in self.expect_map(sub_blocks)? {
                let value = sub.get("value").unwrap_or(sub);
                if value.kind != Kind::Null && value.as_str() != Some("") {
                    raw.insert(key.name.clone(), value.clone());
                }
            }
        }
        let config: BTreeMap<String, Value> = raw.iter().map(|(k, v)| (k.clone(), translate_value(v, names))).collect();
        let span = block.span;
        let (node_type, config) = match block_type.as_str() {
            "starter" | "start_trigger" => ("Start", BTreeMap::new()),
            "schedule" => {
                let timezone = config.get("timezone").and_then(Value::as_str).unwrap_or_default().to_string();
                *schedule = Some(Schedule { cron: schedule_cron(&config), timezone, input: serde_json::json!({}) });
                ("Start", BTreeMap::new())
            }
            "condition" => ("Condition", self.sim_conditions(&raw, span, names)),
            "loop" => ("Loop", sim_container(container, block.get("data"), &raw, names, true)),
            "parallel" => ("Parallel", sim_container(container, block.get("data"), &raw, names, false)),
            "wait" => ("Delay", self.mapped(&block_type, config, &[("timeValue", ""), ("timeUnit", "")], |c| {
                let amount = c.get("timeValue").map(|v| v.to_json().to_string().trim_matches('"').to_string()).unwrap_or_else(|| "0".into());
                let unit = c.get("timeUnit").and_then(Value::as_str).unwrap_or("seconds").to_string();
                BTreeMap::from([("duration".to_string(), string_value(&format!("{amount} {unit}"), span))])
            })),
            "api" => ("HttpRequest", self.mapped(&block_type, config, &[("url", "url"), ("method", "method"), ("headers", "headers"), ("params", "query"), ("body", "body")], |c| c)),
            "agent" => ("AI", self.mapped(&block_type, config, &[("model", "model"), ("systemPrompt", ""), ("userPrompt", ""), ("temperature", "temperature"), ("apiKey", "apiKey"), ("maxTokens", "maxTokens")], |mut c| {
                let mut messages = Vec::new();
                for (field, role) in [("systemPrompt", "system"), ("userPrompt", "user")] {
                    if let Some(content) = c.remove(field) {
                        messages.push(synth(vec![("role", string_value(role, content.span)), ("content", content)], span));
                    }
                }
                if !messages.is_empty() {
                    c.insert("messages".into(), Value { kind: Kind::Seq(messages), span });
                }
                c
            })),
            "slack" => ("SlackMessage", self.mapped(&block_type, config, &[("channel", "channel"), ("text", "text"), ("botToken", "token"), ("webhookUrl", "webhookUrl")], |c| c)),
            "human_in_the_loop" => ("HumanApproval", self.mapped(&block_type, config, &[("timeout", "timeout")], |mut c| {
                c.insert("signal".into(), string_value(id, span));
                c
            })),
            "workflow" => ("SubWorkflow", self.mapped(&block_type, config, &[("workflowId", "workflow"), ("input", "input")], |c| c)),
            // Anything else is an activity of the same name, declared under `activities:` or in
            // a `--registry` file; its sub-blocks are its input.
            _ => (block_type.as_str(), config),
        };
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

    /// Renames a mapped block's sub-blocks to the node type's fields (an empty new name is
    /// consumed by `finish`); any other sub-block is reported as ignored.
    fn mapped(
        &mut self,
        block_type: &str,
        config: BTreeMap<String, Value>,
        fields: &[(&str, &str)],
        finish: impl FnOnce(BTreeMap<String, Value>) -> BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (key, value) in config {
            match fields.iter().find(|(from, _)| *from == key) {
                Some((_, "")) => {
                    out.insert(key, value);
                }
                Some((_, to)) => {
                    out.insert(to.to_string(), table_to_map(value));
                }
                None => self.diagnostics.push(
                    Diagnostic::warning(Code::IgnoredField, value.span, format!("SIM's `{key}` setting of the `{block_type}` block has no wfc equivalent"))
                        .label("ignored")
                        .help(format!("wfc reads {} of this block", crate::diagnostic::one_of(&fields.iter().map(|(f, _)| *f).collect::<Vec<_>>()))),
                ),
            }
        }
        finish(out)
    }

    /// SIM keeps a condition block's branches as a JSON string of `[{id, title, value}]`.
    fn sim_conditions(&mut self, config: &BTreeMap<String, Value>, span: Span, names: &Names) -> BTreeMap<String, Value> {
        let Some(conditions) = config.get("conditions") else { return BTreeMap::new() };
        let parsed: Option<serde_json::Value> = match &conditions.kind {
            Kind::String(text) => serde_json::from_str(text).ok(),
            _ => Some(conditions.to_json()),
        };
        let Some(serde_json::Value::Array(items)) = parsed else {
            self.diagnostics.push(
                Diagnostic::error(Code::WrongType, conditions.span, "a SIM condition block's `conditions` is not a list")
                    .label("expected a JSON list of `{id, title, value}`")
                    .help("re-export the workflow from SIM"),
            );
            return BTreeMap::new();
        };
        let branches = items
            .iter()
            .map(|item| {
                let text = |k: &str| item.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                let mut entries = vec![("id", string_value(&text("id"), conditions.span))];
                if text("title") != "else" {
                    entries.push(("expression", string_value(&translate_expr(&text("value"), names), conditions.span)));
                }
                synth(entries, conditions.span)
            })
            .collect();
        BTreeMap::from([("conditions".to_string(), Value { kind: Kind::Seq(branches), span })])
    }
}

/// A loop's or parallel's configuration, from the `loops`/`parallels` map when present (it wins),
/// else from the block's own sub-blocks.
fn sim_container(spec: Option<&Value>, data: Option<&Value>, config: &BTreeMap<String, Value>, names: &Names, is_loop: bool) -> BTreeMap<String, Value> {
    let field = |name: &str| {
        spec.and_then(|s| s.get(name))
            .or(config.get(name))
            .or(data.and_then(|d| d.get(name)))
            .filter(|v| v.kind != Kind::Null && v.as_str() != Some(""))
    };
    let mut out = BTreeMap::new();
    let expr = |v: &Value| match v.as_str() {
        Some(text) => string_value(&translate_expr(text, names), v.span),
        None => string_value(&v.to_json().to_string(), v.span),
    };
    if is_loop {
        let loop_type = field("loopType").and_then(Value::as_str).unwrap_or("for").to_string();
        if let Some(v) = field("loopType") {
            out.insert("loopType".into(), v.clone());
        }
        match loop_type.as_str() {
            "forEach" => {
                if let Some(v) = field("forEachItems").or(field("collection")) {
                    out.insert("collection".into(), expr(v));
                }
            }
            "while" | "doWhile" => {
                if let Some(v) = field("whileCondition").or(field("condition")) {
                    out.insert("condition".into(), expr(v));
                }
            }
            _ => {
                if let Some(v) = field("iterations").or(field("count")) {
                    out.insert("iterations".into(), v.clone());
                }
            }
        }
    } else {
        if let Some(v) = field("parallelType") {
            out.insert("parallelType".into(), v.clone());
        }
        if let Some(v) = field("count") {
            out.insert("count".into(), v.clone());
        }
        if let Some(v) = field("distribution").or(field("collection")) {
            out.insert("collection".into(), expr(v));
        }
        if let Some(v) = field("batchSize") {
            out.insert("batchSize".into(), v.clone());
        }
    }
    out
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

/// A normalised block name as a node id: characters outside `[A-Za-z0-9_-]` become `_`.
fn node_id(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    match id.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => id,
        _ => format!("_{id}"),
    }
}

fn translate_value(value: &Value, names: &Names) -> Value {
    let kind = match &value.kind {
        Kind::String(text) => Kind::String(translate_template(text, names)),
        Kind::Seq(items) => Kind::Seq(items.iter().map(|v| translate_value(v, names)).collect()),
        Kind::Map(entries) => Kind::Map(entries.iter().map(|(k, v)| (k.clone(), translate_value(v, names))).collect()),
        other => other.clone(),
    };
    Value { kind, span: value.span }
}

/// Text with SIM references → a wfc template: `<agent1.content>` → `{{ agent1.content }}`,
/// `{{API_KEY}}` → `{{ env.API_KEY }}`.
fn translate_template(text: &str, names: &Names) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['<', '{']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(inner) = rest.strip_prefix("{{").and_then(|r| r.split_once("}}")).filter(|(name, _)| is_env_name(name)) {
            out.push_str(&format!("{{{{ env.{} }}}}", inner.0));
            rest = inner.1;
        } else if let Some((reference, after)) = rest.strip_prefix('<').and_then(|r| r.split_once('>')).and_then(|(r, a)| Some((reference(r, names)?, a))) {
            out.push_str(&format!("{{{{ {reference} }}}}"));
            rest = after;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(rest);
    out
}

/// A SIM condition (JavaScript-like) → CEL: references become paths, `===` becomes `==`.
fn translate_expr(text: &str, names: &Names) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match rest[1..].split_once('>').and_then(|(r, a)| Some((reference(r, names)?, a))) {
            Some((reference, after)) => {
                out.push_str(&reference);
                rest = after;
            }
            None => {
                out.push('<');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out.replace("===", "==").replace("!==", "!=")
}

/// One SIM reference (`block.path`, `loop.index`, `variable.x`) as a CEL path, or `None` when
/// the text between `<` and `>` is not a reference.
fn reference(text: &str, names: &Names) -> Option<String> {
    let (head, path) = text.split_once('.').unwrap_or((text, ""));
    if head.is_empty() || !text.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']')) {
        return None;
    }
    let tail = if path.is_empty() { String::new() } else { format!(".{path}") };
    Some(match (head, path) {
        ("loop", "currentItem") => "loop.item".to_string(),
        ("loop", _) => format!("loop{tail}"),
        ("parallel", _) => format!("parallel{tail}"),
        ("variable", _) => format!("var{tail}"),
        _ if names.starts.iter().any(|s| s == head) => format!("input{tail}"),
        _ => format!("{}{tail}", crate::ident::expr_name(names.blocks.get(head)?)),
    })
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase() || c == '_') && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}
