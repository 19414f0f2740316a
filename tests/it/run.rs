//! `wfc run`: a flow outside `samples/` runs in one command on a machine with no Temporal server
//! configured: an embedded dev server is started for the run and nothing is left running after.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use wfc_tests::workers;

/// `wfc run FLOW --input INPUT` with no Temporal configured: (exit code, stdout, stderr).
fn wfc_run(flow: &Path, input: &str) -> (Option<i32>, String, String) {
    let out = Command::new(workers::binary("wfc"))
        .args(["run", &flow.display().to_string(), "--input", input])
        .env_remove("TEMPORAL_ADDRESS")
        .env("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")
        .env("WFC_CACHE_DIR", workers::target_dir().join("wfc-run-cache"))
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .output()
        .expect("wfc runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

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
