//! Documents generated from the code: the diagnostics reference, the document JSON Schema, the
//! node reference and the guide (a page per node type, each with an example that compiles).

use wfc::catalog::{NodeSpec, TABLE};
use wfc::{Code, RuntimeSource, SourceFile, render};
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

/// The guide's examples, one flow per catalog type (`docs/guide/examples/<name>.yaml`), in
/// catalog order.
fn guide_examples() -> Vec<(&'static NodeSpec, SourceFile)> {
    TABLE
        .iter()
        .map(|spec| {
            let path = format!("docs/guide/examples/{}.yaml", spec.name);
            let text = std::fs::read_to_string(repo_root().join(&path)).unwrap_or_else(|_| panic!("{path} is missing: every node type has an example"));
            (spec, SourceFile::new(path, text))
        })
        .collect()
}

/// The examples compiled as `wfc build docs/guide/examples/*.yaml` would: each checked, with no
/// diagnostic at all (a guide teaches no warning), then generated knowing the others (the
/// `SubWorkflow` example calls the `Log` one), against this checkout's runtime.
fn guide_crates() -> Vec<wfc::Built> {
    let examples = guide_examples();
    let mut options = wfc::BuildOptions::with_runtime(RuntimeSource::Path(repo_root().join("runtime").display().to_string()));
    let checked: Vec<wfc::Checked> = examples
        .iter()
        .map(|(_, source)| {
            let checked = wfc::check(source, &options);
            assert!(checked.diagnostics.is_empty(), "{} is not a clean example:\n{}", source.path, render::render(source, &checked.diagnostics, true));
            checked
        })
        .collect();
    for (name, sibling) in checked.iter().filter_map(wfc::Checked::sibling) {
        // One name twice would write one crate over the other.
        assert!(options.siblings.insert(name.clone(), sibling).is_none(), "two examples are named `{name}`");
    }
    examples
        .iter()
        .zip(checked)
        .map(|((_, source), checked)| {
            wfc::generate(source, checked, &options).unwrap_or_else(|d| panic!("{} does not generate:\n{}", source.path, render::render(source, &d, true)))
        })
        .collect()
}

/// `docs/guide/<name>.md`: the type's catalog entry (as in `docs/nodes.md`), its example, and
/// the plan the example compiles to (what `wfc plan` prints).
fn guide_page(spec: &NodeSpec, example: &SourceFile) -> String {
    let checked = wfc::check(example, &wfc::BuildOptions::default());
    let plan = wfc::plan::render::text(checked.plan.as_ref().expect("an example has a plan"));
    format!(
        "# {name}\n\n<!-- Generated from compiler/src/catalog.rs and {path} by tests/it/docs.rs. Do not edit. -->\n\n\
         [All node types](README.md) · [reference](../nodes.md#{anchor})\n\n{section}\n## Example\n\n\
         [`examples/{name}.yaml`](examples/{name}.yaml):\n\n```yaml\n{text}\n```\n\n\
         It compiles to this plan (`wfc plan {path}`):\n\n```text\n{plan}\n```\n",
        name = spec.name,
        path = example.path,
        anchor = spec.name.to_lowercase(),
        section = wfc::catalog::section(spec),
        text = example.text.trim_end(),
        plan = plan.trim_end(),
    )
}

/// `docs/guide/README.md`: how to read and run the guide, and the index of its pages.
fn guide_index() -> String {
    let mut page = String::from(
        "# Node types by example\n\n<!-- Generated from compiler/src/catalog.rs by tests/it/docs.rs. Do not edit. -->\n\n\
         One page per node type: what it does, its configuration fields, and a small, complete flow that uses it, \
         with the plan it compiles to. The test suite compiles every example (no diagnostic, not even a warning; \
         generated and type-checked as a worker crate) and fails when a page is out of date, so none can go stale.\n\n\
         Each page starts with the type's entry in the [node reference](../nodes.md): its summary, other names, \
         how many children it takes, and its `config:` fields. *kind* says how a field is checked: a *template* is \
         any value whose strings may hold `{{ }}`, an *expression* is CEL; *one of these* marks fields of which at least \
         one is needed. Every node also takes `id`, `name`, `description`, `temporal` and `onError`. The example \
         follows, in the tree form (`root:`), then what `wfc plan` prints for it: the steps, and the edges between \
         them by kind. What a diagnostic means: [docs/diagnostics.md](../diagnostics.md).\n\n\
         To check, plan or run an example (the ones that call services take their addresses from the input and their \
         secrets from `env.NAME` on the worker; with `--dry-run` ([Seeing a run](../../README.md#seeing-a-run)) \
         such calls are recorded instead of sent):\n\n\
         ```sh\ncargo run -p wfc -- check docs/guide/examples/*.yaml\ncargo run -p wfc -- plan docs/guide/examples/Switch.yaml\n\
         cargo run -p wfc -- run docs/guide/examples/Log.yaml --input '{\"name\": \"Ada\"}'\n```\n\n\
         | type | what it does | example |\n|---|---|---|\n",
    );
    for spec in TABLE {
        page.push_str(&format!("| [{0}]({0}.md) | {1} | [{0}.yaml](examples/{0}.yaml) |\n", spec.name, spec.summary.replace('|', "\\|")));
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
    for dir in ["samples", "docs/guide/examples", "tests/flows", "tests/flows/graphs", "../shared/conformance/btree"] {
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

#[test]
fn every_node_type_has_a_guide_page_with_an_example_that_compiles() {
    let crates = guide_crates();
    assert_eq!(crates.len(), TABLE.len());
    // Only catalog types have examples and pages: a renamed type leaves none behind.
    let listed = |dir: &str, ext: &str| -> Vec<String> {
        let entries = std::fs::read_dir(repo_root().join(dir)).expect("docs/guide/");
        entries.flatten().filter_map(|e| e.file_name().into_string().ok()?.strip_suffix(ext).map(str::to_string)).collect()
    };
    for name in listed("docs/guide/examples", ".yaml") {
        assert!(TABLE.iter().any(|spec| spec.name == name), "docs/guide/examples/{name}.yaml is not a node type of the catalog");
    }
    for name in listed("docs/guide", ".md") {
        assert!(name == "README" || TABLE.iter().any(|spec| spec.name == name), "docs/guide/{name}.md is not a node type of the catalog");
    }
    for (spec, example) in guide_examples() {
        check_generated(&format!("docs/guide/{}.md", spec.name), &guide_page(spec, &example));
    }
    check_generated("docs/guide/README.md", &guide_index());
}

/// All the examples' crates in one scratch workspace and one `cargo check`: one at a time would
/// take minutes each.
#[test]
fn the_guide_examples_build_as_crates() {
    if let Err(errors) = wfc_tests::workers::check_crates("guide", &guide_crates()) {
        panic!("guide examples that do not compile:\n{errors}");
    }
}
