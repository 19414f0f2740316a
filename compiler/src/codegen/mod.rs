//! Code generation: a checked `Flow` into the files of a standalone worker crate.
//!
//! Pure: returns file contents; writing them is the CLI's job. Deterministic: ordered maps only,
//! no timestamps, no absolute paths unless the user passes them.

mod activities;
mod literal;
mod main_rs;
mod manifest;
mod types;
mod workflow;

use proc_macro2::TokenStream;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Body, Flow, NodeKind};
use crate::source::{SourceFile, Span};

pub use manifest::package_name;

/// How the generated crate depends on `wfc-runtime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeSource {
    /// A path, relative to the generated crate's folder or absolute.
    Path(String),
    /// A version requirement on crates.io.
    Version(String),
    /// A git repository URL.
    Git(String),
}

impl RuntimeSource {
    /// Parses `path=…`, `version=…` or `git=…`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some(("path", p)) if !p.is_empty() => Ok(RuntimeSource::Path(p.to_string())),
            Some(("version", v)) if !v.is_empty() => Ok(RuntimeSource::Version(v.to_string())),
            Some(("git", g)) if !g.is_empty() => Ok(RuntimeSource::Git(g.to_string())),
            _ => Err(format!("`{text}` is not `path=DIR`, `version=REQ` or `git=URL`")),
        }
    }
}

/// What code generation needs besides the flow.
#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeSource,
    /// The flow's path as the user gave it, quoted in headers.
    pub source_path: String,
    /// The source text's SHA-256, quoted in headers.
    pub source_sha256: String,
}

impl Options {
    pub fn new(source: &SourceFile, runtime: RuntimeSource) -> Self {
        let digest = Sha256::digest(source.text.as_bytes());
        let source_sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Options { runtime, source_path: source.path.clone(), source_sha256 }
    }
}

/// One file of the generated crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative to the crate's folder, `/`-separated.
    pub path: String,
    pub contents: String,
}

/// Problems in the flow's schemas, found by generating its types (so `wfc check` reports them too).
pub fn schema_diagnostics(flow: &Flow) -> Vec<Diagnostic> {
    types::generate(flow, &workflow::Items::new(flow)).err().unwrap_or_default()
}

/// Formats a file item by item, with a blank line between items (but not between `use`s):
/// prettyplease prints items back to back.
fn format_items(file: syn::File) -> String {
    let mut out = prettyplease::unparse(&syn::File { shebang: None, attrs: file.attrs, items: Vec::new() });
    if !out.is_empty() {
        out.push('\n');
    }
    let mut previous_use = None;
    for item in file.items {
        let is_use = matches!(item, syn::Item::Use(_));
        if previous_use.is_some_and(|prev| !(prev && is_use)) {
            out.push('\n');
        }
        out.push_str(&prettyplease::unparse(&syn::File { shebang: None, attrs: Vec::new(), items: vec![item] }));
        previous_use = Some(is_use);
    }
    out
}

/// Generates every file of the worker crate.
pub fn generate(flow: &Flow, options: &Options) -> Result<Vec<GeneratedFile>, Vec<Diagnostic>> {
    let pending: Vec<Diagnostic> = flow
        .nodes()
        .into_iter()
        .flat_map(|node| {
            let not_compiled = |span: Span, what: String| {
                Diagnostic::error(Code::NotCompiled, span, what)
                    .label("cannot generate code for this yet")
                    .help("`wfc check` accepts this flow and `wfc plan` shows it; to build a worker now, use what README's \"Supported in this version\" lists")
            };
            let kind = match node.kind {
                NodeKind::Pending { .. } | NodeKind::Start | NodeKind::Condition { .. } | NodeKind::Router { .. } | NodeKind::Loop(_) | NodeKind::ParallelGroup(_) => {
                    Some(not_compiled(node.type_span, format!("`{}` nodes are checked but not compiled by this version", node.type_name)))
                }
                _ => None,
            };
            let on_error = node.on_error.as_ref().map(|h| not_compiled(h.span, "`onError` routing is checked but not compiled by this version".into()));
            kind.into_iter().chain(on_error)
        })
        .chain(flow.pending_features.iter().map(|(what, span)| {
            Diagnostic::error(Code::NotCompiled, *span, format!("{what}: checked but not compiled by this version"))
                .label("cannot generate code for this yet")
                .help("`wfc check` accepts this flow; `wfc build` needs it removed for now")
        }))
        .collect();
    if !pending.is_empty() {
        return Err(pending);
    }
    let Body::Tree(root) = &flow.body else {
        let span = flow.nodes().first().map_or(Span::default(), |n| n.span);
        return Err(vec![Diagnostic::error(Code::NotCompiled, span, "the graph form is checked but not compiled by this version")
            .label("a graph flow")
            .help("`wfc check` and `wfc plan` accept it; to build a worker now, write the flow in the tree form (`root:`)")]);
    };
    let header = format!(
        "@generated by wfc {} from {} (source sha256 {}). Do not edit: change the flow and run `wfc build`.",
        env!("CARGO_PKG_VERSION"),
        options.source_path,
        options.source_sha256
    );
    let items = workflow::Items::new(flow);
    let rust = |path: &str, doc: &str, tokens: TokenStream| -> Result<GeneratedFile, Vec<Diagnostic>> {
        let file: syn::File = syn::parse2(tokens.clone()).map_err(|e| {
            vec![Diagnostic::error(Code::Internal, Span::default(), format!("generated {path} does not parse: {e}"))
                .label("while generating this flow")
                .help(format!("this is a bug in wfc; the code was:\n{tokens}"))]
        })?;
        let contents = format!("// {header}\n\n//! {doc}\n\n{}", format_items(file));
        Ok(GeneratedFile { path: path.to_string(), contents })
    };
    Ok(vec![
        GeneratedFile { path: "Cargo.toml".into(), contents: manifest::cargo_toml(flow, options, &header) },
        GeneratedFile { path: "README.md".into(), contents: manifest::readme(flow, options, &header) },
        rust("src/main.rs", &format!("The `{}` worker binary.", package_name(flow)), main_rs::generate(flow, &items))?,
        rust("src/workflow.rs", &format!("The `{}` workflow: one function per node.", flow.name), workflow::generate(flow, root, &items))?,
        rust("src/types.rs", "Types from the flow's schemas.", types::generate(flow, &items)?)?,
        rust("src/activities.rs", "The activities this flow calls.", activities::generate(flow, &items))?,
    ])
}
