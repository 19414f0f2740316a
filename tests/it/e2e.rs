//! End to end: generated workers run against a real `temporal server start-dev`, calling a real
//! HTTP server and activities served by another worker on other task queues.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Value, json};
use wfc::SourceFile;
use wfc_tests::http::{HttpServer, RAW_BODY, no_tls_server};
use wfc_tests::postgres::Postgres;
use wfc_tests::remote::RemoteWorkers;
use wfc_tests::repo_root;
use wfc_tests::server::{DevServer, free_port, temporal_cli};
use wfc_tests::smtp::Smtp;
use wfc_tests::workers::{self, WorkerProcess};

fn log_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.log"))
}

/// The outcome of a worker binary's `start --wait`.
struct Run {
    code: Option<i32>,
    output: Value,
    stderr: String,
}

/// A worker of one flow on a task queue of its own, so tests never take each other's tasks.
struct FlowWorker {
    bin: PathBuf,
    task_queue: String,
    worker: WorkerProcess,
}

impl FlowWorker {
    fn start(bin: PathBuf, test: &str, env: &[(&str, &str)]) -> FlowWorker {
        let task_queue = format!("e2e-{test}");
        let address = &DevServer::shared().address;
        let mut args_env: Vec<(&str, &str)> = env.to_vec();
        args_env.push(("WFC_TEST", test));
        let worker = WorkerProcess::start_on(&bin, address, &task_queue, &args_env, log_path(test));
        FlowWorker { bin, task_queue, worker }
    }

    fn run(&self, id: &str, input: Value) -> Run {
        let input = input.to_string();
        let address = &DevServer::shared().address;
        let out = workers::client(&self.bin, address, &["start", "--input", &input, "--id", id, "--task-queue", &self.task_queue, "--wait"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The first line is the workflow id; the result follows.
        let result = stdout.split_once('\n').map(|(_, rest)| rest).unwrap_or_default();
        Run { code: out.status.code(), output: serde_json::from_str(result).unwrap_or(Value::Null), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
    }

    /// Starts a run without waiting for it.
    fn begin(&self, id: &str, input: Value) {
        let out = self.cli(&["start", "--input", &input.to_string(), "--id", id, "--task-queue", &self.task_queue]);
        assert!(out.status.success(), "start {id}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The worker binary's client command (`signal`, `result`, `timeline`, …).
    fn cli(&self, args: &[&str]) -> std::process::Output {
        workers::client(&self.bin, &DevServer::shared().address, args)
    }

    /// Polls the `status` query until `ready` holds; panics after 60 s.
    fn wait_status(&self, id: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let status = self.query_status(id);
            if ready(&status) {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "{id}: {what} never happened; status {status}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// The result of a run, waiting for it to finish.
    fn result(&self, id: &str) -> Value {
        let out = self.cli(&["result", id]);
        assert!(out.status.success(), "result {id}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn query_status(&self, id: &str) -> Value {
        let out = workers::client(&self.bin, &DevServer::shared().address, &["query", id, "status"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

/// The workflow's full history as text, from the `temporal` CLI: its JSON, followed by every
/// payload decoded (payloads are base64 in the JSON, so a plain search would miss a secret).
fn history(id: &str) -> String {
    let out = Command::new(temporal_cli())
        .args(["workflow", "show", "--workflow-id", id, "--output", "json", "--address", &DevServer::shared().address])
        .output()
        .expect("temporal CLI runs");
    assert!(out.status.success(), "temporal workflow show failed: {}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut text = json.clone();
    fn decode(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("data", Value::String(data)) => {
                            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) {
                                out.push('\n');
                                out.push_str(&String::from_utf8_lossy(&bytes));
                            }
                        }
                        _ => decode(item, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| decode(item, out)),
            _ => {}
        }
    }
    decode(&serde_json::from_str(&json).unwrap_or(Value::Null), &mut text);
    text
}

/// Workers serving the remote activities on `payments`, `inventory` and `approvals`.
fn remote_workers() -> &'static RemoteWorkers {
    static WORKERS: OnceLock<RemoteWorkers> = OnceLock::new();
    WORKERS.get_or_init(|| RemoteWorkers::start(&DevServer::shared().address, &["payments", "inventory", "approvals"]))
}

fn users_api(users_status: u16) -> HttpServer {
    HttpServer::start(vec![
        ("POST /users", (users_status, vec![], json!({"id": 42}))),
        ("POST /workspaces", (201, vec![], json!({"id": "ws-1"}))),
        ("POST /emails", (202, vec![], json!({"queued": true}))),
    ])
}

#[test]
fn user_onboarding_runs_end_to_end_and_keeps_its_secret_out_of_history() {
    let api = users_api(201);
    let secret = "tok-e2e-5f2a9c";
    let w = FlowWorker::start(workers::binary("user-onboarding-worker"), "onboarding", &[("USERS_API_TOKEN", secret)]);

    let run = w.run("onboarding-pro", json!({"email": "ada@example.com", "name": "Ada", "plan": "pro", "apiBase": api.base_url}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output, json!({"userId": 42, "plan": "pro", "welcomed": true}));

    let requests = api.requests();
    let users = requests.iter().find(|r| r.path == "/users").expect("POST /users");
    assert_eq!(users.headers["authorization"], format!("Bearer {secret}"));
    assert_eq!(users.headers["idempotency-key"], "onboarding-pro/create-user");
    assert_eq!(serde_json::from_str::<Value>(&users.body).ok(), Some(json!({"email": "ada@example.com", "name": "Ada"})));
    let workspace = requests.iter().find(|r| r.path == "/workspaces").expect("POST /workspaces");
    assert_eq!(serde_json::from_str::<Value>(&workspace.body).ok(), Some(json!({"owner": 42, "plan": "pro"})));

    let status = w.query_status("onboarding-pro");
    assert_eq!(status["state"], "completed");
    assert_eq!(status["skipped"], json!(["free-tier"]));
    assert!(status["completed"].as_array().is_some_and(|c| c.contains(&json!("notify-sales"))));

    let history = history("onboarding-pro");
    assert!(history.contains("create-user"), "the history is readable");
    assert!(!history.contains(secret), "the secret leaked into the workflow history");

    let free = w.run("onboarding-free", json!({"email": "bo@example.com", "name": "Bo", "plan": "free", "apiBase": api.base_url}));
    assert_eq!(free.code, Some(0), "{}", free.stderr);
    assert_eq!(w.query_status("onboarding-free")["skipped"], json!(["notify-sales"]));

    let invalid = w.run("onboarding-bad-email", json!({"email": "nope", "name": "Cy", "plan": "free", "apiBase": api.base_url}));
    assert_eq!(invalid.code, Some(1));
    assert!(invalid.stderr.contains("node `validate-email` (CheckCondition) failed"), "{}", invalid.stderr);

    let bad_input = w.run("onboarding-bad-input", json!({"email": "ada@example.com", "name": "Ada"}));
    assert_eq!(bad_input.code, Some(2));
    assert!(bad_input.stderr.contains("missing field `plan`"), "{}", bad_input.stderr);

    assert!(w.worker.log_text().contains("Onboarding Ada <ada@example.com> on the pro plan"));
}

#[test]
fn http_failures_are_classified_for_retries() {
    let w = FlowWorker::start(workers::binary("user-onboarding-worker"), "http-retries", &[("USERS_API_TOKEN", "t")]);

    // 400: not retryable, so one request and a failure naming the node and the status.
    let rejected = users_api(400);
    let run = w.run("http-400", json!({"email": "a@b.co", "name": "A", "plan": "free", "apiBase": rejected.base_url}));
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("node `create-user` (HttpRequest) failed"), "{}", run.stderr);
    assert!(run.stderr.contains("400"), "{}", run.stderr);
    assert_eq!(rejected.requests().iter().filter(|r| r.path == "/users").count(), 1);

    // 503: retried up to the node's `retryAttempts: 5`.
    let unavailable = users_api(503);
    let run = w.run("http-503", json!({"email": "a@b.co", "name": "A", "plan": "free", "apiBase": unavailable.base_url}));
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    assert_eq!(unavailable.requests().iter().filter(|r| r.path == "/users").count(), 5);
}

#[test]
fn order_fulfillment_calls_activities_served_on_other_task_queues() {
    remote_workers();
    let w = FlowWorker::start(workers::binary("order-fulfillment-worker"), "orders", &[]);

    let run = w.run("order-ok", json!({"orderId": "o-1", "sku": "sku-9", "quantity": 3, "unitPrice": 20.0, "creditLimit": 500}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output, json!({"orderId": "o-1", "total": 64.95, "chargeId": "ch_o-1", "reservation": "rs_o-1_sku-9", "status": "shipped after ch_o-1"}));
    let history = history("order-ok");
    assert!(history.contains("TIMER_FIRED") || history.contains("TimerFired"), "the Delay is a durable timer");

    let over = w.run("order-over-limit", json!({"orderId": "o-2", "sku": "sku-9", "quantity": 3, "unitPrice": 20.0, "creditLimit": 10}));
    assert_eq!(over.code, Some(1));
    assert!(over.stderr.contains("node `over-limit` (Fail) failed: Order o-2 total 64.95 exceeds the credit limit 10"), "{}", over.stderr);

    let declined = w.run("order-declined", json!({"orderId": "o-3", "sku": "sku-1", "quantity": 1000, "unitPrice": 20.0, "creditLimit": 1e9}));
    assert_eq!(declined.code, Some(1));
    assert!(declined.stderr.contains("node `charge-card` (Activity) failed") && declined.stderr.contains("card declined"), "{}", declined.stderr);
    let status = w.query_status("order-declined");
    assert_eq!(status["state"], "failed");
    assert!(status["failed"].as_array().is_some_and(|f| f.contains(&json!("charge-card"))), "{status}");
}

#[test]
fn a_bare_btree_document_runs_and_logs_in_tree_order() {
    let w = FlowWorker::start(workers::binary("reminder-digest-worker"), "digest", &[]);
    let reminders = json!([
        {"title": "pay rent", "done": false, "priority": "high"},
        {"title": "call mum", "done": false, "priority": "low"},
        {"title": "book dentist", "done": true, "priority": "high"},
    ]);
    let run = w.run("digest-1", json!({"user": "ada", "reminders": reminders}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output["count"], json!({"pending": 2, "urgent": 1}));
    assert_eq!(run.output["urgent-digest"], json!({"message": "ada: 2 pending, 1 urgent"}));
    assert_eq!(w.query_status("digest-1")["variables"]["digest"], "ada: 2 pending, 1 urgent");
    let log = w.worker.log_text();
    let greet = log.find("Preparing the digest for ada").expect("greet logged");
    let digest = log.find("ada: 2 pending, 1 urgent").expect("digest logged");
    assert!(greet < digest, "PrintAction messages appear in tree order");
}

#[test]
fn a_flow_written_from_the_design_builds_standalone_and_runs() {
    remote_workers();
    // Outside this repository, as in a user's own: the crate must build on its own.
    let dir = std::env::temp_dir().join("wfc-e2e").join("expense-approval");
    let _ = std::fs::remove_dir_all(&dir);
    let root = wfc_tests::repo_root();
    let wfc = workers::binary("wfc");
    let runtime = format!("path={}", root.join("runtime").display());
    let status =
        Command::new(&wfc).args(["build", "tests/flows/expense-approval.json", "-o"]).arg(&dir).args(["--runtime", &runtime]).current_dir(&root).status().expect("wfc runs");
    assert!(status.success());
    // Same dependency versions as the workspace, so the shared target folder is reused.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the generated crate builds standalone");

    let api = HttpServer::start(vec![("GET /rates", (200, vec![], json!({"rate": 0.5})))]);
    let w = FlowWorker::start(workers::target_dir().join("debug/expense-approval-worker"), "expenses", &[]);
    let small = w.run("expense-small", json!({"employee": "ada", "amount": 100.0, "currency": "USD", "ratesUrl": api.base_url}));
    assert_eq!(small.code, Some(0), "{}", small.stderr);
    assert_eq!(small.output, json!({"employee": "ada", "amountEur": 50.0, "decision": "auto-approved", "reviewedBy": "policy"}));
    let large = w.run("expense-large", json!({"employee": "bo", "amount": 5000.0, "currency": "USD", "ratesUrl": api.base_url}));
    assert_eq!(large.code, Some(0), "{}", large.stderr);
    assert_eq!(large.output, json!({"employee": "bo", "amountEur": 2500.0, "decision": "approved after review", "reviewedBy": "finance"}));
    let rates = api.requests();
    assert_eq!(rates.len(), 2);
    assert!(rates[0].path.contains("from=USD") && rates[0].path.contains("to=EUR"), "{}", rates[0].path);
}

/// One scenario of `samples/control-tree.yaml` or `samples/control-graph.yaml`: its input, and
/// what the run must show.
struct Scenario {
    case: &'static str,
    input: Value,
    /// Variables the run must end with (a subset of all of them).
    vars: Value,
    /// Nodes the `status` query must list as completed, and as skipped.
    completed: &'static [&'static str],
    skipped: &'static [&'static str],
    /// Words the history must contain (e.g. `TIMER_CANCELED`), or the error must (when `fails`).
    history: &'static [&'static str],
    fails: Option<&'static str>,
}

fn scenario(case: &'static str, vars: Value) -> Scenario {
    Scenario { case, input: json!({}), vars, completed: &[], skipped: &[], history: &[], fails: None }
}

/// Runs every scenario on `worker` and checks what each must show.
fn check_scenarios(worker: &FlowWorker, prefix: &str, scenarios: Vec<Scenario>) {
    for s in scenarios {
        let id = format!("{prefix}-{}", s.case);
        let mut input = s.input.clone();
        input["case"] = json!(s.case);
        let run = worker.run(&id, input);
        if let Some(message) = s.fails {
            assert_eq!(run.code, Some(1), "{}: expected a failure: {}", s.case, run.stderr);
            assert!(run.stderr.contains(message), "{}: {}", s.case, run.stderr);
        } else {
            assert_eq!(run.code, Some(0), "{}: {}", s.case, run.stderr);
            let vars = &run.output["vars"];
            for (name, want) in s.vars.as_object().into_iter().flatten() {
                assert_eq!(&vars[name], want, "{}: variable `{name}` in {vars}", s.case);
            }
        }
        let status = worker.query_status(&id);
        for node in s.completed {
            assert!(status["completed"].as_array().is_some_and(|c| c.contains(&json!(node))), "{}: `{node}` completed? {status}", s.case);
        }
        for node in s.skipped {
            assert!(status["skipped"].as_array().is_some_and(|c| c.contains(&json!(node))), "{}: `{node}` skipped? {status}", s.case);
        }
        let history = history(&id);
        for word in s.history {
            assert!(history.contains(word), "{}: `{word}` is not in the history", s.case);
        }
    }
}

#[test]
fn every_tree_construct_runs_on_a_real_server() {
    let w = FlowWorker::start(workers::binary("control-tree-worker"), "control-tree", &[]);
    let scenarios = vec![
        Scenario { completed: &["second"], ..scenario("selector", json!({"picked": "second"})) },
        Scenario { history: &["TIMER_CANCELED"], ..scenario("parallel-any", json!({"fast": "done", "slow": null})) },
        scenario("parallel-threshold", json!({"a": 1, "b": 2})),
        Scenario { history: &["TIMER_CANCELED"], fails: Some("node `boom` (Fail) failed: boom"), ..scenario("parallel-strict", json!({})) },
        // ForEach outputs come back in item order, even with two iterations at once.
        Scenario {
            input: json!({"items": [1, 2, 3, 4]}),
            completed: &["each"],
            ..scenario("foreach", json!({"doubled": [{"doubled": 2}, {"doubled": 4}, {"doubled": 6}, {"doubled": 8}]}))
        },
        scenario("loops", json!({"n": 5, "doWhileRuns": 1, "stats.hits": 3, "stats.once": 1, "ticks": 3})),
        Scenario { completed: &["catch", "cleanup"], ..scenario("recovery", json!({"caught": "try failed", "finally": true})) },
        scenario("retry", json!({"attempts": 3})),
        Scenario { history: &["TIMER_CANCELED"], ..scenario("timeout", json!({"timedOut": "timed out after 300ms"})) },
        Scenario {
            input: json!({"name": "Ada", "items": [1, 3, 5]}),
            completed: &["inverted", "forced", "double-negative", "soft", "handler"],
            ..scenario("decorators", json!({"orderNo": "1234", "handledBy": "routed", "summary": "Hello Ada / [3,5]", "vip": null}))
        },
        Scenario { history: &["TIMER_FIRED"], fails: Some("no `nudge` signal within 1s"), ..scenario("wait-timeout", json!({})) },
        Scenario { skipped: &["never-finishes"], ..scenario("reactive", json!({"reactive": "condition `go == true` no longer holds", "go": false})) },
    ];
    check_scenarios(&w, "tree", scenarios);

    // Outputs nothing reads any more are released: the status says so instead of showing them.
    let status = w.query_status("tree-foreach");
    assert!(status["outputs"].get("each").is_none() && status["released"].as_array().is_some_and(|r| r.contains(&json!("each"))), "{status}");
    // Branches not taken are skipped, and the switch took one case.
    assert!(status["skipped"].as_array().is_some_and(|s| s.contains(&json!("pick"))), "{status}");
}

#[test]
fn a_loop_of_3000_iterations_continues_as_new_and_completes() {
    let w = FlowWorker::start(workers::binary("control-tree-worker"), "long-loop", &[]);
    // One activity per iteration: about 11 history events each, so 3,000 iterations would pass
    // Temporal's limits without continue-as-new.
    let api = HttpServer::start(vec![("GET /tick", (200, vec![], json!({"ok": true})))]);
    let items: Vec<u32> = (0..3000).collect();
    let run = w.run("tree-long-loop", json!({"case": "long-loop", "items": items, "base": api.base_url}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output["vars"]["results"], json!(3000), "every iteration's result is carried across runs");
    let out = Command::new(temporal_cli())
        .args(["workflow", "list", "--query", "WorkflowId = 'tree-long-loop'", "--output", "json", "--address", &DevServer::shared().address])
        .output()
        .expect("temporal CLI runs");
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let count = runs.as_array().map_or(0, Vec::len);
    assert!(count >= 2, "the workflow continued as new at least once ({count} runs)");
}

/// Live-only state: `big` returns about 1 MB and only `measure` reads it, so the compiler
/// releases it there; the loop after it continues as new many times without carrying it.
#[test]
fn a_released_output_is_not_carried_across_continue_as_new() {
    // A server of its own that suggests continue-as-new early, so 120 calls continue often.
    let server = DevServer::start_with(free_port(), None, &["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=150"]);
    let bin = workers::binary("control-tree-worker");
    let _worker = WorkerProcess::start(&bin, &server.address, &[], log_path("live-state"));
    let blob = "x".repeat(1_000_000);
    let api = HttpServer::start(vec![("GET /big", (200, vec![], json!({"blob": blob}))), ("GET /tick", (200, vec![], json!({"ok": true})))]);
    let input = json!({"case": "live-state", "base": api.base_url}).to_string();
    let out = workers::client(&bin, &server.address, &["start", "--input", &input, "--id", "tree-live-state", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let temporal = |args: &[&str]| -> Value {
        let out = Command::new(temporal_cli()).args(args).args(["--output", "json", "--address", &server.address]).output().expect("temporal CLI runs");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let runs = temporal(&["workflow", "list", "--query", "WorkflowId = 'tree-live-state'"]);
    let runs: Vec<&str> = runs.as_array().into_iter().flatten().filter_map(|r| r["execution"]["runId"].as_str()).collect();
    assert!(runs.len() >= 4, "the loop continued as new several times ({} runs)", runs.len());
    // What each run started with: the first run's input is small; a continued run's input is
    // the carried state, which must not hold the released megabyte.
    for run in &runs {
        let history = temporal(&["workflow", "show", "--workflow-id", "tree-live-state", "--run-id", run]);
        let started = &history["events"][0];
        let carried = started.to_string().len();
        assert!(carried < 100_000, "run {run} started with {carried} bytes of input: the released output was carried");
    }
    let status = workers::client(&bin, &server.address, &["query", "tree-live-state", "status"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap_or(Value::Null);
    assert_eq!(status["variables"]["bigBytes"], json!(1_000_000), "{status}");
    assert!(status["released"].as_array().is_some_and(|r| r.contains(&json!("big"))), "the status says `big` was released: {status}");
    assert!(status["outputs"].get("big").is_none(), "{status}");
}

#[test]
fn the_graph_semantics_run_on_a_real_server() {
    let w = FlowWorker::start(workers::binary("control-graph-worker"), "control-graph", &[]);
    let scenarios = vec![
        Scenario {
            input: json!({"qty": 3, "price": 50}),
            completed: &["gold", "settle"],
            skipped: &["basic", "squares", "broken"],
            ..scenario("dag", json!({"level": "gold", "done": true}))
        },
        Scenario { input: json!({"qty": 1, "price": 50}), completed: &["basic", "settle"], skipped: &["gold"], ..scenario("dag", json!({"level": "basic", "done": true})) },
        Scenario {
            input: json!({"items": [2, 3]}),
            completed: &["squares", "twice", "until-three"],
            ..scenario("loops", json!({"inner": 4, "w": 3, "squared": [[1, 2], [3, 4]]}))
        },
        Scenario { input: json!({"items": [1, 2, 3]}), ..scenario("parallel", json!({"fanned": "[\"copy 0\",\"copy 1\",\"copy 2\"] [{\"v\":10},{\"v\":20},{\"v\":30}]"})) },
        Scenario { completed: &["recover"], skipped: &["unreachable-success"], ..scenario("errors", json!({"recovered": "routed failure from broken", "never": null})) },
    ];
    check_scenarios(&w, "graph", scenarios);
}

#[test]
fn the_same_flow_as_a_tree_and_as_a_graph_gives_the_same_result() {
    let tree = FlowWorker::start(workers::binary("control-tree-worker"), "same-tree", &[]);
    let graph = FlowWorker::start(workers::binary("control-graph-worker"), "same-graph", &[]);
    for (i, (qty, price)) in [(3, 50), (1, 50), (10, 11)].into_iter().enumerate() {
        let input = json!({"case": "dag", "qty": qty, "price": price});
        let a = tree.run(&format!("same-tree-{i}"), input.clone());
        let b = graph.run(&format!("same-graph-{i}"), input);
        assert_eq!((a.code, b.code), (Some(0), Some(0)), "{} {}", a.stderr, b.stderr);
        assert_eq!(a.output, b.output, "tree and graph disagree for qty {qty}, price {price}");
    }
}

/// `PrintAction` nodes of a flow in tree order, each with the text its message starts with (up
/// to its first template), and for each node the `Parallel` nodes above it.
type Ancestors = std::collections::BTreeMap<String, Vec<String>>;

fn print_actions(sample: &str) -> (Vec<(String, String)>, Ancestors) {
    let path = wfc_tests::repo_root().join("samples").join(sample);
    let text = std::fs::read_to_string(&path).expect("the sample exists");
    let checked = wfc::check(&wfc::SourceFile::new(sample, text), &wfc::BuildOptions::default());
    let flow = checked.flow.expect("the sample checks");
    let mut ancestors = Ancestors::new();
    for node in flow.nodes() {
        let above = ancestors.get(&node.id).cloned().unwrap_or_default();
        for child in node.children() {
            let mut mine = above.clone();
            mine.push(node.id.clone());
            ancestors.insert(child.id.clone(), mine);
        }
    }
    let prints = flow
        .nodes()
        .into_iter()
        .filter(|n| n.type_name == "PrintAction")
        .filter_map(|n| match &n.kind {
            wfc::model::NodeKind::Log { message, .. } => {
                let text = message.as_str().unwrap_or_default();
                Some((n.id.clone(), text.split("{{").next().unwrap_or_default().to_string()))
            }
            _ => None,
        })
        .collect();
    let parallels: Vec<String> = flow.nodes().into_iter().filter(|n| n.type_name == "Parallel").map(|n| n.id.clone()).collect();
    (prints, ancestors.into_iter().map(|(id, above)| (id, above.into_iter().map(|a| if parallels.contains(&a) { format!("parallel:{a}") } else { a }).collect())).collect())
}

#[test]
fn the_btree_examples_run_and_print_in_tree_order() {
    let examples = [
        ("btree-01-simple-sequence.yaml", "simple-sequence-worker", json!({})),
        ("btree-02-parallel-timeout.yaml", "parallel-timeout-root-worker", json!({})),
        // Flat dotted keys and nested values both reach the blackboard.
        ("btree-03-ecommerce-checkout.yaml", "checkout-workflow-worker", json!({"cart.items": 2, "inventory": {"available": true}, "payment.status": "success"})),
        (
            "btree-04-ai-agent-workflow.yaml",
            "ai-agent-workflow-worker",
            json!({"task": {"type": "research"}, "search": {"resultsCount": 0}, "result": {"accuracy": 0.9, "completeness": 0.8, "safetyScore": 0.95}, "user": {"preferMarkdown": true}}),
        ),
        ("btree-05-order-processing.yaml", "order-processing-worker", json!({})),
    ];
    for (sample, package, input) in examples {
        let test = package.trim_end_matches("-worker");
        let w = FlowWorker::start(workers::binary(package), test, &[]);
        let id = format!("btree-{test}");
        let run = w.run(&id, input);
        assert_eq!(run.code, Some(0), "{sample}: {}", run.stderr);
        let status = w.query_status(&id);
        let completed: Vec<String> = status["completed"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
        let (prints, ancestors) = print_actions(sample);
        let printed: Vec<(String, String)> = prints.into_iter().filter(|(id, _)| completed.contains(id)).collect();
        assert!(!printed.is_empty(), "{sample}: some PrintAction ran");
        // Each completed PrintAction's message is logged, and of two that are not in different
        // branches of one Parallel, the one first in the tree is logged first.
        let log = w.worker.log_text();
        let first = |prefix: &str| log.find(prefix).unwrap_or_else(|| panic!("{sample}: {prefix:?} is not logged:\n{log}"));
        for (i, (a, a_text)) in printed.iter().enumerate() {
            for (b, b_text) in &printed[i + 1..] {
                // Their lowest common ancestor: a Parallel runs them concurrently.
                let common = ancestors[a].iter().zip(&ancestors[b]).take_while(|(x, y)| x == y).last().map(|(x, _)| x.as_str());
                let split_by_parallel = common.is_some_and(|c| c.starts_with("parallel:"));
                if !split_by_parallel {
                    assert!(first(a_text) < first(b_text), "{sample}: `{a}` should be logged before `{b}`:\n{log}");
                }
            }
        }
        if sample.starts_with("btree-04") {
            assert!(log.contains("Synthesizing information from step 5..."), "the research loop ran five steps:\n{log}");
            assert!(completed.contains(&"format-markdown".to_string()) && status["skipped"].as_array().is_some_and(|s| s.contains(&json!("format-plaintext"))), "{status}");
        }
    }
}

fn waiting_on(status: &Value, node: &str, signal: &str) -> bool {
    status["waiting"].as_array().is_some_and(|w| w.iter().any(|w| w["node"] == node && w["signal"] == signal))
}

#[test]
fn an_approval_waits_rejects_a_bad_payload_completes_or_expires_and_pauses() {
    let w = FlowWorker::start(workers::binary("purchase-approval-worker"), "approvals", &[]);
    let order = json!({"item": "laptop", "amount": 1200});

    // It waits, and the status query says for what and since when.
    w.begin("approval-ok", order.clone());
    let status = w.wait_status("approval-ok", "waiting for approval", |s| waiting_on(s, "manager-approval", "approval"));
    let waiting = &status["waiting"][0];
    assert!(waiting["since"].as_str().is_some_and(|t| t.ends_with('Z')) && waiting["until"].is_string(), "{status}");
    assert_eq!(status["running"], json!(["manager-approval", "purchase"]));

    // The command line checks payloads and signal names before sending.
    let bad = w.cli(&["signal", "approval-ok", "approval", "--input", r#"{"approved": "yes", "by": "x"}"#]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains(r#"invalid `approval` payload: at `/approved`: "yes" is not of type "boolean""#),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let unknown = w.cli(&["signal", "approval-ok", "aproval", "--input", "{}"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("it accepts: approval, pause, resume"));

    // A bad payload sent another way is rejected by the workflow, which keeps waiting.
    let sent = Command::new(temporal_cli())
        .args(["workflow", "signal", "--workflow-id", "approval-ok", "--name", "approval", "--input", r#"{"approved": "yes"}"#, "--address", &DevServer::shared().address])
        .output()
        .expect("temporal CLI runs");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let status = w.wait_status("approval-ok", "the rejection", |s| s["rejected"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(status["rejected"][0]["error"].as_str().is_some_and(|e| e.contains("\"by\" is a required property")), "{status}");
    assert!(waiting_on(&status, "manager-approval", "approval"), "{status}");

    // A good payload completes it; the deadline timer is cancelled.
    let good = w.cli(&["signal", "approval-ok", "approval", "--input", r#"{"approved": true, "by": "maria"}"#]);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert_eq!(w.result("approval-ok"), json!({"decision": "approved", "by": "maria"}));
    assert!(history("approval-ok").contains("TIMER_CANCELED"));

    // The timeline reads the history: the deadline, the signals.
    let timeline = String::from_utf8_lossy(&w.cli(&["timeline", "approval-ok"]).stdout).into_owned();
    assert!(timeline.lines().any(|l| l.starts_with("manager-approval timeout") && l.ends_with("cancelled")), "{timeline}");
    assert_eq!(timeline.lines().filter(|l| l.starts_with("approval ") && l.contains("received")).count(), 2, "{timeline}");

    // Nobody answers: the durable timer fires and the flow goes on (`onTimeout: continue`).
    let expired = w.run("approval-expired", order.clone());
    assert_eq!(expired.code, Some(0), "{}", expired.stderr);
    assert_eq!(expired.output, json!({"decision": "expired", "by": "nobody"}));
    assert!(history("approval-expired").contains("TIMER_FIRED"));

    // `pause` takes effect between nodes; the `Pause` node pauses the flow itself.
    w.begin("approval-held", json!({"item": "desk", "amount": 300, "holdAfterDecision": true}));
    w.wait_status("approval-held", "waiting for approval", |s| waiting_on(s, "manager-approval", "approval"));
    assert!(w.cli(&["signal", "approval-held", "pause"]).status.success());
    assert!(w.cli(&["signal", "approval-held", "approval", "--input", r#"{"approved": false, "by": "li"}"#]).status.success());
    let status = w.wait_status("approval-held", "the pause", |s| waiting_on(s, "hold", "resume"));
    assert_eq!(status["paused"], true);
    assert!(status["completed"].as_array().is_some_and(|c| c.contains(&json!("manager-approval"))), "{status}");
    assert!(w.cli(&["signal", "approval-held", "resume"]).status.success());
    w.wait_status("approval-held", "the Pause node", |s| waiting_on(s, "review-hold", "resume") && s["paused"] == true);
    assert!(w.cli(&["signal", "approval-held", "resume"]).status.success());
    assert_eq!(w.result("approval-held"), json!({"decision": "rejected", "by": "li"}));

    // `history` writes what `replay` reads; this build replays it, an edited flow does not.
    let file = log_path("approval-ok-history").with_extension("json");
    let out = w.cli(&["history", "approval-ok"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&file, &out.stdout).expect("write the history");
    let file = file.to_string_lossy().into_owned();
    let replay = w.cli(&["replay", &file]);
    assert_eq!(replay.status.code(), Some(0), "{}", String::from_utf8_lossy(&replay.stderr));
    let edited = edited_purchase_approval();
    let replay = workers::client(&edited, &DevServer::shared().address, &["replay", &file]);
    assert_eq!(replay.status.code(), Some(1), "{}", String::from_utf8_lossy(&replay.stderr));
    let (stdout, stderr) = (String::from_utf8_lossy(&replay.stdout), String::from_utf8_lossy(&replay.stderr));
    assert!(stderr.contains("incompatible: this build of `purchase-approval` would break 1 of 1 runs"), "{stderr}");
    assert!(stdout.contains("breaks: ") && stdout.contains("Nondeterminism"), "{stdout}");
}

/// `samples/purchase-approval.yaml` with a `Delay` added before the approval, built standalone
/// as the package `purchase-approval-edited-worker` (same workflow type, different code).
fn edited_purchase_approval() -> PathBuf {
    let root = wfc_tests::repo_root();
    let dir = std::env::temp_dir().join("wfc-e2e").join("purchase-approval-edited");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let flow = std::fs::read_to_string(root.join("samples/purchase-approval.yaml"))
        .expect("the sample")
        .replace("    - type: HumanApproval\n", "    - {type: Delay, id: cool-off, config: {duration: 1s}}\n    - type: HumanApproval\n");
    let flow_path = dir.join("purchase-approval.yaml");
    std::fs::write(&flow_path, flow).expect("write the edited flow");
    let crate_dir = dir.join("crate");
    let runtime = format!("path={}", root.join("runtime").display());
    let status = Command::new(workers::binary("wfc")).arg("build").arg(&flow_path).arg("-o").arg(&crate_dir).args(["--runtime", &runtime]).status().expect("wfc runs");
    assert!(status.success());
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("the manifest").replace("\"purchase-approval-worker\"", "\"purchase-approval-edited-worker\"");
    std::fs::write(&manifest, text).expect("rename the package");
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the edited crate builds");
    workers::target_dir().join("debug/purchase-approval-edited-worker")
}

#[test]
fn workflows_survive_a_worker_killed_while_activities_run_and_while_they_wait() {
    use wfc_tests::http::DELAY_MS;
    let api =
        HttpServer::start(vec![("GET /doc", (200, vec![(DELAY_MS, "2500".to_string())], json!({"title": "Q3 report"}))), ("POST /published", (200, vec![], json!({"ok": true})))]);
    let mut w = FlowWorker::start(workers::binary("document-review-worker"), "crash", &[]);
    let ids: Vec<String> = (0..4).map(|i| format!("crash-{i}")).collect();
    for id in &ids {
        w.begin(id, json!({"doc": id, "api": api.base_url}));
    }
    let fetches = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while api.requests().iter().filter(|r| r.path.starts_with("/doc")).count() < n {
            assert!(std::time::Instant::now() < deadline, "only {:?} requests", api.requests().len());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let restart = |w: &mut FlowWorker, n: u32| {
        w.worker.kill_hard();
        w.worker = WorkerProcess::start_on(&w.bin, &DevServer::shared().address, &w.task_queue, &[("WFC_TEST", "crash")], log_path(&format!("crash-{n}")));
    };

    // Killed while every fetch is in flight (each takes 2.5 s): the attempts time out and are
    // retried on the new worker.
    fetches(ids.len());
    restart(&mut w, 2);
    for id in &ids {
        w.wait_status(id, "waiting for the review", |s| waiting_on(s, "review", "review"));
    }
    // Killed while they wait for a person.
    restart(&mut w, 3);
    for (i, id) in ids.iter().enumerate() {
        let verdict = if i % 2 == 0 { "accept" } else { "reject" };
        let out = w.cli(&["signal", id, "review", "--input", &json!({"verdict": verdict}).to_string()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for (i, id) in ids.iter().enumerate() {
        let verdict = if i % 2 == 0 { "accept" } else { "reject" };
        assert_eq!(w.result(id), json!({"doc": id, "title": "Q3 report", "verdict": verdict, "published": 200}));
    }
    let requests = api.requests();
    assert!(requests.iter().filter(|r| r.path.starts_with("/doc")).count() >= 2 * ids.len(), "every fetch ran again after the crash");
    assert_eq!(requests.iter().filter(|r| r.path == "/published").count(), ids.len(), "each verdict is published once");
}

#[test]
fn a_schedule_trigger_is_applied_triggered_and_runs() {
    let w = FlowWorker::start(workers::binary("daily-report-worker"), "schedules", &[]);
    let id = "daily-report-e2e";
    let apply = w.cli(&["schedule", "apply", "--id", id, "--task-queue", &w.task_queue]);
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    assert!(String::from_utf8_lossy(&apply.stdout).contains("created schedule `daily-report-e2e`: 0 9 * * 1-5 (Europe/Amsterdam)"));
    // Applying again updates it in place.
    let again = w.cli(&["schedule", "apply", "--id", id, "--task-queue", &w.task_queue]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("updated schedule"), "{}", String::from_utf8_lossy(&again.stderr));
    let describe = || -> Value {
        let out = Command::new(temporal_cli())
            .args(["schedule", "describe", "--schedule-id", id, "--output", "json", "--address", &DevServer::shared().address])
            .output()
            .expect("temporal CLI runs");
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let spec = describe();
    assert!(spec.to_string().contains("Europe/Amsterdam"), "{spec}");

    assert!(w.cli(&["schedule", "trigger", "--id", id]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run_id = loop {
        let info = describe();
        if let Some(run) = info["info"]["recentActions"][0]["startWorkflowResult"]["workflowId"].as_str() {
            break run.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "the schedule started no run: {info}");
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert!(run_id.starts_with("daily-report"), "{run_id}");
    assert_eq!(w.result(&run_id), json!({"report": "Daily report for platform"}));

    assert!(w.cli(&["schedule", "delete", "--id", id]).status.success());
    assert!(
        !Command::new(temporal_cli())
            .args(["schedule", "describe", "--schedule-id", id, "--address", &DevServer::shared().address])
            .output()
            .expect("temporal CLI runs")
            .status
            .success()
    );
}

#[test]
fn child_workflows_run_typed_or_by_name_and_their_failures_route() {
    // The children's own workers, on their flows' default task queues.
    let address = &DevServer::shared().address;
    let _reports = WorkerProcess::start(&workers::binary("daily-report-worker"), address, &[], log_path("children-daily-report"));
    let _tree = WorkerProcess::start(&workers::binary("control-tree-worker"), address, &[], log_path("children-control-tree"));
    let w = FlowWorker::start(workers::binary("team-digest-worker"), "children", &[]);
    let run = w.run("digest-1", json!({"teams": ["ops", "web", "data"]}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output["reports"], json!([{"report": "Daily report for ops"}, {"report": "Daily report for web"}, {"report": "Daily report for data"}]));
    let vars = &run.output["vars"];
    assert!(
        vars["rejected"].as_str().is_some_and(|m| m.contains("invalid input for child workflow `purchase-approval`") && m.contains("\"amount\" is a required property")),
        "{vars}"
    );
    assert!(vars["childFailed"].as_str().is_some_and(|m| m.contains("child workflow `control-tree` failed") && m.contains("boom")), "{vars}");
    // Children are ordinary runs with ids derived from the parent's and the iteration.
    let child = Command::new(temporal_cli()).args(["workflow", "describe", "--workflow-id", "digest-1/team-report#1", "--address", address]).output().expect("temporal CLI runs");
    assert!(child.status.success(), "{}", String::from_utf8_lossy(&child.stderr));
    let timeline = String::from_utf8_lossy(&w.cli(&["timeline", "digest-1"]).stdout).into_owned();
    assert!(timeline.lines().any(|l| l.starts_with("digest-1/team-report#0") && l.contains("child") && l.ends_with("completed")), "{timeline}");
}

#[test]
fn ticket_triage_calls_all_five_integrations_keeps_every_secret_out_of_history_and_routes_their_failures() {
    let (pg, smtp) = (Postgres::shared(), Smtp::shared());
    pg.psql("create table if not exists customers (email text primary key, name text, plan text); insert into customers values ('ada@example.com', 'Ada Lovelace', 'pro') on conflict do nothing")
        .expect("the customers table");
    let completion = json!({
        "id": "chatcmpl-7", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31},
    });
    let api_token = "api-s3cret-40d1";
    let services = HttpServer::start(vec![
        ("POST /v1/chat/completions", (200, vec![], completion)),
        ("POST /tracker/issues", (201, vec![], json!({"id": 7}))),
        ("POST /broken/issues", (201, vec![(RAW_BODY, "{\"id\": 7".to_string())], Value::Null)),
        ("POST /services/T1/B1/hook-s3cret", (200, vec![("content-type", "text/plain".to_string()), (RAW_BODY, "ok".into())], Value::Null)),
    ]);
    let base = &services.base_url;
    let (db, llm, tracker, slack, port) = (pg.url(), format!("{base}/v1"), format!("{base}/tracker"), format!("{base}/services/T1/B1/hook-s3cret"), smtp.starttls_port.to_string());
    let ca = smtp.ca_file.display().to_string();
    let env = |overrides: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABASE_URL", db.clone()),
            ("LLM_BASE_URL", llm.clone()),
            ("LLM_API_KEY", "sk-local".to_string()),
            ("TRACKER_URL", tracker.clone()),
            ("API_TOKEN", api_token.to_string()),
            ("SLACK_WEBHOOK_URL", slack.clone()),
            ("SMTP_HOST", "localhost".to_string()),
            ("SMTP_PORT", port.clone()),
            ("SMTP_USER", Smtp::USER.to_string()),
            ("SMTP_PASSWORD", smtp.password.clone()),
            // The SMTP server's certificate is the test's own.
            ("SSL_CERT_FILE", ca.clone()),
        ];
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push((key, value.clone()));
        }
        env
    };
    let start = |test: &str, overrides: &[(&'static str, String)]| {
        let vars = env(overrides);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        FlowWorker::start(workers::binary("ticket-triage-worker"), test, &vars)
    };
    let ticket = |id: &str, email: &str| json!({"ticketId": id, "email": email, "subject": "Invoice is wrong", "body": "I was charged twice."});

    // Every integration succeeds.
    let w = start("triage", &[]);
    let run = w.run("triage-ok", ticket("T-1", "ada@example.com"));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output, json!({"customer": "Ada Lovelace", "category": "billing", "tokens": 31, "issue": 7, "slackError": null, "emailError": null}));
    let requests = services.requests();
    let asked = requests.iter().find(|r| r.path == "/v1/chat/completions").expect("the model was asked");
    assert_eq!(asked.headers["authorization"], "Bearer sk-local");
    let asked: Value = serde_json::from_str(&asked.body).expect("JSON");
    assert_eq!(asked["messages"][1], json!({"role": "user", "content": "Invoice is wrong: I was charged twice."}));
    let filed = requests.iter().find(|r| r.path == "/tracker/issues").expect("an issue was filed");
    assert_eq!(filed.headers["authorization"], format!("Bearer {api_token}"));
    assert_eq!(filed.headers["idempotency-key"], "triage-ok/file-issue");
    assert_eq!(serde_json::from_str::<Value>(&filed.body).ok(), Some(json!({"title": "Invoice is wrong", "label": "billing", "ticket": "T-1"})));
    let alerted = requests.iter().find(|r| r.path.starts_with("/services/")).expect("Slack was told");
    assert_eq!(serde_json::from_str::<Value>(&alerted.body).ok(), Some(json!({"text": "New billing ticket T-1: Invoice is wrong (issue 7)"})));
    let mail = smtp.delivered().into_iter().find(|m| m.data.contains("Subject: Re: Invoice is wrong") && m.rcpt_tos == ["ada@example.com"]).expect("the customer was answered");
    assert!(mail.authenticated && mail.data.contains("We filed your ticket T-1 as issue 7."), "{}", mail.data);

    // No secret in the history: not the API token in a header, the SMTP password, the database
    // password in the connection string, nor the Slack webhook's secret path.
    let history = history("triage-ok");
    assert!(history.contains("load-customer") && history.contains("env.DATABASE_URL"), "the history is readable, the templates unresolved");
    for secret in [api_token, smtp.password.as_str(), pg.password.as_str(), "hook-s3cret"] {
        assert!(!history.contains(secret), "`{secret}` leaked into the workflow history");
    }

    // Failures route like any node's: a TLS failure (https to a server without TLS) and an SMTP
    // rejection each run their `onError`, and the triage completes.
    let routed = start("triage-routed", &[("SLACK_WEBHOOK_URL", format!("https://{}/hook", no_tls_server()))]);
    let run = routed.run("triage-routed", ticket("T-2", "reject-me@example.com"));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output["customer"], "unknown");
    let slack_error = run.output["slackError"].as_str().unwrap_or_default();
    assert!(slack_error.starts_with("SlackMessage `alert-team`: post to the webhook: ") && slack_error.contains("InvalidContentType"), "{slack_error}");
    let email_error = run.output["emailError"].as_str().unwrap_or_default();
    assert!(email_error.starts_with(&format!("EmailSend `answer-customer`: SMTP send via localhost:{port}: ")) && email_error.contains("550"), "{email_error}");

    // Without a handler, a failure fails the run, naming the node, the operation and the cause:
    // an unreachable database (retried, then given up), and a response that is not valid JSON.
    let unreachable = start("triage-no-db", &[("DATABASE_URL", format!("postgres://wfc:x@127.0.0.1:{}/wfc", free_port()))]);
    let run = unreachable.run("triage-no-db", ticket("T-3", "ada@example.com"));
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("node `load-customer` (DatabaseQuery) failed") && run.stderr.contains("DatabaseQuery `load-customer`: connect to 127.0.0.1:"), "{}", run.stderr);
    let broken = start("triage-bad-json", &[("TRACKER_URL", format!("{base}/broken"))]);
    let run = broken.run("triage-bad-json", ticket("T-4", "ada@example.com"));
    assert_eq!(run.code, Some(1));
    // The URL came from `env`, so the message shows only its origin.
    assert!(run.stderr.contains(&format!("HttpRequest `file-issue`: POST {base}/…: the response is not valid JSON")), "{}", run.stderr);
}

/// Another client (here the `temporal` CLI) can send what the worker binary would refuse: an
/// input that does not fit `inputSchema`, a signal without a payload or with one of the wrong
/// type, a payload for `pause`. None of it may leave a workflow task failing over and over:
/// the bad input fails the run naming the field, and the signals are rejected or ignored while
/// the run goes on.
#[test]
fn input_and_signals_from_another_client_never_wedge_a_run() {
    let w = FlowWorker::start(workers::binary("purchase-approval-worker"), "foreign-client", &[]);
    let address = &DevServer::shared().address;
    let temporal = |args: &[&str]| {
        let out = Command::new(temporal_cli()).args(args).args(["--address", address]).output().expect("temporal CLI runs");
        assert!(out.status.success(), "temporal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let describe = |id: &str| -> Value { serde_json::from_str(&temporal(&["workflow", "describe", "--workflow-id", id, "--output", "json"])).unwrap_or(Value::Null) };
    let status_of = |id: &str| describe(id)["workflowExecutionInfo"]["status"].as_str().unwrap_or_default().to_string();

    temporal(&["workflow", "start", "--type", "purchase-approval", "--task-queue", &w.task_queue, "--workflow-id", "foreign-bad-input", "--input", r#"{"item": 5}"#]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while status_of("foreign-bad-input") == "WORKFLOW_EXECUTION_STATUS_RUNNING" {
        assert!(std::time::Instant::now() < deadline, "a bad input leaves the run running:\n{}", history("foreign-bad-input"));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(status_of("foreign-bad-input"), "WORKFLOW_EXECUTION_STATUS_FAILED");
    let events = history("foreign-bad-input");
    assert!(events.contains("the input does not fit `inputSchema`") && events.contains("item"), "{events}");
    assert!(!events.contains("WORKFLOW_TASK_FAILED"), "{events}");

    w.begin("foreign-signals", json!({"item": "desk", "amount": 300}));
    w.wait_status("foreign-signals", "waiting for approval", |s| waiting_on(s, "manager-approval", "approval"));
    temporal(&["workflow", "signal", "--workflow-id", "foreign-signals", "--name", "approval"]);
    temporal(&["workflow", "signal", "--workflow-id", "foreign-signals", "--name", "approval", "--input", "42"]);
    temporal(&["workflow", "signal", "--workflow-id", "foreign-signals", "--name", "pause", "--input", r#"{"why": "no reason"}"#]);
    let status = w.wait_status("foreign-signals", "two rejections", |s| s["rejected"].as_array().is_some_and(|r| r.len() >= 2));
    assert!(waiting_on(&status, "manager-approval", "approval"), "{status}");
    w.cli(&["signal", "foreign-signals", "resume"]);
    let good = w.cli(&["signal", "foreign-signals", "approval", "--input", r#"{"approved": true, "by": "ana"}"#]);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert_eq!(w.result("foreign-signals"), json!({"decision": "approved", "by": "ana"}));
    assert!(!history("foreign-signals").contains("WORKFLOW_TASK_FAILED"), "{}", history("foreign-signals"));
}

#[test]
fn custom_node_types_run_in_the_flows_own_worker() {
    let w = FlowWorker::start(workers::binary("lead-scoring-worker"), "custom-nodes", &[]);
    let run = w.run("lead-hot", json!({"email": "ada@eng.acme.co.uk", "employees": 1200}));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.output, json!({"domain": "eng.acme.co.uk", "score": 90, "tier": "hot"}));
    // `enrich` is an activity on the flow's own task queue; `score` a local activity: a marker,
    // no activity task.
    let out = Command::new(temporal_cli())
        .args(["workflow", "show", "--workflow-id", "lead-hot", "--output", "json", "--address", &DevServer::shared().address])
        .output()
        .expect("temporal CLI runs");
    let events: Value = serde_json::from_slice(&out.stdout).expect("the history as JSON");
    let events = events["events"].as_array().cloned().unwrap_or_default();
    let scheduled: Vec<&Value> = events.iter().filter_map(|e| e.get("activityTaskScheduledEventAttributes")).collect();
    assert_eq!(scheduled.len(), 1, "one activity task, for enrich: {scheduled:?}");
    assert_eq!(scheduled[0]["activityType"]["name"], "enrich-company");
    assert_eq!(scheduled[0]["taskQueue"]["name"], json!(w.task_queue), "on the flow's own queue");
    let markers: Vec<&Value> = events.iter().filter_map(|e| e.get("markerRecordedEventAttributes")).collect();
    assert!(markers.iter().any(|m| m["markerName"] == "core_local_activity"), "score is a local activity: {markers:?}");
    // The timeline shows both, the local one with its attempts.
    let timeline = String::from_utf8_lossy(&w.cli(&["timeline", "lead-hot"]).stdout).into_owned();
    assert!(timeline.lines().any(|l| l.starts_with("enrich ") && l.contains("activity") && l.contains("completed")), "{timeline}");
    assert!(timeline.lines().any(|l| l.starts_with("score ") && l.contains("local activity") && l.contains("completed")), "{timeline}");
    // `logs` replays the local activity's marker and carries on past it.
    let logs = String::from_utf8_lossy(&w.cli(&["logs", "lead-hot"]).stdout).into_owned() + &String::from_utf8_lossy(&w.cli(&["logs", "lead-hot"]).stderr);
    assert!(logs.contains("✔ score") && logs.contains("hot lead ada@eng.acme.co.uk (90)"), "{logs}");

    // The implementation's non-retryable failure fails the node at its first attempt.
    let bad = w.run("lead-bad", json!({"email": "not-an-email", "employees": 5}));
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("node `enrich` (enrich-company) failed") && bad.stderr.contains("`not-an-email` is not an email address"), "{}", bad.stderr);
    let attempts = w.cli(&["timeline", "lead-bad"]);
    let attempts = String::from_utf8_lossy(&attempts.stdout);
    let row: Vec<&str> = attempts.lines().find(|l| l.starts_with("enrich ")).unwrap_or_default().split_whitespace().collect();
    assert_eq!((row.get(5), row.get(6)), (Some(&"1"), Some(&"failed:")), "one attempt, then failed:\n{attempts}");
}

#[test]
fn an_implementation_that_does_not_fit_its_declaration_fails_to_compile_naming_the_node_type() {
    let sample = std::fs::read_to_string(repo_root().join("samples/lead-scoring.yaml")).unwrap();
    // A third node type the crate does not implement; an output of `score-lead` it does not return.
    let unimplemented = sample
        .replace("activities:\n", "activities:\n  qualify-lead:\n    crate: {name: lead-nodes, path: nodes/lead-nodes}\n    input: {type: object}\n    output: {type: object}\n");
    let changed = sample.replace("tier: {type: string, enum: [hot, warm, cold]}", "tier: {type: integer}");
    for (label, flow, names) in [("unimplemented", unimplemented, "QualifyLead"), ("changed", changed, "ScoreLead")] {
        assert_ne!(flow, sample);
        // The sample's crate, copied beside the edited flow; its contract is written there.
        let dir = std::env::temp_dir().join(format!("wfc-mismatched-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for file in ["Cargo.toml", "src/lib.rs"] {
            let target = dir.join("nodes/lead-nodes").join(file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(repo_root().join("samples/nodes/lead-nodes").join(file), target).unwrap();
        }
        let source = SourceFile::new(dir.join("lead-scoring.yaml").to_string_lossy(), flow);
        let mut options = wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path(repo_root().join("runtime").to_string_lossy().into_owned()));
        options.crate_dir = Some(dir.join("lead-scoring"));
        let built = wfc::build(&source, &options).unwrap_or_else(|d| panic!("the {label} flow checks: {d:?}"));
        let errors = workers::check_crates(&format!("custom-{label}"), &[built]).expect_err("a mismatched implementation does not compile");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(errors.contains(names), "the {label} node type's trait or types are named:\n{errors}");
    }
}
