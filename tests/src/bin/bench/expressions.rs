//! The `expressions` section: a ForEach over 200 items, each iteration evaluating a condition,
//! a template of several expressions and a comprehension, then calling one no-op activity;
//! the generated worker's CPU per workflow beside a hand-written SDK workflow doing the same
//! work in plain Rust, in alternating rounds (ABBA).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowResult};
use wfc_tests::remote::{RemoteWorkers, connect};
use wfc_tests::server::{DevServer, spawn_guarded, stop};

use super::{ACTIVITY_QUEUE, ByName, Crates, Noop, cpu_seconds};

/// Items per workflow.
const ITEMS: usize = 200;

/// The flow's work, written by hand with the SDK.
#[workflow]
#[derive(Default)]
pub struct HandExpressions;

#[workflow_methods]
impl HandExpressions {
    #[run(name = "hand-expressions")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Value) -> WorkflowResult<Value> {
        let items = input["items"].as_array().cloned().unwrap_or_default();
        let total = items.len();
        let mut results = Vec::with_capacity(total);
        for (i, item) in items.iter().enumerate() {
            let n = item["n"].as_i64().unwrap_or(0);
            let tags: Vec<&Value> = item["tags"].as_array().map(|t| t.iter().collect()).unwrap_or_default();
            if n >= 0 || tags.iter().any(|t| *t == "vip") {
                let label = format!("item {n} of {total}: {}", item["name"].as_str().unwrap_or_default());
                let kept: Vec<&Value> = tags.into_iter().filter(|t| *t != "skip").collect();
                let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).activity_id(format!("call-{i}")).task_queue(ACTIVITY_QUEUE.to_string()).build();
                results.push(ctx.execute_activity(Noop, json!({"n": n, "label": label, "tags": kept}), options).await?);
            }
        }
        Ok(Value::Array(results))
    }
}

fn input() -> Value {
    let items: Vec<Value> = (0..ITEMS).map(|n| json!({"n": n, "name": format!("item-{n}"), "tags": ["a", "skip", if n % 7 == 0 { "vip" } else { "b" }]})).collect();
    json!({ "items": items })
}

/// Starts `count` workflows and waits for them all.
async fn batch(client: &Client, workflow: &'static str, task_queue: &str, count: usize, tag: &str) -> anyhow::Result<()> {
    let mut handles = Vec::with_capacity(count);
    for i in 0..count {
        let options = WorkflowStartOptions::new(task_queue.to_string(), format!("bench-{tag}-{workflow}-{i}")).build();
        handles.push(client.start_workflow(ByName(workflow), input(), options));
    }
    let handles = futures::future::try_join_all(handles).await?;
    let results = futures::future::join_all(handles.iter().map(|h| h.get_result(WorkflowGetResultOptions::default()))).await;
    for result in results {
        let output = result?;
        anyhow::ensure!(output.as_array().map(Vec::len) == Some(ITEMS), "{workflow} answered {} items", output.as_array().map_or(0, Vec::len));
    }
    Ok(())
}

pub async fn run(crates: &Crates, workflows: usize) -> anyhow::Result<()> {
    let rounds = 4;
    let generated_bin = crates.worker("bench-expressions", &std::fs::read_to_string(crates.root.join("tests/flows/bench-expressions.yaml"))?)?;
    println!("\n## Expressions: {workflows} workflows x {rounds} rounds, a ForEach over {ITEMS} items (a condition, a template, a comprehension and an activity each)");
    let server = DevServer::start();
    let _activities = RemoteWorkers::start(&server.address, &[ACTIVITY_QUEUE]);
    let log = std::env::temp_dir().join("wfc-bench-expressions.log");
    let mut generated =
        spawn_guarded(&generated_bin, &["worker", "--task-queue", "bench-generated"], &[("TEMPORAL_ADDRESS", &server.address)], Stdio::from(std::fs::File::create(&log)?))?;
    let me = std::env::current_exe()?;
    let mut hand = spawn_guarded(&me, &["hand-worker", &server.address], &[], Stdio::inherit())?;
    let result = async {
        let client = connect(&server.address).await?;
        batch(&client, "hand-expressions", "bench-hand", 2, "warm").await?;
        batch(&client, "bench-expressions", "bench-generated", 2, "warm").await?;
        let (hand_start, generated_start) = (cpu_seconds(&hand), cpu_seconds(&generated));
        for round in 1..=rounds {
            let one = async |hand: bool| {
                let (workflow, queue, tag) = if hand { ("hand-expressions", "bench-hand", "h") } else { ("bench-expressions", "bench-generated", "g") };
                batch(&client, workflow, queue, workflows, &format!("{tag}{round}")).await
            };
            if round % 2 == 1 {
                one(true).await?;
                one(false).await?;
            } else {
                one(false).await?;
                one(true).await?;
            }
        }
        let per_workflow = |cpu: f64| cpu * 1000.0 / (rounds * workflows) as f64;
        let (h, g) = (per_workflow(cpu_seconds(&hand) - hand_start), per_workflow(cpu_seconds(&generated) - generated_start));
        println!("worker CPU per workflow: hand-written {h:.1}ms, generated {g:.1}ms");
        println!("expressions: generated/hand-written CPU ratio {:.2}", g / h);
        anyhow::Ok(())
    }
    .await;
    stop(&mut generated);
    stop(&mut hand);
    result
}
