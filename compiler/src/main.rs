//! The `wfc` command line: a thin layer of I/O over the `wfc` library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "cli/documents.rs"]
mod documents;
#[path = "cli/local.rs"]
mod local;
#[path = "cli/lsp.rs"]
mod lsp;
#[path = "cli/mcp.rs"]
mod mcp;
#[path = "cli/run.rs"]
mod run;
#[path = "cli/test.rs"]
mod test;
use wfc::{Diagnostic, RuntimeSource, SourceFile, render};

/// wfc compiles workflow definitions (behavior-tree YAML or JSON) ahead of time into standalone
/// Temporal worker crates.
#[derive(Parser)]
#[command(name = "wfc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate flows and print every diagnostic; exit 1 when any has an error.
    Check {
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// A YAML document with an `activities:` map declaring activities the flows call but do
        /// not declare (e.g. a visual builder's custom block types).
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// Print the execution plan that both input forms construct: regions, steps, edges by
    /// handle kind, joins and skipped paths.
    Plan {
        flow: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// A YAML document with an `activities:` map (see `check`).
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// Check flows, then write their worker crates.
    Build {
        #[arg(required = true)]
        flows: Vec<PathBuf>,
        /// Output folder: the crate itself for one flow, the parent of `<name>/` for several.
        /// Default: `generated/<name>`.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write nothing; exit 1 when the output differs from what would be generated.
        #[arg(long)]
        check: bool,
        /// How the crate depends on wfc-runtime: `path=DIR` (relative to the crate), `version=REQ`
        /// or `git=URL`.
        #[arg(long, default_value = concat!("version=", env!("CARGO_PKG_VERSION")), value_parser = RuntimeSource::parse)]
        runtime: RuntimeSource,
        /// A YAML document with an `activities:` map (see `check`).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// The flow the running build was made from: for an `auto-upgrade` flow, every edit
        /// `wfc diff` reports as breaking is put on a Temporal patch, so runs started on the
        /// old build replay and then follow the new flow. A `pinned` flow needs none.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Check, build and run a flow, on the Temporal the environment configures or on an
    /// embedded dev server; follow it node by node and print its output as JSON. Exit 0 on
    /// success, 1 when the flow is invalid or the run fails, 2 for usage or infrastructure.
    Run {
        flow: PathBuf,
        /// The run's input as JSON.
        #[arg(long, conflicts_with = "input_file")]
        input: Option<String>,
        /// A file holding the run's input as JSON.
        #[arg(long)]
        input_file: Option<PathBuf>,
        /// A YAML document with an `activities:` map (see `check`).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// Also serve a live view of the run (printed as `view: <url>`), kept up after the run
        /// ends until Ctrl-C.
        #[arg(long)]
        ui: bool,
        /// Follow a run already started (on the configured Temporal) instead of starting one.
        #[arg(long, value_name = "ID", conflicts_with_all = ["input", "input_file", "dry_run"])]
        follow: Option<String>,
        /// Walk the real flow without side effects: every built-in integration (HTTP, email,
        /// Slack, database, AI) is recorded and answered, not called; the output lists what
        /// would have been sent.
        #[arg(long)]
        dry_run: bool,
        /// Outputs by node id (YAML or JSON) that a dry run answers instead of running those
        /// nodes; needed for activities of other workers and child workflows.
        #[arg(long, requires = "dry_run", value_name = "FILE")]
        canned: Option<PathBuf>,
        /// After the run, watch the flow's file: each saved change is checked, built and run
        /// again on the same server, until Ctrl-C.
        #[arg(long, conflicts_with = "follow")]
        watch: bool,
    },
    /// Run the cases of test files (`<flow>.test.yaml`, beside the flow) on the real generated
    /// workflow: mocked nodes, compressed timers, signals sent as nodes wait. Exit 1 when a
    /// case fails or a test file is invalid.
    Test {
        /// Flows, test files, or folders of test files.
        #[arg(required = true)]
        targets: Vec<PathBuf>,
        /// Write each case's actual output into its `expect.output`.
        #[arg(long)]
        update: bool,
        /// A YAML document with an `activities:` map (see `check`).
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// What an edit does to runs in flight: each changed node, safe for running workflows or
    /// breaking them, with the reason. Exit 0 when all are safe, 3 when one breaks, 1 for an
    /// invalid flow.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// A YAML document with an `activities:` map (see `check`).
        #[arg(long)]
        registry: Option<PathBuf>,
    },
    /// Explain a diagnostic code, e.g. `wfc explain E0102`; without a code, list them all.
    Explain { code: Option<String> },
    /// Print the JSON Schema of the workflow document format, for editors.
    Schema,
    /// Serve the Model Context Protocol over stdio, for AI agents: tools to list node types,
    /// get the schema, check, explain, plan and build a flow given as text; the samples as
    /// resources.
    Mcp,
    /// Serve the Language Server Protocol over stdio, for editors: the diagnostics of `check`
    /// as you type, hover, completion and go-to-definition.
    Lsp,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PlanFormat {
    Text,
    Json,
    Mermaid,
    Dot,
}

/// Exit codes of DESIGN section 7.
const INVALID_FLOW: u8 = 1;
const USAGE_OR_IO: u8 = 2;
/// `wfc diff`: some change breaks running workflows.
const BREAKS_RUNNING: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { USAGE_OR_IO } else { 0 });
        }
    };
    match cli.command {
        Command::Check { flows, registry } => with_registry(registry.as_deref(), |r| check(&without_tests(flows.clone()), r)),
        Command::Plan { flow, format, registry } => with_registry(registry.as_deref(), |r| plan(&flow, format, r)),
        Command::Build { flows, output, check, runtime, registry, previous } => {
            let flows = without_tests(flows);
            with_registry(registry.as_deref(), |r| build(&flows, output.as_deref(), check, &runtime, r, previous.as_deref()))
        }
        Command::Run { flow, input, input_file, registry, ui, follow, dry_run, canned, watch } => {
            let mode = run::Mode { ui, follow: follow.clone(), dry_run: dry_run.then(|| canned.clone()), watch };
            with_registry(registry.as_deref(), |r| run_flow(&flow, input, input_file.as_deref(), r, mode.clone()))
        }
        Command::Test { targets, update, registry } => {
            with_registry(registry.as_deref(), |r| test::test(test::TestOptions { targets: targets.clone(), update, registry: r.clone() }, report))
        }
        Command::Diff { old, new, registry } => with_registry(registry.as_deref(), |r| diff(&old, &new, r)),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Lsp => match lsp::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(USAGE_OR_IO)
            }
        },
        Command::Mcp => match mcp::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(USAGE_OR_IO)
            }
        },
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&wfc::schema::document_schema()).unwrap_or_default());
            ExitCode::SUCCESS
        }
    }
}

fn explain(code: Option<&str>) -> ExitCode {
    let Some(code) = code else {
        for code in wfc::Code::ALL {
            println!("{}  {}", code.as_str(), code.slug());
        }
        return ExitCode::SUCCESS;
    };
    let wanted = code.trim_start_matches("wfc::").to_ascii_uppercase();
    match wfc::Code::ALL.iter().find(|c| c.as_str() == wanted || c.slug().eq_ignore_ascii_case(code)) {
        Some(code) => {
            println!("{} {}\n\n{}", code.as_str(), code.slug(), code.description());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no diagnostic code `{code}`; `wfc explain` lists them");
            ExitCode::from(USAGE_OR_IO)
        }
    }
}

fn read(path: &Path) -> Result<SourceFile, ExitCode> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return Err(ExitCode::from(USAGE_OR_IO));
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path.to_string_lossy(), text)),
        Err(e) => {
            // Up to the first invalid byte the lossy text has the same offsets, so the
            // diagnostic points at it.
            let at = e.utf8_error().valid_up_to();
            let source = SourceFile::new(path.to_string_lossy(), String::from_utf8_lossy(e.as_bytes()).into_owned());
            let diagnostic =
                Diagnostic::error(wfc::Code::Syntax, wfc::Span::new(at, at + 1), "the file is not valid UTF-8").label("invalid byte here").help("save the flow as UTF-8 text");
            report(&source, &[diagnostic]);
            Err(ExitCode::from(INVALID_FLOW))
        }
    }
}

fn report(source: &SourceFile, diagnostics: &[Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    let plain = !std::io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some();
    eprint!("{}", render::render(source, diagnostics, plain));
}

/// Reads the registry, if any, and runs `command` with it.
/// The flows among `paths`: test files (`*.test.yaml`, which `wfc test` runs) sit beside flows,
/// so `samples/*.yaml` names them too; they are left out, with a note.
fn without_tests(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let (tests, flows): (Vec<PathBuf>, Vec<PathBuf>) = paths.into_iter().partition(|p| p.to_string_lossy().ends_with(".test.yaml"));
    if !tests.is_empty() {
        eprintln!("note: left out {} test file(s), which `wfc test` runs", tests.len());
    }
    flows
}

fn with_registry(path: Option<&Path>, command: impl FnOnce(&wfc::lower::Registry) -> ExitCode) -> ExitCode {
    let Some(path) = path else { return command(&wfc::lower::Registry::new()) };
    let source = match read(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match wfc::registry(&source) {
        Ok(registry) => command(&registry),
        Err(diagnostics) => {
            report(&source, &diagnostics);
            ExitCode::from(INVALID_FLOW)
        }
    }
}

fn plan(path: &Path, format: PlanFormat, registry: &wfc::lower::Registry) -> ExitCode {
    let source = match read(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let checked = wfc::check(&source, &wfc::BuildOptions { registry: registry.clone(), documents: documents::read(&source), ..Default::default() });
    report(&source, &checked.diagnostics);
    let has_errors = checked.has_errors();
    let (Some(plan), false) = (checked.plan, has_errors) else { return ExitCode::from(INVALID_FLOW) };
    let text = match format {
        PlanFormat::Text => wfc::plan::render::text(&plan),
        PlanFormat::Json => serde_json::to_string_pretty(&wfc::plan::render::json(&plan)).unwrap_or_default() + "\n",
        PlanFormat::Mermaid => wfc::plan::render::mermaid(&plan),
        PlanFormat::Dot => wfc::plan::render::dot(&plan),
    };
    print!("{text}");
    ExitCode::SUCCESS
}

fn run_flow(path: &Path, input: Option<String>, input_file: Option<&Path>, registry: &wfc::lower::Registry, mode: run::Mode) -> ExitCode {
    let source = match read(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let input = match (input, input_file) {
        (Some(input), _) => input,
        (None, Some(file)) => match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return ExitCode::from(USAGE_OR_IO);
            }
        },
        (None, None) => "{}".to_string(),
    };
    run::run(&source, run::RunOptions { input, registry: registry.clone(), mode }, report)
}

fn diff(old: &Path, new: &Path, registry: &wfc::lower::Registry) -> ExitCode {
    let (old_source, new_source) = match (read(old), read(new)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let compared = wfc::compare(&old_source, &new_source, &wfc::BuildOptions { registry: registry.clone(), ..Default::default() });
    report(&old_source, &compared.old.diagnostics);
    report(&new_source, &compared.new.diagnostics);
    if compared.old.has_errors() || compared.new.has_errors() {
        return ExitCode::from(INVALID_FLOW);
    }
    print!("{}", wfc::diff::render(&compared.changes));
    if compared.changes.iter().any(|c| c.verdict == wfc::diff::Verdict::Breaks) { ExitCode::from(BREAKS_RUNNING) } else { ExitCode::SUCCESS }
}

fn check(flows: &[PathBuf], registry: &wfc::lower::Registry) -> ExitCode {
    let mut failed = false;
    for path in flows {
        let source = match read(path) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let checked = wfc::check(&source, &wfc::BuildOptions { registry: registry.clone(), documents: documents::read(&source), ..Default::default() });
        report(&source, &checked.diagnostics);
        failed |= checked.has_errors();
        if !checked.has_errors() {
            eprintln!("ok: {}", path.display());
        }
    }
    if failed { ExitCode::from(INVALID_FLOW) } else { ExitCode::SUCCESS }
}

fn build(flows: &[PathBuf], output: Option<&Path>, check_only: bool, runtime: &RuntimeSource, registry: &wfc::lower::Registry, previous: Option<&Path>) -> ExitCode {
    let previous = match previous {
        Some(_) if flows.len() != 1 => {
            eprintln!("error: `--previous` goes with one flow: the one it is the previous version of");
            return ExitCode::from(USAGE_OR_IO);
        }
        Some(path) => match read(path) {
            Ok(source) => Some(source),
            Err(code) => return code,
        },
        None => None,
    };
    let mut invalid = false;
    let mut stale = Vec::new();
    let mut sources = Vec::new();
    for path in flows {
        match read(path) {
            Ok(source) => sources.push((path, source)),
            Err(code) => return code,
        }
    }
    // Each flow is checked once; flows built together know each other, so child workflow
    // calls between them are typed.
    let documents = documents::read_all(sources.iter().map(|(_, source)| source));
    let mut options = wfc::BuildOptions { registry: registry.clone(), runtime: runtime.clone(), previous, documents, ..Default::default() };
    let checked: Vec<wfc::Checked> = sources.iter().map(|(_, source)| wfc::check(source, &options)).collect();
    // Two flows of one name would write the same crate, one over the other.
    let mut names = std::collections::BTreeMap::new();
    for ((path, _), checked) in sources.iter().zip(&checked) {
        let Some((name, sibling)) = checked.sibling() else { continue };
        if let Some(first) = names.insert(name.clone(), path.display().to_string()) {
            eprintln!("error: {} and {first} are both named `{name}`: their crates would overwrite each other; rename one", path.display());
            return ExitCode::from(INVALID_FLOW);
        }
        options.siblings.insert(name, sibling);
    }
    for ((path, source), checked) in sources.into_iter().zip(checked) {
        let folder = |name: &str| match output {
            Some(out) if flows.len() == 1 => out.to_path_buf(),
            Some(out) => out.join(name),
            None => Path::new("generated").join(name),
        };
        options.crate_dir = checked.flow.as_ref().map(|flow| folder(&flow.name));
        let built = match wfc::generate(&source, checked, &options) {
            Ok(built) => built,
            Err(diagnostics) => {
                report(&source, &diagnostics);
                invalid = true;
                continue;
            }
        };
        report(&source, &built.warnings);
        if let Some(note) = &built.patches {
            eprintln!("{note}");
        }
        let dir = folder(&built.name);
        for file in &built.files {
            let target = dir.join(&file.path);
            let current = std::fs::read_to_string(&target).ok();
            if current.as_deref() == Some(file.contents.as_str()) {
                continue;
            }
            if check_only {
                stale.push(target);
                continue;
            }
            let written = target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&target, &file.contents));
            if let Err(e) = written {
                eprintln!("error: cannot write {}: {e}", target.display());
                return ExitCode::from(USAGE_OR_IO);
            }
        }
        if !check_only {
            eprintln!("built {} -> {}", path.display(), dir.display());
        }
    }
    if invalid {
        return ExitCode::from(INVALID_FLOW);
    }
    if !stale.is_empty() {
        for path in &stale {
            eprintln!("stale: {}", path.display());
        }
        eprintln!("error: generated code is out of date; run `wfc build` without `--check`");
        return ExitCode::from(INVALID_FLOW);
    }
    ExitCode::SUCCESS
}
