//! Expression checking: every template parses, and every name it reads is in scope.
//!
//! Names in scope everywhere: `input`, `workflow`, `var`, `nodes`, every node id (with `-` read
//! as `_`), every variable the flow sets, and the input schema's top-level properties (the btree
//! blackboard). `env` is in scope only in the configuration of nodes that run as activities on
//! this worker, where it is resolved inside the activity.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::ident;
use crate::model::{Expr, Flow, Node, NodeKind};
use crate::source::{SourceFile, Span};
use crate::syntax::{Kind, Value};

/// Names every expression may read.
pub const RESERVED: &[&str] = &["input", "workflow", "var", "nodes", "env"];

/// Checks every expression of the flow.
pub fn check(source: &SourceFile, flow: &Flow) -> Vec<Diagnostic> {
    let mut checker = Checker { source, scope: BTreeMap::new(), diagnostics: Vec::new(), open_blackboard: flow.open_blackboard };
    checker.collect_names(flow);
    for node in flow.root.walk() {
        checker.node(node);
    }
    if let Some(output) = &flow.output {
        checker.template_value(output, Place::Workflow);
    }
    checker.diagnostics
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
}

impl Checker<'_> {
    fn collect_names(&mut self, flow: &Flow) {
        for node in flow.root.walk() {
            let name = ident::expr_name(&node.id);
            self.define(name, format!("node `{}`", node.id), node.id_span);
        }
        for node in flow.root.walk() {
            let variables: Vec<&str> = match &node.kind {
                NodeKind::SetVariable { name, .. } => vec![name],
                NodeKind::Script { assignments } => assignments.iter().map(|(n, _)| n.as_str()).collect(),
                NodeKind::Log { output_key: Some(name), .. } => vec![name],
                NodeKind::Pending { writes, .. } => writes.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            for variable in variables {
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

    fn node(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Conditional { condition, .. } | NodeKind::CheckCondition { condition } => {
                self.expr(condition, Place::Workflow);
            }
            NodeKind::Pending { exprs, templates, activity, .. } => {
                for expr in exprs {
                    self.expr(expr, Place::Workflow);
                }
                let place = if *activity { Place::Activity } else { Place::Workflow };
                for template in templates {
                    self.template_value(template, place);
                }
            }
            NodeKind::Script { assignments } => {
                for (_, expr) in assignments {
                    self.expr(expr, Place::Workflow);
                }
            }
            NodeKind::HttpRequest { config, .. } => self.template_value(config, Place::Activity),
            NodeKind::Activity { input, .. } => self.template_value(input, Place::RemoteActivity),
            NodeKind::Log { message: v, .. } | NodeKind::SetVariable { value: v, .. } | NodeKind::Fail { message: v } => {
                self.template_value(v, Place::Workflow);
            }
            NodeKind::Sequence(_) | NodeKind::Parallel(_) | NodeKind::Delay { .. } => {}
        }
    }

    /// Checks every string inside a JSON-like value as a template.
    fn template_value(&mut self, value: &Value, place: Place) {
        match &value.kind {
            Kind::String(text) => self.template(text, value.span, place),
            Kind::Seq(items) => items.iter().for_each(|v| self.template_value(v, place)),
            Kind::Map(entries) => entries.iter().for_each(|(_, v)| self.template_value(v, place)),
            _ => {}
        }
    }

    fn template(&mut self, text: &str, span: Span, place: Place) {
        match wfc_expr::Template::parse(text) {
            Ok(template) => {
                for e in template.exprs() {
                    let expr_span = self.source.span_in_string(span, text, e.offset, e.source.len());
                    self.expr(&Expr { source: e.source.to_string(), span: expr_span, blackboard: false }, place);
                }
            }
            Err(e) => self.diagnostics.push(
                Diagnostic::error(Code::ExpressionSyntax, self.source.span_in_string(span, text, e.offset, e.len), e.message)
                    .label("here")
                    .help("templates are written `{{ expression }}`"),
            ),
        }
    }

    fn expr(&mut self, expr: &Expr, place: Place) {
        if expr.blackboard {
            // btree's key form: the names are blackboard keys, looked up (and missing) at run time.
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
            if RESERVED.contains(&name.as_ref()) || self.scope.contains_key(name) {
                continue;
            }
            let candidates: Vec<&str> = self.scope.keys().map(String::as_str).chain(RESERVED.iter().copied()).collect();
            let near = closest(name, candidates.iter().copied());
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
}
