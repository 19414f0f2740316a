//! Changing a flow while its runs are in flight, end to end on a real dev server: versioned
//! deploys (pinned builds side by side, `deploy`, `versions`), the replay gate (`replay --open`
//! and `--dir`), automatic patching of an auto-upgrade flow (`wfc build --previous`), retrying a
//! run from a failed node (`reset --node`), and the worker's metrics and health endpoints.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use wfc::{RuntimeSource, SourceFile};
use wfc_tests::http::HttpServer;
use wfc_tests::server::{DevServer, free_port};
use wfc_tests::workers::{self, WorkerProcess};
use wfc_tests::{eventually, repo_root};

/// The worker binaries of every flow version these tests deploy.
struct Bins {
    approval_v1: PathBuf,
    approval_v2: PathBuf,
    approval_v2_safe: PathBuf,
    patch_v1: PathBuf,
    patch_v2_unpatched: PathBuf,
    patch_v2: PathBuf,
    reset: PathBuf,
    reset_edited: PathBuf,
    metrics: PathBuf,
}

fn flow(name: &str) -> SourceFile {
    let path = format!("tests/flows/deploys/{name}.yaml");
    SourceFile::new(path.clone(), std::fs::read_to_string(repo_root().join(&path)).expect("a deploy flow"))
}

fn build(source: &SourceFile, previous: Option<SourceFile>) -> wfc::Built {
    let runtime = RuntimeSource::Path(repo_root().join("runtime").display().to_string());
    let options = wfc::BuildOptions { previous, ..wfc::BuildOptions::with_runtime(runtime) };
    wfc::build(source, &options).unwrap_or_else(|d| panic!("{}: {d:?}", source.path))
}

/// Every version, built once per test process in one cargo invocation.
fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let approval_v1 = flow("approval-v1");
        let safe = SourceFile::new("approval-v2-safe.yaml", approval_v1.text.replace("version = 1", "version = 3"));
        let reset = flow("retry-from-node");
        let edited = SourceFile::new(
            "retry-from-node-edited.yaml",
            reset.text.replace(
                "    - {type: HttpRequest, id: first",
                "    - {type: HttpRequest, id: zero, config: {url: \"{{ input.base }}/zero\"}}\n    - {type: HttpRequest, id: first",
            ),
        );
        let metrics = SourceFile::new("metrics.yaml", approval_v1.text.replace("name: deploy-approval", "name: deploy-metrics"));
        let built = [
            ("approval-v1", build(&approval_v1, None)),
            ("approval-v2", build(&flow("approval-v2"), None)),
            ("approval-v2-safe", build(&safe, None)),
            ("patch-v1", build(&flow("patch-v1"), None)),
            ("patch-v2-unpatched", build(&flow("patch-v2"), None)),
            ("patch-v2", build(&flow("patch-v2"), Some(flow("patch-v1")))),
            ("reset", build(&reset, None)),
            ("reset-edited", build(&edited, None)),
            ("metrics", build(&metrics, None)),
        ];
        let variants: Vec<(&str, &wfc::Built)> = built.iter().map(|(name, b)| (*name, b)).collect();
        let mut bins = workers::build_variants("deploys", &variants).into_iter();
        let mut next = || bins.next().expect("a binary per variant");
        Bins {
            approval_v1: next(),
            approval_v2: next(),
            approval_v2_safe: next(),
            patch_v1: next(),
            patch_v2_unpatched: next(),
            patch_v2: next(),
            reset: next(),
            reset_edited: next(),
            metrics: next(),
        }
    })
}

fn log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("deploys-{name}.log"))
}

/// A command of a worker binary against the shared server: (exit code, stdout, stderr).
fn cli(bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = workers::client(bin, &DevServer::shared().address, args);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn ok(bin: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = cli(bin, args);
    assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
    stdout
}

fn status(bin: &Path, id: &str) -> Value {
    serde_json::from_str(&cli(bin, &["query", id, "status"]).1).unwrap_or(Value::Null)
}

fn waiting_for_approval(bin: &Path, id: &str) {
    eventually(&format!("{id} waiting for approval"), || status(bin, id)["waiting"].as_array().is_some_and(|w| w.iter().any(|w| w["node"] == "approve")).then_some(()));
}

fn listed(status: &Value, key: &str, node: &str) -> bool {
    status[key].as_array().is_some_and(|a| a.contains(&json!(node)))
}

/// `versions` as (build id, role, open runs), and this binary's build id.
fn versions(bin: &Path) -> (String, Vec<(String, String, u64)>) {
    let text = ok(bin, &["versions"]);
    let this = text.split('`').nth(3).unwrap_or_default().to_string();
    let rows = text
        .lines()
        .skip(2)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let open = fields.last()?.parse().ok()?;
            Some((fields.first()?.to_string(), fields[1..fields.len() - 1].join(" "), open))
        })
        .collect();
    (this, rows)
}

fn open_runs(bin: &Path, build: &str) -> Option<u64> {
    versions(bin).1.into_iter().find(|(id, _, _)| id == build).map(|(_, _, open)| open)
}

#[test]
fn pinned_builds_run_side_by_side_until_the_old_one_drains() {
    let bins = bins();
    let api = HttpServer::start(vec![("GET /fetch", (200, vec![], json!({"ok": true}))), ("GET /audit", (200, vec![], json!({"ok": true})))]);
    let input = json!({"base": api.base_url}).to_string();
    let _v1 = WorkerProcess::start(&bins.approval_v1, &DevServer::shared().address, &[], log("approval-v1"));
    // The first worker of the deployment makes its build current: no deploy step.
    for id in ["pinned-old-1", "pinned-old-2"] {
        ok(&bins.approval_v1, &["start", "--id", id, "--input", &input]);
        waiting_for_approval(&bins.approval_v1, id);
    }
    let (v1, rows) = versions(&bins.approval_v1);
    assert!(rows.iter().any(|(id, role, open)| *id == v1 && role == "current" && *open == 2), "{rows:?}");

    // A second build polls, but takes no run until it is deployed.
    let _v2 = WorkerProcess::start(&bins.approval_v2, &DevServer::shared().address, &[], log("approval-v2"));
    // The replay gate: v2 adds a call before the wait, so it would break both runs.
    let (code, stdout, stderr) = cli(&bins.approval_v2, &["replay", "--open"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    for id in ["pinned-old-1", "pinned-old-2"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("breaks: run {id}: diverges at node `approve`"))), "{stdout}");
    }
    // A compatible build passes the gate, and so does v1 itself.
    let (code, stdout, stderr) = cli(&bins.approval_v2_safe, &["replay", "--open"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("ok: run pinned-old-1") && stdout.contains("ok: run pinned-old-2"), "{stdout}");
    // The same gate over recorded histories.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploys-histories");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a history folder");
    for id in ["pinned-old-1", "pinned-old-2"] {
        std::fs::write(dir.join(format!("{id}.json")), ok(&bins.approval_v1, &["history", id])).expect("write a history");
    }
    let dir_arg = dir.display().to_string();
    assert_eq!(cli(&bins.approval_v2, &["replay", "--dir", &dir_arg]).0, Some(1));
    assert_eq!(cli(&bins.approval_v2_safe, &["replay", "--dir", &dir_arg]).0, Some(0));

    // A ramp, then the deploy: new runs start on v2, the old ones stay on v1.
    assert!(ok(&bins.approval_v2, &["deploy", "--ramp", "10"]).contains("ramping"));
    let (v2, rows) = versions(&bins.approval_v2);
    assert!(rows.iter().any(|(id, role, _)| *id == v2 && role.starts_with("ramping 10")), "{rows:?}");
    assert!(ok(&bins.approval_v2, &["deploy"]).contains("current"));
    ok(&bins.approval_v2, &["start", "--id", "pinned-new", "--input", &input]);
    waiting_for_approval(&bins.approval_v2, "pinned-new");
    assert!(listed(&status(&bins.approval_v2, "pinned-new"), "completed", "audit"), "the new run took v2's path");
    let rows = versions(&bins.approval_v2).1;
    assert!(rows.iter().any(|(id, role, open)| *id == v1 && role == "draining" && *open == 2), "{rows:?}");
    assert!(rows.iter().any(|(id, role, open)| *id == v2 && role == "current" && *open == 1), "{rows:?}");

    // The old runs finish on v1, the new one on v2; v1's open runs count down to zero.
    for (id, version) in [("pinned-old-1", 1), ("pinned-old-2", 1), ("pinned-new", 2)] {
        ok(&bins.approval_v1, &["signal", id, "approval", "--input", r#"{"by": "ops"}"#]);
        let result: Value = serde_json::from_str(&ok(&bins.approval_v1, &["result", id])).expect("a JSON result");
        assert_eq!(result, json!({"by": "ops", "version": version}), "{id}");
        if id == "pinned-old-1" {
            eventually("one open run left on v1", || (open_runs(&bins.approval_v2, &v1) == Some(1)).then_some(()));
        }
    }
    eventually("no open run left on v1", || (open_runs(&bins.approval_v2, &v1) == Some(0)).then_some(()));
    assert_eq!(api.count("/audit"), 1, "only the run started on v2 made v2's call");
}

#[test]
fn an_auto_upgrade_flow_built_with_previous_carries_old_runs_onto_the_new_flow() {
    let bins = bins();
    let ok_route = (200, vec![], json!({"ok": true}));
    let api = HttpServer::start(["GET /legacy", "GET /before", "GET /after", "GET /finish"].into_iter().map(|r| (r, ok_route.clone())).collect());
    let input = json!({"base": api.base_url}).to_string();
    let old_runs = ["patch-old-1", "patch-old-2", "patch-old-3"];
    {
        let _v1 = WorkerProcess::start(&bins.patch_v1, &DevServer::shared().address, &[], log("patch-v1"));
        for id in old_runs {
            ok(&bins.patch_v1, &["start", "--id", id, "--input", &input]);
        }
        for id in old_runs {
            waiting_for_approval(&bins.patch_v1, id);
        }
    }
    // v1's worker is gone. Unpatched, v2 would break every old run; patched, it replays them.
    let (code, stdout, _) = cli(&bins.patch_v2_unpatched, &["replay", "--open"]);
    assert_eq!(code, Some(1), "{stdout}");
    let (code, stdout, stderr) = cli(&bins.patch_v2, &["replay", "--open"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    let v2 = WorkerProcess::start(&bins.patch_v2, &DevServer::shared().address, &[], log("patch-v2"));
    ok(&bins.patch_v2, &["deploy"]);
    for id in old_runs {
        ok(&bins.patch_v2, &["signal", id, "approval", "--input", r#"{"by": "ops"}"#]);
    }
    for id in old_runs {
        let result: Value = serde_json::from_str(&ok(&bins.patch_v2, &["result", id])).expect("a JSON result");
        assert_eq!(result, json!({"by": "ops"}), "{id}");
        let status = status(&bins.patch_v2, id);
        // Before the wait it had run v1's `legacy`; after it, v2's `after`. `before` never ran.
        for node in ["legacy", "approve", "after", "finish"] {
            assert!(listed(&status, "completed", node), "{id}: `{node}` completed: {status}");
        }
        assert!(listed(&status, "skipped", "before"), "{id}: `before` skipped: {status}");
    }
    assert_eq!((api.count("/legacy"), api.count("/before"), api.count("/after"), api.count("/finish")), (3, 0, 3, 3));

    // A new run takes the whole new path.
    ok(&bins.patch_v2, &["start", "--id", "patch-new", "--input", &input]);
    waiting_for_approval(&bins.patch_v2, "patch-new");
    ok(&bins.patch_v2, &["signal", "patch-new", "approval", "--input", r#"{"by": "ops"}"#]);
    ok(&bins.patch_v2, &["result", "patch-new"]);
    let status = status(&bins.patch_v2, "patch-new");
    assert!(listed(&status, "skipped", "legacy") && listed(&status, "completed", "before") && listed(&status, "completed", "after"), "{status}");
    assert_eq!((api.count("/legacy"), api.count("/before"), api.count("/after")), (3, 1, 4));
    let worker_log = std::fs::read_to_string(&v2.log).unwrap_or_default();
    assert!(!worker_log.contains("Nondeterminism"), "{worker_log}");

    // Once the old runs are gone the patches can go: the same flow built without `--previous`
    // replays a run of the patched build (its markers are deprecated ones), but not an old run.
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploys-patch-new.json");
    std::fs::write(&file, ok(&bins.patch_v2, &["history", "patch-new"])).expect("write a history");
    let (code, stdout, stderr) = cli(&bins.patch_v2_unpatched, &["replay", &file.display().to_string()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploys-patch-old.json");
    std::fs::write(&file, ok(&bins.patch_v2, &["history", "patch-old-1"])).expect("write a history");
    assert_eq!(cli(&bins.patch_v2_unpatched, &["replay", &file.display().to_string()]).0, Some(1));
}

#[test]
fn reset_retries_a_failed_node_on_the_fixed_service_without_rerunning_what_came_before() {
    let bins = bins();
    let api = HttpServer::start(vec![
        ("GET /first", (200, vec![], json!({"ok": 1}))),
        ("GET /second", (200, vec![], json!({"ok": 2}))),
        ("GET /third", (500, vec![], json!({"error": "down"}))),
    ]);
    let input = json!({"base": api.base_url}).to_string();
    let _worker = WorkerProcess::start(&bins.reset, &DevServer::shared().address, &[], log("reset"));
    let (code, _, stderr) = cli(&bins.reset, &["start", "--id", "reset-1", "--input", &input, "--wait"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("node `third`"), "{stderr}");
    assert_eq!(api.count("/third"), 2, "two attempts");

    // A node that never called out, or a build that does not replay the kept part: refused.
    let (code, _, stderr) = cli(&bins.reset, &["reset", "reset-1", "--node", "nowhere"]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, stderr) = cli(&bins.reset_edited, &["reset", "reset-1", "--node", "third"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("refused: this build does not replay"), "{stderr}");

    api.set_route("GET /third", (200, vec![], json!({"ok": 3})));
    let out = ok(&bins.reset, &["reset", "reset-1", "--node", "third"]);
    assert!(out.contains("reset `reset-1` to before node `third`"), "{out}");
    let result: Value = serde_json::from_str(&ok(&bins.reset, &["result", "reset-1"])).expect("a JSON result");
    assert_eq!(result, json!({"status": 200}));
    assert_eq!((api.count("/first"), api.count("/second"), api.count("/third")), (1, 1, 3), "only `third` ran again");
}

/// A plain HTTP GET: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return (0, String::new()) };
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default())
}

/// The value of a `wfc_node_finished_total` series of `node`, if the worker exported it.
fn finished(metrics: &str, node: &str) -> Option<u64> {
    let (code, body) = get(metrics, "/metrics");
    assert_eq!(code, 200, "{body}");
    body.lines()
        .find(|l| l.starts_with("wfc_node_finished_total{") && l.contains(&format!("node=\"{node}\"")) && l.contains("outcome=\"completed\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn a_worker_serves_metrics_that_count_each_node_once_across_a_replay_and_a_health_endpoint() {
    let bins = bins();
    let api = HttpServer::start(vec![("GET /fetch", (200, vec![], json!({"ok": true})))]);
    let input = json!({"base": api.base_url}).to_string();
    let address = &DevServer::shared().address;
    let (metrics_a, health) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    {
        let _a = WorkerProcess::start_with(&bins.metrics, &["--metrics", &metrics_a, "--health", &health], address, log("metrics-a"));
        eventually("the health endpoint answers 200", || (get(&health, "/healthz").0 == 200).then_some(()));
        assert_eq!(get(&health, "/nowhere").0, 404);
        ok(&bins.metrics, &["start", "--id", "metrics-1", "--input", &input]);
        waiting_for_approval(&bins.metrics, "metrics-1");
        assert_eq!(finished(&metrics_a, "fetch"), Some(1));
        let (_, body) = get(&metrics_a, "/metrics");
        assert!(body.contains("temporal_workflow_task_") || body.contains("temporal_worker_"), "the SDK's own metrics: {body}");
        assert!(body.contains("wfc_node_duration_seconds_bucket{"), "{body}");
    }
    // Another worker picks the run up: it replays `fetch` from history (not counted again),
    // then runs the rest.
    let metrics_b = format!("127.0.0.1:{}", free_port());
    let _b = WorkerProcess::start_with(&bins.metrics, &["--metrics", &metrics_b], address, log("metrics-b"));
    ok(&bins.metrics, &["signal", "metrics-1", "approval", "--input", r#"{"by": "ops"}"#]);
    ok(&bins.metrics, &["result", "metrics-1"]);
    eventually("worker B counted the nodes it ran", || (finished(&metrics_b, "stamp") == Some(1)).then_some(()));
    assert_eq!(finished(&metrics_b, "approve"), Some(1));
    assert_eq!(finished(&metrics_b, "fetch"), None, "a replayed node is not counted again");
    assert_eq!(api.count("/fetch"), 1);
}
