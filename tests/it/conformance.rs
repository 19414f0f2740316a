//! btree's own examples (../shared/conformance/btree) are accepted unmodified.

use wfc::SourceFile;
use wfc_tests::ctk::Expect;
use wfc_tests::shared_kit;

#[test]
fn the_btree_examples_pass_check_unmodified() {
    let Some(dir) = shared_kit("conformance/btree") else { return };
    let entries = std::fs::read_dir(&dir).expect("the kit is readable");
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    assert_eq!(files.len(), 5);
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let source = SourceFile::new(path.display().to_string(), text);
        let checked = wfc::check(&source, &wfc::BuildOptions::default());
        assert!(checked.diagnostics.is_empty(), "{}: {:#?}", path.display(), checked.diagnostics);
        let built = wfc::build(&source, &wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path("runtime".into())));
        assert!(built.is_ok(), "{}: {:#?}", path.display(), built.err());
    }
}

/// The Serverless Workflow Conformance Test Kit (../shared/conformance/serverless-workflow, see
/// its SOURCE.md) reads into its 21 scenarios, every step understood: the input of the CTK
/// runner, which compiles and runs them (issue 19).
#[test]
fn the_serverless_workflow_kit_reads_into_21_scenarios() {
    let Some(features) = shared_kit("conformance/serverless-workflow/ctk/features") else { return };
    let scenarios = wfc_tests::ctk::scenarios(&features).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenarios.len(), 21, "{:?}", scenarios.iter().map(|s| &s.name).collect::<Vec<_>>());
    for scenario in &scenarios {
        let what = format!("{} / {}", scenario.feature, scenario.name);
        assert!(scenario.definition.contains("dsl: '1.0"), "{what}: no definition");
        assert!(scenario.expect.iter().any(|e| matches!(e, Expect::Complete | Expect::CompleteWith(_) | Expect::Fault | Expect::FaultWith(_))), "{what}: no outcome asserted");
    }
    let switch = scenarios.iter().find(|s| s.name == "Switch task with matching case").expect("the switch scenario");
    assert_eq!(switch.input, serde_json::json!({"color": "red"}));
    assert_eq!(switch.expect, [Expect::CompleteWith(serde_json::json!({"colors": ["red"]})), Expect::RunsFirst("switchColor".into()), Expect::RunsLast("setRed".into())]);
    let fault = scenarios.iter().flat_map(|s| &s.expect).find_map(|e| if let Expect::FaultWith(error) = e { Some(error) } else { None });
    assert_eq!(fault.and_then(|e| e.get("instance")), Some(&serde_json::json!("/do/0/raiseError")));
}

/// The Serverless Workflow Conformance Test Kit, run: every scenario's workflow is compiled by
/// wfc (all of them in one cargo build), run on a real dev server with its input, and judged
/// by the scenario's assertions (output, fault, properties, task order from the history).
/// Prints a table, one row per scenario, also written to `target/artefacts/ctk.md`.
#[test]
fn the_serverless_workflow_kit_passes() {
    let Some(features) = shared_kit("conformance/serverless-workflow/ctk/features") else { return };
    let scenarios = wfc_tests::ctk::scenarios(&features).unwrap_or_else(|e| panic!("{e}"));
    let report = wfc_tests::ctk_runner::run(&scenarios);
    let table = report.table();
    eprintln!("{table}");
    let artefacts = wfc_tests::workers::target_dir().join("artefacts");
    let _ = std::fs::create_dir_all(&artefacts);
    let _ = std::fs::write(artefacts.join("ctk.md"), &table);
    // Every scenario passes: the offline ones, and those that call a public service, against
    // the loopback stand-in.
    let failed: Vec<&str> = report.rows.iter().filter(|r| !r.passed()).map(|r| r.name.as_str()).collect();
    assert!(failed.is_empty(), "scenarios failed: {failed:?}\n{table}");
    assert_eq!(report.rows.iter().filter(|r| r.online).count(), 9, "{table}");
}

/// The specification's 68 examples: each passes `wfc check` and its crate compiles, or its
/// first error names a construct not compiled yet (E0014) or says its OpenAPI description could
/// not be read (they name the public petstore, out of reach here). Writes the outcomes, grouped
/// by reason, to `target/artefacts/sw-examples.md`.
#[test]
fn the_serverless_workflow_examples_compile_or_name_what_is_not_compiled() {
    let Some(dir) = shared_kit("conformance/serverless-workflow/examples") else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("the kit is readable").flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    assert_eq!(files.len(), 68);
    let options = wfc::BuildOptions::with_runtime(wfc::RuntimeSource::Path(wfc_tests::repo_root().join("runtime").display().to_string()));
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    let mut built = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let source = SourceFile::new(format!("examples/{name}"), std::fs::read_to_string(path).expect("readable"));
        match wfc::build(&source, &options) {
            Ok(crate_) => {
                groups.entry("compiles".into()).or_default().push(name);
                built.push(crate_);
            }
            Err(diagnostics) => {
                let first = diagnostics.iter().find(|d| d.is_error()).expect("an error");
                let reason = match first.code.as_str() {
                    "E0014" => first.message.trim_end_matches(" is not compiled by this version of wfc").to_string(),
                    "E0012" if first.message.contains("could not be read") => "OpenAPI description not reachable at build time".to_string(),
                    _ => panic!("{name}: {} {}", first.code.as_str(), first.message),
                };
                groups.entry(reason).or_default().push(name);
            }
        }
    }
    // Names must be unique within one cargo workspace.
    let mut seen = std::collections::BTreeSet::new();
    built.retain(|b| seen.insert(b.name.clone()));
    wfc_tests::workers::check_crates("sw-examples", &built).unwrap_or_else(|errors| panic!("an accepted example does not compile:\n{errors}"));
    let mut table = String::from("| outcome | examples |\n|---|---|\n");
    for (reason, names) in &groups {
        table.push_str(&format!("| {reason} ({}) | {} |\n", names.len(), names.join(", ")));
    }
    let artefacts = wfc_tests::workers::target_dir().join("artefacts");
    let _ = std::fs::create_dir_all(&artefacts);
    let _ = std::fs::write(artefacts.join("sw-examples.md"), &table);
    eprintln!("{table}");
    // As the README's table says: a change in either direction updates it.
    assert_eq!(groups.get("compiles").map_or(0, Vec::len), 43, "{table}");
}
