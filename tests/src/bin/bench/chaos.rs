//! `chaos`: 200 workflows (`--chaos N` for another count) that each make an HTTP side effect,
//! sleep on a durable timer, wait for a signal, run a child workflow and make a second side
//! effect, while their workers are killed with `kill -9` every 2–5 s for 90 s and restarted,
//! and then while the dev server itself (with a database file) is stopped and started again
//! twice. The workers reconnect by themselves. The receiver of the side effects honours
//! `Idempotency-Key`, as a real API would, and counts the operations that arrived under more
//! than one key (applied more than once). Prints completed/started, wrong outputs and
//! duplicated effects; the last line is `chaos: C/N completed, W wrong, D duplicated`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use wfc_tests::remote::connect;
use wfc_tests::server::{DevServer, free_port, guarded_pids, spawn_guarded, stop};

use super::{ByName, Crates, Go};

const PARENT: &str = "name: chaos
inputSchema: {type: object, required: [n, api], properties: {n: {type: integer}, api: {type: string}}}
signals: {go: {type: object, required: [n], properties: {n: {type: integer}}}}
output:
  n: \"{{ input.n }}\"
  signalled: \"{{ go_ahead.n }}\"
  double: \"{{ child.double }}\"
  charged: \"{{ charge.body.applied }}\"
  notified: \"{{ notify.body.applied }}\"
root:
  type: Sequence
  id: steps
  children:
    - {type: HttpRequest, id: charge, config: {method: POST, url: \"{{ input.api }}/charge\", json: {n: \"{{ input.n }}\"}}}
    - {type: Delay, id: settle, config: {duration: 5s}}
    - {type: WaitForSignal, id: go-ahead, config: {signal: go, timeout: 1 hour}}
    - {type: SubWorkflow, id: child, config: {workflow: chaos-child, taskQueue: chaos-child, input: {n: \"{{ input.n }}\"}}}
    - {type: HttpRequest, id: notify, config: {method: POST, url: \"{{ input.api }}/notify\", json: {n: \"{{ input.n }}\", double: \"{{ child.double }}\"}}}
";

const CHILD: &str = "name: chaos-child
inputSchema: {type: object, required: [n], properties: {n: {type: integer}}}
output: {double: \"{{ input.n * 2 }}\"}
root: {type: Delay, id: pause, config: {duration: 10s}}
";

/// Per operation (path, n): the idempotency keys it arrived under.
type Keys = Arc<Mutex<BTreeMap<(String, i64), BTreeSet<String>>>>;

/// The receiver of the side effects: applies each operation once per `Idempotency-Key`, and
/// remembers under which keys each (path, n) arrived.
struct Receiver {
    base: String,
    keys: Keys,
    /// Every request received, retries included.
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    fn start() -> anyhow::Result<Receiver> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("{e}"))?;
        let base = format!("http://{}", server.server_addr().to_ip().ok_or_else(|| anyhow::anyhow!("no address"))?);
        let keys: Keys = Arc::default();
        let requests: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (recorded, counted) = (keys.clone(), requests.clone());
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let recorded = recorded.clone();
                // Answered after a pause, on its own thread, so kills land while calls are in flight.
                std::thread::spawn(move || {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let n = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["n"].as_i64()).unwrap_or(-1);
                    let key = request.headers().iter().find(|h| h.field.equiv("Idempotency-Key")).map(|h| h.value.to_string()).unwrap_or_default();
                    recorded.lock().unwrap_or_else(|e| e.into_inner()).entry((request.url().to_string(), n)).or_default().insert(key);
                    std::thread::sleep(Duration::from_millis(300));
                    let header = tiny_http::Header::from_bytes("content-type", "application/json").expect("a header");
                    let _ = request.respond(tiny_http::Response::from_string(json!({"applied": true}).to_string()).with_header(header));
                });
            }
        });
        Ok(Receiver { base, keys, requests })
    }

    /// Operations applied more than once: arrived under more than one key.
    fn duplicated(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).values().map(|keys| keys.len().saturating_sub(1)).sum()
    }
}

/// The two workers (parent and child flows), restarted at will.
struct Workers {
    bins: [std::path::PathBuf; 2],
    address: String,
    children: Vec<Child>,
    log: std::path::PathBuf,
}

impl Workers {
    fn start(&mut self) -> anyhow::Result<()> {
        for bin in &self.bins {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
            self.children.push(spawn_guarded(bin, &["worker"], &[("TEMPORAL_ADDRESS", &self.address), ("RUST_LOG", "warn")], Stdio::from(log))?);
        }
        Ok(())
    }

    /// `kill -9`, as a crash would.
    fn kill(&mut self) {
        for mut child in self.children.drain(..) {
            for pid in guarded_pids(&child) {
                let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
            }
            stop(&mut child);
        }
    }
}

pub async fn run(crates: &Crates, count: usize) -> anyhow::Result<()> {
    println!("\n== chaos: {count} workflows; kill -9 of the workers every 2-5 s for 90 s, then the dev server restarted twice");
    let bins = [crates.worker("chaos", PARENT)?, crates.worker("chaos-child", CHILD)?];
    let receiver = Receiver::start()?;
    let db = std::env::temp_dir().join(format!("wfc-chaos-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let port = free_port();
    let mut server = DevServer::start_at(port, Some(&db));
    let log = std::env::temp_dir().join("wfc-bench-chaos.log");
    let _ = std::fs::remove_file(&log);
    let mut workers = Workers { bins, address: server.address.clone(), children: Vec::new(), log: log.clone() };
    workers.start()?;
    let client = connect(&server.address).await?;
    let started = Instant::now();
    let starts = futures::stream::iter(0..count).map(|n| {
        let (client, api) = (client.clone(), receiver.base.clone());
        async move {
            let options = WorkflowStartOptions::new("chaos".to_string(), format!("chaos-{n}")).build();
            client.start_workflow(ByName("chaos"), json!({"n": n, "api": api}), options).await.map(|_| ())
        }
    });
    let failed_starts = starts.buffer_unordered(32).filter(|r| futures::future::ready(r.is_err())).count().await;
    println!("started {} of {count} in {:.1} s", count - failed_starts, started.elapsed().as_secs_f64());

    // Kill phase: 90 s of kill -9 every 2-5 s; half the signals go out in the middle of it.
    let mut rng = wfc_tests::fuzz::Rng(0xc4a0_5eed);
    let (mut kills, phase) = (0, Instant::now());
    let mut signalled_half = false;
    while phase.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(2000 + rng.below(3000) as u64)).await;
        workers.kill();
        workers.start()?;
        kills += 1;
        if !signalled_half && phase.elapsed() > Duration::from_secs(45) {
            signal(&client, (0..count).filter(|n| n % 2 == 0)).await;
            signalled_half = true;
        }
    }
    println!("killed the workers {kills} times in {:.0} s", phase.elapsed().as_secs_f64());
    signal(&client, (0..count).filter(|n| n % 2 == 1)).await;

    // Server phase: the dev server stops and starts again on its database file, twice, while
    // children sleep and notifications are in flight; the workers reconnect by themselves.
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(server);
        tokio::time::sleep(Duration::from_secs(3)).await;
        server = DevServer::start_at(port, Some(&db));
        println!("restarted the dev server ({round} of 2)");
    }
    let client = connect(&server.address).await?;

    // Every run's result, retried while the server settles.
    let deadline = Instant::now() + Duration::from_secs(600);
    let results: Vec<Option<Value>> = futures::stream::iter(0..count)
        .map(|n| {
            let client = client.clone();
            async move { result(&client, n, deadline).await }
        })
        .buffered(32)
        .collect()
        .await;
    let completed = results.iter().filter(|r| r.is_some()).count();
    let wrong =
        results.iter().enumerate().filter(|(n, r)| r.as_ref().is_some_and(|r| *r != json!({"n": n, "signalled": n, "double": 2 * n, "charged": true, "notified": true}))).count();
    let duplicated = receiver.duplicated();
    let operations = receiver.keys.lock().unwrap_or_else(|e| e.into_inner()).len();
    println!("the receiver got {} requests for {operations} operations (retries after kills sent the same key)", receiver.requests.load(std::sync::atomic::Ordering::SeqCst));
    workers.kill();
    let _ = std::fs::remove_file(&db);
    println!("completed {completed}/{count} in {:.0} s; wrong outputs {wrong}; side effects applied more than once {duplicated}", started.elapsed().as_secs_f64());
    println!("chaos: {completed}/{count} completed, {wrong} wrong, {duplicated} duplicated");
    Ok(())
}

/// Sends `go` to the runs `ns`, retrying each until the server takes it.
async fn signal(client: &Client, ns: impl Iterator<Item = usize>) {
    let sends = futures::stream::iter(ns.collect::<Vec<_>>()).map(|n| {
        let client = client.clone();
        async move {
            for _ in 0..30 {
                let handle = client.get_workflow_handle::<ByName>(&format!("chaos-{n}"));
                if handle.signal(Go, json!({"n": n}), Default::default()).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    sends.buffer_unordered(32).collect::<Vec<()>>().await;
}

/// A run's result; `None` when it failed or did not finish before `deadline`.
async fn result(client: &Client, n: usize, deadline: Instant) -> Option<Value> {
    while Instant::now() < deadline {
        let handle = client.get_workflow_handle::<ByName>(&format!("chaos-{n}"));
        match handle.get_result(WorkflowGetResultOptions::default()).await {
            Ok(value) => return Some(value),
            Err(WorkflowGetResultError::Failed(e)) => {
                eprintln!("chaos-{n} failed: {e}");
                return None;
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    None
}
