//! Seeing a run, on a real dev server: `logs ID` (every node in order, in-workflow ones included,
//! with Log lines and retry attempts, derived by replaying the history) and the live view
//! (`ui`), loaded once in a real headless Chromium that sees a waiting node turn completed
//! without a reload.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use wfc::{RuntimeSource, SourceFile};
use wfc_tests::http::HttpServer;
use wfc_tests::server::{DevServer, free_port, spawn_guarded, stop};
use wfc_tests::workers::{self, WorkerProcess};
use wfc_tests::{Lines, eventually, repo_root};

/// The secret the flow's HTTP call sends; it must never show in logs or the page.
const TOKEN: &str = "live-secret-4711";

/// The flow's worker binary, and one worker polling the shared server for every test here.
fn worker() -> &'static (PathBuf, WorkerProcess) {
    static WORKER: OnceLock<(PathBuf, WorkerProcess)> = OnceLock::new();
    WORKER.get_or_init(|| {
        let path = "tests/flows/live/approval.yaml";
        let source = SourceFile::new(path, std::fs::read_to_string(repo_root().join(path)).expect("the live flow"));
        let runtime = RuntimeSource::Path(repo_root().join("runtime").display().to_string());
        let built = wfc::build(&source, &wfc::BuildOptions::with_runtime(runtime)).unwrap_or_else(|d| panic!("{d:?}"));
        let bin = workers::build_variants("live", &[("approval", &built)]).remove(0);
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-worker.log");
        let worker = WorkerProcess::start(&bin, &DevServer::shared().address, &[("LIVE_TOKEN", TOKEN)], log);
        (bin, worker)
    })
}

/// A users API whose first `POST /register` fails with 503 and every later one succeeds.
fn flaky_api() -> HttpServer {
    HttpServer::start(vec![("POST /register", (503, vec![], json!({"error": "busy"})))])
}

/// Answers 200 from the next request on, once the first has failed.
fn recover(server: &HttpServer) {
    eventually("the first attempt", || (server.count("/register") >= 1).then_some(()));
    server.set_route("POST /register", (200, vec![], json!({"id": 7})));
}

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = workers::client(&worker().0, &DevServer::shared().address, args);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Starts run `id` against a users API that fails once, and waits until it waits for approval;
/// returns the API.
fn waiting_run(id: &str) -> HttpServer {
    let api = flaky_api();
    let input = json!({"who": "Ada", "base": api.base_url}).to_string();
    let (code, stdout, stderr) = cli(&["start", "--id", id, "--input", &input]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    recover(&api);
    eventually("the run waiting for approval", || waiting(id).then_some(()));
    api
}

fn waiting(id: &str) -> bool {
    let status: serde_json::Value = serde_json::from_str(&cli(&["query", id, "status"]).1).unwrap_or_default();
    status["waiting"].as_array().is_some_and(|w| w.iter().any(|w| w["node"] == "approve"))
}

fn approve(id: &str) {
    let (code, stdout, stderr) = cli(&["signal", id, "approval", "--input", r#"{"approved": true}"#]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
}

/// The line of `text` that contains `needle`, by index.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with `{needle}` in:\n{text}"))
}

#[test]
fn logs_show_every_node_in_order_with_log_lines_and_retry_attempts() {
    let id = "live-logs";
    let _api = waiting_run(id);
    approve(id);
    let (code, stdout, stderr) = cli(&["result", id]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).ok(), Some(json!({"approved": true, "account": 7})));

    let (code, logs, stderr) = cli(&["logs", id]);
    assert_eq!(code, Some(0), "{stderr}");
    // Nodes that run inside the workflow leave no events, yet each is there, in order.
    let order = [
        "▶ main (Sequence)",
        "▶ hello (Log)",
        "INFO  hello: asking about Ada",
        "✔ hello",
        "✔ scoring",
        "✔ prepare",
        "▶ register (HttpRequest)",
        "✔ register",
        "⏸ approve waits for `approval`",
        "↘ signal `approval` received",
        "✔ approve",
        "- refuse skipped",
        "INFO  welcome: approved Ada",
        "✔ main",
        "run completed",
    ];
    let lines: Vec<usize> = order.iter().map(|needle| line_of(&logs, needle)).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "out of order: {order:?} at {lines:?} in:\n{logs}");
    assert!(logs.lines().any(|l| l.contains("✔ register (") && l.contains("2 attempts")), "the retried call shows its attempts:\n{logs}");
    assert!(!logs.contains(TOKEN), "the secret leaked into logs:\n{logs}");
    // Reading logs adds nothing to the run: the history is only replayed.
    let (_, history, _) = cli(&["history", id]);
    let (_, again, _) = cli(&["history", id]);
    assert_eq!(history, again);
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let chromedriver = Path::new("/usr/bin/chromedriver");
        assert!(chromedriver.is_file(), "the live view test needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)");
        let child = spawn_guarded(chromedriver, &[&format!("--port={port}")], &[], Stdio::null()).expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        eventually("chromedriver listening", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Where the test keeps its screenshots.
fn artefact(name: &str) -> PathBuf {
    let dir = workers::target_dir().join("artefacts");
    std::fs::create_dir_all(&dir).expect("an artefact folder");
    dir.join(name)
}

#[test]
fn the_live_view_shows_a_waiting_node_and_updates_without_a_reload() {
    let id = "live-view";
    let _api = waiting_run(id);

    let port = free_port();
    let port_text = port.to_string();
    let address = &DevServer::shared().address;
    let mut view = spawn_guarded(&worker().0, &["ui", "--port", &port_text, "--run", id], &[("TEMPORAL_ADDRESS", address)], Stdio::null()).expect("the view starts");
    eventually("the view listening", || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    let driver = Driver::start();
    let page = format!("http://127.0.0.1:{port}/?run={id}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let result: Result<(), String> = runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        let args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900", "--no-first-run", "--disable-background-networking"];
        capabilities.insert("goog:chromeOptions".into(), json!({ "binary": "/usr/bin/chromium", "args": args }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = fantoccini::ClientBuilder::new(connector).capabilities(capabilities).connect(&driver.url).await.map_err(|e| format!("no browser session: {e}"))?;
        let outcome = async {
            browser.goto(&page).await.map_err(|e| e.to_string())?;
            let state = |selector: &'static str| {
                let browser = browser.clone();
                async move { browser.wait().at_most(Duration::from_secs(30)).for_element(fantoccini::Locator::Css(selector)).await.map_err(|e| format!("{selector}: {e}")) }
            };
            // Every node of the plan is drawn, each with its state.
            state(r#"[data-node-id="approve"][data-state="waiting"]"#).await?;
            state(r#"[data-node-id="register"][data-state="completed"]"#).await?;
            state(r#"[data-node-id="welcome"][data-state="pending"]"#).await?;
            std::fs::write(artefact("live-view-waiting.png"), browser.screenshot().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;

            // A click shows the node's attempts and input, with the secret as its template.
            browser.find(fantoccini::Locator::Css(r#"[data-node-id="register"]"#)).await.map_err(|e| e.to_string())?.click().await.map_err(|e| e.to_string())?;
            let details = browser.find(fantoccini::Locator::Id("details")).await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
            if !(details.contains("attempts") && details.contains('2') && details.contains("{{ env.LIVE_TOKEN }}")) || details.contains(TOKEN) {
                return Err(format!("the details of `register`: {details}"));
            }

            // The page was loaded once; the answer to the wait shows up on its own.
            approve(id);
            state(r#"[data-node-id="approve"][data-state="completed"]"#).await?;
            state(r#"[data-node-id="refuse"][data-state="skipped"]"#).await?;
            state(r#"#run-state[data-state="completed"]"#).await?;
            let loads = browser.execute("return performance.getEntriesByType('navigation').length", vec![]).await.map_err(|e| e.to_string())?;
            if loads != json!(1) {
                return Err(format!("the page was loaded {loads} times"));
            }
            let source = browser.source().await.map_err(|e| e.to_string())?;
            if source.contains(TOKEN) {
                return Err("the secret reached the page".into());
            }
            std::fs::write(artefact("live-view-completed.png"), browser.screenshot().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            Ok(())
        }
        .await;
        let _ = browser.close().await;
        outcome
    });
    stop(&mut view);
    drop(driver);
    result.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn wfc_run_follows_a_run_started_elsewhere() {
    let id = "live-follow";
    let _api = waiting_run(id);
    let mut follow = std::process::Command::new(workers::binary("wfc"))
        .args(["run", "tests/flows/live/approval.yaml", "--follow", id])
        .current_dir(repo_root())
        .env("TEMPORAL_ADDRESS", &DevServer::shared().address)
        .env("WFC_CACHE_DIR", workers::target_dir().join("wfc-run-cache"))
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wfc runs");
    // The follower shows the wait with the command that answers it; the answer ends the run.
    let mut lines = Lines::of(&mut follow);
    let seen = lines.until("⏸ approve waits for `approval`", 1).to_string();
    assert!(seen.contains(&format!("signal {id} approval --input")), "{seen}");
    approve(id);
    let out = follow.wait_with_output().expect("wfc ends");
    assert_eq!(out.status.code(), Some(0), "{seen}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).ok(), Some(json!({"approved": true, "account": 7})), "{stdout}");
}
