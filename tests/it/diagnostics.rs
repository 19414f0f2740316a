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
    let warning = code.as_str().starts_with('W');
    // A code about an edit (`wfc build --previous`) has the flow it edits beside it.
    let stem = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    let previous_path = format!("tests/fixtures/invalid/{stem}.previous.yaml");
    let previous = std::fs::read_to_string(repo_root().join(&previous_path)).ok().map(|text| SourceFile::new(previous_path, text));
    let options = wfc::BuildOptions { previous, ..wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path("runtime".into())) };
    let diagnostics = match wfc::build(&source, &options) {
        Ok(built) => {
            assert!(warning, "{file_name}: builds, with {:?}", built.warnings);
            built.warnings
        }
        // A warning fixture may use a form this version does not build (a graph): its
        // warnings come from checking.
        Err(_) if warning => wfc::check(&source, &wfc::BuildOptions::default()).diagnostics,
        Err(diagnostics) => diagnostics,
    };
    let checked = wfc::Checked { flow: None, plan: None, releases: Default::default(), reads: Default::default(), diagnostics };
    assert!(warning || checked.has_errors(), "{file_name}: no error");
    assert!(checked.diagnostics.iter().any(|d| d.code == code), "{file_name}: expected {}, got {:#?}", code.as_str(), checked.diagnostics);
    for d in &checked.diagnostics {
        assert!(d.span.end <= source.text.len() && d.span.start <= d.span.end, "{file_name}: span out of the file");
        assert!(!d.label.is_empty() && !d.help.is_empty(), "{file_name}: {} lacks a label or help", d.code.as_str());
    }
    let name = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    insta::assert_snapshot!(name, render::render(&source, &checked.diagnostics, true));
    code
}

#[test]
fn every_code_has_a_fixture_and_a_snapshot() {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("tests/fixtures/invalid"))
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| !name.ends_with(".previous.yaml"))
        .collect();
    files.sort();
    let covered = std::cell::RefCell::new(Vec::new());
    wfc_tests::cases::each(&files, |f| f.to_string(), |f| covered.borrow_mut().push(check(f)));
    let covered = covered.into_inner();
    for code in Code::ALL {
        if *code != Code::Internal {
            assert!(covered.contains(code), "no fixture for {} ({})", code.as_str(), code.slug());
        }
    }
}

#[test]
fn a_mistyped_reference_exits_1_pointing_at_line_and_column() {
    let wfc = workers::binary("wfc");
    let output = Command::new(wfc).args(["check", "tests/fixtures/invalid/E0102-unknown-reference.yaml"]).current_dir(repo_root()).output().expect("wfc runs");
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
    assert_eq!(
        run(&[
            "build",
            "--check",
            "samples/user-onboarding.yaml",
            "samples/order-fulfillment.yaml",
            "samples/reminder-digest.yaml",
            "-o",
            "generated",
            "--runtime",
            "path=../../runtime"
        ]),
        Some(0)
    );
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
        ("type: While\nconfig: {condition: input.more}\nchildren: [{type: Log, config: {message: a}}, {type: Log, config: {message: b}}]", Code::ChildCount),
        ("type: While\nchildren: [{type: Log, config: {message: m}}]", Code::ChildCount),
        ("type: SoftAssert\nconfig: {condition: input.ok}\nchildren: [{type: Log, config: {message: m}}]", Code::ChildCount),
        ("type: SoftAssert", Code::ChildCount),
        ("type: LogMessage\nconfig: {message: m, outputKey: '1st.key'}", Code::InvalidName),
        ("type: HumanApproval\nconfig: {timeout: 7 days}", Code::MissingField),
        ("type: SlackMessage\nconfig: {text: hi, chanel: ops}", Code::UnknownField),
        ("type: SlackMessage\nconfig: {text: hi, channel: ops}", Code::MissingField),
        ("type: EmailSend\nconfig: {to: a@b.co, from: c@d.co, subject: s, body: b}", Code::MissingField),
        ("type: EmailSend\nconfig: {to: a@b.co, from: c@d.co, subject: s, smtp: {host: h}}", Code::MissingField),
        ("type: EmailSend\nconfig: {to: a@b.co, from: c@d.co, subject: s, body: b, smtp: {host: h, username: u}}", Code::MissingField),
        ("type: EmailSend\nconfig: {to: a@b.co, from: c@d.co, subject: s, body: b, smtp: {host: h, security: ssl}}", Code::InvalidValue),
        ("type: EmailSend\nconfig: {provider: sendgrid, to: a@b.co, from: c@d.co, subject: s, body: b}", Code::MissingField),
        ("type: AI\nconfig: {model: m}", Code::MissingField),
        ("type: Llm\nconfig: {model: m, messages: [{role: user, text: hi}]}", Code::UnknownField),
        ("type: DatabaseQuery\nconfig: {connectionString: '{{ env.DB }}', query: \"select * from t where name = '{{ input.name }}'\"}", Code::InvalidValue),
        ("type: DatabaseQuery\nconfig: {connectionString: '{{ env.DB }}', query: 'select * from t where a = $1 and b = $2', parameters: [1]}", Code::InvalidValue),
        ("type: Precondition\nconfig: {condition: 'env.TOKEN != \"\"'}\nchildren: [{type: Log, config: {message: m}}]", Code::EnvOutsideActivity),
        ("type: CounterAction\nconfig: {increment: 1}", Code::MissingField),
        ("type: WaitAction\nconfig: {waitMs: -5}", Code::InvalidValue),
        ("type: Parallel\nconfig: {strategy: any, successThreshold: 0}\nchildren: [{type: Log, config: {message: m}}]", Code::InvalidValue),
        ("name: n\ntrigger: {type: schedule, config: {cron: every day}}\nroot: {type: Log, config: {message: m}}", Code::InvalidValue),
        ("name: n\ntrigger: {type: schedule}\nroot: {type: Log, config: {message: m}}", Code::MissingField),
        ("name: n\nsignals: {approval: yes}\nroot: {type: Log, config: {message: m}}", Code::WrongType),
        (
            "type: Conditional\nconfig: {condition: input.x}\nchildren: [{type: Log, config: {message: a}}, {type: Log, config: {message: b}}, {type: Log, config: {message: c}}]",
            Code::ChildCount,
        ),
        ("type: Sequence\nchildren: [{type: Log, config: {message: m}, onError: {type: Lgo}}]", Code::UnknownNodeType),
        ("type: Sequence\nchildren: [{id: a, type: Log, config: {message: m}, onError: {type: Log, config: {message: '{{ a }}'}}}]", Code::NotGuaranteed),
        (
            "type: Recovery\nchildren: [{id: t, type: Fail}, {type: Log, config: {message: '{{ error.message }}'}}, {type: Log, config: {message: '{{ error.message }}'}}]",
            Code::OutOfScope,
        ),
        (
            "type: ForEach\nconfig: {collection: input.xs}\nchildren: [{id: body, type: Log, config: {message: m}}]\nonError: {type: Log, config: {message: '{{ body }}'}}",
            Code::OutOfScope,
        ),
        // The graph form: every control node and handle, misused.
        ("name: n\nroot: {type: Log, config: {message: m}}\nnodes: []", Code::DocumentShape),
        ("name: n\nnodes: [{id: l, type: Loop, config: {loopType: forEach}}]", Code::MissingField),
        ("name: n\nnodes: [{id: l, type: Loop, config: {loopType: until}}]", Code::InvalidValue),
        ("name: n\nnodes: [{id: p, type: Parallel, config: {count: 0}}]", Code::InvalidValue),
        ("name: n\nnodes: [{id: p, type: Parallel, config: {parallelType: collection}}]", Code::MissingField),
        ("name: n\nnodes: [{id: c, type: Condition, config: {conditions: [{id: else}, {id: a, expression: 'true'}]}}]", Code::InvalidValue),
        ("name: n\nnodes: [{id: c, type: Condition, config: {conditions: []}}]", Code::InvalidValue),
        ("name: n\nnodes: [{id: s, type: Switch, config: {}}]", Code::MissingField),
        ("name: n\nnodes: [{id: s, type: Start, config: {x: 1}}]", Code::UnknownField),
        ("name: n\nnodes: [{id: a, type: Log, config: {message: m}, parent: x}]", Code::UnknownField),
        (
            "name: n\nnodes: [{id: a, type: Log, config: {message: m}}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: a, target: b, sourceHandle: sucess}]",
            Code::InvalidHandle,
        ),
        (
            "name: n\nnodes: [{id: a, type: Log, config: {message: m}}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: a, target: b, sourceHandle: loop-start-source}]",
            Code::InvalidHandle,
        ),
        ("name: n\nnodes: [{id: a, type: Start}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: a, target: b, sourceHandle: error}]", Code::InvalidHandle),
        (
            "name: n\nnodes: [{id: l, type: Loop, config: {iterations: 2}}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: l, target: b, sourceHandle: parallel-end-source}]",
            Code::InvalidHandle,
        ),
        (
            "name: n\nnodes: [{id: s, type: Switch, config: {value: input.k}}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: s, target: b, sourceHandle: router-x}]",
            Code::InvalidHandle,
        ),
        (
            "name: n\nnodes: [{id: l, type: Loop, config: {iterations: 2}}, {id: b, type: Log, parentId: l, config: {message: m}}, {id: c, type: Log, config: {message: m}}]\nedges: [{source: b, target: c}]",
            Code::InvalidContainer,
        ),
        (
            "name: n\nnodes: [{id: l, type: Loop, config: {iterations: 2}}, {id: c, type: Log, config: {message: m}}]\nedges: [{source: l, target: c, sourceHandle: loop-start-source}]",
            Code::InvalidContainer,
        ),
        ("name: n\nnodes: [{id: a, type: Loop, parentId: b, config: {iterations: 2}}, {id: b, type: Loop, parentId: a, config: {iterations: 2}}]", Code::InvalidContainer),
        (
            "name: n\nnodes: [{id: s, type: Sequence}, {id: t, type: Sequence}, {id: a, type: Log, config: {message: m}}]\nedges: [{source: s, target: a}, {source: t, target: a}]",
            Code::InvalidContainer,
        ),
        (
            "name: n\nnodes: [{id: s, type: Sequence}, {id: a, type: Log, config: {message: m}}, {id: b, type: Log, config: {message: m}}]\nedges: [{source: s, target: a}, {source: a, target: b}]",
            Code::InvalidContainer,
        ),
        ("name: n\nnodes: [{id: a, type: Start}, {id: b, type: Log, config: {message: '{{ parallel.index }}'}}]\nedges: [{source: a, target: b}]", Code::OutOfScope),
        (
            "name: n\nnodes: [{id: a, type: Start}, {id: l, type: Loop, config: {iterations: 2}}, {id: b, type: Log, parentId: l, config: {message: m}}, {id: c, type: Log, config: {message: '{{ b }}'}}]\nedges: [{source: a, target: l}, {source: l, target: c, sourceHandle: loop-end-source}]",
            Code::OutOfScope,
        ),
        (
            "name: n\nnodes: [{id: a, type: Start}, {id: h, type: HttpRequest, config: {url: u}}, {id: e, type: Log, config: {message: m}}, {id: j, type: Log, config: {message: '{{ h.body }}'}}]\nedges: [{source: a, target: h}, {source: h, target: e, sourceHandle: error}, {source: h, target: j}, {source: e, target: j}]",
            Code::NotGuaranteed,
        ),
        (
            "name: n\ninputSchema: {type: object, properties: {xs: {type: string}}}\nnodes: [{id: l, type: Loop, config: {loopType: forEach, collection: input.xs}}]",
            Code::TypeMismatch,
        ),
        ("name: n\nnodes: [{id: a, type: ProcessPayment}]", Code::UnknownNodeType),
    ];
    for (flow, code) in cases {
        let checked = wfc::check(&SourceFile::new("case.yaml", *flow), &wfc::BuildOptions::default());
        assert!(checked.diagnostics.iter().any(|d| d.code == *code), "{flow}\nexpected {}, got {:#?}", code.as_str(), checked.diagnostics);
    }
}
