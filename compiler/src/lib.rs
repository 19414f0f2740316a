//! wfc: an ahead-of-time compiler from workflow definitions to Temporal worker crates.
//!
//! The pipeline, each step a pure function (see ARCHITECTURE.md):
//! text → [`syntax::parse`] → spanned values → [`lower::lower`] → [`model::Flow`] →
//! [`plan::build`] → [`plan::Plan`] → [`check::check`] → [`codegen::generate`] → files.
//! Only the `wfc` binary does I/O.

pub mod author;
pub mod catalog;
pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod diff;
pub mod duration;
pub mod ident;
pub mod lower;
pub mod model;
pub mod patch;
pub mod plan;
pub mod render;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod testfile;

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
    /// `--previous`: the flow the running build was made from; an `auto-upgrade` flow's
    /// breaking edits are then patched (see [`patch`]).
    pub previous: Option<SourceFile>,
    /// Where the worker crate will be written. A crate implementing custom node types is
    /// given by a path relative to the document that declares it; the generated crate needs it
    /// relative to its own folder (absolute when this is). `None`: paths are used as written.
    pub crate_dir: Option<std::path::PathBuf>,
    /// Documents a flow names that wfc reads at build time (a Serverless Workflow `call:
    /// openapi`'s description), by the reference as written: their text, or why they could not
    /// be read. The library does no I/O; the command line reads them (see
    /// [`external_documents`]). A reference missing here is a located diagnostic.
    pub documents: BTreeMap<String, Result<String, String>>,
}

impl Default for BuildOptions {
    /// No registry, no siblings, no previous flow, and the `wfc-runtime` release matching this
    /// compiler.
    fn default() -> Self {
        BuildOptions {
            registry: lower::Registry::new(),
            runtime: RuntimeSource::Version(env!("CARGO_PKG_VERSION").to_string()),
            siblings: BTreeMap::new(),
            previous: None,
            crate_dir: None,
            documents: BTreeMap::new(),
        }
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
    /// (reader node, output read): which node's expressions read which node's output.
    pub reads: std::collections::BTreeSet<(String, String)>,
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

/// The documents a flow names that wfc reads at build time (`call: openapi` descriptions), as
/// written: a URL, or a path relative to the flow's file. The command line reads them into
/// [`BuildOptions::documents`].
pub fn external_documents(source: &SourceFile) -> Vec<String> {
    let (Some(root), _) = syntax::parse(&source.text) else { return Vec::new() };
    lower::openapi_documents(&root)
}

/// Parses, lowers, plans and checks a flow, collecting every diagnostic.
pub fn check(source: &SourceFile, options: &BuildOptions) -> Checked {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return Checked { flow: None, plan: None, releases: Default::default(), reads: Default::default(), diagnostics } };
    let (flow, lowered) = lower::lower(source, &value, &options.registry, &options.documents);
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
    let (releases, read) = match (&flow, &plan) {
        (Some(flow), Some(plan)) => {
            let read = reads.at.iter().filter_map(|(step, output)| Some((plan.steps.get(step.0 as usize)?.node.clone(), output.clone()))).collect();
            (plan::liveness::releases(flow, plan, &reads), read)
        }
        _ => Default::default(),
    };
    Checked { flow, plan, releases, reads: read, diagnostics }
}

/// Two versions of a flow, checked, and what the edit does to runs in flight (`wfc diff`).
pub struct Compared {
    pub old: Checked,
    pub new: Checked,
    /// Empty unless both sides check.
    pub changes: Vec<diff::Change>,
}

/// Checks both versions of a flow and compares them node by node.
pub fn compare(old: &SourceFile, new: &SourceFile, options: &BuildOptions) -> Compared {
    let (old_checked, new_checked) = (check(old, options), check(new, options));
    let changes = match (&old_checked.flow, &new_checked.flow) {
        (Some(before), Some(after)) => {
            diff::diff(&diff::Side { source: old, flow: before, checked: &old_checked }, &diff::Side { source: new, flow: after, checked: &new_checked })
        }
        _ => Vec::new(),
    };
    Compared { old: old_checked, new: new_checked, changes }
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
    /// With `--previous`: what was patched, or why nothing was.
    pub patches: Option<String>,
}

/// Makes each `path` of a crate implementing custom node types, written relative to the
/// document that declares it, relative to `crate_dir` (see [`BuildOptions::crate_dir`]).
fn relocate_node_crates(flow: &mut model::Flow, crate_dir: Option<&std::path::Path>) {
    use std::path::{Component, Path, PathBuf};
    let Some(crate_dir) = crate_dir else { return };
    // Absolute and without `.`/`..`, so two paths can be compared component by component.
    let absolute = |path: &Path| -> PathBuf {
        let mut out = PathBuf::new();
        for part in std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).components() {
            match part {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    for declared in flow.activities.values_mut() {
        let model::Served::Crate(krate) = &mut declared.served else { continue };
        let RuntimeSource::Path(path) = &krate.source else { continue };
        let document_dir = Path::new(&krate.declared_in).parent().unwrap_or(Path::new(""));
        let target = absolute(&document_dir.join(path));
        let relocated = if crate_dir.is_absolute() {
            target
        } else {
            let from = absolute(crate_dir);
            let common = from.components().zip(target.components()).take_while(|(a, b)| a == b).count();
            let ups = from.components().count() - common;
            std::iter::repeat_n(Component::ParentDir.as_os_str(), ups).map(PathBuf::from).chain(target.components().skip(common).map(|c| PathBuf::from(c.as_os_str()))).collect()
        };
        krate.source = RuntimeSource::Path(relocated.to_string_lossy().replace('\\', "/"));
    }
}

/// Checks a flow and generates its worker crate. Errors come back as diagnostics.
pub fn build(source: &SourceFile, options: &BuildOptions) -> Result<Built, Vec<Diagnostic>> {
    generate(source, check(source, options), options)
}

/// Generates the worker crate of a flow already checked (a multi-flow build checks each flow
/// once, then generates each knowing the others).
pub fn generate(source: &SourceFile, checked: Checked, options: &BuildOptions) -> Result<Built, Vec<Diagnostic>> {
    let patched = match &options.previous {
        Some(previous) => patch::merge(previous, source, &checked, options)?,
        None => None,
    };
    let Some(mut flow) = checked.flow else { return Err(checked.diagnostics) };
    let patched = patched.map(|mut merged| {
        relocate_node_crates(&mut merged, options.crate_dir.as_deref());
        merged
    });
    relocate_node_crates(&mut flow, options.crate_dir.as_deref());
    let codegen_options = Options { siblings: options.siblings.clone(), ..Options::new(source, options.runtime.clone()) };
    let mut patches = options.previous.as_ref().map(|previous| match flow.settings.versioning {
        model::Versioning::Pinned => format!("note: `{}` is pinned: its runs finish on the build that started them, so nothing from {} is patched", flow.name, previous.path),
        model::Versioning::AutoUpgrade => format!("note: no edit since {} breaks running workflows: nothing to patch", previous.path),
    });
    let files = match patched {
        // The merged flow keeps every output: its kept nodes were checked in the previous flow,
        // so liveness, which needs the reads of one checked flow, is not run on it.
        Some(merged) => {
            let (plan, planned) = plan::build(&merged);
            if let Some(problem) = planned.into_iter().find(Diagnostic::is_error) {
                return Err(vec![problem]);
            }
            let on_patch: Vec<String> = merged
                .nodes()
                .iter()
                .filter_map(|n| Some(format!("`{}` ({})", n.id, if n.patch.as_ref()?.when_patched { "added" } else { "removed, kept for old runs" })))
                .collect();
            patches = Some(format!("patched for runs in flight: {}", on_patch.join(", ")));
            codegen::generate(&merged, &plan, &Default::default(), &codegen_options)?
        }
        None => codegen::generate(&flow, &checked.plan.unwrap_or_default(), &checked.releases, &codegen_options)?,
    };
    Ok(Built { name: flow.name, files, warnings: checked.diagnostics, patches })
}
