//! Worker binaries built from generated crates, run as real processes against the dev server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;

use crate::server::{guarded_pids, spawn_guarded, stop};

/// The cargo target folder shared by the workspace and every generated crate.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::repo_root().join("target"), PathBuf::from)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Builds workspace packages once per process, all in one cargo invocation.
pub fn build_packages(packages: &[&str]) {
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !built.contains(*p)).collect();
    if missing.is_empty() {
        return;
    }
    let mut command = Command::new(cargo());
    command.arg("build").current_dir(crate::repo_root());
    for package in &missing {
        command.args(["-p", package]);
    }
    let status = command.status().expect("cannot run cargo");
    assert!(status.success(), "cargo build of {missing:?} failed");
    built.extend(missing.iter().map(|p| p.to_string()));
}

/// Type-checks generated crates together: writes each into a scratch workspace named `label`
/// and runs one `cargo check` over all of them (dependencies come from the shared target
/// folder). Returns cargo's error lines when any crate does not compile.
pub fn check_crates(label: &str, crates: &[wfc::Built]) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("wfc-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for built in crates {
        for file in &built.files {
            let path = dir.join(&built.name).join(&file.path);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("a scratch folder");
            std::fs::write(path, &file.contents).expect("write a generated file");
        }
    }
    std::fs::write(dir.join("Cargo.toml"), "[workspace]\nresolver = \"3\"\nmembers = [\"*\"]\n").expect("a workspace");
    std::fs::copy(crate::repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let output = Command::new(cargo())
        .args(["check", "--quiet", "--keep-going", "--message-format", "short"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    let _ = std::fs::remove_dir_all(&dir);
    if output.status.success() {
        return Ok(());
    }
    let errors = String::from_utf8_lossy(&output.stderr);
    Err(errors.lines().filter(|l| l.contains("error")).take(40).collect::<Vec<_>>().join("\n"))
}

/// Builds generated crates into worker binaries in one cargo invocation, each as a package of
/// its own (`<label>-<variant>`), so two versions of one flow build side by side. The crates
/// live in `<target>/wfc-<label>/`, rewritten only where they changed, so a second run is
/// incremental. Returns each variant's binary.
pub fn build_variants(label: &str, variants: &[(&str, &wfc::Built)]) -> Vec<PathBuf> {
    let dir = target_dir().join(format!("wfc-{label}"));
    let mut members = Vec::new();
    for (variant, built) in variants {
        let package = format!("{label}-{variant}");
        let generated = format!("{}-worker", built.name);
        for file in &built.files {
            let path = dir.join(variant).join(&file.path);
            let contents =
                if file.path == "Cargo.toml" { file.contents.replace(&format!("name = \"{generated}\""), &format!("name = \"{package}\"")) } else { file.contents.clone() };
            if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
                std::fs::create_dir_all(path.parent().expect("a folder")).expect("a scratch folder");
                std::fs::write(&path, contents).expect("write a generated file");
            }
        }
        members.push(format!("\"{variant}\""));
    }
    let workspace = format!("[workspace]\nresolver = \"3\"\nmembers = [{}]\n", members.join(", "));
    if std::fs::read_to_string(dir.join("Cargo.toml")).ok().as_deref() != Some(workspace.as_str()) {
        std::fs::write(dir.join("Cargo.toml"), workspace).expect("a workspace");
    }
    std::fs::copy(crate::repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let status = Command::new(cargo()).args(["build", "--quiet"]).current_dir(&dir).env("CARGO_TARGET_DIR", target_dir()).status().expect("cargo runs");
    assert!(status.success(), "cargo build of the {label} variants failed");
    variants.iter().map(|(variant, _)| target_dir().join("debug").join(format!("{label}-{variant}"))).collect()
}

/// Removes the worker binaries `build_variants` built for `label` (both of cargo's links to
/// each): a suite that builds many workers would otherwise hold gigabytes of them.
pub fn discard_variants(label: &str, variants: &[&str]) {
    let debug = target_dir().join("debug");
    for variant in variants {
        let _ = std::fs::remove_file(debug.join(format!("{label}-{variant}")));
        let prefix = format!("{}-", format!("{label}_{variant}").replace('-', "_"));
        for entry in std::fs::read_dir(debug.join("deps")).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The binary of a workspace package, built if needed.
pub fn binary(package: &str) -> PathBuf {
    build_packages(&[package]);
    target_dir().join("debug").join(package)
}

/// A `<flow>-worker worker` process; stopped when dropped.
pub struct WorkerProcess {
    child: Child,
    pub log: PathBuf,
}

impl WorkerProcess {
    /// Starts `bin worker` against `address` on the flow's own task queue, logging to `log`.
    pub fn start(bin: &Path, address: &str, env: &[(&str, &str)], log: PathBuf) -> WorkerProcess {
        Self::spawn(bin, &["worker"], address, env, log)
    }

    /// Starts `bin worker` with more arguments (`--metrics`, `--health`).
    pub fn start_with(bin: &Path, args: &[&str], address: &str, log: PathBuf) -> WorkerProcess {
        let all: Vec<&str> = std::iter::once("worker").chain(args.iter().copied()).collect();
        Self::spawn(bin, &all, address, &[], log)
    }

    /// Starts `bin worker --task-queue <task_queue>`.
    pub fn start_on(bin: &Path, address: &str, task_queue: &str, env: &[(&str, &str)], log: PathBuf) -> WorkerProcess {
        Self::spawn(bin, &["worker", "--task-queue", task_queue], address, env, log)
    }

    fn spawn(bin: &Path, args: &[&str], address: &str, env: &[(&str, &str)], log: PathBuf) -> WorkerProcess {
        let file = std::fs::File::create(&log).expect("cannot create the worker log");
        let mut all_env = vec![("TEMPORAL_ADDRESS", address), ("RUST_LOG", "warn,wfc=info")];
        all_env.extend_from_slice(env);
        let child = spawn_guarded(bin, args, &all_env, Stdio::from(file)).expect("cannot start the worker");
        WorkerProcess { child, log }
    }

    /// Kills the worker with SIGKILL, as a crash would: no graceful shutdown.
    pub fn kill_hard(&mut self) {
        for pid in guarded_pids(&self.child) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
        stop(&mut self.child);
    }

    /// What the worker has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Runs a worker binary's client command (`start`, `query`, `result`) against `address`.
pub fn client(bin: &Path, address: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).env("TEMPORAL_ADDRESS", address).output().expect("cannot run the worker binary")
}
