//! Code generation: a checked `Flow` into the files of a standalone worker crate.
//!
//! Pure: returns file contents; writing them is the CLI's job. Deterministic: ordered maps only,
//! no timestamps, no absolute paths unless the user passes them.

mod activities;
mod contract;
mod graph;
mod items;
mod literal;
mod main_rs;
mod manifest;
mod node;
mod types;
mod workflow;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Flow;
use crate::plan::Plan;
use crate::source::{SourceFile, Span};

pub use items::{FN_NAMES, TYPE_NAMES};
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
    /// The other flows of the same `wfc build`, by workflow name.
    pub siblings: BTreeMap<String, Sibling>,
}

/// Another flow built by the same `wfc build` invocation. A `SubWorkflow`/`SubTree` that calls it
/// checks its input against the sibling's input schema and defaults to the sibling's task queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sibling {
    pub task_queue: String,
    pub input_schema: Option<serde_json::Value>,
}

impl Options {
    pub fn new(source: &SourceFile, runtime: RuntimeSource) -> Self {
        let digest = Sha256::digest(source.text.as_bytes());
        let source_sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Options { runtime, source_path: quoted_path(&source.path), source_sha256, siblings: BTreeMap::new() }
    }
}

/// A path as generated headers quote it (a Rust comment, a TOML comment, an HTML comment and
/// Markdown): letters, digits and the usual path punctuation as they are, anything else (a line
/// break, `<`, `]`, a control character) escaped, so a file name can never end the comment it
/// sits in and inject code, a Cargo table or HTML.
fn quoted_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            let plain = c.is_alphanumeric() && !crate::source::is_hidden(c) || matches!(c, '/' | '\\' | '.' | '_' | '-' | '+' | '@' | '~' | ',' | '=' | ' ' | ':');
            if plain { c.to_string() } else { c.escape_unicode().to_string() }
        })
        .collect()
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
    let items = items::Items::new(flow, &Plan::default());
    let mut diagnostics = types::generate(flow, &items).err().unwrap_or_default();
    // Custom node types' schemas become types of their contract crate.
    for krate in &items.custom_crates {
        diagnostics.extend(contract::lib(flow, krate).err().unwrap_or_default());
    }
    diagnostics
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
pub fn generate(flow: &Flow, plan: &Plan, releases: &crate::plan::liveness::Releases, options: &Options) -> Result<Vec<GeneratedFile>, Vec<Diagnostic>> {
    let header = format!(
        "@generated by wfc {} from {} (source sha256 {}). Do not edit: change the flow and run `wfc build`.",
        env!("CARGO_PKG_VERSION"),
        options.source_path,
        options.source_sha256
    );
    let mut items = items::Items::new(flow, plan);
    items.siblings = options.siblings.clone();
    items.releases = releases.clone();
    // A template nested as deep as the syntax layer allows is as deep a Rust expression: syn
    // parses, prettyplease prints and both drop it recursively, so that runs on a stack of its
    // own, sized for the deepest template the syntax layer lets through.
    let rust = |path: &str, doc: &str, tokens: TokenStream| -> Result<GeneratedFile, Vec<Diagnostic>> {
        stacker::grow(16 * 1024 * 1024, || {
            let file: syn::File = syn::parse2(tokens.clone()).map_err(|e| {
                vec![
                    Diagnostic::error(Code::Internal, Span::default(), format!("generated {path} does not parse: {e}"))
                        .label("while generating this flow")
                        .help(format!("this is a bug in wfc; the code was:\n{tokens}")),
                ]
            })?;
            let contents = format!("// {header}\n\n//! {doc}\n\n{}", format_items(file));
            drop(tokens);
            Ok(GeneratedFile { path: path.to_string(), contents })
        })
    };
    let manifest = GeneratedFile { path: "Cargo.toml".into(), contents: manifest::cargo_toml(flow, &items, options, &header) };
    // Custom node types: the contract crate that the implementing crate and the worker share,
    // written into the implementing crate's `contract/` folder when it is given by path.
    let mut contract = Vec::new();
    for krate in &items.custom_crates {
        let RuntimeSource::Path(dir) = &krate.krate.source else { continue };
        let dir = dir.trim_end_matches('/');
        let doc = format!("The custom node types that `{}` implements for the `{}` flow: one trait each, for its `Nodes` type.", krate.krate.name, flow.name);
        contract.push(GeneratedFile { path: format!("{dir}/contract/Cargo.toml"), contents: contract::manifest(krate, &header) });
        contract.push(rust(&format!("{dir}/contract/src/lib.rs"), &doc, contract::lib(flow, krate)?)?);
    }
    let workflow = rust("src/workflow.rs", &format!("The `{}` workflow: one function per node or region.", flow.name), workflow::generate(flow, plan, &items))?;
    let types = rust("src/types.rs", "Types from the flow's schemas.", types::generate(flow, &items)?)?;
    let activities = rust("src/activities.rs", "The activities this flow calls.", activities::generate(flow, &items))?;
    let build_id = build_id(&[&manifest, &workflow, &types, &activities].into_iter().chain(&contract).collect::<Vec<_>>());
    let mut files = vec![
        manifest,
        GeneratedFile { path: "README.md".into(), contents: manifest::readme(flow, options, &header) },
        rust("src/main.rs", &format!("The `{}` worker binary.", package_name(flow)), main_rs::generate(flow, &items, &build_id))?,
        workflow,
        types,
        activities,
        // The plan the live view (`ui`) draws: data, not code, and not part of the build id.
        GeneratedFile { path: "src/view.json".into(), contents: format!("{:#}\n", crate::plan::render::json(plan)) },
    ];
    files.extend(contract);
    Ok(files)
}

/// The build id of a worker: the wfc version and a digest of the code that decides behaviour
/// (the workflow, its types and activities, and the manifest that pins the runtime), headers
/// left out. Identical builds get the same id wherever they are built; any change in what runs
/// gets a new one.
fn build_id(files: &[&GeneratedFile]) -> String {
    let mut digest = Sha256::new();
    for file in files {
        let body = file.contents.split_once('\n').map_or("", |(_, body)| body);
        digest.update(file.path.as_bytes());
        digest.update([0]);
        digest.update(body.as_bytes());
        digest.update([0]);
    }
    let hex: String = digest.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", env!("CARGO_PKG_VERSION"))
}
