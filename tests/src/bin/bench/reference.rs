//! The hand-written reference for the `build` section: the benchmark's ten-step flow as a
//! person would write it with the Temporal SDK, as its own worker crate.

use std::path::{Path, PathBuf};

/// The crate's `Cargo.toml`: the same SDK crates and features as the workspace, so the target
/// folder's compiled dependencies serve it.
const CARGO_TOML: &str = r#"[package]
name = "bench-hand-written"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
anyhow = "1"
serde_json = { version = "1", features = ["preserve_order"] }
temporalio-client = { version = "=1.1.1", features = ["vendored-protox"] }
temporalio-common = "=1.1.1"
temporalio-macros = "=1.1.1"
temporalio-sdk = "=1.1.1"
temporalio-workflow = "=1.1.1"
tokio = { version = "1", features = ["macros", "rt-multi-thread", "time", "signal", "process"] }
"#;

/// `src/main.rs`; `LAST` is where the one-node edit goes.
const MAIN_RS: &str = r#"use std::time::Duration;

use serde_json::{Value, json};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};
use temporalio_common::ActivityDefinition;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult};

struct Noop;

impl ActivityDefinition for Noop {
    type Input = Value;
    type Output = Value;

    fn name(&self) -> &str {
        "noop"
    }
}

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
                .task_queue("bench-activities".to_string())
                .build();
            let input = if step == 10 { json!({"step": step /*LAST*/}) } else { json!({"step": step}) };
            let output = ctx.execute_activity(Noop, input, options).await?;
            outputs.insert(format!("step-{step}"), output);
        }
        Ok(Value::Object(outputs))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (connection, options) = ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let connection = Connection::connect(connection).await?;
    let client = Client::new(connection, options)?;
    let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = WorkerOptions::new("bench-hand").register_workflow::<HandWritten>()?.build();
    let mut worker = Worker::new(&runtime, client, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    worker.run().await.map_err(|e| anyhow::anyhow!("{e}"))
}
"#;

/// Writes the crate into `work` with the workspace's lock file; returns its folder.
pub fn write(work: &Path, root: &Path) -> anyhow::Result<PathBuf> {
    let dir = work.join("bench-hand-written");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), CARGO_TOML)?;
    std::fs::write(dir.join("src/main.rs"), MAIN_RS)?;
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(dir)
}

/// The one-node edit: step 10's input gains a field, as in the generated crate's edit.
pub fn edit(dir: &Path, edited: bool) -> anyhow::Result<()> {
    let text = if edited { MAIN_RS.replace("/*LAST*/", ", \"last\": true") } else { MAIN_RS.to_string() };
    Ok(std::fs::write(dir.join("src/main.rs"), text)?)
}
