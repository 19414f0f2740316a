//! Lowering: the spanned syntax tree into the checked `Flow` model.
//!
//! Validates the document's shape and every node's configuration against the node catalog,
//! reporting every problem at once with a span pointing at the offending value. The graph form's
//! dialects are normalised in `graph` (and `sim`); nodes are lowered the same way in both forms.

mod builtin;
mod graph;
mod schedule;
mod sim;

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{self, NodeType};
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::model::{ActivityPolicy, Body, Builtin, Expr, Flow, LogLevel, Node, NodeKind, Param, RemoteActivity, Schedule, Settings, Slot};
use crate::source::{SourceFile, Span};
use crate::syntax::{Key, Kind, Value, printable};

const DOCUMENT_FIELDS: &[&str] =
    &["version", "name", "description", "taskQueue", "inputSchema", "outputSchema", "output", "settings", "trigger", "signals", "activities", "root", "nodes", "edges"];
/// Top-level keys of visual builders' exports that carry no meaning for execution.
const EXPORT_FIELDS: &[&str] = &["viewport", "state", "exportedAt", "workflow", "id", "color", "isDeployed", "deployedAt", "lastSaved", "marketplaceData"];
const NODE_FIELDS: &[&str] = &["type", "id", "name", "description", "config", "props", "children", "temporal", "onError"];

/// Activities declared outside the flow (`wfc check --registry FILE`), by name.
pub type Registry = BTreeMap<String, RemoteActivity>;

/// Lowers a parsed document. Returns the flow when it is complete enough to check further.
/// `registry` declares activities for node types the flow does not declare itself.
pub fn lower(source: &SourceFile, root: &Value, registry: &Registry) -> (Option<Flow>, Vec<Diagnostic>) {
    let mut cx = Lowerer::new(source, registry.clone());
    let flow = cx.document(root);
    (flow, cx.diagnostics)
}

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
}

impl<'a> Lowerer<'a> {
    fn new(source: &'a SourceFile, activities: Registry) -> Self {
        Lowerer { source, diagnostics: Vec::new(), ids: HashMap::new(), activities, graph_kinds: false }
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
        let mut signals = BTreeMap::new();
        if let Some(declared) = doc.get("signals")
            && let Some(entries) = self.expect_map(declared)
        {
            for (name, schema) in entries {
                self.signal_name(&name.name, name.span);
                if self.expect_map(schema).is_some() {
                    signals.insert(name.name.clone(), schema.to_json());
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
            signals,
            body: body?,
            open_blackboard: false,
            schedule: exported.schedule,
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
        if !self.known_fields(value, &["timeout", "activity", "maxConcurrency", "maxOutputBytes"], "`settings`") {
            return settings;
        }
        settings.timeout_ms = value.get("timeout").and_then(|v| self.duration(v));
        settings.max_concurrency = value.get("maxConcurrency").and_then(|v| self.uint(v, 1, 10_000));
        settings.max_output_bytes = value.get("maxOutputBytes").and_then(|v| self.uint(v, 1, u64::from(u32::MAX)));
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
            if !self.known_fields(decl, &["taskQueue", "input", "output", "timeout", "description"], "an activity declaration") {
                continue;
            }
            let Some(task_queue) = self.required(decl, "taskQueue", key.span).and_then(|v| self.temporal_name(v, "a task queue")) else { continue };
            for schema in ["input", "output"] {
                if let Some(s) = decl.get(schema) {
                    self.expect_map(s);
                }
            }
            let activity = RemoteActivity {
                name: key.name.clone(),
                span: key.span,
                task_queue,
                input: decl.get("input").cloned(),
                output: decl.get("output").cloned(),
                timeout_ms: decl.get("timeout").and_then(|v| self.duration(v)),
            };
            self.activities.insert(key.name.clone(), activity);
        }
    }

    /// Lowers one node; `path` derives an id when the node has none.
    fn node(&mut self, value: &Value, path: &str, defaults: &ActivityPolicy) -> Option<Node> {
        self.expect_map(value)?;
        self.known_fields(value, NODE_FIELDS, "a node");
        let type_value = self.required(value, "type", value.span)?;
        let type_name = self.string(type_value)?;
        let (line, _) = self.source.line_col(value.span.start);
        let (id, id_span) = match value.get("id") {
            Some(v) => {
                let id = self.string(v)?;
                if !is_node_id(&id) || id.len() > MAX_NAME {
                    self.error(
                        Diagnostic::error(Code::InvalidName, v.span, format!("`{}` is not a valid node id", printable(&id)))
                            .label("invalid id")
                            .help(format!("a node id starts with a letter or `_`, has only letters, digits, `_` and `-`, and at most {MAX_NAME} of them")),
                    );
                }
                (id, v.span)
            }
            None => (if path == "root" { "root".to_string() } else { format!("{}-{path}", type_name.to_ascii_lowercase()) }, type_value.span),
        };
        if let Some(first) = self.ids.get(&id).copied() {
            self.error(
                Diagnostic::error(Code::DuplicateNodeId, id_span, format!("node id `{id}` is used twice"))
                    .label("second use")
                    .related(first, "first defined here")
                    .help("give each node a unique `id`; ids name activities and outputs"),
            );
        } else {
            self.ids.insert(id.clone(), id_span);
        }

        let graph_kind = if self.graph_kinds { graph::GraphKind::of(&type_name) } else { None };
        let kind = match (graph_kind, catalog::lookup(&type_name)) {
            (Some(graph_kind), _) => {
                let config = self.config(value).unwrap_or_else(|| empty_map(type_value.span));
                self.graph_kind(graph_kind, &config, type_value.span)?
            }
            (None, Some(node_type)) => {
                let config = self.config(value);
                let policy = self.node_policy(value, defaults);
                let children = self.children(value, &id, defaults);
                self.kind(node_type, value, type_value.span, config.as_ref(), children?, policy)?
            }
            (None, None) => self.custom_or_unknown(value, type_value, &type_name, &id, defaults)?,
        };
        let on_error = match value.get("onError") {
            Some(handler) => Some(Box::new(self.node(handler, &format!("{id}-on-error"), defaults)?)),
            None => None,
        };
        Some(Node {
            id,
            id_span,
            type_name,
            span: value.span,
            type_span: type_value.span,
            line,
            name: value.get("name").and_then(|v| self.string(v)),
            description: value.get("description").and_then(|v| self.string(v)),
            kind,
            on_error,
        })
    }

    /// The kind of a node whose type is not compiled by name: a call of a declared activity, a
    /// type validated but not compiled yet, or an error naming the closest known types.
    fn custom_or_unknown(&mut self, value: &Value, type_value: &Value, type_name: &str, id: &str, defaults: &ActivityPolicy) -> Option<NodeKind> {
        if let Some(remote) = self.activities.get(type_name).cloned() {
            let input = self.config(value).unwrap_or_else(|| empty_map(value.span));
            let mut policy = self.node_policy(value, defaults);
            if let Some(t) = remote.timeout_ms {
                policy.timeout_ms = t;
            }
            if let Some(schema) = &remote.input {
                self.conforms(&input, schema, &format!("the input of `{}`", remote.name), "its declared `input` schema");
            }
            return Some(NodeKind::Activity { activity: remote.name, task_queue: remote.task_queue, input, policy });
        }
        if let Some(spec) = catalog::table_spec(type_name) {
            let config = self.config(value);
            let children = self.children(value, id, defaults)?;
            let kind = self.pending(spec, value, type_value.span, config.as_ref(), children, id, defaults)?;
            let Some(builtin) = Builtin::of(type_name) else { return Some(kind) };
            let config = config.unwrap_or_else(|| empty_map(type_value.span));
            self.builtin_rules(builtin, &config, type_value.span)?;
            let policy = self.node_policy(value, defaults);
            return Some(NodeKind::Builtin { builtin, config, policy });
        }
        let mut candidates: Vec<&str> = catalog::all_names().collect();
        candidates.extend(self.activities.keys().map(String::as_str));
        let near = closest(type_name, candidates.iter().copied());
        let help = if near.is_empty() {
            format!("known types include {}; or declare `{type_name}` under `activities:` (or in a `--registry` file)", one_of(catalog::SUPPORTED))
        } else {
            format!("did you mean {}? Or declare `{type_name}` under `activities:` (or in a `--registry` file)", one_of(&near))
        };
        self.error(Diagnostic::error(Code::UnknownNodeType, type_value.span, format!("unknown node type `{type_name}`")).label("unknown type").help(help));
        None
    }

    /// The node's `config` (or its btree alias `props`).
    fn config(&mut self, node: &Value) -> Option<Value> {
        match (node.get("config"), node.get("props")) {
            (Some(c), Some(p)) => {
                self.error(
                    Diagnostic::error(Code::DuplicateKey, p.span, "a node has both `config` and `props`")
                        .label("`props` is an alias of `config`")
                        .related(c.span, "config here")
                        .help("keep one of the two"),
                );
                Some(c.clone())
            }
            (Some(v), None) | (None, Some(v)) => match v.kind {
                Kind::Null => None,
                _ => self.expect_map(v).map(|_| v.clone()),
            },
            (None, None) => None,
        }
    }

    fn node_policy(&mut self, node: &Value, defaults: &ActivityPolicy) -> ActivityPolicy {
        let mut policy = *defaults;
        let Some(temporal) = node.get("temporal") else { return policy };
        if !self.known_fields(temporal, &["timeout", "retryAttempts", "retryBackoff", "retry"], "`temporal` options") {
            return policy;
        }
        if let Some(t) = temporal.get("timeout").and_then(|v| self.duration(v)) {
            policy.timeout_ms = t;
        }
        if let Some(n) = temporal.get("retryAttempts").and_then(|v| self.uint(v, 1, 1_000)) {
            policy.max_attempts = n as u32;
        }
        if let Some(d) = temporal.get("retryBackoff").and_then(|v| self.duration(v)) {
            policy.initial_interval_ms = d;
        }
        if let Some(retry) = temporal.get("retry") {
            self.retry(retry, &mut policy);
        }
        policy
    }

    /// The node's children, or `None` when one of them (or the list) is invalid and was reported.
    fn children(&mut self, node: &Value, parent_id: &str, defaults: &ActivityPolicy) -> Option<Vec<(Node, Span)>> {
        let Some(children) = node.get("children") else { return Some(Vec::new()) };
        let items = self.expect_seq(children)?;
        let parent_path = if parent_id == "root" { String::new() } else { format!("{parent_id}-") };
        let lowered: Vec<(Node, Span)> =
            items.iter().enumerate().filter_map(|(i, child)| self.node(child, &format!("{parent_path}{i}"), defaults).map(|n| (n, child.span))).collect();
        (lowered.len() == items.len()).then_some(lowered)
    }

    /// Builds a node's kind from its type, configuration and children.
    fn kind(&mut self, node_type: NodeType, node: &Value, type_span: Span, config: Option<&Value>, children: Vec<(Node, Span)>, policy: ActivityPolicy) -> Option<NodeKind> {
        let empty = empty_map(node.get("config").or(node.get("props")).map_or(type_span, |v| v.span));
        let config = config.unwrap_or(&empty);
        let spec = node_type.spec();
        if !self.known_fields(config, spec.fields, &format!("a `{}` node's config", node_type.name())) {
            return None;
        }
        if node_type == NodeType::Parallel && ["successThreshold", "failureThreshold", "maxConcurrency"].iter().any(|k| config.get(k).is_some())
            || config.get("strategy").and_then(Value::as_str) == Some("any")
        {
            let id = node.get("id").and_then(Value::as_str).unwrap_or("parallel").to_string();
            let defaults = ActivityPolicy::default();
            return self.pending(&catalog::PARALLEL_EXTENDED, node, type_span, Some(config), children, &id, &defaults);
        }
        let conditional_with_expr = node_type == NodeType::Conditional && config.get("condition").is_some();
        let limits = if conditional_with_expr { (1, 2) } else { spec.children };
        if !self.child_count(node_type.name(), limits, spec.child_help, node, type_span, children.len()) {
            return None;
        }
        let mut children = children.into_iter().map(|(n, _)| n);
        Some(match node_type {
            NodeType::Sequence => NodeKind::Sequence(children.collect()),
            NodeType::Parallel => {
                if let Some(strategy) = config.get("strategy") {
                    match strategy.as_str() {
                        Some("strict") => {}
                        _ => self.error(
                            Diagnostic::error(Code::InvalidValue, strategy.span, "a Parallel strategy is `strict` or `any`")
                                .label("unknown strategy")
                                .help("use `strategy: strict`"),
                        ),
                    }
                }
                NodeKind::Parallel(children.collect())
            }
            NodeType::Conditional if config.get("condition").is_none() && children.len() >= 2 => {
                // btree's form: child 0 is a condition node; it succeeding selects `then`.
                let children: Vec<Node> = children.collect();
                let slots = vec![Slot::Child; children.len()];
                NodeKind::Configured { children, slots, exprs: Vec::new(), templates: Vec::new(), activity: false, writes: Vec::new(), params: BTreeMap::new() }
            }
            NodeType::Conditional => {
                let condition = self.required(config, "condition", type_span).and_then(|v| self.expr(v))?;
                let then = Box::new(children.next()?);
                NodeKind::Conditional { condition, then, otherwise: children.next().map(Box::new) }
            }
            NodeType::Delay => {
                let duration_ms = match (config.get("duration"), config.get("delayMs")) {
                    (Some(d), _) => self.duration(d)?,
                    (None, Some(ms)) => self.millis(ms)?,
                    (None, None) => {
                        self.error(
                            Diagnostic::error(Code::MissingField, config.span, "a `Delay` node needs `duration` (or btree's `delayMs`)")
                                .label("no duration")
                                .help("add e.g. `duration: 5 minutes`"),
                        );
                        return None;
                    }
                };
                NodeKind::Delay { duration_ms, child: children.next().map(Box::new) }
            }
            NodeType::HttpRequest => {
                self.builtin_rules(Builtin::Http, config, type_span)?;
                let mut policy = policy;
                if let Some(t) = config.get("timeout").and_then(|v| self.duration(v)) {
                    policy.timeout_ms = t;
                }
                NodeKind::Builtin { builtin: Builtin::Http, config: config.clone(), policy }
            }
            NodeType::Activity => {
                let name_value = self.required(config, "activity", type_span)?;
                let activity = self.string(name_value)?;
                let task_queue = match (config.get("taskQueue"), self.activities.get(&activity)) {
                    (Some(tq), _) => self.string(tq)?,
                    (None, Some(remote)) => remote.task_queue.clone(),
                    (None, None) => {
                        let declared: Vec<&str> = self.activities.keys().map(String::as_str).collect();
                        let near = closest(&activity, declared.iter().copied());
                        let help = if near.is_empty() {
                            format!("declare `{activity}` under `activities:` with its `taskQueue`, or give this node a `taskQueue`")
                        } else {
                            format!("did you mean {}? Otherwise declare `{activity}` under `activities:`", one_of(&near))
                        };
                        self.error(
                            Diagnostic::error(Code::UnknownActivity, name_value.span, format!("activity `{activity}` is not declared")).label("undeclared activity").help(help),
                        );
                        return None;
                    }
                };
                let mut policy = policy;
                if let Some(t) = self.activities.get(&activity).and_then(|a| a.timeout_ms) {
                    policy.timeout_ms = t;
                }
                let input = config.get("input").cloned().unwrap_or_else(|| empty_map(config.span));
                if let Some(schema) = self.activities.get(&activity).and_then(|a| a.input.clone()) {
                    self.conforms(&input, &schema, &format!("the input of `{activity}`"), "its declared `input` schema");
                }
                NodeKind::Activity { activity, task_queue, input, policy }
            }
            NodeType::Log => {
                let message = self.required(config, "message", type_span)?.clone();
                let level = match config.get("level") {
                    None => LogLevel::Info,
                    Some(v) => match v.as_str() {
                        Some("debug") => LogLevel::Debug,
                        Some("info") => LogLevel::Info,
                        Some("warn") => LogLevel::Warn,
                        Some("error") => LogLevel::Error,
                        _ => {
                            self.error(
                                Diagnostic::error(Code::InvalidValue, v.span, "a log level is `debug`, `info`, `warn` or `error`").label("unknown level").help("use `level: info`"),
                            );
                            return None;
                        }
                    },
                };
                let output_key = match config.get("outputKey") {
                    Some(v) => Some(self.variable_name(v)?),
                    None => None,
                };
                NodeKind::Log { message, level, output_key }
            }
            NodeType::SetVariable => {
                let name = self.required(config, "name", type_span).and_then(|v| self.variable_name(v))?;
                let value = self.required(config, "value", type_span)?.clone();
                NodeKind::SetVariable { name, value }
            }
            NodeType::Script => {
                let script = self.required(config, "script", type_span)?;
                NodeKind::Script { assignments: self.script(script)? }
            }
            NodeType::CheckCondition => NodeKind::CheckCondition { condition: self.check_condition(config)? },
            NodeType::Fail => NodeKind::Fail { message: config.get("message").cloned().unwrap_or_else(|| Value { kind: Kind::String("failed".into()), span: type_span }) },
        })
    }

    /// Reports a wrong number of children; true when the count is right.
    fn child_count(&mut self, name: &str, (min, max): (usize, usize), help: &str, node: &Value, type_span: Span, found: usize) -> bool {
        if (min..=max).contains(&found) {
            return true;
        }
        let plural = |n: usize| if n == 1 { "" } else { "ren" };
        let expected = match (min, max) {
            (0, 0) => "no children".to_string(),
            (a, b) if a == b => format!("exactly {a} child{}", plural(a)),
            (a, usize::MAX) => format!("at least {a} child{}", plural(a)),
            (a, b) => format!("{a} to {b} children"),
        };
        let span = node.get("children").map_or(type_span, |c| c.span);
        self.error(Diagnostic::error(Code::ChildCount, span, format!("a `{name}` node takes {expected}, found {found}")).label(format!("{found} children")).help(help));
        false
    }

    /// Validates a node type that this version checks but does not compile yet.
    #[allow(clippy::too_many_arguments)]
    fn pending(
        &mut self,
        spec: &catalog::TableSpec,
        node: &Value,
        type_span: Span,
        config: Option<&Value>,
        children: Vec<(Node, Span)>,
        id: &str,
        defaults: &ActivityPolicy,
    ) -> Option<NodeKind> {
        let empty = empty_map(type_span);
        let config = config.unwrap_or(&empty);
        let names: Vec<&str> = spec.fields.iter().map(|(name, _, _)| *name).collect();
        let mut ok = self.known_fields(config, &names, &format!("a `{}` node's config", spec.name));
        ok &= self.child_count(spec.name, spec.children, "see the node catalog in DESIGN section 2", node, type_span, children.len());
        if !spec.one_of.is_empty() && spec.one_of.iter().all(|k| config.get(k).is_none()) {
            self.error(
                Diagnostic::error(Code::MissingField, config.span, format!("a `{}` node needs {}", spec.name, one_of(spec.one_of)))
                    .label("missing here")
                    .help(format!("add {}", one_of(spec.one_of))),
            );
            ok = false;
        }
        let mut children: Vec<Node> = children.into_iter().map(|(n, _)| n).collect();
        let mut slots = vec![Slot::Child; children.len()];
        let (mut exprs, mut templates, mut writes) = (Vec::new(), Vec::new(), Vec::new());
        let mut params = BTreeMap::new();
        for (name, kind, required) in spec.fields {
            let Some(value) = config.get(name) else {
                if *required {
                    ok &= self.required(config, name, type_span).is_some();
                }
                continue;
            };
            if *name == "signal"
                && let Some(signal) = value.as_str()
            {
                self.signal_name(signal, value.span);
            }
            if matches!(*name, "successThreshold" | "failureThreshold")
                && let Kind::Int(n) = value.kind
                && usize::try_from(n).is_ok_and(|n| n > children.len())
            {
                self.error(
                    Diagnostic::error(Code::InvalidValue, value.span, format!("`{name}` is {n}, but the Parallel has {} children", children.len()))
                        .label("can never be reached")
                        .help(format!("use a threshold from 1 to {}", children.len())),
                );
                ok = false;
            }
            let param = match kind {
                catalog::FieldKind::Expr => self.expr(value).map(|e| {
                    exprs.push(e.clone());
                    Param::Expr(e)
                }),
                catalog::FieldKind::Template => {
                    templates.push(value.clone());
                    Some(Param::Template(value.clone()))
                }
                catalog::FieldKind::Duration => self.duration(value).map(Param::Duration),
                catalog::FieldKind::Int(min) => self.uint(value, *min, i64::MAX as u64).map(Param::Int),
                catalog::FieldKind::Millis => self.millis(value).map(Param::Int),
                catalog::FieldKind::Number => self.number(value, f64::MIN, f64::MAX).map(Param::Number),
                catalog::FieldKind::Bool => match value.kind {
                    Kind::Bool(b) => Some(Param::Bool(b)),
                    _ => {
                        self.wrong_type(value, "a boolean");
                        None
                    }
                },
                catalog::FieldKind::Str => self.string(value).map(Param::Str),
                catalog::FieldKind::Enum(allowed) => self.enumerated(name, value, allowed).map(Param::Str),
                catalog::FieldKind::Node => match self.node(value, &format!("{id}-{name}"), defaults) {
                    Some(n) => {
                        children.push(n);
                        slots.push(Slot::Default);
                        Some(Param::Nodes)
                    }
                    None => None,
                },
                catalog::FieldKind::NodeMap => match self.expect_map(value) {
                    Some(entries) => {
                        let mut all = true;
                        for (key, case) in entries {
                            match self.node(case, &format!("{id}-{}", key.name), defaults) {
                                Some(n) => {
                                    children.push(n);
                                    slots.push(Slot::Case(key.name.clone()));
                                }
                                None => all = false,
                            }
                        }
                        all.then_some(Param::Nodes)
                    }
                    None => None,
                },
                catalog::FieldKind::Map => self.expect_map(value).map(|_| Param::Map(value.clone())),
            };
            let valid = param.is_some();
            if let Some(param) = param {
                params.insert((*name).to_string(), param);
            }
            ok &= valid;
            if valid
                && spec.writes.contains(name)
                && let Some(key) = value.as_str()
            {
                // A dotted btree key `agent.steps` makes `agent` readable in expressions.
                writes.push(key.split('.').next().unwrap_or(key).to_string());
            }
        }
        ok.then_some(NodeKind::Configured { children, slots, exprs, templates, activity: spec.activity, writes, params })
    }

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

    /// `script:` lines of the form `name = expression`; blank lines and `#`/`//` comments skipped.
    fn script(&mut self, script: &Value) -> Option<Vec<(String, Expr)>> {
        let text = self.string(script)?;
        let mut assignments = Vec::new();
        let positions = self.source.string_positions(script.span, &text);
        let mut offset = 0;
        for line in text.split('\n') {
            let line_offset = offset;
            offset += line.len() + 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
                continue;
            }
            let lead = line.len() - line.trim_start().len();
            let span = positions.span(line_offset + lead, trimmed.len());
            let Some((name, expr)) = trimmed.split_once('=').filter(|(n, e)| is_identifier(n.trim()) && !e.starts_with('=')) else {
                self.error(
                    Diagnostic::error(Code::ExpressionSyntax, span, "a script line is `name = expression`")
                        .label("not an assignment")
                        .help("write one assignment per line, e.g. `total = input.price * input.quantity`"),
                );
                return None;
            };
            let expr_start = trimmed.len() - expr.trim_start().len();
            let source = expr.trim().to_string();
            let span = positions.span(line_offset + lead + expr_start, source.len());
            assignments.push((name.trim().to_string(), Expr { source, span, blackboard: false }));
        }
        Some(assignments)
    }

    /// `condition` (an expression), or btree's `key` / `operator` / `value` fields.
    fn check_condition(&mut self, config: &Value) -> Option<Expr> {
        match config.get("condition") {
            Some(condition) => self.expr(condition),
            None => self.key_condition(config),
        }
    }

    /// btree's condition form: a map of `key` (a dotted blackboard key), `operator` (default
    /// `==`) and `value` (default `true`).
    fn key_condition(&mut self, map: &Value) -> Option<Expr> {
        let Some(key) = map.get("key") else {
            self.error(
                Diagnostic::error(Code::MissingField, map.span, "a condition needs `condition` (or btree's `key`/`operator`/`value`)")
                    .label("no condition")
                    .help("add e.g. `condition: input.amount > 100`"),
            );
            return None;
        };
        for (k, _) in map.as_map().unwrap_or_default() {
            if !["key", "operator", "value", "condition"].contains(&k.name.as_str()) {
                self.unknown_field(k, &["key", "operator", "value"], "a btree condition");
            }
        }
        let key_text = self.string(key)?;
        let operator = match map.get("operator") {
            Some(op) => {
                let text = self.string(op)?;
                if !["==", "!=", ">", "<", ">=", "<="].contains(&text.as_str()) {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, op.span, format!("`{text}` is not a comparison operator"))
                            .label("unknown operator")
                            .help("use one of `==`, `!=`, `>`, `<`, `>=`, `<=`"),
                    );
                    return None;
                }
                text
            }
            None => "==".to_string(),
        };
        let value = map.get("value").map_or(serde_json::Value::Bool(true), Value::to_json);
        Some(Expr { source: format!("{} {operator} {value}", blackboard_path(&key_text)), span: key.span, blackboard: true })
    }

    /// An expression: a bare CEL string, or a string that is exactly one `{{ }}` template.
    fn expr(&mut self, value: &Value) -> Option<Expr> {
        let text = match &value.kind {
            Kind::Bool(b) => return Some(Expr { source: b.to_string(), span: value.span, blackboard: false }),
            Kind::Map(_) => return self.key_condition(value),
            Kind::String(s) => s.clone(),
            _ => {
                self.error(
                    Diagnostic::error(Code::WrongType, value.span, format!("expected an expression, found {}", value.type_name()))
                        .label("not an expression")
                        .help("write a CEL expression such as `input.amount > 100`"),
                );
                return None;
            }
        };
        if !text.contains("{{") {
            let lead = text.len() - text.trim_start().len();
            let source = text.trim().to_string();
            let span = self.source.span_in_string(value.span, &text, lead, source.len());
            return Some(Expr { source, span, blackboard: false });
        }
        match wfc_expr::Template::parse(&text) {
            Ok(t) => match t.single_expr() {
                Some(e) => Some(Expr { source: e.source.to_string(), span: self.source.span_in_string(value.span, &text, e.offset, e.source.len()), blackboard: false }),
                None => {
                    self.error(
                        Diagnostic::error(Code::ExpressionSyntax, value.span, "a condition is one expression, not text with templates")
                            .label("mixed text and templates")
                            .help("write the bare expression, e.g. `input.vip == true`"),
                    );
                    None
                }
            },
            Err(e) => {
                self.error(
                    Diagnostic::error(Code::ExpressionSyntax, self.source.span_in_string(value.span, &text, e.offset, e.len), e.message)
                        .label("here")
                        .help("templates are written `{{ expression }}`"),
                );
                None
            }
        }
    }

    /// A field whose value is one of `allowed`.
    fn enumerated(&mut self, field: &str, value: &Value, allowed: &[&str]) -> Option<String> {
        match value.as_str().filter(|v| allowed.contains(v)) {
            Some(v) => Some(v.to_string()),
            None => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, value.span, format!("`{field}` is one of {}", one_of(allowed)))
                        .label("not one of the allowed values")
                        .help(format!("use {}", one_of(allowed))),
                );
                None
            }
        }
    }

    fn variable_name(&mut self, value: &Value) -> Option<String> {
        let name = self.string(value)?;
        if !is_identifier(&name) {
            self.error(
                Diagnostic::error(Code::InvalidName, value.span, format!("`{name}` is not a valid variable name"))
                    .label("invalid name")
                    .help("a variable name starts with a letter or `_` and has only letters, digits and `_`"),
            );
            return None;
        }
        Some(name)
    }

    // ---- typed field access; each reports its own error ----

    /// Reports keys of a map outside `known`; false when the value is not a map at all.
    fn known_fields(&mut self, value: &Value, known: &[&str], what: &str) -> bool {
        let Some(entries) = self.expect_map(value) else { return false };
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                self.unknown_field(key, known, what);
            }
        }
        true
    }

    fn unknown_field(&mut self, key: &Key, known: &[&str], what: &str) {
        let near = closest(&key.name, known.iter().copied());
        let help = if near.is_empty() {
            if known.is_empty() { format!("{what} takes no fields") } else { format!("{what} takes {}", one_of(known)) }
        } else {
            format!("did you mean {}?", one_of(&near))
        };
        self.error(Diagnostic::error(Code::UnknownField, key.span, format!("unknown field `{}` in {what}", key.name)).label("unknown field").help(help));
    }

    fn required<'v>(&mut self, map: &'v Value, key: &str, fallback: Span) -> Option<&'v Value> {
        let found = map.get(key);
        if found.is_none() {
            let span = if map.as_map().is_some_and(|m| !m.is_empty()) { map.span } else { fallback };
            self.error(
                Diagnostic::error(Code::MissingField, span, format!("missing required field `{key}`")).label(format!("`{key}` is missing here")).help(format!("add `{key}:`")),
            );
        }
        found
    }

    fn expect_map<'v>(&mut self, value: &'v Value) -> Option<&'v [(Key, Value)]> {
        let map = value.as_map();
        if map.is_none() {
            self.wrong_type(value, "a map");
        }
        map
    }

    fn expect_seq<'v>(&mut self, value: &'v Value) -> Option<&'v [Value]> {
        let seq = value.as_seq();
        if seq.is_none() {
            self.wrong_type(value, "a list");
        }
        seq
    }

    fn string(&mut self, value: &Value) -> Option<String> {
        let s = value.as_str().map(str::to_string);
        if s.is_none() {
            self.wrong_type(value, "a string");
        }
        s
    }

    fn uint(&mut self, value: &Value, min: u64, max: u64) -> Option<u64> {
        let Kind::Int(i) = value.kind else {
            self.wrong_type(value, "an integer");
            return None;
        };
        match u64::try_from(i) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, value.span, format!("{i} is out of range")).label("out of range").help(format!("use a whole number from {min} to {max}")),
                );
                None
            }
        }
    }

    fn number(&mut self, value: &Value, min: f64, max: f64) -> Option<f64> {
        let n = match value.kind {
            Kind::Int(i) => i as f64,
            Kind::Float(f) => f,
            _ => {
                self.wrong_type(value, "a number");
                return None;
            }
        };
        if !(min..=max).contains(&n) {
            self.error(Diagnostic::error(Code::InvalidValue, value.span, format!("{n} is out of range")).label("out of range").help(format!("use a number from {min} to {max}")));
            return None;
        }
        Some(n)
    }

    /// A name Temporal keeps (a task queue): see [`temporal_name_problem`].
    fn temporal_name(&mut self, value: &Value, what: &str) -> Option<String> {
        let name = self.string(value)?;
        let Some(problem) = temporal_name_problem(&name) else { return Some(name) };
        self.error(
            Diagnostic::error(Code::InvalidValue, value.span, format!("{what} {problem}"))
                .label("not a name Temporal accepts")
                .help(format!("use printable text of 1 to {TEMPORAL_MAX_NAME} characters")),
        );
        None
    }

    /// A signal name: a Temporal name, and not one of the built-in signals.
    fn signal_name(&mut self, name: &str, span: Span) {
        let problem = match name {
            "pause" | "resume" => format!("`{name}` is a built-in signal of every wfc workflow"),
            _ => match temporal_name_problem(name) {
                Some(problem) => format!("a signal name {problem}"),
                None => return,
            },
        };
        self.error(
            Diagnostic::error(Code::InvalidName, span, problem)
                .label("not a signal name")
                .help("name the signal after what it carries, e.g. `approval`; `pause` and `resume` are built in"),
        );
    }

    /// Checks a literal value against a JSON Schema the flow declares, naming each field that
    /// does not conform. A value with templates is checked where it is rendered, at run time.
    fn conforms(&mut self, value: &Value, schema: &Value, what: &str, against: &str) {
        let mut strings = Vec::new();
        value.strings(&mut strings);
        if strings.iter().any(|s| s.contains("{{")) {
            return;
        }
        let Ok(validator) = jsonschema::validator_for(&schema.to_json()) else { return };
        let errors: Vec<String> = validator
            .iter_errors(&value.to_json())
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                let message = printable(&e.to_string());
                if at.is_empty() { message } else { format!("at `{at}`: {message}") }
            })
            .collect();
        if !errors.is_empty() {
            self.error(
                Diagnostic::error(Code::TypeMismatch, value.span, format!("{what} does not match {against}: {}", errors.join("; ")))
                    .label("does not match the schema")
                    .related(schema.span, "the schema")
                    .help("change the value, or the schema, so that they agree"),
            );
        }
    }

    /// btree's durations in milliseconds (`delayMs`, `timeoutMs`, `waitMs`).
    fn millis(&mut self, value: &Value) -> Option<u64> {
        let ms = self.uint(value, 0, u64::MAX)?;
        match crate::duration::in_range(ms) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.error(
                    Diagnostic::error(Code::InvalidDuration, value.span, format!("{ms}ms {e}"))
                        .label("invalid duration")
                        .help(format!("use a number of milliseconds from 1 to {}", crate::duration::MAX_MS)),
                );
                None
            }
        }
    }

    fn duration(&mut self, value: &Value) -> Option<u64> {
        let Some(text) = value.as_str() else {
            let help = match value.kind {
                Kind::Int(i) => format!("write the unit, e.g. `{i}s` or `{i}ms`"),
                _ => "write a duration such as `500ms`, `30s`, `5 minutes` or `7 days`".to_string(),
            };
            self.error(Diagnostic::error(Code::InvalidDuration, value.span, format!("expected a duration, found {}", value.type_name())).label("not a duration").help(help));
            return None;
        };
        match crate::duration::parse(text) {
            Ok(ms) => Some(ms),
            Err(message) => {
                self.error(
                    Diagnostic::error(Code::InvalidDuration, value.span, message)
                        .label("invalid duration")
                        .help("write a number and a unit, e.g. `500ms`, `30s`, `5 minutes`, `24 hours`, `7 days`"),
                );
                None
            }
        }
    }

    fn wrong_type(&mut self, value: &Value, expected: &str) {
        self.error(
            Diagnostic::error(Code::WrongType, value.span, format!("expected {expected}, found {}", value.type_name()))
                .label(format!("expected {expected}"))
                .help(format!("write {expected} here")),
        );
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
