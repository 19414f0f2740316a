//! Lowering: the spanned syntax tree into the checked `Flow` model.
//!
//! Validates the document's shape and every node's configuration against the node catalog,
//! reporting every problem at once with a span pointing at the offending value. The graph form's
//! dialects are normalised in `graph` (and `sim`); nodes are lowered the same way in both forms.

mod builtin;
mod dsl;
mod fields;
mod graph;
mod node;
mod schedule;
mod sim;

use std::collections::{BTreeMap, HashMap};

use crate::RuntimeSource;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ActivityPolicy, Body, Flow, NodeCrate, RemoteActivity, Schedule, Served, Settings, Versioning};
use crate::source::{SourceFile, Span};
use crate::syntax::{Kind, Value, printable};

const DOCUMENT_FIELDS: &[&str] =
    &["version", "name", "description", "taskQueue", "inputSchema", "outputSchema", "output", "settings", "trigger", "signals", "activities", "root", "nodes", "edges"];
/// Top-level keys of visual builders' exports that carry no meaning for execution.
const EXPORT_FIELDS: &[&str] = &["viewport", "state", "exportedAt", "workflow", "id", "color", "isDeployed", "deployedAt", "lastSaved", "marketplaceData"];
const NODE_FIELDS: &[&str] = &["type", "id", "name", "description", "config", "props", "children", "temporal", "onError"];

/// Activities declared outside the flow (`wfc check --registry FILE`), by name.
pub type Registry = BTreeMap<String, RemoteActivity>;

/// Lowers a parsed document. Returns the flow when it is complete enough to check further.
/// `registry` declares activities for node types the flow does not declare itself.
pub fn lower(source: &SourceFile, root: &Value, registry: &Registry, documents: &BTreeMap<String, Result<String, String>>) -> (Option<Flow>, Vec<Diagnostic>) {
    let mut cx = Lowerer::new(source, registry.clone());
    cx.documents = documents.clone();
    let flow = cx.document(root);
    (flow, cx.diagnostics)
}

pub use dsl::openapi_documents;

/// Lowers a registry document: a map with one key, `activities:`, as in a flow.
pub fn registry(source: &SourceFile, root: &Value) -> (Registry, Vec<Diagnostic>) {
    let mut cx = Lowerer::new(source, Registry::new());
    if cx.known_fields(root, &["activities"], "a registry")
        && let Some(activities) = cx.required(root, "activities", root.span)
    {
        cx.remote_activities(activities);
    }
    (cx.activities, cx.diagnostics)
}

struct Lowerer<'a> {
    source: &'a SourceFile,
    diagnostics: Vec<Diagnostic>,
    /// Node ids seen so far, with where they were defined.
    ids: HashMap<String, Span>,
    activities: BTreeMap<String, RemoteActivity>,
    /// Lowering a graph's nodes: `Start`, `Condition`, `Switch`, `Loop` and `Parallel` take their
    /// graph meaning (see `graph`).
    graph_kinds: bool,
    /// The declared signals' payload schemas, for the nodes that wait for them.
    signals: BTreeMap<String, serde_json::Value>,
    /// External documents by reference (`BuildOptions::documents`).
    documents: BTreeMap<String, Result<String, String>>,
    /// A Serverless Workflow document's reusable definitions (`use.errors`, `use.retries`),
    /// by kind and name.
    reusable: BTreeMap<(String, String), Value>,
    /// Tasks the continuation of a Serverless Workflow document's `then` jumps has lowered, in
    /// the whole document (bounded by `dsl::MAX_COPIES`).
    dsl_copies: usize,
    /// Branching tasks around the one being lowered (bounded by `dsl::MAX_BRANCHING`).
    dsl_branching: usize,
}

impl<'a> Lowerer<'a> {
    fn new(source: &'a SourceFile, activities: Registry) -> Self {
        Lowerer {
            source,
            diagnostics: Vec::new(),
            ids: HashMap::new(),
            activities,
            graph_kinds: false,
            signals: BTreeMap::new(),
            documents: BTreeMap::new(),
            reusable: BTreeMap::new(),
            dsl_copies: 0,
            dsl_branching: 0,
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn document(&mut self, doc: &Value) -> Option<Flow> {
        let Some(_) = doc.as_map() else {
            self.error(
                Diagnostic::error(Code::DocumentShape, doc.span, format!("a flow document must be a map, found {}", doc.type_name()))
                    .label("expected a map")
                    .help("start the document with `name:` and `root:`, or with a single node's `type:`"),
            );
            return None;
        };
        let is_sim = doc.get("state").is_some_and(|state| state.get("blocks").is_some());
        let is_workflow = doc.get("root").is_some() || doc.get("nodes").is_some() || is_sim;
        if !is_workflow {
            if doc.get("type").is_some() {
                return self.bare_btree(doc);
            }
            if doc.get("document").is_some_and(|d| d.get("dsl").is_some()) {
                return self.dsl_document(doc);
            }
            self.error(
                Diagnostic::error(Code::DocumentShape, doc.span, "the document has no `root:` and no `type:`")
                    .label("neither a workflow nor a node")
                    .help("a workflow document has `name:` and `root: <node>`; a bare btree document is one node with `type:`"),
            );
            return None;
        }
        let exported = is_sim || doc.get("viewport").is_some();
        let known: Vec<&str> = DOCUMENT_FIELDS.iter().chain(if exported { EXPORT_FIELDS } else { &[] }).copied().collect();
        self.known_fields(doc, &known, "a workflow document");
        if let (Some(root), Some(nodes)) = (doc.get("root"), doc.get("nodes").or(doc.get("state"))) {
            self.error(
                Diagnostic::error(Code::DocumentShape, nodes.span, "a flow has `root:` (the tree form) or `nodes:` (the graph form), not both")
                    .label("second body")
                    .related(root.span, "the tree form here")
                    .help("keep one of the two forms"),
            );
            return None;
        }

        let name = match doc.get("name") {
            Some(v) => self.string(v).inspect(|name| {
                if name.len() > MAX_NAME {
                    self.error(
                        Diagnostic::error(Code::InvalidName, v.span, format!("the workflow name is {} characters long", name.len()))
                            .label("too long")
                            .help(format!("a workflow name names the crate, its folder and the Temporal workflow type: keep it to {MAX_NAME} characters")),
                    );
                } else if !is_workflow_name(name) {
                    self.error(
                        Diagnostic::error(Code::InvalidName, v.span, format!("`{}` is not a valid workflow name", printable(name)))
                            .label("invalid name")
                            .help(format!("use lower case letters, digits and `-`, starting with a letter, e.g. `{}`", kebab(name))),
                    );
                }
            }),
            None => Some(kebab(sim::metadata(doc, "name").unwrap_or(self.source.stem()))),
        };
        for key in ["inputSchema", "outputSchema"] {
            if let Some(schema) = doc.get(key) {
                self.expect_map(schema);
            }
        }
        if let Some(version) = doc.get("version") {
            let known = match &version.kind {
                Kind::String(v) => matches!(v.as_str(), "1" | "1.0"),
                Kind::Int(1) => true,
                Kind::Float(f) => *f == 1.0,
                _ => false,
            };
            if !known {
                self.error(
                    Diagnostic::error(Code::InvalidValue, version.span, "unknown document version")
                        .label("this version of wfc reads version 1.0")
                        .help("write `version: \"1.0\"`, or leave `version` out"),
                );
            }
        }
        let description = doc.get("description").and_then(|v| self.string(v)).or_else(|| sim::metadata(doc, "description").map(str::to_string));
        let task_queue = doc.get("taskQueue").and_then(|v| self.temporal_name(v, "a task queue"));
        let settings = doc.get("settings").map(|v| self.settings(v)).unwrap_or_default();
        let mut exported = sim::Exported { schedule: self.trigger(doc), input_schema: doc.get("inputSchema").cloned() };
        if let Some(declared) = doc.get("signals")
            && let Some(entries) = self.expect_map(declared)
        {
            for (name, schema) in entries {
                self.signal_name(&name.name, name.span);
                if self.expect_map(schema).is_some() {
                    self.signals.insert(name.name.clone(), schema.to_json());
                }
            }
        }
        if let Some(activities) = doc.get("activities") {
            self.remote_activities(activities);
        }
        let body = match doc.get("root") {
            Some(root) => self.node(root, "root", &settings.activity).map(|n| Body::Tree(Box::new(n))),
            None if is_sim => self.sim_document(doc, &settings.activity, &mut exported),
            None => self.graph_document(doc, &settings.activity),
        };
        let name = name?;
        Some(Flow {
            task_queue: task_queue.unwrap_or_else(|| name.clone()),
            name,
            description,
            input_schema: exported.input_schema,
            output_schema: doc.get("outputSchema").cloned(),
            output: doc.get("output").cloned(),
            settings,
            activities: std::mem::take(&mut self.activities),
            signals: std::mem::take(&mut self.signals),
            body: body?,
            open_blackboard: false,
            schedule: exported.schedule,
            dsl: None,
        })
    }

    /// A bare btree document: one node at the top level; its id names the workflow.
    fn bare_btree(&mut self, doc: &Value) -> Option<Flow> {
        let settings = Settings::default();
        let root = self.node(doc, "root", &settings.activity)?;
        let name = if is_workflow_name(&root.id) { root.id.clone() } else { kebab(&root.id) };
        Some(Flow {
            task_queue: name.clone(),
            name,
            description: root.description.clone(),
            input_schema: None,
            output_schema: None,
            output: None,
            settings,
            activities: BTreeMap::new(),
            signals: BTreeMap::new(),
            body: Body::Tree(Box::new(root)),
            open_blackboard: true,
            schedule: None,
            dsl: None,
        })
    }

    /// Validates `trigger`; returns the schedule, if it is one.
    fn trigger(&mut self, doc: &Value) -> Option<Schedule> {
        let trigger = doc.get("trigger")?;
        if !self.known_fields(trigger, &["type", "config"], "a trigger") {
            return None;
        }
        if let Some(kind) = trigger.get("type") {
            match kind.as_str() {
                Some("manual") => {}
                Some("schedule") => {
                    let config = self.required(trigger, "config", kind.span)?;
                    if !self.known_fields(config, &["cron", "timezone", "input"], "a schedule") {
                        return None;
                    }
                    let cron = self.required(config, "cron", config.span)?;
                    let text = self.string(cron)?;
                    if let Err(e) = schedule::cron(&text) {
                        self.error(
                            Diagnostic::error(Code::InvalidValue, cron.span, format!("`{}` is not a cron spec: {e}", printable(&text)))
                                .label("not a cron spec")
                                .help("write minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5`"),
                        );
                        return None;
                    }
                    let timezone = match config.get("timezone") {
                        Some(tz) => {
                            let name = self.string(tz)?;
                            if let Err(e) = schedule::timezone(&name) {
                                self.error(
                                    Diagnostic::error(Code::InvalidValue, tz.span, printable(&e))
                                        .label("unknown time zone")
                                        .help("use an IANA name such as `UTC`, `Europe/Amsterdam` or `America/New_York`"),
                                );
                                return None;
                            }
                            name
                        }
                        None => String::new(),
                    };
                    if let (Some(input), Some(schema)) = (config.get("input"), doc.get("inputSchema")) {
                        self.conforms(input, schema, "the schedule's input", "the flow's `inputSchema`");
                    }
                    let input = config.get("input").map_or_else(|| serde_json::json!({}), Value::to_json);
                    return Some(Schedule { cron: text, timezone, input });
                }
                _ => self.error(
                    Diagnostic::error(Code::InvalidValue, kind.span, "a trigger's `type` is `manual` or `schedule`").label("unknown trigger type").help("use `type: manual`"),
                ),
            }
        }
        None
    }

    fn settings(&mut self, value: &Value) -> Settings {
        let mut settings = Settings::default();
        if !self.known_fields(value, &["timeout", "activity", "maxConcurrency", "maxOutputBytes", "versioning", "deployment"], "`settings`") {
            return settings;
        }
        settings.timeout_ms = value.get("timeout").and_then(|v| self.duration(v));
        settings.max_concurrency = value.get("maxConcurrency").and_then(|v| self.uint(v, 1, 10_000));
        settings.max_output_bytes = value.get("maxOutputBytes").and_then(|v| self.uint(v, 1, u64::from(u32::MAX)));
        if let Some(versioning) = value.get("versioning").and_then(|v| self.enumerated("versioning", v, &["pinned", "auto-upgrade"])) {
            settings.versioning = if versioning == "auto-upgrade" { Versioning::AutoUpgrade } else { Versioning::Pinned };
        }
        settings.deployment = value.get("deployment").and_then(|v| self.temporal_name(v, "a deployment name"));
        if let Some(activity) = value.get("activity")
            && self.known_fields(activity, &["timeout", "retry"], "`settings.activity`")
        {
            if let Some(t) = activity.get("timeout").and_then(|v| self.duration(v)) {
                settings.activity.timeout_ms = t;
            }
            if let Some(retry) = activity.get("retry") {
                self.retry(retry, &mut settings.activity);
            }
        }
        settings
    }

    fn retry(&mut self, value: &Value, policy: &mut ActivityPolicy) {
        if !self.known_fields(value, &["maxAttempts", "initialInterval", "backoff", "maxInterval"], "a retry policy") {
            return;
        }
        if let Some(n) = value.get("maxAttempts").and_then(|v| self.uint(v, 1, 1_000)) {
            policy.max_attempts = n as u32;
        }
        if let Some(d) = value.get("initialInterval").and_then(|v| self.duration(v)) {
            policy.initial_interval_ms = d;
        }
        if let Some(d) = value.get("maxInterval").and_then(|v| self.duration(v)) {
            policy.max_interval_ms = d;
        }
        if let Some(b) = value.get("backoff").and_then(|v| self.number(v, 1.0, 100.0)) {
            policy.backoff = b;
        }
    }

    fn remote_activities(&mut self, value: &Value) {
        let Some(entries) = self.expect_map(value) else { return };
        for (key, decl) in entries {
            if !self.known_fields(decl, &["taskQueue", "crate", "input", "output", "timeout", "description"], "an activity declaration") {
                continue;
            }
            let served = match (decl.get("taskQueue"), decl.get("crate")) {
                (Some(queue), None) => self.temporal_name(queue, "a task queue").map(Served::Queue),
                (None, Some(krate)) => self.node_crate(krate).map(Served::Crate),
                (Some(_), Some(krate)) => {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, krate.span, format!("`{}` has both a `taskQueue` and a `crate`", key.name))
                            .label("one or the other")
                            .help("an activity is served by another worker (`taskQueue`) or implemented in a Rust crate and served by this flow's worker (`crate`)"),
                    );
                    None
                }
                (None, None) => {
                    self.error(
                        Diagnostic::error(Code::MissingField, key.span, format!("`{}` declares neither `taskQueue` nor `crate`", key.name))
                            .label("who serves it?")
                            .help("give the task queue of the worker that serves it (`taskQueue: payments`), or the Rust crate that implements it (`crate: {name: my-nodes, path: ../my-nodes}`)"),
                    );
                    None
                }
            };
            let Some(served) = served else { continue };
            for schema in ["input", "output"] {
                if let Some(s) = decl.get(schema) {
                    self.expect_map(s);
                }
            }
            let activity = RemoteActivity {
                name: key.name.clone(),
                span: key.span,
                served,
                input: decl.get("input").cloned(),
                output: decl.get("output").cloned(),
                timeout_ms: decl.get("timeout").and_then(|v| self.duration(v)),
                description: decl.get("description").and_then(|v| self.string(v)),
            };
            self.activities.insert(key.name.clone(), activity);
        }
    }

    /// `crate: {name, path | version | git}`: the crate implementing custom node types. The
    /// name becomes a Cargo package name and a Rust path, so it must be one.
    fn node_crate(&mut self, value: &Value) -> Option<NodeCrate> {
        if !self.known_fields(value, &["name", "path", "version", "git"], "a `crate`") {
            return None;
        }
        let name_value = self.required(value, "name", value.span)?;
        let name = self.string(name_value)?;
        let valid = name.len() <= 64 && name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid || crate::ident::is_keyword(&name.replace('-', "_")) {
            self.error(
                Diagnostic::error(Code::InvalidName, name_value.span, format!("`{}` is not a crate name", printable(&name)))
                    .label("invalid crate name")
                    .help("a crate name starts with a letter and has only letters, digits, `-` and `_` (at most 64)"),
            );
            return None;
        }
        let sources: Vec<(&str, &Value)> = ["path", "version", "git"].into_iter().filter_map(|k| value.get(k).map(|v| (k, v))).collect();
        let [(kind, source)] = sources[..] else {
            self.error(
                Diagnostic::error(Code::InvalidValue, value.span, "a `crate` needs exactly one of `path`, `version` or `git`")
                    .label(if sources.is_empty() { "no source" } else { "more than one source" })
                    .help("e.g. `crate: {name: my-nodes, path: ../my-nodes}` (relative to this file), `version: \"0.3\"` or `git: https://…`"),
            );
            return None;
        };
        let text = self.string(source)?;
        let source = match kind {
            "path" => RuntimeSource::Path(text),
            "version" => RuntimeSource::Version(text),
            _ => RuntimeSource::Git(text),
        };
        Some(NodeCrate { name, source, declared_in: self.source.path.clone(), span: value.span })
    }
}

fn empty_map(span: Span) -> Value {
    Value { kind: Kind::Map(Vec::new()), span }
}

/// btree's dotted blackboard key as a CEL path: `cart.total` reads the variable `cart`'s `total`.
pub(crate) fn blackboard_path(key: &str) -> String {
    let mut parts = key.split('.');
    let head = parts.next().unwrap_or_default();
    let mut out = head.to_string();
    for part in parts {
        if is_identifier(part) {
            out.push('.');
            out.push_str(part);
        } else {
            out.push_str(&format!("[{}]", serde_json::Value::String(part.to_string())));
        }
    }
    out
}

/// The longest workflow name or node id: a name becomes a crate, a folder and a binary (file
/// names stop at 255 bytes), an id becomes activity ids with iteration paths after it.
const MAX_NAME: usize = 200;

/// Temporal's limit on ids and names (`limit.maxIDLength`).
const TEMPORAL_MAX_NAME: usize = 1000;

/// Why Temporal would refuse `name` as a task queue or signal name, if it would.
fn temporal_name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("is empty")
    } else if name.len() > TEMPORAL_MAX_NAME {
        Some("is longer than Temporal allows")
    } else if name.chars().any(crate::source::is_hidden) {
        Some("has control characters")
    } else {
        None
    }
}

pub(crate) fn is_workflow_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase()) && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_node_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name made valid as a workflow name: `Order_Processing` → `order-processing`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("flow-{out}"),
        None => "flow".to_string(),
    }
}
