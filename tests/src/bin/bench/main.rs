//! The benchmark: prints figures, asserts nothing.
//!
//! `cargo run --release -p wfc-tests --bin bench [-- SECTION… --workflows N --idle N]`; sections (all by
//! default):
//! - `build`: the release and debug rebuild of the generated crate after a one-node change (`wfc
//!   build` included), with its dependencies compiled, beside the same edit in a hand-written
//!   SDK worker crate of the same flow (`reference.rs`).
//! - `scale`: generated code size and the crate's compile time for tree flows of growing size, up
//!   to 501 nodes.
//! - `makespan`: a graph where level-by-level batching is slow; the makespan of its generated
//!   workflow against the graph's critical path.
//! - `idle`: 10,000 workflows waiting for a signal: the worker's RSS and CPU while they idle,
//!   then the time until all complete once signalled.
//! - `throughput`: a generated worker against a hand-written Temporal SDK workflow doing the same
//!   work (10 sequential no-op activities), on one dev server, in alternating rounds.
//! - `own-activities`: the same 10 steps as custom node types served by the generated worker
//!   itself, against a hand-written SDK worker serving its own activities (`own.rs`).
//! - `expressions`: a ForEach over 200 items evaluating a condition, a template and a
//!   comprehension per item: the generated worker's CPU per workflow against a hand-written SDK
//!   workflow doing the same in plain Rust (`expressions.rs`).
//! - `fuzz`: 10^6 generated and mutated documents through check and build (`fuzz.rs`).
//! - `chaos`: 200 workflows survive `kill -9` of their workers and restarts of the server
//!   (`chaos.rs`).

mod chaos;
mod expressions;
mod fuzz;
mod own;
mod reference;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::{ActivityDefinition, HasWorkflowDefinition, WorkflowDefinition};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult};
use wfc_tests::remote::{RemoteWorkers, connect};
use wfc_tests::server::{DevServer, guarded_pids, spawn_guarded, stop};

const ACTIVITY_QUEUE: &str = "bench-activities";

/// The `noop` activity, called by name on the activity workers' queue.
struct Noop;

impl ActivityDefinition for Noop {
    type Input = Value;
    type Output = Value;

    fn name(&self) -> &str {
        "noop"
    }
}

/// What a person would write by hand with the SDK for the same flow.
#[workflow]
#[derive(Default)]
pub struct HandWritten;

#[workflow_methods]
impl HandWritten {
    #[run(name = "hand-written")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: Value) -> WorkflowResult<Value> {
        let mut outputs = serde_json::Map::new();
        for step in 1..=10 {
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).activity_id(format!("step-{step}")).task_queue(ACTIVITY_QUEUE.to_string()).build();
            let output = ctx.execute_activity(Noop, json!({ "step": step }), options).await?;
            outputs.insert(format!("step-{step}"), output);
        }
        Ok(Value::Object(outputs))
    }
}

/// Any workflow type by name, with JSON input and output.
struct ByName(&'static str);

impl WorkflowDefinition for ByName {
    type Input = Value;
    type Output = Value;

    fn name(&self) -> &str {
        self.0
    }
}

impl HasWorkflowDefinition for ByName {
    type Run = ByName;
}

const SECTIONS: [&str; 9] = ["build", "scale", "makespan", "idle", "throughput", "own-activities", "expressions", "fuzz", "chaos"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.first().map(String::as_str) == Some("hand-worker") {
        let address = args.get(1).cloned().unwrap_or_default();
        return runtime.block_on(hand_worker(&address));
    }
    if args.first().map(String::as_str) == Some("hand-own-worker") {
        let address = args.get(1).cloned().unwrap_or_default();
        return runtime.block_on(own::hand_worker(&address));
    }
    if args.first().map(String::as_str) == Some("fuzz-shard") {
        let number = |i: usize| args.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
        return fuzz::shard(number(1), number(2) as usize);
    }
    let flag = |name: &str, default: usize| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok()).unwrap_or(default);
    let workflows = flag("--workflows", 300);
    let mut sections: Vec<&str> = SECTIONS.iter().copied().filter(|s| args.iter().any(|a| a == s)).collect();
    if sections.is_empty() {
        sections = SECTIONS.to_vec();
    }

    println!("wfc benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    let crates = Crates::new()?;
    for section in sections {
        match section {
            "build" => build_time(&crates)?,
            "scale" => scale(&crates)?,
            "makespan" => runtime.block_on(makespan(&crates))?,
            "idle" => runtime.block_on(idle(&crates, flag("--idle", 10_000)))?,
            "expressions" => runtime.block_on(expressions::run(&crates, flag("--expressions", 10)))?,
            "fuzz" => fuzz::run(flag("--fuzz", 1_000_000))?,
            "chaos" => runtime.block_on(chaos::run(&crates, flag("--chaos", 200)))?,
            "own-activities" => runtime.block_on(own::run(&crates, flag("--workflows", 200)))?,
            _ => runtime.block_on(throughput(&crates, workflows))?,
        }
    }
    Ok(())
}

/// Generated crates in a scratch folder, sharing the workspace's target folder and lock file.
struct Crates {
    root: PathBuf,
    target: PathBuf,
    cargo: String,
    wfc: PathBuf,
    work: PathBuf,
}

impl Crates {
    /// Builds the `wfc` command line (release).
    fn new() -> anyhow::Result<Crates> {
        let root = wfc_tests::repo_root();
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(&cargo).args(["build", "--release", "-q", "-p", "wfc"]).current_dir(&root).status()?;
        anyhow::ensure!(status.success(), "building wfc failed");
        let work = std::env::temp_dir().join("wfc-bench");
        std::fs::create_dir_all(&work)?;
        Ok(Crates { wfc: target.join("release/wfc"), root, target, cargo, work })
    }

    /// `wfc build` of the flow `text` named `name`; returns the crate folder and the time taken.
    fn generate(&self, name: &str, text: &str) -> anyhow::Result<(PathBuf, Duration)> {
        let flow = self.work.join(format!("{name}.yaml"));
        let crate_dir = self.work.join(name);
        std::fs::write(&flow, text)?;
        let runtime = format!("path={}", self.root.join("runtime").display());
        let started = Instant::now();
        let output = Command::new(&self.wfc).arg("build").arg(&flow).arg("-o").arg(&crate_dir).args(["--runtime", &runtime]).output()?;
        let elapsed = started.elapsed();
        anyhow::ensure!(output.status.success(), "wfc build {name} failed:\n{}", String::from_utf8_lossy(&output.stderr));
        // The workspace's lock file, so the crate reuses the dependencies already compiled.
        std::fs::copy(self.root.join("Cargo.lock"), crate_dir.join("Cargo.lock"))?;
        Ok((crate_dir, elapsed))
    }

    /// `wfc build` of a flow file of the repository, run from its root (so files it writes
    /// beside the flow, such as a custom node crate's contract, come out as committed).
    fn generate_file(&self, flow: &str, name: &str) -> anyhow::Result<(PathBuf, Duration)> {
        let crate_dir = self.work.join(name);
        let runtime = format!("path={}", self.root.join("runtime").display());
        let started = Instant::now();
        let output = Command::new(&self.wfc).arg("build").arg(flow).arg("-o").arg(&crate_dir).args(["--runtime", &runtime]).current_dir(&self.root).output()?;
        let elapsed = started.elapsed();
        anyhow::ensure!(output.status.success(), "wfc build {flow} failed:\n{}", String::from_utf8_lossy(&output.stderr));
        std::fs::copy(self.root.join("Cargo.lock"), crate_dir.join("Cargo.lock"))?;
        Ok((crate_dir, elapsed))
    }

    /// `cargo build --release` of a generated crate; returns the time taken.
    fn compile(&self, crate_dir: &Path) -> anyhow::Result<Duration> {
        self.compile_profile(crate_dir, true)
    }

    /// `cargo build` of a crate, release or debug; returns the time taken.
    fn compile_profile(&self, crate_dir: &Path, release: bool) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut command = Command::new(&self.cargo);
        command.args(["build", "-q"]).current_dir(crate_dir).env("CARGO_TARGET_DIR", &self.target);
        if release {
            command.arg("--release");
        }
        anyhow::ensure!(command.status()?.success(), "cargo build of {} failed", crate_dir.display());
        Ok(started.elapsed())
    }

    /// `cargo build --release --timings` of a crate: each unit compiled, with its seconds, read
    /// from the report cargo writes (`UNIT_DATA` in `cargo-timings/cargo-timing.html`).
    fn timings(&self, crate_dir: &Path) -> anyhow::Result<Vec<(String, f64)>> {
        let status = Command::new(&self.cargo).args(["build", "-q", "--release", "--timings"]).current_dir(crate_dir).env("CARGO_TARGET_DIR", &self.target).status()?;
        anyhow::ensure!(status.success(), "cargo build --timings of {} failed", crate_dir.display());
        let html = std::fs::read_to_string(self.target.join("cargo-timings/cargo-timing.html"))?;
        let data = html.split_once("const UNIT_DATA = ").and_then(|(_, rest)| rest.split_once(";\n")).map(|(json, _)| json).unwrap_or("[]");
        let units: Vec<serde_json::Value> = serde_json::from_str(data)?;
        // Units that were fresh are listed too, with no time: only those that ran are shown.
        Ok(units
            .iter()
            .map(|u| (format!("{}{}", u["name"].as_str().unwrap_or("?"), u["target"].as_str().unwrap_or("")), u["duration"].as_f64().unwrap_or(0.0)))
            .filter(|(_, seconds)| *seconds >= 0.01)
            .collect())
    }

    /// Generates and compiles a flow; returns its release worker binary.
    fn worker(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let (crate_dir, _) = self.generate(name, text)?;
        self.compile(&crate_dir)?;
        Ok(self.target.join(format!("release/{name}-worker")))
    }
}

fn build_time(crates: &Crates) -> anyhow::Result<()> {
    println!("\n## Build time after a one-node edit (10 activity nodes; dependencies compiled)");
    let original = std::fs::read_to_string(crates.root.join("tests/flows/bench-ten-steps.yaml"))?;
    let changed = original.replace("input: {step: 10}", "input: {step: 10, last: true}");
    let (generated, _) = crates.generate("bench-ten-steps", &original)?;
    let hand = reference::write(&crates.work, &crates.root)?;
    // Each crate, each profile: build it, make the edit, time the rebuild; then undo the edit.
    let mut figures = Vec::new();
    for release in [true, false] {
        let profile = if release { "release" } else { "debug" };
        crates.generate("bench-ten-steps", &original)?;
        crates.compile_profile(&generated, release)?;
        let (_, wfc_time) = crates.generate("bench-ten-steps", &changed)?;
        let generated_time = crates.compile_profile(&generated, release)? + wfc_time;
        reference::edit(&hand, false)?;
        crates.compile_profile(&hand, release)?;
        reference::edit(&hand, true)?;
        let hand_time = crates.compile_profile(&hand, release)?;
        println!(
            "{profile}: generated {:.1}s (wfc build {:.0}ms included), hand-written {:.1}s, ratio {:.2}",
            generated_time.as_secs_f64(),
            wfc_time.as_secs_f64() * 1000.0,
            hand_time.as_secs_f64(),
            generated_time.as_secs_f64() / hand_time.as_secs_f64()
        );
        figures.push((profile, generated_time, hand_time));
    }
    // What remains of the release rebuild, unit by unit (`cargo build --timings`).
    crates.generate("bench-ten-steps", &original)?;
    crates.compile_profile(&generated, true)?;
    crates.generate("bench-ten-steps", &changed)?;
    println!("release rebuild, by unit that was compiled (cargo --timings; every other unit was fresh):");
    for (unit, seconds) in crates.timings(&generated)? {
        println!("  {unit:<40} {seconds:>6.2}s");
    }
    for (profile, generated_time, hand_time) in figures {
        println!("build: {profile} one-node rebuild generated {:.1}s, hand-written {:.1}s", generated_time.as_secs_f64(), hand_time.as_secs_f64());
    }
    Ok(())
}

/// A tree flow of `1 + 10 × groups` nodes. Each group is a Sequence of a SetVariable, a Parallel
/// of two activities, a Retry around an activity, and a Conditional choosing a Template or a Log.
fn large_tree(groups: usize) -> String {
    let mut text = String::from("name: bench-scale\nactivities:\n  noop: {taskQueue: bench-activities, timeout: 10s}\nroot:\n  type: Sequence\n  id: groups\n  children:\n");
    for i in 0..groups {
        let _ = write!(
            text,
            r#"    - type: Sequence
      id: group-{i}
      children:
        - {{type: SetVariable, id: set-{i}, config: {{name: v{i}, value: "{{{{ {i} * 2 }}}}"}}}}
        - type: Parallel
          id: fan-{i}
          children:
            - {{type: Activity, id: left-{i}, config: {{activity: noop, input: {{n: "{{{{ var.v{i} }}}}"}}}}}}
            - {{type: Activity, id: right-{i}, config: {{activity: noop, input: {{n: {i}}}}}}}
        - type: Retry
          id: retry-{i}
          config: {{maxAttempts: 3, delay: 1s}}
          children:
            - {{type: Activity, id: flaky-{i}, config: {{activity: noop, input: {{left: "{{{{ left_{i}.n }}}}"}}}}}}
        - type: Conditional
          id: choose-{i}
          config: {{condition: "var.v{i} > {i}"}}
          children:
            - {{type: Template, id: big-{i}, config: {{template: "group {i}: {{{{ flaky_{i}.left }}}}"}}}}
            - {{type: Log, id: small-{i}, config: {{message: "group {i} is small"}}}}
"#
        );
    }
    text
}

/// Lines, functions and the longest function of a generated crate's Rust sources.
fn code_size(crate_dir: &Path) -> anyhow::Result<(usize, usize, usize)> {
    let (mut lines, mut functions, mut longest) = (0, 0, 0);
    for entry in std::fs::read_dir(crate_dir.join("src"))? {
        let text = std::fs::read_to_string(entry?.path())?;
        let mut start = None;
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            // Formatted by prettyplease: an item starts and ends at column 0.
            let item = line.trim_start_matches("pub ").trim_start_matches("pub(crate) ");
            if item.starts_with("fn ") || item.starts_with("async fn ") {
                functions += 1;
                start = Some(n);
            }
            if line == "}"
                && let Some(s) = start.take()
            {
                longest = longest.max(n - s + 1);
            }
        }
    }
    Ok((lines, functions, longest))
}

fn scale(crates: &Crates) -> anyhow::Result<()> {
    println!("\n## Scale: generated code and rustc time against flow size (tree flows, release)");
    println!("{:>6} {:>10} {:>10} {:>9} {:>12} {:>10} {:>12}", "nodes", "wfc build", "lines", "fns", "longest fn", "cargo", "per node");
    for groups in [12, 25, 50] {
        let nodes = 1 + 10 * groups;
        let (crate_dir, wfc_time) = crates.generate("bench-scale", &large_tree(groups))?;
        let (lines, functions, longest) = code_size(&crate_dir)?;
        let cargo = crates.compile(&crate_dir)?;
        println!(
            "{nodes:>6} {:>8.0}ms {lines:>10} {functions:>9} {longest:>8} lines {:>9.1}s {:>10.0}ms",
            wfc_time.as_secs_f64() * 1000.0,
            cargo.as_secs_f64(),
            cargo.as_secs_f64() * 1000.0 / nodes as f64
        );
    }
    Ok(())
}

/// The makespan graph: two chains whose long and short steps alternate, and a link across.
/// Level by level, every level waits for its long step; as dataflow, the flow takes its critical
/// path. `(id, milliseconds of work, predecessors)`.
const MAKESPAN_STEPS: [(&str, u64, &[&str]); 8] = [
    ("a1", 1000, &[]),
    ("a2", 200, &["a1"]),
    ("a3", 1000, &["a2"]),
    ("a4", 200, &["a3"]),
    ("b1", 200, &[]),
    ("b2", 1000, &["b1"]),
    ("b3", 200, &["b2"]),
    ("b4", 1000, &["b3", "a2"]),
];

fn makespan_flow() -> String {
    let mut text = String::from("name: bench-makespan\nactivities:\n  work: {taskQueue: bench-activities, timeout: 30s}\nnodes:\n  - {id: start, type: Start}\n");
    for (id, ms, _) in MAKESPAN_STEPS {
        let _ = writeln!(text, "  - {{id: {id}, type: Activity, config: {{activity: work, input: {{ms: {ms}}}}}}}");
    }
    text.push_str("  - {id: join, type: Template, config: {template: \"{{ a4.ms + b4.ms }}\"}}\nedges:\n");
    for (id, _, predecessors) in MAKESPAN_STEPS {
        if predecessors.is_empty() {
            let _ = writeln!(text, "  - {{source: start, target: {id}}}");
        }
        for from in predecessors {
            let _ = writeln!(text, "  - {{source: {from}, target: {id}}}");
        }
    }
    text.push_str("  - {source: a4, target: join}\n  - {source: b4, target: join}\n");
    text
}

/// The critical path and the level-by-level time of [`MAKESPAN_STEPS`], in milliseconds.
fn makespan_bounds() -> (u64, u64) {
    let (mut finish, mut level) = (BTreeMap::new(), BTreeMap::new());
    for (id, ms, predecessors) in MAKESPAN_STEPS {
        let start = predecessors.iter().map(|p| finish[p]).max().unwrap_or(0);
        finish.insert(id, start + ms);
        level.insert(id, predecessors.iter().map(|p| level[p] + 1).max().unwrap_or(0));
    }
    let mut slowest = BTreeMap::new();
    for (id, ms, _) in MAKESPAN_STEPS {
        let entry = slowest.entry(level[id]).or_insert(0);
        *entry = (*entry).max(ms);
    }
    (finish.values().copied().max().unwrap_or(0), slowest.values().sum())
}

async fn makespan(crates: &Crates) -> anyhow::Result<()> {
    let (critical, levelled) = makespan_bounds();
    println!("\n## Makespan: a graph where level-by-level batching is slow");
    println!("critical path {:.2}s; level by level it would take {:.2}s", critical as f64 / 1000.0, levelled as f64 / 1000.0);
    let bin = crates.worker("bench-makespan", &makespan_flow())?;
    let server = DevServer::start();
    let _activities = RemoteWorkers::start(&server.address, &[ACTIVITY_QUEUE]);
    let log = std::env::temp_dir().join("wfc-bench-makespan.log");
    let mut worker = spawn_guarded(&bin, &["worker"], &[("TEMPORAL_ADDRESS", &server.address)], Stdio::from(std::fs::File::create(&log)?))?;
    let result = async {
        let client = connect(&server.address).await?;
        let mut runs = Vec::new();
        for run in 0..6 {
            let options = WorkflowStartOptions::new("bench-makespan".to_string(), format!("makespan-{run}")).build();
            let handle = client.start_workflow(ByName("bench-makespan"), json!({}), options).await?;
            handle.get_result(WorkflowGetResultOptions::default()).await?;
            let events = handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await?;
            let time = |e: &temporalio_common::protos::temporal::api::history::v1::HistoryEvent| e.event_time.as_ref().map_or(0.0, |t| t.seconds as f64 + t.nanos as f64 / 1e9);
            let (first, last) = (events.first().map_or(0.0, time), events.last().map_or(0.0, time));
            let mut starts = Vec::new();
            for event in &events {
                if let Some(Attributes::ActivityTaskScheduledEventAttributes(a)) = &event.attributes {
                    starts.push(format!("{} {:.2}s", a.activity_id, time(event) - first));
                }
            }
            if run == 0 {
                println!("warm-up run; activities scheduled at: {}", starts.join(", "));
            } else {
                runs.push(last - first);
            }
        }
        runs.sort_by(f64::total_cmp);
        let median = runs[runs.len() / 2];
        let critical = critical as f64 / 1000.0;
        println!(
            "makespan over {} runs (workflow started → completed, from the history): median {median:.2}s, best {:.2}s, worst {:.2}s",
            runs.len(),
            runs[0],
            runs[runs.len() - 1]
        );
        println!("makespan / critical path: median {:.3}, worst {:.3}", median / critical, runs[runs.len() - 1] / critical);
        anyhow::Ok(())
    }
    .await;
    stop(&mut worker);
    result
}

/// A signal by name with a JSON payload.
struct Go;

impl temporalio_common::SignalDefinition for Go {
    type Workflow = ByName;
    type Input = Value;

    fn name(&self) -> &str {
        "go"
    }
}

/// The worker's resident memory in MiB (the guard's child process).
fn rss_mib(guard: &std::process::Child) -> f64 {
    guarded_pids(guard)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .sum::<f64>()
        / 1024.0
}

async fn idle(crates: &Crates, count: usize) -> anyhow::Result<()> {
    use futures::StreamExt;
    let flow = "name: bench-idle\nroot:\n  type: Sequence\n  id: wait-then-answer\n  children:\n    - {type: WaitForSignal, id: wait, config: {signal: go}}\n    - {type: Template, id: answer, config: {template: \"went {{ wait.n }}\"}}\n";
    let bin = crates.worker("bench-idle", flow)?;
    println!("\n## Idle: {count} workflows waiting for a signal");
    let server = DevServer::start();
    let log = std::env::temp_dir().join("wfc-bench-idle.log");
    let mut worker = spawn_guarded(&bin, &["worker"], &[("TEMPORAL_ADDRESS", &server.address)], Stdio::from(std::fs::File::create(&log)?))?;
    let result = async {
        let client = connect(&server.address).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("worker RSS with nothing to do: {:.1} MiB", rss_mib(&worker));
        let started = Instant::now();
        let starts = futures::stream::iter(0..count).map(|i| {
            let client = client.clone();
            async move {
                let options = WorkflowStartOptions::new("bench-idle".to_string(), format!("idle-{i}")).build();
                client.start_workflow(ByName("bench-idle"), json!({}), options).await.map(|_| ())
            }
        });
        let failed = starts.buffer_unordered(64).filter(|r| futures::future::ready(r.is_err())).count().await;
        anyhow::ensure!(failed == 0, "{failed} starts failed");
        println!("started {count} in {:.1}s", started.elapsed().as_secs_f64());
        // Settled: the worker has run every first workflow task when its CPU stops moving.
        let mut last = cpu_seconds(&worker);
        loop {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let now = cpu_seconds(&worker);
            if now - last < 0.05 {
                break;
            }
            last = now;
        }
        let (cpu, window) = (cpu_seconds(&worker), 30);
        tokio::time::sleep(Duration::from_secs(window)).await;
        println!("idle with {count} waiting: worker RSS {:.1} MiB, worker CPU {:.2}s over {window}s", rss_mib(&worker), cpu_seconds(&worker) - cpu);
        let signalled = Instant::now();
        let signals = futures::stream::iter(0..count).map(|i| {
            let client = client.clone();
            async move {
                let handle = client.get_workflow_handle::<ByName>(&format!("idle-{i}"));
                handle.signal(Go, json!({"n": i}), Default::default()).await?;
                handle.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::Ok(())
            }
        });
        let mut peak = 0.0_f64;
        let mut results = std::pin::pin!(signals.buffer_unordered(64));
        let (mut done, mut failed) = (0, 0);
        while let Some(r) = results.next().await {
            done += 1;
            failed += usize::from(r.is_err());
            if done % 500 == 0 {
                peak = peak.max(rss_mib(&worker));
            }
        }
        anyhow::ensure!(failed == 0, "{failed} of {count} did not complete");
        println!("signalled all: every one of {count} completed in {:.1}s (worker peak RSS {peak:.1} MiB)", signalled.elapsed().as_secs_f64());
        anyhow::Ok(())
    }
    .await;
    stop(&mut worker);
    result
}

async fn throughput(crates: &Crates, workflows: usize) -> anyhow::Result<()> {
    let rounds = 4;
    let generated_bin = crates.worker("bench-ten-steps", &std::fs::read_to_string(crates.root.join("tests/flows/bench-ten-steps.yaml"))?)?;
    println!("\n## Throughput: {workflows} workflows x {rounds} rounds, 10 sequential no-op activities each");
    let server = DevServer::start();
    let _activities = RemoteWorkers::start(&server.address, &[ACTIVITY_QUEUE]);
    let log = std::env::temp_dir().join("wfc-bench-generated.log");
    let mut generated =
        spawn_guarded(&generated_bin, &["worker", "--task-queue", "bench-generated"], &[("TEMPORAL_ADDRESS", &server.address)], Stdio::from(std::fs::File::create(&log)?))?;
    let me = std::env::current_exe()?;
    let mut hand = spawn_guarded(&me, &["hand-worker", &server.address], &[], Stdio::inherit())?;
    let result = async {
        let client = connect(&server.address).await?;
        // Warm-up: caches, connections, the server's first task queues.
        run_batch(&client, "hand-written", "bench-hand", 20, "warm").await?;
        run_batch(&client, "bench-ten-steps", "bench-generated", 20, "warm").await?;
        let events = async |id: &str| {
            let handle = client.get_workflow_handle::<ByName>(id);
            anyhow::Ok(handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await?.len())
        };
        println!("history events per workflow: hand-written {}, generated {}", events("bench-warm-hand-written-0").await?, events("bench-warm-bench-ten-steps-0").await?);
        // The server slows as its store grows, so the order alternates (ABBA) to be fair to both.
        let (mut hand_rates, mut generated_rates) = (Vec::new(), Vec::new());
        let (hand_cpu, generated_cpu) = (cpu_seconds(&hand), cpu_seconds(&generated));
        for round in 1..=rounds {
            let rate = async |hand: bool| {
                let (workflow, queue, tag) = if hand { ("hand-written", "bench-hand", "h") } else { ("bench-ten-steps", "bench-generated", "g") };
                run_batch(&client, workflow, queue, workflows, &format!("{tag}{round}")).await
            };
            let (h, g) = if round % 2 == 1 {
                let h = rate(true).await?;
                (h, rate(false).await?)
            } else {
                let g = rate(false).await?;
                (rate(true).await?, g)
            };
            println!("round {round}: hand-written {h:.1} workflows/s, generated {g:.1} workflows/s");
            hand_rates.push(h);
            generated_rates.push(g);
        }
        let per_workflow = |cpu: f64| cpu * 1000.0 / (rounds * workflows) as f64;
        println!(
            "worker CPU per workflow: hand-written {:.2}ms, generated {:.2}ms",
            per_workflow(cpu_seconds(&hand) - hand_cpu),
            per_workflow(cpu_seconds(&generated) - generated_cpu)
        );
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (h, g) = (mean(&hand_rates), mean(&generated_rates));
        println!("mean: hand-written {h:.1} workflows/s ({:.0} activities/s), generated {g:.1} workflows/s", h * 10.0);
        println!("throughput ratio generated / hand-written: {:.3}", g / h);
        anyhow::Ok(())
    }
    .await;
    stop(&mut generated);
    stop(&mut hand);
    result
}

/// The CPU time (user and system) used so far by the process that [`spawn_guarded`] started.
fn cpu_seconds(guard: &std::process::Child) -> f64 {
    wfc_tests::server::guarded_cpu_seconds(guard)
}

/// Starts `count` workflows at once and waits for all; returns completed workflows per second.
async fn run_batch(client: &Client, workflow: &'static str, task_queue: &str, count: usize, tag: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let options = WorkflowStartOptions::new(task_queue.to_string(), format!("bench-{tag}-{workflow}-{i}")).build();
        handles.push(client.start_workflow(ByName(workflow), json!({}), options));
    }
    let handles = futures::future::try_join_all(handles).await?;
    let results = futures::future::join_all(handles.iter().map(|h| h.get_result(WorkflowGetResultOptions::default()))).await;
    let elapsed = started.elapsed().as_secs_f64();
    let failed = results.iter().filter(|r| r.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} of {count} {workflow} workflows failed");
    Ok(count as f64 / elapsed)
}

async fn hand_worker(address: &str) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = connect(address).await?;
    let options = WorkerOptions::new("bench-hand").register_workflow::<HandWritten>()?.register_workflow::<expressions::HandExpressions>()?.build();
    let mut worker = Worker::new(&runtime, client, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    worker.run().await.map_err(|e| anyhow::anyhow!("{e}"))
}
