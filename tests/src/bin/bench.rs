//! The benchmark: prints figures, asserts nothing.
//!
//! 1. Build time: `wfc build` of a flow, then `cargo build --release` of the generated crate with
//!    its dependencies already compiled (after a one-node change).
//! 2. Throughput: a generated worker against a hand-written Temporal SDK workflow doing the same
//!    work (10 sequential no-op activities), on one dev server, in alternating rounds.
//!
//! `cargo run --release -p wfc-tests --bin bench [-- --workflows N]`

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::{ActivityDefinition, HasWorkflowDefinition, WorkflowDefinition};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult};
use wfc_tests::remote::{RemoteWorkers, connect};
use wfc_tests::server::{DevServer, spawn_guarded, stop};

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
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                .activity_id(format!("step-{step}"))
                .task_queue(ACTIVITY_QUEUE.to_string())
                .build();
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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.get(1).map(String::as_str) == Some("hand-worker") {
        let address = args.get(2).cloned().unwrap_or_default();
        return runtime.block_on(hand_worker(&address));
    }
    let workflows: usize = args.iter().position(|a| a == "--workflows").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok()).unwrap_or(300);
    let rounds = 2;

    println!("wfc benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
    let generated_bin = build_figures()?;

    println!("\n## Throughput: {workflows} workflows x {rounds} rounds, 10 sequential no-op activities each");
    let server = DevServer::start();
    let _activities = RemoteWorkers::start(&server.address, &[ACTIVITY_QUEUE]);
    let log = std::env::temp_dir().join("wfc-bench-generated.log");
    let mut generated = spawn_guarded(
        &generated_bin,
        &["worker", "--task-queue", "bench-generated"],
        &[("TEMPORAL_ADDRESS", &server.address)],
        Stdio::from(std::fs::File::create(&log)?),
    )?;
    let me = std::env::current_exe()?;
    let mut hand = spawn_guarded(&me, &["hand-worker", &server.address], &[], Stdio::inherit())?;
    let result = runtime.block_on(async {
        let client = connect(&server.address).await?;
        // Warm-up: caches, connections, the server's first task queues.
        run_batch(&client, "hand-written", "bench-hand", 20, "warm").await?;
        run_batch(&client, "bench-ten-steps", "bench-generated", 20, "warm").await?;
        let (mut hand_rates, mut generated_rates) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let h = run_batch(&client, "hand-written", "bench-hand", workflows, &format!("h{round}")).await?;
            let g = run_batch(&client, "bench-ten-steps", "bench-generated", workflows, &format!("g{round}")).await?;
            println!("round {round}: hand-written {h:.1} workflows/s, generated {g:.1} workflows/s");
            hand_rates.push(h);
            generated_rates.push(g);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (h, g) = (mean(&hand_rates), mean(&generated_rates));
        println!("mean: hand-written {h:.1} workflows/s ({:.0} activities/s), generated {g:.1} workflows/s", h * 10.0);
        println!("throughput ratio generated / hand-written: {:.3}", g / h);
        anyhow::Ok(())
    });
    stop(&mut generated);
    stop(&mut hand);
    result
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
    let options = WorkerOptions::new("bench-hand").register_workflow::<HandWritten>()?.build();
    let mut worker = Worker::new(&runtime, client, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    worker.run().await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds the benchmark flow's crate, timing `wfc build` and the incremental cargo build after a
/// one-node change; returns the release worker binary.
fn build_figures() -> anyhow::Result<PathBuf> {
    let root = wfc_tests::repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let work = std::env::temp_dir().join("wfc-bench");
    std::fs::create_dir_all(&work)?;
    let flow = work.join("bench-ten-steps.yaml");
    let crate_dir = work.join("bench-ten-steps");
    let original = std::fs::read_to_string(root.join("tests/flows/bench-ten-steps.yaml"))?;
    let runtime = format!("path={}", root.join("runtime").display());

    let status = Command::new(&cargo).args(["build", "--release", "-q", "-p", "wfc"]).current_dir(&root).status()?;
    anyhow::ensure!(status.success(), "building wfc failed");
    let wfc = target.join("release/wfc");
    let wfc_build = |text: &str| -> anyhow::Result<Duration> {
        std::fs::write(&flow, text)?;
        let started = Instant::now();
        let status = Command::new(&wfc).arg("build").arg(&flow).arg("-o").arg(&crate_dir).args(["--runtime", &runtime]).stderr(Stdio::null()).status()?;
        anyhow::ensure!(status.success(), "wfc build failed");
        Ok(started.elapsed())
    };
    let cargo_build = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let status = Command::new(&cargo).args(["build", "--release", "-q"]).current_dir(&crate_dir).env("CARGO_TARGET_DIR", &target).status()?;
        anyhow::ensure!(status.success(), "cargo build of the generated crate failed");
        Ok(started.elapsed())
    };

    println!("\n## Build time of a generated crate (10 activity nodes)");
    wfc_build(&original)?;
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock"))?;
    let cold = cargo_build()?;
    println!("first cargo build --release (dependencies as the target folder has them): {:.1}s", cold.as_secs_f64());
    let changed = original.replace("input: {step: 10}", "input: {step: 10, last: true}");
    let wfc_time = wfc_build(&changed)?;
    let cargo_time = cargo_build()?;
    println!("after a one-node change: wfc build {:.0}ms + cargo build --release {:.1}s = {:.1}s", wfc_time.as_secs_f64() * 1000.0, cargo_time.as_secs_f64(), (wfc_time + cargo_time).as_secs_f64());
    wfc_build(&original)?;
    cargo_build()?;
    Ok(target.join("release/bench-ten-steps-worker"))
}

