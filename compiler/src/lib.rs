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

/// What checking and building need beyond the flow's text: the one options struct of every
/// entry point ([`check`], [`build`], [`generate`]).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Activities declared outside the flow (`--registry FILE`), for node types the flow does
    /// not declare itself.
    pub registry: lower::Registry,
    /// How the generated crate depends on `wfc-runtime`.
    pub runtime: RuntimeSource,
    /// The other flows of the same build, by workflow name (see [`Checked::sibling`]), so child
    /// workflow calls to them are typed.
    pub siblings: BTreeMap<String, Sibling>,
}

impl Default for BuildOptions {
    /// No registry, no siblings, and the `wfc-runtime` release matching this compiler.
    fn default() -> Self {
        BuildOptions { registry: lower::Registry::new(), runtime: RuntimeSource::Version(env!("CARGO_PKG_VERSION").to_string()), siblings: BTreeMap::new() }
    }
}

impl BuildOptions {
    /// The defaults, with the generated crate depending on `runtime`.
    pub fn with_runtime(runtime: RuntimeSource) -> Self {
        BuildOptions { runtime, ..BuildOptions::default() }
    }
}

/// The result of checking a flow: the model when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub flow: Option<model::Flow>,
    /// The execution plan, when the flow lowered far enough to construct one (it may be
    /// incomplete when there are errors).
    pub plan: Option<plan::Plan>,
    /// After which node each output is dead (empty when the flow has errors).
    pub releases: plan::liveness::Releases,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// What the other flows of one build know of this one: its name and [`Sibling`] facts.
    /// `None` when it does not check.
    pub fn sibling(&self) -> Option<(String, Sibling)> {
        let flow = self.flow.as_ref()?;
        Some((flow.name.clone(), Sibling { task_queue: flow.task_queue.clone(), input_schema: flow.input_schema.as_ref().map(syntax::Value::to_json) }))
    }
}

/// Parses, lowers, plans and checks a flow, collecting every diagnostic.
pub fn check(source: &SourceFile, options: &BuildOptions) -> Checked {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Checked { flow: None, plan: None, releases: Default::default(), diagnostics } };
    let (flow, lowered) = lower::lower(source, &value, &options.registry);
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
    let mut reads = check::Reads::default();
    if let Some(flow) = &flow {
        let (built, planned) = plan::build(flow);
        let plan_ok = !planned.iter().any(Diagnostic::is_error);
        diagnostics.extend(planned);
        if plan_ok {
            let (checked, read) = check::check(source, flow, &built);
            diagnostics.extend(checked);
            reads = read;
        }
        diagnostics.extend(codegen::schema_diagnostics(flow));
        plan = Some(built);
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    diagnostics.dedup();
    let flow = flow.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    let releases = match (&flow, &plan) {
        (Some(flow), Some(plan)) => plan::liveness::releases(flow, plan, &reads),
        _ => Default::default(),
    };
    Checked { flow, plan, releases, diagnostics }
}

/// Reads a registry document (`activities:` as in a flow) for [`BuildOptions::registry`].
pub fn registry(source: &SourceFile) -> Result<lower::Registry, Vec<Diagnostic>> {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Err(diagnostics) };
    let (registry, lowered) = lower::registry(source, &value);
    diagnostics.extend(lowered);
    if diagnostics.iter().any(Diagnostic::is_error) { Err(diagnostics) } else { Ok(registry) }
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
pub fn build(source: &SourceFile, options: &BuildOptions) -> Result<Built, Vec<Diagnostic>> {
    generate(source, check(source, options), options)
}

/// Generates the worker crate of a flow already checked (a multi-flow build checks each flow
/// once, then generates each knowing the others).
pub fn generate(source: &SourceFile, checked: Checked, options: &BuildOptions) -> Result<Built, Vec<Diagnostic>> {
    let Some(flow) = checked.flow else { return Err(checked.diagnostics) };
    let plan = checked.plan.unwrap_or_default();
    let codegen_options = Options { siblings: options.siblings.clone(), ..Options::new(source, options.runtime.clone()) };
    let files = codegen::generate(&flow, &plan, &checked.releases, &codegen_options)?;
    Ok(Built { name: flow.name, files, warnings: checked.diagnostics })
}
