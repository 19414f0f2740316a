//! wfc: an ahead-of-time compiler from workflow definitions to Temporal worker crates.
//!
//! The pipeline, each step a pure function (see ARCHITECTURE.md):
//! text → [`syntax::parse`] → spanned values → [`lower::lower`] → [`model::Flow`] →
//! [`plan::build`] → [`plan::Plan`] → [`check::check`] → [`codegen::generate`] → files.
//! Only the `wfc` binary does I/O.

pub mod catalog;
pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod duration;
pub mod ident;
pub mod lower;
pub mod model;
pub mod plan;
pub mod render;
pub mod schema;
pub mod source;
pub mod syntax;

use std::collections::BTreeMap;

pub use codegen::{GeneratedFile, Options, RuntimeSource, Sibling};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{SourceFile, Span};

/// The result of checking a flow: the model when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub flow: Option<model::Flow>,
    /// The execution plan, when the flow lowered far enough to construct one (it may be
    /// incomplete when there are errors).
    pub plan: Option<plan::Plan>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, lowers, plans and checks a flow, collecting every diagnostic.
pub fn check(source: &SourceFile) -> Checked {
    check_with(source, &lower::Registry::new())
}

/// [`check`], with activities declared in a registry (`--registry FILE`) for node types the
/// flow does not declare itself.
pub fn check_with(source: &SourceFile, registry: &lower::Registry) -> Checked {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Checked { flow: None, plan: None, diagnostics } };
    let (flow, lowered) = lower::lower(source, &value, registry);
    diagnostics.extend(lowered);
    // Lowering gives up only with a reason; should it not, `check` must still not say "ok"
    // for a document `build` cannot build.
    if flow.is_none() && !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.push(
            Diagnostic::error(Code::Internal, Span::new(0, source.text.len().min(1)), "this document could not be read, and wfc found no reason to report")
                .label("here")
                .help("this is a bug in wfc: please report it with the document"),
        );
    }
    let mut plan = None;
    if let Some(flow) = &flow {
        let (built, planned) = plan::build(flow);
        let plan_ok = !planned.iter().any(Diagnostic::is_error);
        diagnostics.extend(planned);
        if plan_ok {
            diagnostics.extend(check::check(source, flow, &built));
        }
        diagnostics.extend(codegen::schema_diagnostics(flow));
        plan = Some(built);
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    diagnostics.dedup();
    let flow = flow.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked { flow, plan, diagnostics }
}

/// Reads a registry document (`activities:` as in a flow) for [`check_with`].
pub fn registry(source: &SourceFile) -> Result<lower::Registry, Vec<Diagnostic>> {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Err(diagnostics) };
    let (registry, lowered) = lower::registry(source, &value);
    diagnostics.extend(lowered);
    if diagnostics.iter().any(Diagnostic::is_error) { Err(diagnostics) } else { Ok(registry) }
}

/// What the other flows of one `wfc build` know of this one: its name and [`Sibling`] facts.
/// `None` when it does not check.
pub fn sibling(source: &SourceFile, registry: &lower::Registry) -> Option<(String, Sibling)> {
    let flow = check_with(source, registry).flow?;
    Some((flow.name.clone(), Sibling { task_queue: flow.task_queue.clone(), input_schema: flow.input_schema.as_ref().map(syntax::Value::to_json) }))
}

/// A generated worker crate.
#[derive(Debug)]
pub struct Built {
    /// The workflow's name, which names the crate's folder by default.
    pub name: String,
    pub files: Vec<GeneratedFile>,
    /// Warnings found while checking.
    pub warnings: Vec<Diagnostic>,
}

/// Checks a flow and generates its worker crate. Errors come back as diagnostics.
pub fn build(source: &SourceFile, runtime: RuntimeSource) -> Result<Built, Vec<Diagnostic>> {
    build_with(source, runtime, &lower::Registry::new())
}

/// [`build`], with a registry of activities (see [`check_with`]).
pub fn build_with(source: &SourceFile, runtime: RuntimeSource, registry: &lower::Registry) -> Result<Built, Vec<Diagnostic>> {
    build_among(source, runtime, registry, &BTreeMap::new())
}

/// [`build_with`], knowing the other flows built together (see [`sibling`]), so child
/// workflow calls to them are typed.
pub fn build_among(source: &SourceFile, runtime: RuntimeSource, registry: &lower::Registry, siblings: &BTreeMap<String, Sibling>) -> Result<Built, Vec<Diagnostic>> {
    let checked = check_with(source, registry);
    let Some(flow) = checked.flow else { return Err(checked.diagnostics) };
    let plan = checked.plan.unwrap_or_default();
    let options = Options { siblings: siblings.clone(), ..Options::new(source, runtime) };
    let files = codegen::generate(&flow, &plan, &options)?;
    Ok(Built { name: flow.name, files, warnings: checked.diagnostics })
}
