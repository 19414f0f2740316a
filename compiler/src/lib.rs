//! wfc: an ahead-of-time compiler from workflow definitions to Temporal worker crates.
//!
//! The pipeline, each step a pure function (see ARCHITECTURE.md):
//! text → [`syntax::parse`] → spanned values → [`lower::lower`] → [`model::Flow`] →
//! [`check::check`] → [`codegen::generate`] → files. Only the `wfc` binary does I/O.

pub mod catalog;
pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod duration;
pub mod ident;
pub mod lower;
pub mod model;
pub mod render;
pub mod schema;
pub mod source;
pub mod syntax;

pub use codegen::{GeneratedFile, Options, RuntimeSource};
pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{SourceFile, Span};

/// The result of checking a flow: the model when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub flow: Option<model::Flow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, lowers and checks a flow, collecting every diagnostic.
pub fn check(source: &SourceFile) -> Checked {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Checked { flow: None, diagnostics } };
    let (flow, lowered) = lower::lower(source, &value);
    diagnostics.extend(lowered);
    if let Some(flow) = &flow {
        diagnostics.extend(check::check(source, flow));
        diagnostics.extend(codegen::schema_diagnostics(flow));
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.code));
    let flow = flow.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked { flow, diagnostics }
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
    let checked = check(source);
    let Some(flow) = checked.flow else { return Err(checked.diagnostics) };
    let files = codegen::generate(&flow, &Options::new(source, runtime))?;
    Ok(Built { name: flow.name, files, warnings: checked.diagnostics })
}
