//! `Cargo.toml` and `README.md`, filled in from the templates in `codegen-templates/`.

use std::collections::BTreeSet;

use crate::model::{Flow, NodeKind};
use crate::syntax::Value;

use super::items::Items;
use super::{Options, RuntimeSource};

const CARGO_TEMPLATE: &str = include_str!("../../../codegen-templates/Cargo.toml.tmpl");
const README_TEMPLATE: &str = include_str!("../../../codegen-templates/README.md.tmpl");

/// The package and binary name of a flow's worker.
pub fn package_name(flow: &Flow) -> String {
    format!("{}-worker", flow.name)
}

/// A dependency's TOML value, the crate at `source` (a relative path is relative to the worker
/// crate), or its `contract/` crate.
pub fn dependency(source: &RuntimeSource, contract: bool) -> String {
    match source {
        RuntimeSource::Path(path) if contract => format!("{{ path = {} }}", toml_string(&format!("{}/contract", path.trim_end_matches('/')))),
        RuntimeSource::Path(path) => format!("{{ path = {} }}", toml_string(path)),
        RuntimeSource::Version(version) => toml_string(version),
        RuntimeSource::Git(url) => format!("{{ git = {} }}", toml_string(url)),
    }
}

pub fn cargo_toml(flow: &Flow, items: &Items, options: &Options, header: &str) -> String {
    let mut runtime = dependency(&options.runtime, false);
    // The Serverless Workflow form evaluates jq in workflow code.
    if flow.dsl.is_some() {
        runtime = match runtime.strip_suffix(" }") {
            Some(table) => format!("{table}, features = [\"jq\"] }}"),
            None => format!("{{ version = {runtime}, features = [\"jq\"] }}"),
        };
    }
    // Custom node types: the crates implementing them, and their contracts.
    let mut nodes = String::new();
    if !items.custom_crates.is_empty() {
        nodes.push_str("# Custom node types: the crates implementing them (yours) and their contracts (generated).\n");
        for krate in &items.custom_crates {
            nodes.push_str(&format!("{} = {}\n", krate.krate.name, dependency(&krate.krate.source, false)));
            nodes.push_str(&format!("{} = {}\n", krate.contract.0, dependency(&krate.krate.source, true)));
        }
    }
    let description = flow.description.clone().unwrap_or_else(|| format!("Temporal worker for the `{}` workflow", flow.name));
    fill(
        CARGO_TEMPLATE,
        &[
            ("header", header.to_string()),
            ("package", package_name(flow)),
            ("description", toml_string(description.lines().next().unwrap_or_default())),
            ("runtime", runtime),
            ("nodes", nodes),
        ],
    )
}

pub fn readme(flow: &Flow, options: &Options, header: &str) -> String {
    let schema = |schema: &Option<Value>, what: &str| match schema {
        Some(s) => fenced("json", &serde_json::to_string_pretty(&s.to_json()).unwrap_or_default(), ""),
        None => format!("Any JSON value (the flow declares no {what}Schema)."),
    };
    let mut activities: Vec<String> = Vec::new();
    for node in flow.nodes() {
        match &node.kind {
            NodeKind::Builtin { builtin, config, .. } => {
                let mut line = format!("- {}: built-in `{}`, on this worker", code(&node.id), builtin.activity_name());
                let names = env_names(config);
                if !names.is_empty() {
                    let names: Vec<String> = names.iter().map(|n| code(n)).collect();
                    line.push_str(&format!("; reads {} from the worker's environment, inside the activity (never into history)", names.join(", ")));
                }
                activities.push(line);
            }
            NodeKind::Call { builtin, .. } => activities.push(format!("- {}: built-in `{}`, on this worker", code(&node.id), builtin.activity_name())),
            NodeKind::Activity { activity, task_queue, .. } => {
                activities.push(format!("- {}: calls {} on task queue {} (served by another worker)", code(&node.id), code(activity), code(task_queue)));
            }
            NodeKind::Custom { node_type, local, .. } => {
                let how = if *local { "as a local activity of this worker" } else { "on this worker" };
                activities.push(format!("- {}: the custom node type {}, {how} (implemented in Rust)", code(&node.id), code(node_type)));
            }
            _ => {}
        }
    }
    if activities.is_empty() {
        activities.push("None: every node runs inside the workflow.".to_string());
    }
    let mut signals = vec!["- `pause`: nodes not started yet wait until `resume`.".to_string(), "- `resume`: resumes a paused flow.".to_string()];
    for (name, schema) in super::workflow::signals(flow, &flow.nodes()) {
        signals.push(match schema {
            Some(schema) => format!("- {}, a payload of this schema:\n\n{}", code(name), fenced("json", &schema.to_string(), "  ")),
            None => format!("- {}: any JSON payload.", code(name)),
        });
    }
    let schedule = flow.schedule.as_ref().map(|s| {
        let zone = if s.timezone.is_empty() { "UTC" } else { s.timezone.as_str() };
        format!(
            "\n## Schedule\n\nRuns on {} ({}) with the input {}: `./target/release/{} schedule apply` creates or updates the Temporal Schedule.\n",
            code(&s.cron),
            markdown_text(zone),
            code(&s.input.to_string()),
            package_name(flow)
        )
    });
    fill(
        README_TEMPLATE,
        &[
            ("header", header.to_string()),
            ("name", flow.name.clone()),
            ("package", package_name(flow)),
            ("description", flow.description.as_deref().map(markdown_text).unwrap_or_default()),
            ("source", options.source_path.clone()),
            ("task_queue", code(&flow.task_queue)),
            ("example", example_input(flow.input_schema.as_ref())),
            ("input", schema(&flow.input_schema, "input")),
            ("output", schema(&flow.output_schema, "output")),
            ("activities", activities.join("\n")),
            ("signals", signals.join("\n") + &schedule.unwrap_or_default()),
        ],
    )
}

/// Flow text as Markdown prose: the characters that start HTML, a link, an image, emphasis, a
/// heading or a table backslash-escaped, hidden characters shown escaped. Code spans stay code
/// spans (their content is never markup).
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::source::shown(text).chars() {
        if matches!(c, '\\' | '<' | '>' | '&' | '[' | ']' | '!' | '*' | '_' | '#' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Flow text as a Markdown code span: fenced by more backticks than it holds in a row, so its
/// content is shown as it is.
fn code(text: &str) -> String {
    let text = crate::source::shown(text).replace('\n', " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A fenced code block whose fence no line of `text` can close, each line indented by `indent`.
fn fenced(language: &str, text: &str, indent: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
    let body: Vec<String> = text.lines().map(|line| format!("{indent}{line}")).collect();
    format!("{indent}{fence}{language}\n{}\n{indent}{fence}", body.join("\n"))
}

fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// A small input that fits the schema's required fields, for the README's `start` example.
fn example_input(schema: Option<&Value>) -> String {
    fn example(schema: &serde_json::Value) -> serde_json::Value {
        use serde_json::{Value as J, json};
        if let Some(first) = schema.get("enum").and_then(J::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        match schema.get("type").and_then(J::as_str) {
            Some("string") => json!("text"),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => {
                let required: Vec<&str> = schema.get("required").and_then(J::as_array).map_or(Vec::new(), |r| r.iter().filter_map(J::as_str).collect());
                let properties = schema.get("properties").and_then(J::as_object);
                J::Object(required.iter().map(|name| (name.to_string(), properties.and_then(|p| p.get(*name)).map_or(J::Null, example))).collect())
            }
            _ => J::Null,
        }
    }
    // Inside a shell quote in a code block: a backtick (only in strings) as its JSON escape.
    schema.map_or_else(|| "{}".to_string(), |s| example(&s.to_json()).to_string()).replace('\'', "'\\''").replace('`', "\\u0060")
}

/// Replaces every `@key@` in one pass, so filled-in text is never itself scanned for keys.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('@').map(|end| (&after[..end], end)) {
            Some((key, end)) if values.iter().any(|(k, _)| *k == key) => {
                let value = values.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()).unwrap_or_default();
                out.push_str(value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('@');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A TOML basic string, escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The environment variables a configuration's templates read as `env.NAME`.
fn env_names(config: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut texts = Vec::new();
    config.strings(&mut texts);
    for text in texts {
        let Ok(template) = wfc_expr::Template::parse(text) else { continue };
        for expr in template.exprs() {
            // The parser's list: the same names the activity is given, and no others.
            names.extend(wfc_expr::parse_expr(expr.source).map(|r| r.env).unwrap_or_default());
        }
    }
    names
}
