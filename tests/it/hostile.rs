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
            let checked = wfc::check(&source, &wfc::BuildOptions::default());
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
    let cases = [
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
        ("folded-properties.yaml", Code::UnsupportedSchema),
        ("sim-references.json", Code::UnknownReference),
    ];
    wfc_tests::cases::each(cases, |(file, _)| file.to_string(), |(file, code)| check(file, *code));
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
    let containers = containment_graph(5_000, true);
    let containment = containment_graph(5_000, false);
    for (name, text, code) in [
        ("sequences", sequences, Code::Syntax),
        ("arrays", arrays, Code::Syntax),
        ("cel", cel, Code::ExpressionSyntax),
        ("chain", chain, Code::ExpressionSyntax),
        ("containers", containers, Code::InvalidContainer),
        ("containment", containment, Code::InvalidContainer),
    ] {
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
    for (name, text) in [("containers-30", containment_graph(30, true)), ("containment-60", containment_graph(60, false))] {
        let (rendered, codes) = check_text(name, text);
        assert!(codes.is_empty(), "{name}: {rendered}");
    }
}

/// A graph nested `depth` deep: `Loop` containers by `parentId`, or btree's containment edges
/// from `Sequence` to `Sequence`.
fn containment_graph(depth: usize, containers: bool) -> String {
    let (nodes, edges): (Vec<serde_json::Value>, Vec<serde_json::Value>) = if containers {
        let mut nodes = vec![serde_json::json!({"id": "start", "type": "Start"})];
        nodes.extend((0..depth).map(|i| {
            let mut node = serde_json::json!({"id": format!("l{i}"), "type": "Loop", "config": {"loopType": "for", "iterations": 1}});
            if i > 0 {
                node["parentId"] = serde_json::json!(format!("l{}", i - 1));
            }
            node
        }));
        (nodes, vec![serde_json::json!({"source": "start", "target": "l0"})])
    } else {
        let mut nodes: Vec<serde_json::Value> = (0..depth).map(|i| serde_json::json!({"id": format!("s{i}"), "type": "Sequence"})).collect();
        nodes.push(serde_json::json!({"id": "leaf", "type": "Log", "config": {"message": "x"}}));
        let edges = (0..depth).map(|i| serde_json::json!({"source": format!("s{i}"), "target": if i + 1 < depth { format!("s{}", i + 1) } else { "leaf".to_string() }})).collect();
        (nodes, edges)
    };
    serde_json::json!({"name": "deep-graph", "nodes": nodes, "edges": edges}).to_string()
}

#[test]
fn a_diagnostic_far_right_on_one_line_renders_a_window() {
    let nodes: Vec<serde_json::Value> = (0..2_000).map(|i| serde_json::json!({"id": format!("n{i}"), "type": "Log", "config": {"message": "x".repeat(50)}})).collect();
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
    let built = wfc::build(&SourceFile::new("titles.yaml", text), &wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path("runtime".into()))).expect("builds");
    let types = &built.files.iter().find(|f| f.path == "src/types.rs").expect("types.rs").contents;
    for ty in ["pub struct InputHome", "pub struct InputWork", "pub struct InputInner", "pub struct Output "] {
        assert!(types.contains(ty), "{ty} missing:\n{types}");
    }
    assert!(!types.contains("Address"), "a title named a type:\n{types}");
}

/// The invariant: every flow `wfc check` accepts produces a crate that compiles. Node ids,
/// activity and signal names from the names generated code reserves, Rust's keywords and the
/// prelude, in every kind of position; flow names that are the types generated code uses;
/// bidi controls and a bare CR in descriptions, schema docs and JSON configuration. Every
/// accepted flow is built, and all the crates are checked by one cargo invocation.
#[test]
fn every_accepted_hostile_name_compiles() {
    let keywords = ["fn", "loop", "match", "type", "self", "super", "crate", "async", "await", "dyn", "gen", "try", "union", "box", "move", "ref", "static"];
    let mut ids: Vec<String> = wfc::codegen::FN_NAMES.iter().map(|n| n.to_string()).collect();
    ids.extend(wfc::codegen::TYPE_NAMES.iter().map(|n| n.to_string()));
    ids.extend(keywords.iter().map(|k| k.to_string()));
    ids.extend(
        ["force-success", "FORCE_SUCCESS", "main", "types", "activities", "workflow_graph", "Self", "NAME", "TASK_QUEUE", "SIGNALS", "SETTINGS", "DEFAULT_POLICY"]
            .map(String::from),
    );
    // Names expressions reserve are refused (E0105), and ids that read the same in expressions
    // (`force-success`, `force_success`) collide: keep one of each.
    ids.retain(|id| !wfc::check::RESERVED.contains(&id.as_str()));
    ids.sort();
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|id| seen.insert(id.replace('-', "_")));
    // Each id in one of these positions, in turn.
    let positions: [fn(&str) -> String; 7] = [
        |id| format!("{{type: Log, id: {id}, config: {{message: x}}}}"),
        |id| format!("{{type: Parallel, id: par-{id}, children: [{{type: Log, id: {id}, config: {{message: x}}}}]}}"),
        |id| format!("{{type: ForEach, id: each-{id}, config: {{collection: '{{{{ [1, 2] }}}}'}}, children: [{{type: Log, id: {id}, config: {{message: x}}}}]}}"),
        |id| format!("{{type: Retry, id: retry-{id}, config: {{maxAttempts: 2}}, children: [{{type: Log, id: {id}, config: {{message: x}}}}]}}"),
        |id| format!("{{type: Fail, id: fails-{id}, config: {{message: no}}, onError: {{type: Log, id: {id}, config: {{message: x}}}}}}"),
        |id| format!("{{type: Timeout, id: timeout-{id}, config: {{timeout: 5s}}, children: [{{type: Log, id: {id}, config: {{message: x}}}}]}}"),
        |id| format!("{{type: Conditional, id: cond-{id}, config: {{condition: 'true'}}, children: [{{type: Log, id: {id}, config: {{message: x}}}}]}}"),
    ];
    let hidden = "bidi \u{202e}x\u{2066} and a bare\r CR";
    let mut tree = format!(
        "name: hostile-ids\ndescription: {desc}\ninputSchema: {{type: object, description: {desc}, properties: {{note: {{type: string, description: {desc}}}}}}}\n\
         signals: {{status: {{type: object}}, run: {{type: object}}}}\n\
         activities: {{input: {{taskQueue: q}}, run: {{taskQueue: q}}, activities: {{taskQueue: q}}, value: {{taskQueue: q}}}}\n\
         root:\n  type: Sequence\n  id: top\n  children:\n\
         \x20   - {{type: HttpRequest, id: json-config, config: {{method: POST, url: 'http://localhost/', json: {{note: {desc}}}}}}}\n\
         \x20   - {{type: Activity, id: call-run, config: {{activity: run}}}}\n\
         \x20   - {{type: Activity, id: call-value, config: {{activity: value}}}}\n",
        desc = serde_json::Value::String(hidden.to_string()),
    );
    for (i, id) in ids.iter().enumerate() {
        tree.push_str(&format!("    - {}\n", positions[i % positions.len()](id)));
    }
    let mut flows = vec![("hostile-ids".to_string(), tree)];
    let mut names: Vec<String> = wfc::codegen::TYPE_NAMES.iter().map(|n| wfc::ident::snake(n).trim_end_matches('_').replace('_', "-")).collect();
    names.extend(keywords.iter().map(|k| k.to_string()));
    names.extend(["status", "input", "output", "run", "template", "loop", "option"].map(String::from));
    names.sort();
    names.dedup();
    for name in names {
        flows.push((name.clone(), format!("name: {name}\nroot: {{type: Log, config: {{message: hi}}}}\n")));
    }

    let runtime = wfc::RuntimeSource::Path(repo_root().join("runtime").display().to_string());
    let mut accepted = Vec::new();
    for (name, text) in &flows {
        let source = SourceFile::new(format!("{name}.yaml"), text.clone());
        let checked = wfc::check(&source, &wfc::BuildOptions::default());
        // Ids that expressions reserve (`input`, `workflow`, …) are refused, and that is fine:
        // the invariant is about what is accepted.
        let Ok(built) = wfc::build(&source, &wfc::BuildOptions::with_runtime(runtime.clone())) else {
            assert!(checked.has_errors(), "{name}: check accepts what build refuses");
            assert!(name != "hostile-ids", "the corpus flow is refused:\n{}", render::render(&source, &checked.diagnostics, true));
            continue;
        };
        accepted.push(built);
    }
    assert!(accepted.len() > 60, "only {} of {} flows accepted", accepted.len(), flows.len());
    if let Err(errors) = wfc_tests::workers::check_crates("hostile-names", &accepted) {
        panic!("accepted flows that do not compile:\n{errors}");
    }
}

/// Flow text reaches the generated README as text: no HTML, link or heading from a
/// description, and no code span or fence that flow text can close.
#[test]
fn flow_text_reaches_the_readme_as_text() {
    let text = r##"name: readme-text
description: "# Urgent\n<script>alert(1)</script> [click](https://example.com) ![x](y) **bold**"
taskQueue: "q`</code><b>"
inputSchema: {type: object, required: [kind], properties: {kind: {enum: ["```</pre>"]}}}
signals: {"x``y": {type: object, properties: {note: {const: "```\n# injected"}}}}
root: {type: Log, config: {message: hi}}
"##;
    let built = wfc::build(&SourceFile::new("readme-text.yaml", text), &wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path("runtime".into()))).expect("builds");
    let readme = &built.files.iter().find(|f| f.path == "README.md").expect("a README").contents;
    for raw in ["<script>", "[click](", "![x]", "**bold**"] {
        assert!(!readme.contains(raw), "`{raw}` reaches the README as markup:\n{readme}");
    }
    assert!(!readme.lines().any(|l| l.starts_with("# Urgent") || l.starts_with("# injected")), "a heading from flow text:\n{readme}");
    assert!(readme.contains("```` q`</code><b> ````") || readme.contains("``q`</code><b>``"), "the task queue is one code span:\n{readme}");
    // Every fence that opens is closed by a fence of the same length.
    let mut open: Option<usize> = None;
    for line in readme.lines().map(str::trim_start) {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match open {
            None if ticks >= 3 => open = Some(ticks),
            Some(n) if ticks == n && line.trim_end() == "`".repeat(n) => open = None,
            _ => {}
        }
    }
    assert_eq!(open, None, "an unclosed fence:\n{readme}");
}
