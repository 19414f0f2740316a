//! `wfc run FLOW`: check, build (a cached crate and target folder), connect to the Temporal that
//! the environment configures or start an embedded dev server, run the worker, start the run,
//! follow it (`<worker> watch`) and print its output; with `--watch`, again after each saved
//! edit, on the same server. Every process it starts runs in a process group of its own and is
//! stopped on the way out, Ctrl-C included.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use wfc::SourceFile;

use crate::local::{cache_dir, compile, configured_address, embedded_server, free_port, runtime, spawn_group, stop_all, stop_group};

/// Exit codes of `wfc run`: the run failed; a usage or infrastructure error.
const RUN_FAILED: u8 = 1;
const INFRASTRUCTURE: u8 = 2;

/// What `wfc run` needs besides the flow.
pub struct RunOptions {
    pub input: String,
    pub registry: wfc::lower::Registry,
    pub mode: Mode,
}

/// How the run is started and followed.
#[derive(Debug, Clone, Default)]
pub struct Mode {
    /// Serve the live view too, and keep serving it after the run ends, until Ctrl-C.
    pub ui: bool,
    /// A run already started, followed instead of starting a new one.
    pub follow: Option<String>,
    /// A dry run, with the file of canned outputs if one is given.
    pub dry_run: Option<Option<PathBuf>>,
    /// After the run, wait for the flow's file to change, then check, build and run it again.
    pub watch: bool,
}

/// The exit code once the run has ended (Ctrl-C then ends `--ui` with it), else 0.
static OUTCOME: AtomicU8 = AtomicU8::new(0);
const INTERRUPTED: u8 = 130;

pub fn run(source: &SourceFile, options: RunOptions, report: impl Fn(&SourceFile, &[wfc::Diagnostic])) -> ExitCode {
    if serde_json::from_str::<serde_json::Value>(&options.input).is_err() {
        eprintln!("error: the input is not JSON: {}", options.input);
        return ExitCode::from(INFRASTRUCTURE);
    }
    let _ = ctrlc::set_handler(|| {
        stop_all();
        std::process::exit(match OUTCOME.load(Ordering::SeqCst) {
            0 => i32::from(INTERRUPTED),
            ended => i32::from(ended) - 1,
        });
    });
    let mut session = Session::default();
    let mut source = source.clone();
    loop {
        let outcome = attempt(&source, &options, &report, &mut session);
        // Without `--watch`, only a view of a run that started stays up.
        let keep_view = options.mode.ui && session.address.is_some();
        if !options.mode.watch && !keep_view {
            stop_all();
            return ExitCode::from(outcome);
        }
        // From here Ctrl-C ends `wfc run` with the last run's code.
        OUTCOME.store(outcome + 1, Ordering::SeqCst);
        if !options.mode.watch {
            eprintln!("the run has ended; the view stays up until Ctrl-C");
            loop {
                std::thread::park();
            }
        }
        eprintln!("watching {}: save a change to run it again; Ctrl-C to stop", source.path);
        source = changed(&source);
    }
}

/// What lives across the runs of one `wfc run --watch`: the server, and the view's port.
#[derive(Default)]
struct Session {
    /// Set once a server is known (configured, or embedded and started).
    address: Option<String>,
    embedded: bool,
    view_port: Option<u16>,
    /// The worker and view of the last run, stopped before the next one starts.
    current: Vec<u32>,
}

/// Checks, builds and runs the flow once; the exit code of `wfc run` for it.
fn attempt(source: &SourceFile, options: &RunOptions, report: &impl Fn(&SourceFile, &[wfc::Diagnostic]), session: &mut Session) -> u8 {
    // The cached crate is elsewhere: crates implementing custom node types get absolute paths.
    let build_options = wfc::BuildOptions {
        registry: options.registry.clone(),
        crate_dir: Some(cache_dir()),
        documents: crate::documents::read(source),
        ..wfc::BuildOptions::with_runtime(runtime())
    };
    let built = match wfc::build(source, &build_options) {
        Ok(built) => built,
        Err(diagnostics) => {
            report(source, &diagnostics);
            return RUN_FAILED;
        }
    };
    report(source, &built.warnings);
    let canned = match &options.mode.dry_run {
        Some(file) => match dry_run(source, &build_options, file.as_deref(), report) {
            Ok(canned) => Some(canned),
            Err(code) => return code,
        },
        None => None,
    };
    for group in std::mem::take(&mut session.current) {
        stop_group(group);
    }
    start(&built, &options.input, &options.mode, canned.as_deref(), session).unwrap_or_else(|message| {
        eprintln!("error: {message}");
        INFRASTRUCTURE
    })
}

/// Waits until the flow's file holds other text than `source`, and returns it.
fn changed(source: &SourceFile) -> SourceFile {
    loop {
        std::thread::sleep(Duration::from_millis(300));
        if let Ok(text) = std::fs::read_to_string(&source.path)
            && text != source.text
        {
            return SourceFile::new(source.path.clone(), text);
        }
    }
}

fn start(built: &wfc::Built, input: &str, mode: &Mode, canned: Option<&str>, session: &mut Session) -> Result<u8, String> {
    let binary = compile(built)?;
    let address = match (&session.address, configured_address(), &mode.follow) {
        (Some(address), _, _) => address.clone(),
        (None, Some(address), _) => address,
        (None, None, None) => {
            session.embedded = true;
            embedded_server(false)?
        }
        (None, None, Some(_)) => return Err("--follow needs the Temporal server the run is on: set TEMPORAL_ADDRESS or a temporal.toml profile".to_string()),
    };
    session.address = Some(address.clone());
    let embedded = session.embedded;
    let log = cache_dir().join("run").join(&built.name).join("worker.log");
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let id = mode.follow.clone().unwrap_or_else(|| format!("{}-{millis}", built.name));
    // A run of its own: on a task queue only this worker polls, outside the flow's Worker
    // Deployment, so a shared server's current build neither takes the run nor is replaced.
    let task_queue = format!("{}-run-{}-{millis}", built.name, std::process::id());
    if mode.follow.is_none() {
        let log_file = std::fs::File::create(&log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
        let mut worker = Command::new(&binary);
        worker.args(["worker", "--unversioned", "--task-queue", &task_queue]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log_file).env("RUST_LOG", "warn,wfc=info");
        if embedded {
            worker.env("TEMPORAL_ADDRESS", &address);
        }
        session.current.push(spawn_group(&mut worker).map_err(|e| format!("cannot start the worker: {e}"))?.id());
    }
    eprintln!("workflow: {id}");
    eprintln!("server: {address}");
    let client = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command.args(args);
        if embedded {
            command.env("TEMPORAL_ADDRESS", &address);
        }
        command
    };
    if mode.ui {
        let port = match session.view_port {
            Some(port) => port,
            None => free_port()?,
        };
        session.view_port = Some(port);
        let port_text = port.to_string();
        let mut view = client(&["ui", "--port", &port_text, "--run", &id]);
        // The view prints its own address; the worker's log keeps the rest of what it says.
        view.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).env("RUST_LOG", "error");
        session.current.push(spawn_group(&mut view).map_err(|e| format!("cannot start the view: {e}"))?.id());
        eprintln!("view: http://127.0.0.1:{port}/?run={}", url_component(&id));
    }
    if mode.follow.is_none() {
        let mut args = vec!["start", "--input", input, "--id", &id, "--task-queue", &task_queue];
        if let Some(canned) = canned {
            args.extend(["--dry-run", "--canned", canned]);
        }
        let started = client(&args).stdout(Stdio::null()).status().map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        if !started.success() {
            return Ok(started.code().map_or(INFRASTRUCTURE, |c| u8::try_from(c).unwrap_or(INFRASTRUCTURE)));
        }
    }
    let watch: &[&str] = if canned.is_some() { &["watch", &id, "--dry-run"] } else { &["watch", &id] };
    let watched = client(watch).status().map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    Ok(match watched.code() {
        Some(0) => 0,
        Some(1) => {
            eprintln!("the worker's log: {}", log.display());
            RUN_FAILED
        }
        _ => INFRASTRUCTURE,
    })
}

/// A dry run's canned outputs as JSON, once every node that a dry run cannot fake has one:
/// activities of other workers and child workflows. A canned output for a node the flow does not
/// have is a diagnostic at its key.
fn dry_run(source: &SourceFile, options: &wfc::BuildOptions, file: Option<&Path>, report: &impl Fn(&SourceFile, &[wfc::Diagnostic])) -> Result<String, u8> {
    let Some(flow) = wfc::check(source, options).flow else { return Err(RUN_FAILED) };
    let nodes = flow.nodes();
    let mut canned = serde_json::Map::new();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            eprintln!("error: cannot read {}: {e}", file.display());
            INFRASTRUCTURE
        })?;
        let canned_source = SourceFile::new(file.to_string_lossy(), text);
        let (value, mut diagnostics) = wfc::syntax::parse(&canned_source.text);
        match value.as_ref().map(|v| &v.kind) {
            Some(wfc::syntax::Kind::Map(entries)) => {
                for (key, value) in entries {
                    if nodes.iter().any(|n| n.id == key.name) {
                        canned.insert(key.name.clone(), value.to_json());
                    } else {
                        let known: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
                        diagnostics.push(
                            wfc::Diagnostic::error(wfc::Code::UnknownReference, key.span, format!("`{}` flow has no node `{}`", flow.name, key.name))
                                .label("no such node")
                                .help(format!("canned outputs are keyed by node id: {}", known.join(", "))),
                        );
                    }
                }
            }
            Some(_) => diagnostics.push(
                wfc::Diagnostic::error(wfc::Code::WrongType, value.as_ref().map(|v| v.span).unwrap_or_default(), "canned outputs are a map of node id to output")
                    .label("not a map")
                    .help("write e.g. `charge-card: {status: paid}`"),
            ),
            None => {}
        }
        if !diagnostics.is_empty() {
            report(&canned_source, &diagnostics);
            return Err(RUN_FAILED);
        }
    }
    let not_runnable: Vec<String> = nodes
        .iter()
        .filter(|n| !canned.contains_key(&n.id))
        .filter_map(|n| match &n.kind {
            wfc::model::NodeKind::Activity { activity, task_queue, .. } => Some(format!("`{}` calls activity `{activity}` on task queue `{task_queue}`", n.id)),
            wfc::model::NodeKind::Child { workflow, .. } => Some(format!("`{}` runs child workflow `{workflow}`", n.id)),
            wfc::model::NodeKind::Custom { node_type, .. } => Some(format!("`{}` runs the custom node type `{node_type}` (code wfc cannot see)", n.id)),
            _ => None,
        })
        .collect();
    if !not_runnable.is_empty() {
        eprintln!("error: not runnable dry: these nodes run on other workers, which a dry run cannot fake:");
        for line in &not_runnable {
            eprintln!("  {line}");
        }
        eprintln!("help: give each a canned output: `wfc run FLOW --dry-run --canned FILE`, FILE mapping node id to output");
        return Err(INFRASTRUCTURE);
    }
    Ok(serde_json::Value::Object(canned).to_string())
}

/// A workflow id as a URL query value.
fn url_component(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}
