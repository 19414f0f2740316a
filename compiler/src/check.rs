//! Expression checking: every template parses, and every name it reads is in scope.
//!
//! Names in scope everywhere: `input`, `workflow`, `var`, `nodes`, every node id (with `-` read
//! as `_`), every variable the flow sets, and the input schema's top-level properties (the btree
//! blackboard). `env` is in scope only in the configuration of nodes that run as activities on
//! this worker, where it is resolved inside the activity. `loop.*`, `parallel.*` and `error.*`
//! are in scope only inside a loop, a parallel container and an error route.
//!
//! The plan decides the rest: a node read must have completed on every path to the read
//! (unless the expression tests it with `has()`), and a node inside a loop or parallel body is
//! read only from inside that body. Where the input schema gives a type, a condition must be a
//! boolean and a collection a list.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::ident;
use crate::model::{Assertion, Expr, Flow, Iterate, LoopKind, Node, NodeKind, Payload, Repeat};
use crate::plan::facts::Facts;
use crate::plan::{Plan, RegionIdx, RegionKind, StepIdx};
use crate::source::{SourceFile, Span};
use crate::syntax::{Kind, Value};

/// Names every expression may read (`loop`, `parallel` and `error` only in their regions).
pub const RESERVED: &[&str] = &["input", "workflow", "var", "nodes", "env", "loop", "parallel", "error"];

/// Which node outputs the flow's expressions read, and where: what liveness starts from.
#[derive(Debug, Default)]
pub struct Reads {
    /// The step whose expression reads, and the node read.
    pub at: Vec<(StepIdx, String)>,
    /// Some expression reads `nodes`, every output at once.
    pub everything: bool,
}

/// Checks every expression of the flow against its plan, and says which outputs they read.
pub fn check(source: &SourceFile, flow: &Flow, plan: &Plan) -> (Vec<Diagnostic>, Reads) {
    let mut checker = Checker {
        source,
        scope: BTreeMap::new(),
        diagnostics: Vec::new(),
        open_blackboard: flow.open_blackboard,
        plan,
        facts: Facts::new(plan),
        steps: plan.step_of(),
        node_ids: BTreeMap::new(),
        input_schema: flow.input_schema.as_ref(),
        bound: BTreeMap::new(),
        suggestions_left: 200,
        reads: Reads::default(),
    };
    checker.collect_names(flow);
    checker.bind_loop_names(flow);
    for node in flow.nodes() {
        // A node the path stage dropped never runs: its expressions are not checked further.
        if let Some(&at) = checker.steps.get(node.id.as_str()) {
            checker.node(node, at);
        }
    }
    if let Some(output) = &flow.output {
        let end = plan.region(RegionIdx::WORKFLOW).end;
        checker.template_value(output, Place::Workflow, end);
    }
    (checker.diagnostics, checker.reads)
}

/// Where an expression is evaluated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Inside workflow code: deterministic, no secrets.
    Workflow,
    /// The configuration of an activity that runs on this worker: `env.*` allowed.
    Activity,
    /// The input of an activity served by another worker, which cannot resolve secrets.
    RemoteActivity,
}

struct Checker<'a> {
    source: &'a SourceFile,
    /// Expression name → what defines it (for messages) and where.
    scope: BTreeMap<String, (String, Span)>,
    diagnostics: Vec<Diagnostic>,
    /// Unknown bare names are input fields of a schemaless btree document: warn, do not fail.
    open_blackboard: bool,
    plan: &'a Plan,
    facts: Facts<'a>,
    /// Node id → the step that runs it.
    steps: std::collections::HashMap<&'a str, StepIdx>,
    /// Expression name → node id.
    node_ids: BTreeMap<String, String>,
    input_schema: Option<&'a Value>,
    /// Node id → names a `ForEach` around it binds (its `itemKey` and `indexKey`).
    bound: BTreeMap<String, Vec<String>>,
    /// How many more unknown names get a "did you mean" suggestion.
    suggestions_left: usize,
    reads: Reads,
}

impl Checker<'_> {
    /// A `ForEach` binds its item and index names (`item`, `index` unless renamed) for the
    /// nodes inside it.
    fn bind_loop_names(&mut self, flow: &Flow) {
        for node in flow.nodes() {
            let NodeKind::Repeat(Repeat { iterate: Iterate::Items { item, index, .. }, .. }) = &node.kind else { continue };
            let names = [item.as_str(), index.as_str()];
            for inner in node.walk().into_iter().skip(1) {
                self.bound.entry(inner.id.clone()).or_default().extend(names.iter().map(|n| n.to_string()));
            }
        }
    }

    fn collect_names(&mut self, flow: &Flow) {
        for node in flow.nodes() {
            let name = ident::expr_name(&node.id);
            self.node_ids.insert(name.clone(), node.id.clone());
            self.define(name, format!("node `{}`", node.id), node.id_span);
        }
        for node in flow.nodes() {
            for variable in node.writes() {
                // Several nodes may set the same variable: that is what variables are for.
                if !self.scope.get(variable).is_some_and(|(what, _)| what.starts_with("variable")) {
                    self.define(variable.to_string(), format!("variable `{variable}`"), node.span);
                }
            }
        }
        if let Some(properties) = flow.input_schema.as_ref().and_then(|s| s.get("properties")).and_then(Value::as_map) {
            for (key, _) in properties {
                self.scope.entry(key.name.clone()).or_insert((format!("input field `{}`", key.name), key.span));
            }
        }
    }

    fn define(&mut self, name: String, what: String, span: Span) {
        if RESERVED.contains(&name.as_str()) {
            self.diagnostics.push(
                Diagnostic::error(Code::IdCollision, span, format!("{what} takes the reserved name `{name}`"))
                    .label("reserved in expressions")
                    .help(format!("rename it: {} are reserved", one_of(RESERVED))),
            );
            return;
        }
        if let Some((other, first)) = self.scope.get(&name) {
            if *other == what {
                // The same id twice: already reported as a duplicate id.
                return;
            }
            self.diagnostics.push(
                Diagnostic::error(Code::IdCollision, span, format!("{what} and {other} are both `{name}` in expressions"))
                    .label("collides")
                    .related(*first, "the other one")
                    .help("expressions read `-` as `_`, so these names are the same: rename one"),
            );
            return;
        }
        self.scope.insert(name, (what, span));
    }

    fn node(&mut self, node: &Node, at: StepIdx) {
        let region = match self.plan.step(at).role {
            crate::plan::Role::Container(region) => Some(self.plan.region(region)),
            _ => None,
        };
        // A loop condition is evaluated inside the loop: before each iteration (`while`) or
        // after it (`doWhile`), where the body's nodes are visible.
        let loop_check = |do_while: bool| region.map_or(at, |r| if do_while { r.end } else { r.start });
        match &node.kind {
            NodeKind::Conditional { condition, .. } | NodeKind::CheckCondition { condition } => {
                self.expr(condition, Place::Workflow, at);
                self.expect_type(condition, "boolean", "a condition");
            }
            NodeKind::Precondition { condition, .. } | NodeKind::SoftAssert(Assertion::Condition(condition)) => {
                self.expr(condition, Place::Workflow, at);
                self.expect_type(condition, "boolean", "a condition");
            }
            NodeKind::Switch { value, .. } => self.expr(value, Place::Workflow, at),
            NodeKind::Repeat(repeat) => match &repeat.iterate {
                Iterate::Items { collection, .. } => {
                    self.expr(collection, Place::Workflow, at);
                    self.expect_type(collection, "array", "a collection");
                }
                Iterate::While { condition, do_while } => {
                    self.expr(condition, Place::Workflow, loop_check(*do_while));
                    self.expect_type(condition, "boolean", "a condition");
                }
                // jq is checked where it is lowered, with the `$` names in scope there.
                Iterate::Times(_) | Iterate::UntilFailure | Iterate::WhileGuard | Iterate::Each { .. } => {}
            },
            NodeKind::Child { input: Some(Payload::Template(v)), .. }
            | NodeKind::Template { template: v }
            | NodeKind::JsonPath { input: v, .. }
            | NodeKind::RegexExtract { input: v, .. } => {
                self.template_value(v, Place::Workflow, at);
            }
            NodeKind::Script { assignments } => {
                for (_, expr) in assignments {
                    self.expr(expr, Place::Workflow, at);
                }
            }
            NodeKind::Builtin { config, .. } => self.template_value(config, Place::Activity, at),
            // A custom node's input is rendered in the workflow like a remote activity's: `env`
            // would put a secret into history, so its implementation reads its own settings.
            NodeKind::Activity { input: Payload::Template(input), .. } | NodeKind::Custom { input: Payload::Template(input), .. } => {
                self.template_value(input, Place::RemoteActivity, at)
            }
            NodeKind::Log { message: v, .. } | NodeKind::SetVariable { value: v, .. } | NodeKind::Fail { message: v } => {
                self.template_value(v, Place::Workflow, at);
            }
            NodeKind::Condition { branches: routes } | NodeKind::Router { routes, value: None } => {
                for condition in routes.iter().filter_map(|b| b.condition.as_ref()) {
                    self.expr(condition, Place::Workflow, at);
                    self.expect_type(condition, "boolean", "a condition");
                }
            }
            NodeKind::Router { value: Some(value), .. } => self.expr(value, Place::Workflow, at),
            NodeKind::Loop(spec) => match &spec.kind {
                LoopKind::For { .. } => {}
                LoopKind::ForEach { collection } => {
                    self.expr(collection, Place::Workflow, at);
                    self.expect_type(collection, "array", "a collection");
                }
                LoopKind::While { condition, do_while } => {
                    self.expr(condition, Place::Workflow, loop_check(*do_while));
                    self.expect_type(condition, "boolean", "a condition");
                }
            },
            NodeKind::ParallelGroup(spec) => {
                if let crate::model::FanOut::Collection(collection) = &spec.fan_out {
                    self.expr(collection, Place::Workflow, at);
                    self.expect_type(collection, "array", "a collection");
                }
            }
            NodeKind::Sequence(_)
            | NodeKind::ReactiveSequence(_)
            | NodeKind::Selector(_)
            | NodeKind::Parallel { .. }
            | NodeKind::GuardedConditional { .. }
            | NodeKind::Recovery { .. }
            | NodeKind::Timeout { .. }
            | NodeKind::Retry { .. }
            | NodeKind::Decorated { .. }
            | NodeKind::SoftAssert(Assertion::Child(_))
            | NodeKind::Delay { .. }
            | NodeKind::Child { input: None | Some(Payload::Jq(_)), .. }
            | NodeKind::Activity { input: Payload::Jq(_), .. }
            | NodeKind::Custom { input: Payload::Jq(_), .. }
            | NodeKind::WaitSignal(_)
            | NodeKind::Pause
            | NodeKind::Succeed
            | NodeKind::Counter { .. }
            | NodeKind::Start
            | NodeKind::Jq(_)
            | NodeKind::Call { .. }
            | NodeKind::Choice { .. }
            | NodeKind::Try { .. } => {}
        }
    }

    /// Where the input schema gives the type of an expression that is a bare `input.…` path,
    /// it must be `want`.
    fn expect_type(&mut self, expr: &Expr, want: &str, what: &str) {
        if expr.blackboard {
            return;
        }
        let Some(path) = expr.source.strip_prefix("input.") else { return };
        if !path.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
            return;
        }
        let mut schema = self.input_schema;
        for field in path.split('.') {
            schema = schema.and_then(|s| s.get("properties")).and_then(|p| p.get(field));
        }
        let Some(found) = schema.and_then(|s| s.get("type")).and_then(Value::as_str) else { return };
        if found != want {
            self.diagnostics.push(
                Diagnostic::error(Code::TypeMismatch, expr.span, format!("{what} must be {}, but `{}` is {} in the input schema", article(want), expr.source, article(found)))
                    .label(format!("{found}, not {want}"))
                    .help(if want == "boolean" {
                        format!("compare it, e.g. `{} == ...`, or test it with `has()`", expr.source)
                    } else {
                        "iterate over a list field of the input".to_string()
                    }),
            );
        }
    }

    /// Checks every string inside a JSON-like value as a template.
    fn template_value(&mut self, value: &Value, place: Place, at: StepIdx) {
        match &value.kind {
            Kind::String(text) => self.template(text, value.span, place, at),
            Kind::Seq(items) => items.iter().for_each(|v| self.template_value(v, place, at)),
            Kind::Map(entries) => entries.iter().for_each(|(_, v)| self.template_value(v, place, at)),
            _ => {}
        }
    }

    fn template(&mut self, text: &str, span: Span, place: Place, at: StepIdx) {
        match wfc_expr::Template::parse(text) {
            Ok(template) => {
                let positions = self.source.string_positions(span, text);
                for e in template.exprs() {
                    let expr_span = positions.span(e.offset, e.source.len());
                    self.expr(&Expr { source: e.source.to_string(), span: expr_span, blackboard: false }, place, at);
                }
            }
            Err(e) => self.diagnostics.push(
                Diagnostic::error(Code::ExpressionSyntax, self.source.span_in_string(span, text, e.offset, e.len), e.message)
                    .label("here")
                    .help("templates are written `{{ expression }}`"),
            ),
        }
    }

    fn expr(&mut self, expr: &Expr, place: Place, at: StepIdx) {
        if expr.blackboard {
            // btree's key form: the names are blackboard keys, looked up (and missing) at run
            // time; one that is a node's name still reads its output.
            for name in wfc_expr::parse_expr(&expr.source).map(|r| r.variables).unwrap_or_default() {
                if let Some(node_id) = self.node_ids.get(&name) {
                    self.reads.at.push((at, node_id.clone()));
                }
            }
            return;
        }
        let exact = expr.span.end - expr.span.start == expr.source.len();
        let sub = |offset: usize, len: usize| if exact { expr.span.slice(offset, len) } else { expr.span };
        let references = match wfc_expr::parse_expr(&expr.source) {
            Ok(r) => r,
            Err(e) => {
                self.diagnostics.push(
                    Diagnostic::error(Code::ExpressionSyntax, sub(e.offset, e.len), format!("invalid expression: {}", e.message))
                        .label("here")
                        .help("expressions are CEL, e.g. `input.amount > 100 && create_user.status == 201`"),
                );
                return;
            }
        };
        let uses_env = references.variables.iter().any(|v| v == "env");
        for name in &references.variables {
            let span = wfc_expr::identifier_offsets(&expr.source, name).first().map_or(expr.span, |at| sub(*at, name.len()));
            if name == "env" {
                match place {
                    Place::Activity if references.env_whole => self.diagnostics.push(
                        Diagnostic::error(Code::EnvByName, span, "`env` is read as a whole")
                            .label("the whole environment")
                            .help("read each variable by name, e.g. `{{ env.API_TOKEN }}`: only the names a flow selects reach its activities"),
                    ),
                    Place::Activity => {}
                    Place::Workflow => self.diagnostics.push(
                        Diagnostic::error(Code::EnvOutsideActivity, span, "`env` is read outside activity configuration")
                            .label("secret in workflow code")
                            .help("environment values are resolved inside activities (e.g. an `HttpRequest` header) so that they never enter workflow history"),
                    ),
                    Place::RemoteActivity => self.diagnostics.push(
                        Diagnostic::error(Code::EnvOutsideActivity, span, "`env` is read in the input of an activity served by another worker")
                            .label("secret would travel in history")
                            .help("that worker cannot resolve wfc's `env`: read the secret from its own environment instead"),
                    ),
                }
                continue;
            }
            if uses_env && place == Place::Activity {
                self.diagnostics.push(
                    Diagnostic::error(Code::EnvMixedWithData, span, format!("`env` and `{name}` are read in the same expression"))
                        .label("workflow data next to a secret")
                        .help("the `env` part is resolved inside the activity: put it in its own `{{ }}`, e.g. `\"{{ input.base }}/x?key={{ env.KEY }}\"`"),
                );
                continue;
            }
            if let Some(problem) = self.region_scope(name, at) {
                let (message, label, help) = problem;
                self.diagnostics.push(Diagnostic::error(Code::OutOfScope, span, message).label(label).help(help));
                continue;
            }
            if let Some(node_id) = self.node_ids.get(name).cloned() {
                self.completion(&node_id, name, &references.guarded, at, span);
                self.reads.at.push((at, node_id));
                continue;
            }
            if name == "nodes" {
                self.reads.everything = true;
            }
            if RESERVED.contains(&name.as_ref()) || self.scope.contains_key(name) {
                continue;
            }
            if self.bound.get(&self.plan.step(at).node).is_some_and(|names| names.contains(name)) {
                continue;
            }
            // "Did you mean" compares with every name in scope; past the first few hundred
            // unknown names (a generated or hostile flow), that would make checking quadratic.
            let near = if self.suggestions_left > 0 {
                self.suggestions_left -= 1;
                closest(name, self.scope.keys().map(String::as_str).chain(RESERVED.iter().copied()))
            } else {
                Vec::new()
            };
            let help = if near.is_empty() {
                "expressions read `input`, `workflow`, node outputs by id (`-` reads as `_`), and variables".to_string()
            } else {
                format!("did you mean {}?", one_of(&near))
            };
            if self.open_blackboard {
                self.diagnostics.push(
                    Diagnostic::warning(Code::UnknownReference, span, format!("`{name}` is not a node or variable: it is read from the input at run time"))
                        .label("read from the blackboard")
                        .help(format!("if `{name}` is meant to be an input field, write `input.{name}` to say so; otherwise {help}")),
                );
                continue;
            }
            self.diagnostics.push(
                Diagnostic::error(Code::UnknownReference, span, format!("unknown name `{name}`: no node, variable or input field has it"))
                    .label("not defined in this flow")
                    .help(help),
            );
        }
    }

    /// `loop`, `parallel` and `error` outside the region that defines them.
    fn region_scope(&self, name: &str, at: StepIdx) -> Option<(String, String, String)> {
        let missing = match name {
            "loop" => self.facts.enclosing(at, |k| matches!(k, RegionKind::Loop { .. })).is_none(),
            "parallel" => self.facts.enclosing(at, |k| matches!(k, RegionKind::Parallel { .. } | RegionKind::Branch { .. })).is_none(),
            "error" => !self.facts.in_error_route(at),
            _ => return None,
        };
        let help = match name {
            "loop" => "`loop.index`, `loop.item` and friends exist inside a loop's body (a `Loop` container, `ForEach`, `While`, `Repeat`)",
            "parallel" => "`parallel.index` and `parallel.currentItem` exist inside a `Parallel` container's body",
            _ => "`error.message`, `error.type` and `error.node` exist in nodes reached only through an `error` edge or `onError`",
        };
        missing.then(|| (format!("`{name}` is read outside its region"), format!("no `{name}` here"), help.to_string()))
    }

    /// A node read must be visible here and have completed on every path here.
    fn completion(&mut self, node_id: &str, name: &str, guarded: &[String], at: StepIdx, span: Span) {
        let Some(&node) = self.steps.get(node_id) else { return };
        if let Err(region) = self.facts.visible(node, at) {
            let container = self.plan.region(region).container.map_or(node_id.to_string(), |c| self.plan.step(c).node.clone());
            let container = if matches!(self.plan.region(region).kind, RegionKind::Branch { .. }) {
                self.plan.region(region).parent.and_then(|p| self.plan.region(p).container).map_or(container, |c| self.plan.step(c).node.clone())
            } else {
                container
            };
            self.diagnostics.push(
                Diagnostic::error(Code::OutOfScope, span, format!("`{node_id}` runs inside `{container}`, once per iteration or branch"))
                    .label("not one value here")
                    .help(format!("read `{}` (the container's result) instead, or move this node into `{container}`", ident::expr_name(&container))),
            );
            return;
        }
        if guarded.iter().any(|g| g == name) || self.facts.guaranteed(at, node) {
            return;
        }
        self.diagnostics.push(Diagnostic::error(Code::NotGuaranteed, span, format!("`{node_id}` may not have completed here")).label("not guaranteed on every path").help(
            format!("on some path to this use `{node_id}` is skipped, fails into an error route or has not run yet; guard the read: `has({name}.field) ? {name}.field : default`"),
        ));
    }
}

fn article(word: &str) -> String {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {word}"),
        _ => format!("a {word}"),
    }
}
