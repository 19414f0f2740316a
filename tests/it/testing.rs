//! `wfc test`: test files beside flows, run on the real generated workflow on an embedded dev
//! server (mocked nodes, compressed timers, signals sent as nodes wait): the samples' own tests
//! pass, a wrong expectation fails with a diff, a typo is a located diagnostic, and `--update`
//! fills in expected outputs.

use std::path::Path;
use std::process::Command;

use wfc_tests::{repo_root, workers};

/// `wfc test ARGS…` with no Temporal configured: (exit code, stdout, stderr).
fn wfc_test(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(workers::binary("wfc"))
        .arg("test")
        .args(args)
        .current_dir(repo_root())
        .env_remove("TEMPORAL_ADDRESS")
        .env("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml")
        .env("WFC_CACHE_DIR", workers::target_dir().join("wfc-run-cache"))
        .env("CARGO_TARGET_DIR", workers::target_dir())
        .output()
        .expect("wfc runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_samples_tests_pass() {
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = wfc_test(&["samples/"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let cases = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    let mut written = 0;
    for entry in std::fs::read_dir(repo_root().join("samples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(flow) = name.strip_suffix(".yaml").filter(|f| !f.ends_with(".test")) {
            let tests =
                std::fs::read_to_string(path.with_file_name(format!("{flow}.test.yaml"))).unwrap_or_else(|_| panic!("every sample has a test file; {flow}.test.yaml is missing"));
            written += tests.lines().filter(|l| l.trim_start().starts_with("- name:")).count();
        }
    }
    assert_eq!(cases, written, "every case of every sample ran: {stdout}");
    assert!(stdout.contains("nobody answers and the request expires"), "a 10 s approval timeout runs compressed: {stdout}");
    eprintln!("wfc test samples/: {cases} cases in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_serverless_workflow_document_is_tested_with_its_activities_mocked_and_a_mocked_problem_caught() {
    let (code, stdout, stderr) = wfc_test(&["tests/flows/dsl/remote-activity.test.yaml", "--registry", "tests/flows/dsl/payments.registry.yaml"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("ok    tests/flows/dsl/remote-activity.test.yaml · a charge, then a declined card caught by its type"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let (code, stdout, stderr) = wfc_test(&["tests/flows/testing/wrong.test.yaml"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("FAIL  tests/flows/testing/wrong.test.yaml · expects the wrong decision"), "{stdout}");
    assert!(stdout.contains("-  \"decision\": \"rejected\"") && stdout.contains("+  \"decision\": \"approved\""), "{stdout}");
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_mock_of_a_node_the_flow_lacks_is_a_located_diagnostic() {
    let (code, stdout, stderr) = wfc_test(&["tests/flows/testing/mistyped.test.yaml"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("E0102") && stderr.contains("mistyped.test.yaml:7:7") && stderr.contains("did you mean `manager-approval`?"), "{stderr}");
    assert!(!stdout.contains("ok "), "nothing runs: {stdout}");
}

#[test]
fn update_fills_in_the_expected_outputs() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wfc-test-update");
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let text = std::fs::read_to_string(repo_root().join("tests/flows/testing/fill.test.yaml")).expect("the fixture");
    let sample = repo_root().join("samples/purchase-approval.yaml").display().to_string();
    let copy = dir.join("fill.test.yaml");
    std::fs::write(&copy, text.replace("../../../samples/purchase-approval.yaml", &sample)).expect("a copy");
    let copy_arg = copy.display().to_string();
    let (code, stdout, stderr) = wfc_test(&[&copy_arg, "--update"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let updated = std::fs::read_to_string(&copy).expect("the updated file");
    assert!(updated.contains("output: {decision: approved, by: mock}"), "{updated}");
    assert!(updated.contains("expect: {output: {decision: rejected, by: mock}, completed: [decide]}"), "{updated}");
    // The filled-in file now passes as it is, and fails when the flow's answer changes.
    let (code, stdout, _) = wfc_test(&[&copy_arg]);
    assert_eq!(code, Some(0), "{stdout}");
    std::fs::write(&copy, updated.replace("approved: true, by: mock", "approved: false, by: mock")).expect("edit");
    let (code, stdout, _) = wfc_test(&[&copy_arg]);
    assert_eq!(code, Some(1), "{stdout}");
}
