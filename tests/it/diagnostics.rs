//! Diagnostics: one invalid fixture per code, its rendered diagnostics snapshot-tested, and the
//! `wfc` command's exit codes.

use std::process::Command;

use wfc::{Code, SourceFile, render};
use wfc_tests::{repo_root, workers};

/// The one check of this layer: a fixture named `<CODE>-<slug>.yaml` reports that code (when
/// checked, or when built for codes of code generation), and its rendering (no colour, fixed width)
/// matches the snapshot.
fn check(file_name: &str) -> Code {
    let path = format!("tests/fixtures/invalid/{file_name}");
    let text = std::fs::read_to_string(repo_root().join(&path)).expect("fixture is readable");
    let source = SourceFile::new(path, text);
    let code = Code::ALL.iter().copied().find(|c| file_name.starts_with(c.as_str())).unwrap_or_else(|| panic!("{file_name}: no code prefix"));
    let diagnostics = match wfc::build(&source, wfc::RuntimeSource::Path("runtime".into())) {
        Ok(built) => panic!("{file_name}: builds, with {:?}", built.warnings),
        Err(diagnostics) => diagnostics,
    };
    let checked = wfc::Checked { flow: None, diagnostics };
    assert!(checked.has_errors(), "{file_name}: no error");
    assert!(checked.diagnostics.iter().any(|d| d.code == code), "{file_name}: expected {}, got {:#?}", code.as_str(), checked.diagnostics);
    for d in &checked.diagnostics {
        assert!(d.span.end <= source.text.len() && d.span.start <= d.span.end, "{file_name}: span out of the file");
        assert!(!d.label.is_empty() && !d.help.is_empty(), "{file_name}: {} lacks a label or help", d.code.as_str());
    }
    insta::assert_snapshot!(file_name.trim_end_matches(".yaml"), render::render(&source, &checked.diagnostics, true));
    code
}

#[test]
fn every_code_has_a_fixture_and_a_snapshot() {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("tests/fixtures/invalid"))
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    files.sort();
    let covered: Vec<Code> = files.iter().map(|f| check(f)).collect();
    for code in Code::ALL {
        if *code != Code::Internal {
            assert!(covered.contains(code), "no fixture for {} ({})", code.as_str(), code.slug());
        }
    }
}

#[test]
fn a_mistyped_reference_exits_1_pointing_at_line_and_column() {
    let wfc = workers::binary("wfc");
    let output = Command::new(wfc)
        .args(["check", "tests/fixtures/invalid/E0102-unknown-reference.yaml"])
        .current_dir(repo_root())
        .output()
        .expect("wfc runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("E0102"), "{stderr}");
    assert!(stderr.contains("E0102-unknown-reference.yaml:11:35"), "{stderr}");
    assert!(stderr.contains("did you mean `create_user`?"), "{stderr}");
}

#[test]
fn exit_codes_follow_the_contract() {
    let wfc = workers::binary("wfc");
    let run = |args: &[&str]| Command::new(&wfc).args(args).current_dir(repo_root()).output().expect("wfc runs").status.code();
    assert_eq!(run(&["check", "samples/user-onboarding.yaml"]), Some(0));
    assert_eq!(run(&["check", "no/such/flow.yaml"]), Some(2));
    assert_eq!(run(&["frobnicate"]), Some(2));
    assert_eq!(run(&["build", "--check", "samples/user-onboarding.yaml", "samples/order-fulfillment.yaml", "samples/reminder-digest.yaml", "-o", "generated", "--runtime", "path=../../runtime"]), Some(0));
    let out = std::env::temp_dir().join(format!("wfc-stale-{}", std::process::id()));
    assert_eq!(run(&["build", "--check", "samples/reminder-digest.yaml", "-o", out.to_str().unwrap_or_default()]), Some(1));
}

/// An invalid use of a node type that this version validates (compiled or not) is rejected with
/// the expected code.
#[test]
fn invalid_uses_of_every_kind_of_node_are_pointed_at() {
    let cases: &[(&str, Code)] = &[
        ("type: Timeout\nchildren: [{type: Log, config: {message: m}}]", Code::MissingField),
        ("type: Timeout\nconfig: {timeout: soon}\nchildren: [{type: Log, config: {message: m}}]", Code::InvalidDuration),
        ("type: Retry\nconfig: {backoff: linear}\nchildren: [{type: Log, config: {message: m}}]", Code::InvalidValue),
        ("type: Invert\nchildren: []", Code::ChildCount),
        ("type: Switch\nconfig: {value: input.kind}", Code::MissingField),
        ("type: Switch\nconfig: {value: input.kind, cases: {a: {type: Lgo}}}", Code::UnknownNodeType),
        ("type: ForEach\nconfig: {itemKey: x}\nchildren: [{type: Log, config: {message: m}}]", Code::MissingField),
        ("type: While\nconfig: {condition: 'input.n <'}\nchildren: [{type: Log, config: {message: m}}]", Code::ExpressionSyntax),
        ("type: While\nconfig: {condition: {key: n, operator: '=>'}}\nchildren: [{type: Log, config: {message: m}}]", Code::InvalidValue),
        ("type: HumanApproval\nconfig: {timeout: 7 days}", Code::MissingField),
        ("type: SlackMessage\nconfig: {text: hi, chanel: ops}", Code::UnknownField),
        ("type: Precondition\nconfig: {condition: 'env.TOKEN != \"\"'}\nchildren: [{type: Log, config: {message: m}}]", Code::EnvOutsideActivity),
        ("type: CounterAction\nconfig: {increment: 1}", Code::MissingField),
        ("type: WaitAction\nconfig: {waitMs: -5}", Code::InvalidValue),
        ("type: Parallel\nconfig: {strategy: any, successThreshold: 0}\nchildren: [{type: Log, config: {message: m}}]", Code::InvalidValue),
        ("name: n\ntrigger: {type: schedule, config: {cron: every day}}\nroot: {type: Log, config: {message: m}}", Code::InvalidValue),
        ("name: n\ntrigger: {type: schedule}\nroot: {type: Log, config: {message: m}}", Code::MissingField),
        ("name: n\nsignals: {approval: yes}\nroot: {type: Log, config: {message: m}}", Code::WrongType),
    ];
    for (flow, code) in cases {
        let checked = wfc::check(&SourceFile::new("case.yaml", *flow));
        assert!(checked.diagnostics.iter().any(|d| d.code == *code), "{flow}\nexpected {}, got {:#?}", code.as_str(), checked.diagnostics);
    }
}
