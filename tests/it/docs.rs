//! Documents generated from the code: the diagnostics reference and the document JSON Schema.

use wfc::{Code, SourceFile, render};
use wfc_tests::repo_root;

/// `docs/diagnostics.md`: every code with its meaning (from the code's doc comment) and the
/// rendered example from its fixture. Regenerate with `WFC_UPDATE_DOCS=1 cargo test -p wfc-tests docs`.
fn diagnostics_reference() -> String {
    let mut page = String::from(
        "# Diagnostic codes\n\n<!-- Generated from compiler/src/diagnostic.rs and tests/fixtures/invalid/ by tests/it/docs.rs. Do not edit. -->\n\n\
         Every diagnostic wfc prints has one of these codes. `wfc explain CODE` prints the meaning of one.\n\n| code | name |\n|---|---|\n",
    );
    for code in Code::ALL {
        page.push_str(&format!("| [{}](#{}) | {} |\n", code.as_str(), code.as_str().to_lowercase(), code.slug()));
    }
    let fixtures = repo_root().join("tests/fixtures/invalid");
    let mut names: Vec<String> = std::fs::read_dir(&fixtures).expect("fixtures").filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    for code in Code::ALL {
        page.push_str(&format!("\n## {}\n\n`{}`: {}\n", code.as_str(), code.slug(), code.description()));
        if let Some(name) = names.iter().find(|n| n.starts_with(code.as_str())) {
            let path = format!("tests/fixtures/invalid/{name}");
            let text = std::fs::read_to_string(repo_root().join(&path)).expect("fixture");
            let source = SourceFile::new(path, text.clone());
            let rendered = render::render(&source, &wfc::check(&source, &wfc::BuildOptions::default()).diagnostics, true);
            page.push_str(&format!("\n```yaml\n{}\n```\n\n```text\n{}\n```\n", text.trim_end(), rendered.trim_end()));
        }
    }
    page
}

fn check_generated(path: &str, contents: &str) {
    let file = repo_root().join(path);
    if std::env::var_os("WFC_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(file.parent().expect("a folder")).expect("create docs/");
        std::fs::write(&file, contents).expect("write");
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(committed == contents, "{path} is stale: run `WFC_UPDATE_DOCS=1 cargo test -p wfc-tests --test it docs`");
}

#[test]
fn the_diagnostics_reference_is_generated_from_the_code() {
    check_generated("docs/diagnostics.md", &diagnostics_reference());
}

#[test]
fn the_document_schema_is_published_and_every_known_document_validates() {
    let schema = wfc::schema::document_schema();
    check_generated("docs/workflow.schema.json", &(serde_json::to_string_pretty(&schema).expect("JSON") + "\n"));
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid JSON Schema");
    let root = repo_root();
    let mut documents = Vec::new();
    for dir in ["samples", "tests/flows", "tests/flows/graphs", "../shared/conformance/btree"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        // The registry and test files are not flows.
        let flow = |p: &std::path::Path| p.is_file() && !p.ends_with("registry.yaml") && !p.to_string_lossy().ends_with(".test.yaml");
        documents.extend(entries.flatten().map(|e| e.path()).filter(|p| flow(p)));
    }
    documents.sort();
    assert!(documents.len() >= 5);
    let mut validated = 0;
    for path in documents {
        let text = std::fs::read_to_string(&path).expect("readable");
        let (value, errors) = wfc::syntax::parse(&text);
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        let json = value.expect("a document").to_json();
        let problems: Vec<String> = validator.iter_errors(&json).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(problems.is_empty(), "{} does not validate: {problems:#?}", path.display());
        validated += 1;
    }
    eprintln!("{validated} documents validate against the schema");
}

#[test]
fn the_schema_rejects_what_the_compiler_rejects() {
    let validator = jsonschema::validator_for(&wfc::schema::document_schema()).expect("valid schema");
    for (what, doc) in [
        ("a typo in a config field", serde_json::json!({"name": "x", "root": {"type": "HttpRequest", "config": {"url": "u", "methd": "GET"}}})),
        ("an unknown node field", serde_json::json!({"type": "Log", "config": {"message": "m"}, "childern": []})),
        ("a workflow name with capitals", serde_json::json!({"name": "Bad_Name", "root": {"type": "Log", "config": {"message": "m"}}})),
    ] {
        assert!(!validator.is_valid(&doc), "{what} passed the schema");
    }
}

#[test]
fn the_node_reference_is_generated_from_the_catalog() {
    check_generated("docs/nodes.md", &wfc::catalog::reference());
}
