//! SIM Studio's own templates, as its users export them (`tests/fixtures/sim-studio`, see
//! `SOURCE.md` there). `wfc check` reads every one: what has a wfc equivalent is mapped, what
//! has none is a warning, and what cannot run (an empty model, channel or credential, a
//! reference to nothing, a secret for another worker) is a located error. With the values those
//! errors ask for filled in (`<template>.fill.json`: JSON pointer → value, as a user would set
//! them in SIM before exporting), every template compiles.

use std::collections::BTreeMap;

use wfc::{Code, SourceFile, render};
use wfc_tests::repo_root;

const DIR: &str = "tests/fixtures/sim-studio";

/// The templates, by file stem.
fn templates() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(repo_root().join(DIR))
        .expect("the corpus folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some(name.strip_suffix(".json")?.to_string()))
        .filter(|stem| !stem.ends_with(".fill"))
        .collect();
    stems.sort();
    assert!(stems.len() >= 10, "the corpus is missing: {stems:?}");
    stems
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(DIR).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn registry() -> wfc::lower::Registry {
    wfc::registry(&SourceFile::new(format!("{DIR}/registry.yaml"), read("registry.yaml"))).expect("the registry reads")
}

#[test]
fn sim_studio_templates_check_with_located_diagnostics() {
    let registry = registry();
    wfc_tests::cases::each(templates(), String::clone, |stem| {
        let source = SourceFile::new(format!("{DIR}/{stem}.json"), read(&format!("{stem}.json")));
        let checked = wfc::check(&source, &wfc::BuildOptions { registry: registry.clone(), ..Default::default() });
        for d in &checked.diagnostics {
            assert!(d.span.end <= source.text.len() && !d.label.is_empty() && !d.help.is_empty(), "{stem}: {d:?}");
            // Export metadata is read, and an unknown block type is an activity, never an error.
            assert!(!d.message.contains("`metadata`") && d.code != Code::UnknownNodeType, "{stem}: {}", d.message);
        }
        insta::assert_snapshot!(format!("sim-studio-{stem}"), render::render(&source, &checked.diagnostics, true));
    });
}

/// A template with its fill applied.
fn filled(stem: &str) -> SourceFile {
    let mut export: serde_json::Value = serde_json::from_str(&read(&format!("{stem}.json"))).expect("JSON");
    if let Ok(fill) = std::fs::read_to_string(repo_root().join(DIR).join(format!("{stem}.fill.json"))) {
        let fill: BTreeMap<String, serde_json::Value> = serde_json::from_str(&fill).expect("a fill is a map of JSON pointers");
        for (pointer, value) in fill {
            *export.pointer_mut(&pointer).unwrap_or_else(|| panic!("{stem}: no {pointer}")) = value;
        }
    }
    SourceFile::new(format!("{stem}.json"), serde_json::to_string_pretty(&export).expect("JSON"))
}

#[test]
fn filled_in_sim_studio_templates_compile() {
    let registry = registry();
    let runtime = wfc::RuntimeSource::Path(repo_root().join("runtime").display().to_string());
    let mut built = Vec::new();
    for stem in templates() {
        let source = filled(&stem);
        match wfc::build(&source, &wfc::BuildOptions { runtime: runtime.clone(), registry: registry.clone(), ..Default::default() }) {
            Ok(crate_files) => built.push(crate_files),
            // A secret handed to another worker stays refused, filled in or not.
            Err(diagnostics) if stem == "ocr-invoice-db" => {
                assert!(diagnostics.iter().any(|d| d.code == Code::EnvOutsideActivity), "{stem}: {diagnostics:#?}");
            }
            Err(diagnostics) => panic!("{stem} is refused:\n{}", render::render(&source, &diagnostics, true)),
        }
    }
    assert_eq!(built.len(), templates().len() - 1);
    if let Err(errors) = wfc_tests::workers::check_crates("sim-studio", &built) {
        panic!("filled-in templates that do not compile:\n{errors}");
    }
}

/// What the templates' references mean once compiled: SIM's names, cases and outputs land on
/// wfc's nodes and scopes.
#[test]
fn sim_references_mean_what_sim_means() {
    let registry = registry();
    let config = |stem: &str, node: &str| -> String {
        let checked = wfc::check(&filled(stem), &wfc::BuildOptions { registry: registry.clone(), ..Default::default() });
        let flow = checked.flow.unwrap_or_else(|| panic!("{stem} lowers"));
        let node = flow.nodes().into_iter().find(|n| n.id == node).unwrap_or_else(|| panic!("{stem}: no {node}"));
        format!("{:?}", node.kind)
    };
    // A block by its name in another letter case, a loop by its own name, an answer's fields.
    let followup = config("meeting-followup-agent", "attendeeloop");
    assert!(followup.contains("parseattendees.result.attendees"), "{followup}");
    let email = config("meeting-followup-agent", "sendemail");
    assert!(email.contains("{{ loop.item }}") && email.contains("{{ emaildrafter.json.subject }}"), "{email}");
    let drafter = config("meeting-followup-agent", "emaildrafter");
    assert!(drafter.contains("responseFormat") && drafter.contains("generativelanguage.googleapis.com") && drafter.contains("{{ env.GEMINI_API_KEY }}"), "{drafter}");
    // `<agent.content>` is the answer's text; a trigger's payload is the workflow input.
    let slack = config("gh-release-agent", "slacknotify");
    assert!(slack.contains("{{ summarizer.text }}") && slack.contains("{{ input.release.name }}"), "{slack}");
    let sheet = config("lead-enricher", "googlesheets");
    assert!(sheet.contains("{{ agent.json.row }}"), "{sheet}");
    let agent = config("lead-enricher", "agent");
    assert!(agent.contains("{{ parallel.currentItem }}"), "{agent}");
}
