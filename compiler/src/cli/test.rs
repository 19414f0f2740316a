//! `wfc test [FLOW | TESTFILE | DIR]...`: runs the cases of each flow's test file
//! (`<flow>.test.yaml`) on the real generated workflow, on the configured Temporal or an
//! embedded dev server: mocked nodes answered by the harness, timers compressed, signals sent
//! as their nodes wait. One crate build per test file; one line per case; a diff of expected
//! against actual when a case fails; exit 1 when any fails. `--update` writes each case's actual
//! output into its `expect.output`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use wfc::SourceFile;
use wfc::testfile::{Case, TestFile};

use crate::local::{cache_dir, compile, configured_address, embedded_server, runtime, spawn_group, stop_all, stop_group};

const FAILED: u8 = 1;
const INFRASTRUCTURE: u8 = 2;

pub struct TestOptions {
    pub targets: Vec<PathBuf>,
    pub update: bool,
    pub registry: wfc::lower::Registry,
}

/// A test file with its flow, both read and checked.
struct Suite {
    test: SourceFile,
    file: TestFile,
    built: wfc::Built,
}

pub fn test(options: TestOptions, report: impl Fn(&SourceFile, &[wfc::Diagnostic])) -> ExitCode {
    let _ = ctrlc::set_handler(|| {
        stop_all();
        std::process::exit(130);
    });
    let code = run(&options, &report).unwrap_or_else(|message| {
        eprintln!("error: {message}");
        INFRASTRUCTURE
    });
    stop_all();
    ExitCode::from(code)
}

fn run(options: &TestOptions, report: &impl Fn(&SourceFile, &[wfc::Diagnostic])) -> Result<u8, String> {
    let mut invalid = false;
    let mut suites = Vec::new();
    for (test_path, flow_path) in targets(&options.targets)? {
        match suite(&test_path, flow_path.as_deref(), &options.registry, report) {
            Some(suite) => suites.push(suite),
            None => invalid = true,
        }
    }
    let mut failed = 0;
    let mut passed = 0;
    let address = match (suites.is_empty(), configured_address()) {
        (true, _) => None,
        (false, Some(address)) => Some((address, false)),
        (false, None) => Some((embedded_server(true)?, true)),
    };
    for suite in &suites {
        let Some((address, embedded)) = &address else { break };
        let binary = compile(&suite.built)?;
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let task_queue = format!("{}-test-{}-{millis}", suite.built.name, std::process::id());
        let mut worker = Command::new(&binary);
        worker.args(["worker", "--unversioned", "--task-queue", &task_queue]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if *embedded {
            worker.env("TEMPORAL_ADDRESS", address);
        }
        let group = spawn_group(&mut worker).map_err(|e| format!("cannot start the worker: {e}"))?.id();
        let mut updated = suite.test.text.clone();
        // Cases are updated from the last, so the spans of the earlier ones stay right.
        let mut updates = Vec::new();
        for (index, case) in suite.file.cases.iter().enumerate() {
            let started = Instant::now();
            let id = format!("{}-test-{millis}-{index}", suite.built.name);
            let actual = run_case(&binary, address, *embedded, &id, &task_queue, case)?;
            let problems = judge(case, &actual);
            let took = started.elapsed().as_secs_f64();
            if options.update && case.expect.output.as_ref() != actual.get("output") && actual.get("output").is_some() {
                updates.push((case, actual["output"].clone()));
            }
            if problems.is_empty() || (options.update && problems.iter().all(|p| p.starts_with("output"))) {
                passed += 1;
                println!("ok    {} · {} ({took:.1}s)", suite.test.path, case.name);
            } else {
                failed += 1;
                println!("FAIL  {} · {} ({took:.1}s)", suite.test.path, case.name);
                for problem in problems {
                    for line in problem.lines() {
                        println!("      {line}");
                    }
                }
            }
        }
        stop_group(group);
        for (case, output) in updates.into_iter().rev() {
            updated = write_output(&updated, case, &output);
        }
        if updated != suite.test.text {
            std::fs::write(&suite.test.path, &updated).map_err(|e| format!("cannot update {}: {e}", suite.test.path))?;
            println!("updated {}", suite.test.path);
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 || invalid { FAILED } else { 0 })
}

/// Each test file with the flow it tests (`None`: from its `flow:` or its name).
fn targets(given: &[PathBuf]) -> Result<Vec<(PathBuf, Option<PathBuf>)>, String> {
    let mut found = Vec::new();
    for path in given {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".test.yaml"))
                .collect();
            files.sort();
            found.extend(files.into_iter().map(|f| (f, None)));
        } else if name.ends_with(".test.yaml") {
            found.push((path.clone(), None));
        } else {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let test = path.with_file_name(format!("{stem}.test.yaml"));
            if !test.is_file() {
                return Err(format!("{} has no test file: write its cases in {}", path.display(), test.display()));
            }
            found.push((test, Some(path.clone())));
        }
    }
    Ok(found)
}

/// Reads a test file and its flow; builds the flow. `None` after reporting what is wrong.
fn suite(test_path: &Path, flow_path: Option<&Path>, registry: &wfc::lower::Registry, report: &impl Fn(&SourceFile, &[wfc::Diagnostic])) -> Option<Suite> {
    let read = |path: &Path| match std::fs::read_to_string(path) {
        Ok(text) => Some(SourceFile::new(path.to_string_lossy(), text)),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            None
        }
    };
    let test = read(test_path)?;
    let (file, diagnostics) = wfc::testfile::parse(&test);
    if diagnostics.iter().any(wfc::Diagnostic::is_error) {
        report(&test, &diagnostics);
        return None;
    }
    let file = file?;
    let flow_path = match (flow_path, &file.flow) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(flow)) => test_path.parent().unwrap_or(Path::new(".")).join(flow),
        (None, None) => PathBuf::from(test_path.to_string_lossy().trim_end_matches(".test.yaml").to_string() + ".yaml"),
    };
    let source = read(&flow_path)?;
    // The cached crate is elsewhere: crates implementing custom node types get absolute paths.
    let options =
        wfc::BuildOptions { registry: registry.clone(), crate_dir: Some(cache_dir()), documents: crate::documents::read(&source), ..wfc::BuildOptions::with_runtime(runtime()) };
    let checked = wfc::check(&source, &options);
    if let Some(flow) = &checked.flow {
        let problems = wfc::testfile::check(&test, flow);
        if !problems.is_empty() {
            report(&test, &problems);
            return None;
        }
    }
    match wfc::generate(&source, checked, &options) {
        Ok(built) => Some(Suite { test, file, built }),
        Err(diagnostics) => {
            report(&source, &diagnostics);
            None
        }
    }
}

/// Runs one case through the flow's binary (`case`), which answers with what happened.
fn run_case(binary: &Path, address: &str, embedded: bool, id: &str, task_queue: &str, case: &Case) -> Result<Value, String> {
    // The waits the case answers keep their deadlines, so its signals arrive in time.
    let answered: BTreeSet<&str> = case.signals.iter().map(|s| s.when.as_str()).collect();
    let test = json!({ "mocks": case.mocks, "compress_time": true, "answered": answered });
    let signals: Vec<Value> = case.signals.iter().map(|s| json!({ "when": s.when, "signal": s.signal, "payload": s.payload })).collect();
    let mut command = Command::new(binary);
    command.args(["case", id, "--task-queue", task_queue, "--input", &case.input.to_string(), "--test", &test.to_string(), "--signals", &Value::from(signals).to_string()]);
    if embedded {
        command.env("TEMPORAL_ADDRESS", address);
    }
    let out = command.env("RUST_LOG", "error").output().map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Ok(json!({ "harness": String::from_utf8_lossy(&out.stderr).trim() }));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("the answer of case `{}` is not JSON: {e}", case.name))
}

/// What does not hold, one entry per expectation.
fn judge(case: &Case, actual: &Value) -> Vec<String> {
    if let Some(harness) = actual.get("harness") {
        return vec![format!("could not run: {}", harness.as_str().unwrap_or_default())];
    }
    let expect = &case.expect;
    let mut problems = Vec::new();
    let error = actual.get("error").and_then(Value::as_str);
    match (&expect.error, error) {
        (Some(None) | None, Some(error)) => problems.push(format!("the run failed: {error}")),
        (Some(Some(wanted)), None) => problems.push(format!("the run succeeded; expected it to fail with `{wanted}`")),
        (Some(Some(wanted)), Some(error)) if !error.contains(wanted.as_str()) => problems.push(format!("the run failed with `{error}`, not with `{wanted}`")),
        _ => {}
    }
    if let (Some(wanted), Some(output)) = (&expect.output, actual.get("output"))
        && !subset(wanted, output)
    {
        problems.push(format!("output differs (expected is a subset of actual):\n{}", diff(wanted, output)));
    }
    for (list, wanted) in [("completed", &expect.completed), ("failed", &expect.failed), ("skipped", &expect.skipped)] {
        let got: Vec<&str> = actual.get(list).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let missing: Vec<&str> = wanted.iter().map(String::as_str).filter(|n| !got.contains(n)).collect();
        if !missing.is_empty() {
            problems.push(format!("not {list}: {} ({list}: {})", missing.join(", "), if got.is_empty() { "none".to_string() } else { got.join(", ") }));
        }
    }
    for node in actual.get("unsent").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        problems.push(format!("the signal for `{node}` was never sent: the node never waited"));
    }
    problems
}

/// Whether `wanted` is `actual` with only some of its object keys: lists and scalars equal.
fn subset(wanted: &Value, actual: &Value) -> bool {
    match (wanted, actual) {
        (Value::Object(wanted), Value::Object(actual)) => wanted.iter().all(|(k, v)| actual.get(k).is_some_and(|a| subset(v, a))),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => wanted == actual,
    }
}

/// The expected and the actual value as a line diff of their pretty JSON.
fn diff(wanted: &Value, actual: &Value) -> String {
    let (wanted, actual) = (pretty(wanted), pretty(actual));
    let diff = similar::TextDiff::from_lines(&wanted, &actual);
    diff.unified_diff().context_radius(3).header("expected", "actual").to_string()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// `value` in YAML's flow style, as a person writes it: `{vars: {picked: second, n: 5}}`.
/// A key or string that YAML would read as something else is quoted (a JSON string is a
/// YAML double-quoted scalar).
fn flow_yaml(value: &Value) -> String {
    fn scalar(text: &str) -> String {
        let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/'))
            && !text.ends_with(' ')
            && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(&text.to_ascii_lowercase().as_str());
        if plain { text.to_string() } else { Value::from(text).to_string() }
    }
    match value {
        Value::String(text) => scalar(text),
        Value::Array(items) => format!("[{}]", items.iter().map(flow_yaml).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!("{{{}}}", map.iter().map(|(k, v)| format!("{}: {}", scalar(k), flow_yaml(v))).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The test file with `output` as the case's `expect.output`: replaced where it is written,
/// else added to its `expect`, else added to the case.
fn write_output(text: &str, case: &Case, output: &Value) -> String {
    let flow_style = flow_yaml(output);
    let Some(span) = case.expect.output_span else { return text.to_string() };
    let (start, end) = (span.start.min(text.len()), span.end.min(text.len()));
    if case.expect.output.is_some() {
        return format!("{}{flow_style}{}", &text[..start], &text[end..]);
    }
    // A flow-style `expect: {…}` takes it as its first entry.
    if text[start..].starts_with('{') {
        return format!("{}{{output: {flow_style}, {}", &text[..start], &text[start + 1..]);
    }
    // A block `expect` or the case itself: a line at the column of its first key.
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let pad = " ".repeat(start - line_start);
    if span == case.span {
        let at = text[..end].trim_end().len();
        return format!("{}\n{pad}expect:\n{pad}  output: {flow_style}{}", &text[..at], &text[at..]);
    }
    let at = text[start..].find('\n').map_or(text.len(), |i| start + i);
    format!("{}\n{pad}output: {flow_style}{}", &text[..at], &text[at..])
}
