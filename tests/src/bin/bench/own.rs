//! `own-activities`: the 10-step flow with its activities as custom node types served by the
//! generated worker itself, beside a hand-written SDK worker that serves its own activities
//! (the usual way to write one), on one dev server with eager activity execution enabled, in
//! ABBA rounds. Per workflow: the worker's CPU, the server's CPU (each measured over its own
//! batches) and throughput.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult};
use wfc_tests::remote::connect;
use wfc_tests::server::{DevServer, free_port, spawn_guarded, stop};

use super::{Crates, cpu_seconds, run_batch};

const HAND_QUEUE: &str = "bench-hand-own";
const GENERATED_QUEUE: &str = "bench-own";

/// The hand-written worker's activity: answers with its input.
pub struct OwnActivities;

#[activities]
impl OwnActivities {
    #[activity(name = "noop")]
    pub async fn noop(_ctx: ActivityContext, input: Value) -> Result<Value, ActivityError> {
        Ok(input)
    }
}

/// What a person writes with the SDK: ten sequential activities, served by the same worker.
#[workflow]
#[derive(Default)]
pub struct HandOwn;

#[workflow_methods]
impl HandOwn {
    #[run(name = "hand-own")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: Value) -> WorkflowResult<Value> {
        let mut outputs = serde_json::Map::new();
        for step in 1..=10 {
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).activity_id(format!("step-{step}")).build();
            let output = ctx.execute_activity(OwnActivities::noop, json!({ "step": step }), options).await?;
            outputs.insert(format!("step-{step}"), output);
        }
        Ok(Value::Object(outputs))
    }
}

/// `bench hand-own-worker ADDRESS`: the hand-written worker, in a process of its own.
pub async fn hand_worker(address: &str) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = connect(address).await?;
    let options = WorkerOptions::new(HAND_QUEUE).register_workflow::<HandOwn>()?.register_activities(OwnActivities).build();
    let mut worker = Worker::new(&runtime, client, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    worker.run().await.map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn run(crates: &Crates, workflows: usize) -> anyhow::Result<()> {
    let rounds = 4;
    let (crate_dir, _) = crates.generate_file("tests/flows/bench-own-activities.yaml", "bench-own-activities")?;
    crates.compile(&crate_dir)?;
    let generated_bin = crates.target.join("release/bench-own-activities-worker");
    println!("\n## Own activities: {workflows} workflows x {rounds} rounds, 10 sequential no-op activities served by the workflow's own worker");
    // Eager execution hands an activity scheduled on the worker's own queue straight back to it.
    let server = DevServer::start_with(free_port(), None, &["--dynamic-config-value", "system.enableActivityEagerExecution=true"]);
    let log = std::env::temp_dir().join("wfc-bench-own.log");
    let mut generated = spawn_guarded(
        &generated_bin,
        &["worker", "--unversioned", "--task-queue", GENERATED_QUEUE],
        &[("TEMPORAL_ADDRESS", &server.address)],
        Stdio::from(std::fs::File::create(&log)?),
    )?;
    let me = std::env::current_exe()?;
    let mut hand = spawn_guarded(&me, &["hand-own-worker", &server.address], &[], Stdio::inherit())?;
    let result = async {
        let client = connect(&server.address).await?;
        run_batch(&client, "hand-own", HAND_QUEUE, 20, "own-warm").await?;
        run_batch(&client, "bench-own-activities", GENERATED_QUEUE, 20, "own-warm").await?;
        // Per side: (workflows/s per round, worker CPU s, server CPU s), each over its own batches.
        let mut sides = [(Vec::new(), 0.0, 0.0), (Vec::new(), 0.0, 0.0)];
        for round in 1..=rounds {
            // ABBA: the server slows as its store grows, so each side goes first half the time.
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for side in order {
                let (workflow, queue, worker) = if side == 0 { ("hand-own", HAND_QUEUE, &hand) } else { ("bench-own-activities", GENERATED_QUEUE, &generated) };
                let (worker_before, server_before) = (cpu_seconds(worker), server.cpu_seconds());
                let rate = run_batch(&client, workflow, queue, workflows, &format!("own{round}")).await?;
                sides[side].0.push(rate);
                sides[side].1 += cpu_seconds(worker) - worker_before;
                sides[side].2 += server.cpu_seconds() - server_before;
            }
            println!("round {round}: hand-written {:.1} workflows/s, generated {:.1} workflows/s", sides[0].0[round - 1], sides[1].0[round - 1]);
        }
        let total = (rounds * workflows) as f64;
        let per = |cpu: f64| cpu * 1000.0 / total;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let ((hr, hw, hs), (gr, gw, gs)) = ((mean(&sides[0].0), sides[0].1, sides[0].2), (mean(&sides[1].0), sides[1].1, sides[1].2));
        println!("worker CPU per workflow: hand-written {:.2} ms, generated {:.2} ms", per(hw), per(gw));
        println!("server CPU per workflow: hand-written {:.2} ms, generated {:.2} ms", per(hs), per(gs));
        println!("mean throughput: hand-written {hr:.1} workflows/s, generated {gr:.1} workflows/s");
        println!("own-activities: worker CPU ratio {:.3}, server CPU ratio {:.3}, throughput ratio {:.3}", gw / hw, gs / hs, gr / hr);
        anyhow::Ok(())
    }
    .await;
    stop(&mut generated);
    stop(&mut hand);
    result
}
