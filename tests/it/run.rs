//! `wfc run`: a flow outside `samples/` runs in one command on a machine with no Temporal server
//! configured: an embedded dev server is started for the run and nothing is left running after.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use wfc_tests::http::HttpServer;
use wfc_tests::{Lines, repo_root, workers};

/// `wfc run FLOW --input INPUT` with no Temporal configured: (exit code, stdout, stderr).
fn wfc_run(flow: &Path, input: &str) -> (Option<i32>, String, String) {
    wfc_run_with(flow, &["--input", input])
}

/// `wfc run FLOW ARGS…` with no Temporal configured and the flows' secrets in the environment.
fn wfc_run_command(flow: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(workers::binary("wfc"));
    command
        .arg("run")
        .arg(flow)
        .args(args)
        .env("DRY_TOKEN", SECRET)
        .env("LIVE_TOKEN", SECRET)
        .env_remove("TEMPORAL_ADDRESS")
        .env("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")
        .env("WFC_CACHE_DIR", workers::target_dir().join("wfc-run-cache"))
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// [`wfc_run_command`] to its end: (exit code, stdout, stderr).
fn wfc_run_with(flow: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = wfc_run_command(flow, args).output().expect("wfc runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A secret the dry-run flow's HTTP call would send; a dry run never reads it.
const SECRET: &str = "dry-secret-0815";

/// The `server: <address>` line `wfc run` prints.
fn server(stderr: &str) -> String {
    stderr.lines().find_map(|l| l.strip_prefix("server: ")).unwrap_or_else(|| panic!("no `server:` line in {stderr}")).to_string()
}

fn nothing_left_on(address: &str) {
    assert!(std::net::TcpStream::connect(address).is_err(), "the embedded server on {address} still answers");
    let port = address.rsplit(':').next().unwrap_or_default();
    // Every process's command line, from /proc (no `ps` needed on a bare machine).
    let commands = std::fs::read_dir("/proc").into_iter().flatten().filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok());
    let left: Vec<String> =
        commands.map(|c| String::from_utf8_lossy(&c).replace('\0', " ")).filter(|l| l.contains("start-dev") && l.contains(&format!("--port {port} "))).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn a_flow_runs_in_one_command_on_an_embedded_server_and_leaves_nothing_behind() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wfc-run");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let flow = dir.join("greeting.yaml");
    std::fs::write(
        &flow,
        r#"name: greeting
inputSchema:
  type: object
  required: [who]
  properties:
    who: {type: string}
    fail: {type: boolean}
output:
  greeting: "{{ greet.greeting }}"
root:
  type: Sequence
  id: main
  children:
    - {type: Log, id: hello, config: {message: "greeting {{ input.who }}"}}
    - {type: Delay, id: breathe, config: {duration: 200ms}}
    - type: Conditional
      id: maybe-fail
      config: {condition: "has(input.fail) && input.fail"}
      children:
        - {type: Fail, id: refuse, config: {message: "asked to fail"}}
    - {type: Script, id: greet, config: {script: "greeting = 'Hello, ' + input.who"}}
"#,
    )
    .expect("write the flow");

    let (code, stdout, stderr) = wfc_run(&flow, r#"{"who": "Ada"}"#);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).ok(), Some(json!({"greeting": "Hello, Ada"})), "{stdout}");
    assert!(stderr.lines().any(|l| l.starts_with("workflow: greeting-")), "{stderr}");
    assert!(stderr.contains("✔ greet") && stderr.contains("- refuse skipped"), "progress, node by node: {stderr}");
    nothing_left_on(&server(&stderr));

    // A failing run exits 1 and names the node and the cause.
    let (code, _, stderr) = wfc_run(&flow, r#"{"who": "Ada", "fail": true}"#);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("node `refuse` (Fail) failed: asked to fail"), "{stderr}");
    nothing_left_on(&server(&stderr));

    // An invalid flow: diagnostics, exit 1, and nothing is started.
    std::fs::write(dir.join("broken.yaml"), std::fs::read_to_string(&flow).expect("the flow").replace("input.who\"}}", "inptu.who\"}}")).expect("write");
    let (code, _, stderr) = wfc_run(&dir.join("broken.yaml"), r#"{"who": "Ada"}"#);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("E0102") && !stderr.contains("server: "), "{stderr}");
}

#[test]
fn a_dry_run_records_what_would_be_sent_and_sends_nothing() {
    let api = HttpServer::start(vec![("POST /accounts", (201, vec![], json!({"id": 1})))]);
    let flow = repo_root().join("tests/flows/live/dry.yaml");
    let input = json!({"base": api.base_url, "email": "ada@example.com"}).to_string();

    // Another worker's activity cannot be faked by its shape: without a canned output the run is
    // refused before anything starts.
    let (code, _, stderr) = wfc_run_with(&flow, &["--input", &input, "--dry-run"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not runnable dry") && stderr.contains("`charge` calls activity `charge-card` on task queue `payments`"), "{stderr}");
    assert!(!stderr.contains("server: "), "{stderr}");

    // A canned output for a node the flow does not have is a diagnostic at its key.
    let mistyped = repo_root().join("tests/flows/live/dry.mistyped.yaml");
    let (code, _, stderr) = wfc_run_with(&flow, &["--input", &input, "--dry-run", "--canned", &mistyped.display().to_string()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("E0102") && stderr.contains("dry.mistyped.yaml:2:1") && stderr.contains("no node `chrage`"), "{stderr}");

    let canned = repo_root().join("tests/flows/live/dry.canned.yaml");
    let (code, stdout, stderr) = wfc_run_with(&flow, &["--input", &input, "--dry-run", "--canned", &canned.display().to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    let result: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["output"], json!({"charged": "ch_dry_1", "created": 200}), "{stdout}");
    let sent = result["wouldSend"].as_array().cloned().unwrap_or_default();
    let nodes: Vec<&str> = sent.iter().filter_map(|s| s["node"].as_str()).collect();
    assert_eq!(nodes, ["create", "receipt"], "{stdout}");
    assert_eq!(sent[0]["type"], "HttpRequest");
    assert_eq!(sent[0]["request"]["url"], json!(format!("{}/accounts", api.base_url)));
    assert_eq!(sent[0]["request"]["headers"]["Authorization"], "Bearer {{ env.DRY_TOKEN }}", "a secret shows as its template");
    assert_eq!(sent[1]["type"], "EmailSend");
    assert_eq!(sent[1]["request"]["body"], "Charged ch_dry_1");
    assert!(stderr.contains("⇢ create: HttpRequest recorded, not sent (dry run)"), "{stderr}");
    assert_eq!(api.count("/accounts"), 0, "a dry run sent a request");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "a dry run read the secret");
    nothing_left_on(&server(&stderr));
}

#[test]
fn with_ui_the_view_outlives_the_run_until_ctrl_c() {
    use std::io::{Read, Write};
    let flow = repo_root().join("tests/flows/live/dry.yaml");
    let canned = repo_root().join("tests/flows/live/dry.canned.yaml");
    let input = json!({"base": "http://127.0.0.1:9", "email": "ada@example.com"}).to_string();
    let canned = canned.display().to_string();
    let mut child = wfc_run_command(&flow, &["--input", &input, "--dry-run", "--canned", &canned, "--ui"]).spawn().expect("wfc runs");
    let stderr = Lines::of(&mut child).until("the view stays up", 1).to_string();
    let view = stderr.lines().find_map(|l| l.strip_prefix("view: ")).unwrap_or_else(|| panic!("no `view:` line in {stderr}")).to_string();
    let (host, query) = view.trim_start_matches("http://").split_once('/').expect("a view URL");
    let id = query.trim_start_matches("?run=");
    // The finished run is still served, with every node's state.
    let mut stream = std::net::TcpStream::connect(host).expect("the view answers after the run ended");
    write!(stream, "GET /api/run?id={id} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("a request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(body["state"], "completed", "{answer}");
    assert_eq!(body["nodes"]["receipt"]["state"], "completed", "{answer}");

    // Ctrl-C ends it with the run's exit code and stops the worker, the view and the server.
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) sends SIGINT to the child this test started; no memory is involved.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().expect("wfc ends");
    assert_eq!(status.code(), Some(0), "{stderr}");
    nothing_left_on(&server(&stderr));
    assert!(std::net::TcpStream::connect(host).is_err(), "the view still answers on {host}");
}

#[test]
fn with_watch_each_saved_edit_runs_again_on_the_same_server() {
    use std::io::Read;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wfc-run-watch");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let flow = dir.join("echo.yaml");
    let text = "name: echo-watch\noutput: {said: \"{{ say.message }}\"}\nroot: {type: Log, id: say, config: {message: first}}\n";
    std::fs::write(&flow, text).expect("write the flow");
    let mut child = wfc_run_command(&flow, &["--watch"]).spawn().expect("wfc runs");
    let mut lines = Lines::of(&mut child);
    lines.until("watching", 1);
    // An edit that breaks the flow shows its diagnostics and waits for the next one.
    std::fs::write(&flow, text.replace("say.message", "sya.message")).expect("edit the flow");
    lines.until("E0102", 1);
    std::fs::write(&flow, text.replace("first", "second")).expect("edit the flow");
    let seen = lines.until("watching", 3).to_string();
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) sends SIGINT to the child this test started; no memory is involved.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().expect("wfc ends");
    let mut stdout = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
    assert_eq!(status.code(), Some(0), "{seen}");
    let outputs: Vec<Value> = serde_json::Deserializer::from_str(&stdout).into_iter().map(|v| v.expect("JSON")).collect();
    assert_eq!(outputs, [json!({"said": "first"}), json!({"said": "second"})], "{stdout}");
    let servers: Vec<&str> = seen.lines().filter_map(|l| l.strip_prefix("server: ")).collect();
    assert!(servers.len() == 2 && servers[0] == servers[1], "one server for both runs: {seen}");
    nothing_left_on(servers[0]);
}

#[test]
fn progress_shows_each_failed_attempt_of_a_retried_call_and_the_failing_node() {
    let api = HttpServer::start(vec![("POST /register", (503, vec![], json!({"error": "busy"})))]);
    let flow = repo_root().join("tests/flows/live/approval.yaml");
    let input = json!({"who": "Ada", "base": api.base_url}).to_string();
    let (code, _, stderr) = wfc_run_with(&flow, &["--input", &input]);
    assert_eq!(code, Some(1), "{stderr}");
    for attempt in [1, 2] {
        let line = format!("↻ register attempt {attempt} failed: HttpRequest `register`: POST {}/register: 503", api.base_url);
        assert!(stderr.contains(&line), "no `{line}` in:\n{stderr}");
    }
    assert!(stderr.lines().any(|l| l.starts_with("✘ register (") && l.contains("3 attempts")), "{stderr}");
    assert!(stderr.contains("node `register` (HttpRequest) failed"), "{stderr}");
    assert_eq!(api.count("/register"), 3);
    nothing_left_on(&server(&stderr));
}
