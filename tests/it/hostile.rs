//! Hostile and careless input: every fixture of `tests/fixtures/hostile/` is refused with
//! spanned diagnostics that print no control characters, and generated inputs (deep nesting,
//! huge single lines, nested expressions) are refused or accepted without exhausting a 2 MiB
//! stack. One case per fixture; the rendered diagnostics are snapshots.

use wfc::{Code, SourceFile, render};
use wfc_tests::repo_root;

/// What a runtime or test thread has: the compiler must fit in it on any input.
const STACK: usize = 2 << 20;

/// Checks `text` on a small stack; returns its diagnostics rendered (plain) and their codes.
fn check_text(path: &str, text: String) -> (String, Vec<Code>) {
    let path = path.to_string();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let source = SourceFile::new(path, text);
            let checked = wfc::check(&source);
            for d in &checked.diagnostics {
                assert!(d.span.start <= d.span.end && d.span.end <= source.text.len(), "span out of the file: {d:?}");
                assert!(!d.label.is_empty() && !d.help.is_empty(), "{} lacks a label or help", d.code.as_str());
            }
            let rendered = render::render(&source, &checked.diagnostics, true);
            assert!(!rendered.chars().any(|c| c.is_control() && c != '\n'), "control characters reach the terminal:\n{rendered:?}");
            let errors = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
            (rendered, errors)
        })
        .expect("a thread")
        .join()
        .expect("checking does not panic or overflow")
}

/// The one check of the fixtures: refused, with the expected code, and the snapshot.
fn check(file_name: &str, expected: Code) {
    let path = format!("tests/fixtures/hostile/{file_name}");
    let text = std::fs::read_to_string(repo_root().join(&path)).expect("fixture is readable");
    let (rendered, codes) = check_text(&path, text);
    assert!(codes.contains(&expected), "{file_name}: expected {}, got {codes:?}\n{rendered}", expected.as_str());
    let name = file_name.rsplit_once('.').map_or(file_name, |(stem, _)| stem);
    insta::assert_snapshot!(name, rendered);
}

#[test]
fn hostile_fixtures_are_refused_with_spanned_diagnostics() {
    for (file, code) in [
        ("alias-bomb.yaml", Code::Syntax),
        ("ansi-escapes.yaml", Code::InvalidName),
        ("env-whole.yaml", Code::EnvByName),
        ("multi-document.yaml", Code::Syntax),
        ("numbers-out-of-range.yaml", Code::InvalidValue),
        ("tags.yaml", Code::Syntax),
        ("version.yaml", Code::InvalidValue),
        ("temporal-limits.yaml", Code::InvalidDuration),
        ("schedule-input.yaml", Code::TypeMismatch),
        ("remote-input.yaml", Code::TypeMismatch),
    ] {
        check(file, code);
    }
}

/// A `Log` flow whose message is `message`.
fn log_flow(message: &str) -> String {
    format!("name: generated\nroot: {{type: Log, config: {{message: {}}}}}\n", serde_json::Value::String(message.to_string()))
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let mut sequences = String::from("name: deep\nroot:\n");
    let mut indent = String::from("  ");
    for _ in 0..800 {
        sequences.push_str(&format!("{indent}type: Sequence\n{indent}children:\n{indent}  -\n"));
        indent.push_str("    ");
    }
    sequences.push_str(&format!("{indent}type: Log\n{indent}config: {{message: hi}}\n"));
    let arrays = format!("name: arrays\nroot: {{type: Log, config: {{message: hi, extra: {}{}}}}}\n", "[".repeat(10_000), "]".repeat(10_000));
    let cel = log_flow(&format!("{{{{ {}1{} }}}}", "(".repeat(55), ")".repeat(55)));
    let chain = log_flow(&format!("{{{{ {} }}}}", vec!["1"; 10_000].join(" + ")));
    for (name, text, code) in [("sequences", sequences, Code::Syntax), ("arrays", arrays, Code::Syntax), ("cel", cel, Code::ExpressionSyntax), ("chain", chain, Code::ExpressionSyntax)] {
        let (rendered, codes) = check_text(name, text);
        assert!(codes.contains(&code), "{name}: {codes:?}\n{rendered}");
    }
    // Within the limits, a deep flow still checks on the same stack.
    let mut nested = String::from("name: nested\nroot:\n");
    let mut indent = String::from("  ");
    for i in 0..40 {
        nested.push_str(&format!("{indent}type: Sequence\n{indent}id: s{i}\n{indent}children:\n{indent}  -\n"));
        indent.push_str("    ");
    }
    nested.push_str(&format!("{indent}type: Log\n{indent}config: {{message: \"{{{{ {}input.x{} }}}}\"}}\n", "(".repeat(32), ")".repeat(32)));
    let (rendered, codes) = check_text("nested", nested);
    assert!(codes.is_empty(), "{rendered}");
}

#[test]
fn a_diagnostic_far_right_on_one_line_renders_a_window() {
    let nodes: Vec<serde_json::Value> =
        (0..2_000).map(|i| serde_json::json!({"id": format!("n{i}"), "type": "Log", "config": {"message": "x".repeat(50)}})).collect();
    let mut doc = serde_json::json!({"name": "minified", "nodes": nodes, "edges": []});
    doc["nodes"].as_array_mut().expect("a list").push(serde_json::json!({"id": "bad", "type": "Log", "config": {"message": "{{ nope.x }}"}}));
    let text = doc.to_string();
    let column = text.find("nope").expect("the reference") + 1;
    assert!(column > 65_535);
    let (rendered, codes) = check_text("minified.json", text);
    assert_eq!(codes, vec![Code::UnknownReference]);
    assert!(rendered.contains(&format!("minified.json:1:{column}")), "{rendered}");
    assert!(rendered.lines().all(|l| l.chars().count() < 300), "{rendered}");
}

#[test]
fn schema_titles_never_merge_types() {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/hostile/schema-titles.yaml")).expect("fixture");
    let built = wfc::build(&SourceFile::new("titles.yaml", text), wfc::RuntimeSource::Path("runtime".into())).expect("builds");
    let types = &built.files.iter().find(|f| f.path == "src/types.rs").expect("types.rs").contents;
    for ty in ["pub struct InputHome", "pub struct InputWork", "pub struct InputInner", "pub struct Output "] {
        assert!(types.contains(ty), "{ty} missing:\n{types}");
    }
    assert!(!types.contains("Address"), "a title named a type:\n{types}");
}
