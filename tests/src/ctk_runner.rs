//! Runs the Conformance Test Kit's scenarios (read by [`crate::ctk`]): each workflow compiled
//! by wfc, all of them built in one cargo invocation, each run by its worker binary on the
//! shared dev server, and judged by the scenario's assertions.

use std::path::Path;

use serde_json::Value;

use crate::ctk::{Expect, Scenario};
use crate::http::HttpServer;
use crate::server::DevServer;
use crate::workers::{self, WorkerProcess};

/// One scenario's outcome.
#[derive(Debug)]
pub struct Row {
    pub feature: String,
    pub name: String,
    /// The scenario calls a public service (a `call` task), answered by a local stand-in.
    pub online: bool,
    /// Why it failed: a diagnostic, a run error or the assertions that did not hold.
    pub failure: Option<String>,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Every scenario's row, in the kit's order.
#[derive(Debug)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    /// A Markdown table: scenario, pass/fail, why.
    pub fn table(&self) -> String {
        let passed = self.rows.iter().filter(|r| r.passed()).count();
        let mut out = format!("Serverless Workflow CTK: {passed} of {} scenarios pass\n\n| feature | scenario | result | why |\n|---|---|---|---|\n", self.rows.len());
        for row in &self.rows {
            let (result, why) = match &row.failure {
                None => ("pass", String::new()),
                Some(why) => ("FAIL", why.replace('|', "\\|").replace('\n', " ")),
            };
            out.push_str(&format!("| {} | {} | {result} | {why} |\n", row.feature, row.name));
        }
        out
    }
}

/// The outcome of one run.
struct Outcome {
    completed: bool,
    output: Value,
    /// The error it faulted with (`type`, `status`, `title`, …), when it has one.
    error: Option<Value>,
    /// Task names in the order they started.
    started: Vec<String>,
    stderr: String,
}

/// The public services the kit's scenarios call.
const SERVICES: &[&str] = &["https://petstore.swagger.io", "https://httpbin.org"];

/// What `httpbin.org`'s basic-auth endpoint checks: `serverless-workflow:conformance-test`.
const BASIC_AUTH: &str = "Basic c2VydmVybGVzcy13b3JrZmxvdzpjb25mb3JtYW5jZS10ZXN0";

/// A loopback stand-in for the services the kit calls, answering what they would: the Swagger
/// petstore's pets (and its Swagger 2.0 document, naming the stand-in as its host) and
/// httpbin's basic-auth endpoint. Anything else is 404, as `getPetByName/Milou` is there.
pub fn stand_in() -> HttpServer {
    let pet = |id: u64, name: &str| serde_json::json!({"id": id, "name": name, "status": "available", "photoUrls": [], "tags": []});
    let server = HttpServer::start(vec![
        ("GET /v2/pet/findByStatus", (200, Vec::new(), serde_json::json!([pet(1, "Rex"), pet(2, "Milou")]))),
        ("GET /v2/pet/1", (200, Vec::new(), pet(1, "Rex"))),
        ("GET /v2/pet/2", (200, Vec::new(), pet(2, "Milou"))),
        ("GET /basic-auth/serverless-workflow/conformance-test", (200, Vec::new(), serde_json::json!({"authenticated": true, "user": "serverless-workflow"}))),
    ]);
    let host = server.base_url.trim_start_matches("http://").to_string();
    let integer_id = serde_json::json!({"name": "petId", "in": "path", "required": true, "type": "integer", "format": "int64"});
    let status = serde_json::json!({"name": "status", "in": "query", "required": true, "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"});
    let swagger = serde_json::json!({
        "swagger": "2.0",
        "info": {"title": "Swagger Petstore (stand-in)", "version": "1.0.7"},
        "host": host,
        "basePath": "/v2",
        "schemes": ["http"],
        "paths": {
            "/pet/findByStatus": {"get": {"operationId": "findPetsByStatus", "produces": ["application/json"], "parameters": [status]}},
            "/pet/{petId}": {"get": {"operationId": "getPetById", "produces": ["application/json"], "parameters": [integer_id]}},
        },
    });
    server.set_route("GET /v2/swagger.json", (200, Vec::new(), swagger));
    server
}

/// Compiles, builds and runs every scenario.
pub fn run(scenarios: &[Scenario]) -> Report {
    let services = stand_in();
    let runtime = wfc::RuntimeSource::Path(crate::repo_root().join("runtime").display().to_string());
    let options = wfc::BuildOptions::with_runtime(runtime);
    let mut rows = Vec::new();
    let mut built = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let variant = format!("{}-{i}", scenario.feature);
        let definition = SERVICES.iter().fold(scenario.definition.clone(), |text, service| text.replace(service, &services.base_url));
        let source = wfc::SourceFile::new(format!("{variant}.yaml"), definition);
        let online = scenario.definition.contains("call:");
        // What `wfc build` does on the command line: read the OpenAPI descriptions it names.
        let documents = wfc::external_documents(&source).into_iter().map(|url| (url.clone(), get(&url))).collect();
        let options = wfc::BuildOptions { documents, ..options.clone() };
        let failure = match wfc::build(&source, &options) {
            Ok(crate_) => {
                let tasks = task_names(&source, &options);
                built.push((i, variant, crate_, tasks));
                None
            }
            Err(diagnostics) => {
                let first = diagnostics.iter().find(|d| d.is_error()).map_or_else(String::new, |d| format!("{}: {}", d.code.as_str(), d.message));
                Some(format!("not compiled: {first}"))
            }
        };
        rows.push(Row { feature: scenario.feature.clone(), name: scenario.name.clone(), online, failure });
    }
    let variants: Vec<(&str, &wfc::Built)> = built.iter().map(|(_, v, b, _)| (v.as_str(), b)).collect();
    let binaries = workers::build_variants("ctk", &variants);
    let address = &DevServer::shared().address;
    for ((i, variant, _, tasks), bin) in built.iter().zip(&binaries) {
        let scenario = &scenarios[*i];
        let outcome = run_one(bin, address, variant, &scenario.input, tasks);
        let mut failed: Vec<String> = scenario.expect.iter().filter_map(|expect| judge(expect, &outcome).err()).collect();
        // httpbin answers 401 without the right credentials; the stand-in's table cannot, so
        // the runner checks what was sent.
        let sent_auth =
            services.requests().into_iter().filter(|r| r.path.starts_with("/basic-auth/")).map(|r| r.headers.get("authorization").cloned().unwrap_or_default()).next_back();
        if scenario.definition.contains("basic-auth") && sent_auth.as_deref() != Some(BASIC_AUTH) {
            failed.push(format!("the request carried authorization {sent_auth:?}"));
        }
        if !failed.is_empty() {
            let mut why = failed.join("; ");
            if !outcome.completed && outcome.error.is_none() {
                why.push_str(&format!(" (run: {})", outcome.stderr.trim()));
            }
            rows[*i].failure = Some(why);
        }
    }
    workers::discard_variants("ctk", &built.iter().map(|(_, v, _, _)| v.as_str()).collect::<Vec<_>>());
    Report { rows }
}

/// The task names of a flow, by node id: a task reached on two paths has two nodes.
fn task_names(source: &wfc::SourceFile, options: &wfc::BuildOptions) -> Vec<(String, String)> {
    let checked = wfc::check(source, options);
    let Some(flow) = checked.flow else { return Vec::new() };
    flow.nodes().into_iter().filter_map(|n| n.task.as_ref().map(|t| (n.id.clone(), t.name.clone()))).collect()
}

fn run_one(bin: &Path, address: &str, variant: &str, input: &Value, tasks: &[(String, String)]) -> Outcome {
    let task_queue = format!("ctk-{variant}");
    let log = workers::target_dir().join("tmp").join(format!("ctk-{variant}.log"));
    let _worker = WorkerProcess::start_on(bin, address, &task_queue, &[], log);
    // Two scenarios of the kit share a workflow name, so a build of one is made current
    // explicitly rather than left behind the other's.
    workers::client(bin, address, &["deploy"]);
    let id = format!("ctk-{variant}-{}", std::process::id());
    let out = workers::client(bin, address, &["start", "--input", &input.to_string(), "--id", &id, "--task-queue", &task_queue, "--wait"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let output = stdout.split_once('\n').and_then(|(_, rest)| serde_json::from_str(rest).ok()).unwrap_or(Value::Null);
    let error = stderr.lines().find_map(|l| l.strip_prefix("error: ")).and_then(|json| serde_json::from_str(json).ok());
    let logs = workers::client(bin, address, &["logs", &id]);
    let started = String::from_utf8_lossy(&logs.stdout)
        .lines()
        .filter_map(|line| line.split_once("▶ ").map(|(_, rest)| rest.split(' ').next().unwrap_or_default().to_string()))
        .filter_map(|node| tasks.iter().find(|(id, _)| *id == node).map(|(_, name)| name.clone()))
        .collect();
    Outcome { completed: out.status.success(), output, error, started, stderr }
}

/// The value at a dotted path (`request.method`).
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn judge(expect: &Expect, run: &Outcome) -> Result<(), String> {
    let position = |task: &str| run.started.iter().position(|t| t == task);
    match expect {
        Expect::Complete if run.completed => Ok(()),
        Expect::Complete => Err("did not complete".into()),
        Expect::CompleteWith(want) if run.completed && run.output == *want => Ok(()),
        Expect::CompleteWith(want) => Err(format!("output {} is not {want}", run.output)),
        Expect::Fault if !run.completed => Ok(()),
        Expect::Fault => Err("did not fault".into()),
        Expect::FaultWith(want) => {
            let got = run.error.clone().unwrap_or(Value::Null);
            let fields = want.as_object().into_iter().flatten();
            match fields.filter(|(k, v)| got.get(k.as_str()) != Some(v)).map(|(k, _)| k.as_str()).collect::<Vec<_>>() {
                wrong if wrong.is_empty() && !run.completed => Ok(()),
                wrong => Err(format!("error {got} differs in {wrong:?}")),
            }
        }
        Expect::HasProperties(paths) => {
            let missing: Vec<&str> = paths.iter().filter(|p| at(&run.output, p).is_none()).map(String::as_str).collect();
            if missing.is_empty() { Ok(()) } else { Err(format!("output {} lacks {missing:?}", run.output)) }
        }
        Expect::PropertyIs(path, want) => match at(&run.output, path) {
            Some(got) if got == want => Ok(()),
            got => Err(format!("`{path}` is {got:?}, not {want}")),
        },
        Expect::PropertyItems(path, n) => match at(&run.output, path).and_then(Value::as_array) {
            Some(items) if items.len() == *n => Ok(()),
            got => Err(format!("`{path}` is {got:?}, not {n} items")),
        },
        Expect::RunsFirst(task) if run.started.first() == Some(task) => Ok(()),
        Expect::RunsLast(task) if run.started.last() == Some(task) => Ok(()),
        Expect::RunsAfter(later, earlier) if matches!((position(later), position(earlier)), (Some(l), Some(e)) if l > e) => Ok(()),
        Expect::RunsFirst(_) | Expect::RunsLast(_) | Expect::RunsAfter(..) => Err(format!("{expect:?} does not hold: tasks started {:?}", run.started)),
    }
}

/// A GET of a loopback `http://` URL (the stand-in's), over HTTP/1.0.
fn get(url: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url} is not on the stand-in"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(head.lines().next().unwrap_or_default().to_string());
    }
    Ok(body.to_string())
}
