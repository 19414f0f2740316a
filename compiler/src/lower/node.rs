//! One node: its id, its catalog entry, and its configuration turned into a typed
//! [`NodeKind`], every default and alias resolved. Tree nodes and graph nodes come through
//! here alike, so their diagnostics are the same in both forms.

use std::collections::BTreeMap;

use super::{Lowerer, MAX_NAME, NODE_FIELDS, blackboard_path, empty_map, graph, is_identifier, is_node_id};
use crate::catalog::{self, FieldKind, NodeSpec, NodeType};
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::model::{
    ActivityPolicy, Assertion, Builtin, Decorator, Expr, Iterate, LogLevel, Node, NodeKind, Payload, Quorum, RemoteActivity, Repeat, RetryPolicy, Served, SignalWait,
};
use crate::source::Span;
use crate::syntax::{Kind, Value, printable};

/// A configuration field, checked against its [`FieldKind`].
enum Param {
    Expr(Expr),
    Template(Value),
    /// An integer; durations in milliseconds.
    Int(u64),
    Number(f64),
    Bool(bool),
    Str(String),
    Map(Value),
}

/// A node's configuration after its catalog entry's checks.
struct Config {
    /// The `config` map as written (an empty map when there is none).
    value: Value,
    params: BTreeMap<&'static str, Param>,
    /// A `Switch`'s cases and default, given as fields.
    cases: Vec<(String, Node)>,
    default: Option<Node>,
}

impl Config {
    fn int(&self, name: &str) -> Option<u64> {
        match self.params.get(name)? {
            Param::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn text(&self, name: &str) -> Option<&str> {
        match self.params.get(name)? {
            Param::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn expr(&self, name: &str) -> Option<Expr> {
        match self.params.get(name)? {
            Param::Expr(e) => Some(e.clone()),
            _ => None,
        }
    }

    fn template(&self, name: &str) -> Option<Value> {
        match self.params.get(name)? {
            Param::Template(v) => Some(v.clone()),
            _ => None,
        }
    }

    fn number(&self, name: &str) -> Option<f64> {
        match self.params.get(name)? {
            Param::Number(n) => Some(*n),
            _ => None,
        }
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.params.get(name), Some(Param::Bool(true)))
    }

    fn map(&self, name: &str) -> Option<&Value> {
        match self.params.get(name)? {
            Param::Map(v) => Some(v),
            _ => None,
        }
    }
}

impl Lowerer<'_> {
    /// Lowers one node; `path` derives an id when the node has none.
    pub(super) fn node(&mut self, value: &Value, path: &str, defaults: &ActivityPolicy) -> Option<Node> {
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
            (None, Some(spec)) => self.catalog_node(spec, value, type_value.span, &id, defaults)?,
            (None, None) => self.remote_or_unknown(value, type_value, &type_name, defaults)?,
        };
        // Only code of this worker can run in its workflow task; anything else would silently
        // ignore the flag.
        if let Some(local) = value.get("temporal").and_then(|t| t.get("local"))
            && !matches!(kind, NodeKind::Custom { .. })
        {
            self.error(
                Diagnostic::error(Code::InvalidValue, local.span, format!("`{type_name}` nodes cannot run as local activities"))
                    .label("not a custom node type")
                    .help("`temporal: {local: true}` is for custom node types implemented in a crate (`crate:` under `activities:`); remove it"),
            );
        }
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
            patch: None,
            task: None,
        })
    }

    /// The kind of a node whose type is not compiled by name: a call of a declared activity, a
    /// type validated but not compiled yet, or an error naming the closest known types.
    /// A node whose type is not in the catalog: a call of a declared activity, or an error
    /// naming the closest known types.
    fn remote_or_unknown(&mut self, value: &Value, type_value: &Value, type_name: &str, defaults: &ActivityPolicy) -> Option<NodeKind> {
        if let Some(remote) = self.activities.get(type_name).cloned() {
            let input = self.config(value).unwrap_or_else(|| empty_map(value.span));
            let mut policy = self.node_policy(value, defaults);
            if let Some(t) = remote.timeout_ms {
                policy.timeout_ms = t;
            }
            if let Some(schema) = &remote.input {
                self.conforms(&input, schema, &format!("the input of `{}`", remote.name), "its declared `input` schema");
            }
            return Some(match remote.served {
                Served::Queue(task_queue) => NodeKind::Activity { activity: remote.name, task_queue, input: Payload::Template(input), policy },
                Served::Crate(_) => {
                    let local = value.get("temporal").and_then(|t| t.get("local")).and_then(|v| self.boolean(v)).unwrap_or(false);
                    NodeKind::Custom { node_type: remote.name, input: Payload::Template(input), policy, local }
                }
            });
        }
        let mut candidates: Vec<&str> = catalog::all_names().collect();
        candidates.extend(self.activities.keys().map(String::as_str));
        let near = closest(type_name, candidates.iter().copied());
        let help = if near.is_empty() {
            let common = ["Sequence", "Parallel", "Conditional", "HttpRequest", "Log", "Script", "Delay", "Activity"];
            format!("known types include {}; or declare `{type_name}` under `activities:` (or in a `--registry` file)", one_of(&common))
        } else {
            format!("did you mean {}? Or declare `{type_name}` under `activities:` (or in a `--registry` file)", one_of(&near))
        };
        self.error(Diagnostic::error(Code::UnknownNodeType, type_value.span, format!("unknown node type `{type_name}`")).label("unknown type").help(help));
        None
    }

    /// A node of the catalog: its children, its fields checked against its entry, then its
    /// typed kind.
    fn catalog_node(&mut self, spec: &'static NodeSpec, node: &Value, type_span: Span, id: &str, defaults: &ActivityPolicy) -> Option<NodeKind> {
        let config = self.config(node);
        let policy = self.node_policy(node, defaults);
        let children = self.children(node, id, defaults)?;
        let config = self.fields(spec, node, type_span, config, children.len(), id, defaults)?;
        self.typed(spec, config, children, policy, type_span)
    }

    /// Checks a node's configuration against its catalog entry: known fields, required ones,
    /// each field's kind, the number of children; nodes given in fields are lowered.
    #[allow(clippy::too_many_arguments)]
    fn fields(&mut self, spec: &'static NodeSpec, node: &Value, type_span: Span, config: Option<Value>, children: usize, id: &str, defaults: &ActivityPolicy) -> Option<Config> {
        let value = config.unwrap_or_else(|| empty_map(node.get("config").or(node.get("props")).map_or(type_span, |v| v.span)));
        let names: Vec<&str> = spec.fields.iter().map(|(name, _, _)| *name).collect();
        let mut ok = self.known_fields(&value, &names, &format!("a `{}` node's config", spec.name));
        ok &= self.child_count(spec.name, child_limits(spec, &value), spec.child_help, node, type_span, children);
        if !spec.one_of.is_empty() && spec.one_of.iter().all(|k| value.get(k).is_none()) {
            self.error(
                Diagnostic::error(Code::MissingField, value.span, format!("a `{}` node needs {}", spec.name, one_of(spec.one_of)))
                    .label("missing here")
                    .help(format!("add {}", one_of(spec.one_of))),
            );
            ok = false;
        }
        let mut config = Config { value: value.clone(), params: BTreeMap::new(), cases: Vec::new(), default: None };
        for (name, kind, required) in spec.fields {
            let Some(field) = value.get(name) else {
                if *required {
                    ok &= self.required(&value, name, type_span).is_some();
                }
                continue;
            };
            if *name == "signal"
                && let Some(signal) = field.as_str()
            {
                self.signal_name(signal, field.span);
            }
            if matches!(*name, "successThreshold" | "failureThreshold")
                && let Kind::Int(n) = field.kind
                && usize::try_from(n).is_ok_and(|n| n > children)
            {
                self.error(
                    Diagnostic::error(Code::InvalidValue, field.span, format!("`{name}` is {n}, but the Parallel has {children} children"))
                        .label("can never be reached")
                        .help(format!("use a threshold from 1 to {children}")),
                );
                ok = false;
            }
            let param = match kind {
                FieldKind::Expr => self.expr(field).map(Param::Expr),
                FieldKind::Template => Some(Param::Template(field.clone())),
                FieldKind::Duration => self.duration(field).map(Param::Int),
                FieldKind::Int(min) => self.uint(field, *min, i64::MAX as u64).map(Param::Int),
                FieldKind::Millis => self.millis(field).map(Param::Int),
                FieldKind::Number => self.number(field, f64::MIN, f64::MAX).map(Param::Number),
                FieldKind::Bool => match field.kind {
                    Kind::Bool(b) => Some(Param::Bool(b)),
                    _ => {
                        self.wrong_type(field, "a boolean");
                        None
                    }
                },
                FieldKind::Str => self.string(field).map(Param::Str),
                FieldKind::Enum(allowed) => self.enumerated(name, field, allowed).map(Param::Str),
                FieldKind::Map => self.expect_map(field).map(|_| Param::Map(field.clone())),
                FieldKind::Node => {
                    config.default = self.node(field, &format!("{id}-{name}"), defaults);
                    ok &= config.default.is_some();
                    continue;
                }
                FieldKind::NodeMap => {
                    let Some(entries) = self.expect_map(field) else {
                        ok = false;
                        continue;
                    };
                    for (key, case) in entries {
                        match self.node(case, &format!("{id}-{}", key.name), defaults) {
                            Some(n) => config.cases.push((key.name.clone(), n)),
                            None => ok = false,
                        }
                    }
                    continue;
                }
            };
            match param {
                Some(param) => {
                    config.params.insert(name, param);
                }
                None => ok = false,
            }
        }
        ok.then_some(config)
    }

    /// The typed kind of a checked node: every default resolved here, none left to codegen.
    fn typed(&mut self, spec: &'static NodeSpec, config: Config, children: Vec<(Node, Span)>, policy: ActivityPolicy, type_span: Span) -> Option<NodeKind> {
        let count = children.len() as u64;
        let mut kids = children.into_iter().map(|(n, _)| Box::new(n));
        let mut child = || kids.next();
        Some(match spec.node_type {
            NodeType::Sequence | NodeType::MemorySequence => NodeKind::Sequence(child_list(&mut child)),
            NodeType::ReactiveSequence => NodeKind::ReactiveSequence(child_list(&mut child)),
            NodeType::Selector => NodeKind::Selector(child_list(&mut child)),
            NodeType::Parallel => {
                let any = config.text("strategy") == Some("any");
                let successes = config.int("successThreshold").unwrap_or(if any { 1 } else { count }).min(count);
                let failures = config.int("failureThreshold").unwrap_or(count - successes + 1).clamp(1, count);
                NodeKind::Parallel { children: child_list(&mut child), quorum: Quorum { successes, failures }, at_once: config.int("maxConcurrency") }
            }
            NodeType::Conditional => match config.expr("condition") {
                Some(condition) => NodeKind::Conditional { condition, then: child()?, otherwise: child() },
                // btree's form: child 0 is a condition node; it succeeding selects `then`.
                None if count >= 2 => NodeKind::GuardedConditional { condition: child()?, then: child()?, otherwise: child() },
                None => {
                    self.required(&config.value, "condition", type_span);
                    return None;
                }
            },
            NodeType::Switch => NodeKind::Switch { value: config.expr("value")?, cases: config.cases, default: config.default.map(Box::new) },
            NodeType::ForEach => {
                let collection = match (config.expr("collection"), config.value.get("collectionKey")) {
                    (Some(collection), _) => collection,
                    (None, Some(key)) => Expr { source: blackboard_path(key.as_str()?), span: key.span, blackboard: true },
                    (None, None) => return None,
                };
                let item = config.text("itemKey").unwrap_or("item").to_string();
                let index = config.text("indexKey").unwrap_or("index").to_string();
                let concurrency = config.int("maxConcurrency").unwrap_or(1);
                let body = child_list(&mut child);
                NodeKind::Repeat(Repeat { iterate: Iterate::Items { collection, item, index }, max_iterations: u64::MAX, concurrency, body })
            }
            NodeType::While => {
                let iterate = match config.expr("condition") {
                    Some(condition) => Iterate::While { condition, do_while: config.flag("doWhile") },
                    None => Iterate::WhileGuard,
                };
                NodeKind::Repeat(Repeat { iterate, max_iterations: config.int("maxIterations").unwrap_or(1000), concurrency: 1, body: child_list(&mut child) })
            }
            NodeType::Repeat => NodeKind::Repeat(Repeat { iterate: Iterate::Times(config.int("count")?), max_iterations: u64::MAX, concurrency: 1, body: child_list(&mut child) }),
            NodeType::KeepRunningUntilFailure => NodeKind::Repeat(Repeat {
                iterate: Iterate::UntilFailure,
                max_iterations: config.int("maxIterations").unwrap_or(u64::MAX),
                concurrency: 1,
                body: child_list(&mut child),
            }),
            NodeType::Recovery => NodeKind::Recovery { attempt: child()?, catch: child(), finally: child() },
            NodeType::Timeout => NodeKind::Timeout { ms: config.int("timeout").or(config.int("timeoutMs"))?, child: child()? },
            NodeType::Retry => {
                let policy = RetryPolicy {
                    max_attempts: u32::try_from(config.int("maxAttempts").unwrap_or(3)).unwrap_or(u32::MAX),
                    delay_ms: config.int("delay").unwrap_or(1_000),
                    exponential: config.text("backoff") == Some("exponential"),
                    max_delay_ms: config.int("maxDelay").unwrap_or(60_000),
                };
                NodeKind::Retry { policy, child: child()? }
            }
            NodeType::Invert => NodeKind::Decorated { decorator: Decorator::Invert, child: child()? },
            NodeType::ForceSuccess => NodeKind::Decorated { decorator: Decorator::ForceSuccess, child: child()? },
            NodeType::ForceFailure => NodeKind::Decorated { decorator: Decorator::ForceFailure, child: child()? },
            NodeType::RunOnce => NodeKind::Decorated { decorator: Decorator::RunOnce, child: child()? },
            NodeType::Precondition => NodeKind::Precondition { condition: config.expr("condition")?, child: child()? },
            NodeType::SoftAssert => match config.expr("condition") {
                Some(condition) => NodeKind::SoftAssert(Assertion::Condition(condition)),
                None => NodeKind::SoftAssert(Assertion::Child(child()?)),
            },
            NodeType::Delay => NodeKind::Delay { duration_ms: config.int("duration").or(config.int("delayMs"))?, child: child() },
            NodeType::WaitAction => NodeKind::Delay { duration_ms: config.int("waitMs")?, child: None },
            NodeType::HttpRequest => {
                self.builtin_rules(Builtin::Http, &config.value, type_span)?;
                let mut policy = policy;
                if let Some(t) = config.int("timeout") {
                    policy.timeout_ms = t;
                }
                NodeKind::Builtin { builtin: Builtin::Http, config: config.value, policy }
            }
            NodeType::EmailSend | NodeType::SlackMessage | NodeType::DatabaseQuery | NodeType::Ai => {
                let which = match spec.node_type {
                    NodeType::EmailSend => Builtin::Email,
                    NodeType::SlackMessage => Builtin::Slack,
                    NodeType::DatabaseQuery => Builtin::Database,
                    _ => Builtin::Ai,
                };
                self.builtin_rules(which, &config.value, type_span)?;
                NodeKind::Builtin { builtin: which, config: config.value, policy }
            }
            NodeType::Activity => self.activity_call(&config, policy, type_span)?,
            NodeType::SubWorkflow => NodeKind::Child {
                workflow: config.text("workflow")?.to_string(),
                task_queue: config.text("taskQueue").map(str::to_string),
                input: config.template("input").map(Payload::Template),
            },
            NodeType::HumanApproval | NodeType::WaitForSignal => {
                let signal = config.text("signal")?.to_string();
                let schema = match config.map("schema") {
                    Some(schema) => Some(schema.to_json()),
                    None => self.signals.get(&signal).cloned(),
                };
                NodeKind::WaitSignal(SignalWait {
                    signal,
                    schema,
                    timeout_ms: config.int("timeout"),
                    continue_on_timeout: config.text("onTimeout") == Some("continue"),
                    listen: None,
                })
            }
            NodeType::Pause => NodeKind::Pause,
            NodeType::Log => {
                let level = match config.text("level") {
                    Some("debug") => LogLevel::Debug,
                    Some("warn") => LogLevel::Warn,
                    Some("error") => LogLevel::Error,
                    _ => LogLevel::Info,
                };
                NodeKind::Log { message: config.template("message")?, level, output_key: self.output_key(&config)? }
            }
            NodeType::SetVariable => {
                let name = self.variable_name(config.value.get("name")?)?;
                NodeKind::SetVariable { name, value: config.template("value")? }
            }
            NodeType::Script => NodeKind::Script { assignments: self.script(config.value.get("script")?)? },
            NodeType::CheckCondition => NodeKind::CheckCondition { condition: self.check_condition(&config.value)? },
            NodeType::AlwaysCondition | NodeType::SuccessNode => NodeKind::Succeed,
            NodeType::FailureNode => NodeKind::Fail { message: Value { kind: Kind::String("FailureNode".into()), span: type_span } },
            NodeType::Fail => NodeKind::Fail { message: config.template("message").unwrap_or(Value { kind: Kind::String("failed".into()), span: type_span }) },
            NodeType::Template => NodeKind::Template { template: config.template("template")? },
            NodeType::JsonPath => NodeKind::JsonPath { input: config.template("input")?, path: config.text("path")?.to_string() },
            NodeType::CounterAction => {
                let key = config.text("key").or(config.text("counterKey"))?.to_string();
                NodeKind::Counter { key, increment: config.number("increment").unwrap_or(1.0) }
            }
            NodeType::RegexExtract => NodeKind::RegexExtract {
                input: config.template("input")?,
                pattern: config.text("pattern")?.to_string(),
                group: config.int("group").unwrap_or(0),
                output_key: self.output_key(&config)?,
            },
        })
    }

    /// An `Activity` node: the activity must be declared, or the node must name its task queue.
    fn activity_call(&mut self, config: &Config, policy: ActivityPolicy, type_span: Span) -> Option<NodeKind> {
        let name_value = self.required(&config.value, "activity", type_span)?;
        let activity = self.string(name_value)?;
        let declared = self.activities.get(&activity).cloned();
        let task_queue = match (config.text("taskQueue"), &declared) {
            (Some(tq), _) => tq.to_string(),
            (None, Some(RemoteActivity { served: Served::Queue(task_queue), .. })) => task_queue.clone(),
            (None, Some(RemoteActivity { served: Served::Crate(_), .. })) => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, name_value.span, format!("`{activity}` is a custom node type, served by this worker"))
                        .label("implemented in a crate")
                        .help(format!("write the node as `type: {activity}` with its input as `config`")),
                );
                return None;
            }
            (None, None) => {
                let names: Vec<&str> = self.activities.keys().map(String::as_str).collect();
                let near = closest(&activity, names.iter().copied());
                let help = if near.is_empty() {
                    format!("declare `{activity}` under `activities:` with its `taskQueue`, or give this node a `taskQueue`")
                } else {
                    format!("did you mean {}? Otherwise declare `{activity}` under `activities:`", one_of(&near))
                };
                self.error(Diagnostic::error(Code::UnknownActivity, name_value.span, format!("activity `{activity}` is not declared")).label("undeclared activity").help(help));
                return None;
            }
        };
        let mut policy = policy;
        if let Some(t) = declared.as_ref().and_then(|a| a.timeout_ms) {
            policy.timeout_ms = t;
        }
        let input = config.template("input").unwrap_or_else(|| empty_map(config.value.span));
        if let Some(schema) = declared.and_then(|a| a.input) {
            self.conforms(&input, &schema, &format!("the input of `{activity}`"), "its declared `input` schema");
        }
        Some(NodeKind::Activity { activity, task_queue, input: Payload::Template(input), policy })
    }

    /// `outputKey`: a variable name, or btree's dotted blackboard key whose first part is one.
    /// `Some(None)` when there is none; `None` when it is invalid (and reported).
    fn output_key(&mut self, config: &Config) -> Option<Option<String>> {
        let Some(value) = config.value.get("outputKey") else { return Some(None) };
        let key = self.string(value)?;
        if !key.split('.').enumerate().all(|(i, part)| if i == 0 { is_identifier(part) } else { !part.is_empty() }) {
            self.error(
                Diagnostic::error(Code::InvalidName, value.span, format!("`{}` is not a valid variable name", printable(&key)))
                    .label("invalid name")
                    .help("a variable name starts with a letter or `_` and has only letters, digits and `_` (btree's keys may add `.part`s)"),
            );
            return None;
        }
        Some(Some(key))
    }

    pub(super) fn config(&mut self, node: &Value) -> Option<Value> {
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

    pub(super) fn node_policy(&mut self, node: &Value, defaults: &ActivityPolicy) -> ActivityPolicy {
        let mut policy = *defaults;
        let Some(temporal) = node.get("temporal") else { return policy };
        if !self.known_fields(temporal, &["timeout", "retryAttempts", "retryBackoff", "retry", "local"], "`temporal` options") {
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
    pub(super) fn children(&mut self, node: &Value, parent_id: &str, defaults: &ActivityPolicy) -> Option<Vec<(Node, Span)>> {
        let Some(children) = node.get("children") else { return Some(Vec::new()) };
        let items = self.expect_seq(children)?;
        let parent_path = if parent_id == "root" { String::new() } else { format!("{parent_id}-") };
        let lowered: Vec<(Node, Span)> =
            items.iter().enumerate().filter_map(|(i, child)| self.node(child, &format!("{parent_path}{i}"), defaults).map(|n| (n, child.span))).collect();
        (lowered.len() == items.len()).then_some(lowered)
    }

    /// Builds a node's kind from its type, configuration and children.
    /// Reports a wrong number of children; true when the count is right.
    pub(super) fn child_count(&mut self, name: &str, (min, max): (usize, usize), help: &str, node: &Value, type_span: Span, found: usize) -> bool {
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
    /// `script:` lines of the form `name = expression`; blank lines and `#`/`//` comments skipped.
    pub(super) fn script(&mut self, script: &Value) -> Option<Vec<(String, Expr)>> {
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
    pub(super) fn check_condition(&mut self, config: &Value) -> Option<Expr> {
        match config.get("condition") {
            Some(condition) => self.expr(condition),
            None => self.key_condition(config),
        }
    }

    /// btree's condition form: a map of `key` (a dotted blackboard key), `operator` (default
    /// `==`) and `value` (default `true`).
    pub(super) fn key_condition(&mut self, map: &Value) -> Option<Expr> {
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
    pub(super) fn expr(&mut self, value: &Value) -> Option<Expr> {
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
    pub(super) fn enumerated(&mut self, field: &str, value: &Value, allowed: &[&str]) -> Option<String> {
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

    pub(super) fn variable_name(&mut self, value: &Value) -> Option<String> {
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
}

/// The children a node takes, given its configuration: a `Conditional` with a `condition` has
/// no condition child; a `While` with one has no guard child; a `SoftAssert` checks a
/// condition or a child.
fn child_limits(spec: &NodeSpec, config: &Value) -> (usize, usize) {
    let has_condition = config.get("condition").is_some();
    match (spec.node_type, has_condition) {
        (NodeType::Conditional, true) => (1, 2),
        (NodeType::While, true) => (1, 1),
        (NodeType::While, false) => (2, 2),
        (NodeType::SoftAssert, true) => (0, 0),
        (NodeType::SoftAssert, false) => (1, 1),
        _ => spec.children,
    }
}

/// The rest of a node's children, in order.
fn child_list(next: &mut impl FnMut() -> Option<Box<Node>>) -> Vec<Node> {
    std::iter::from_fn(next).map(|n| *n).collect()
}
