//! `wfc diff`: one case per kind of edit, in `tests/fixtures/diff/<case>/{old,new}.yaml`. A case
//! named `safe-…` must be safe for running workflows, `breaks-…` must break them, `invalid-…`
//! must not check; what the command prints is a snapshot.

use std::process::Command;

use wfc::diff::Verdict;
use wfc::{SourceFile, render};
use wfc_tests::{repo_root, workers};

fn read(path: &str) -> SourceFile {
    SourceFile::new(path, std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn check(case: &str) {
    let (old, new) = (read(&format!("tests/fixtures/diff/{case}/old.yaml")), read(&format!("tests/fixtures/diff/{case}/new.yaml")));
    let compared = wfc::compare(&old, &new, &wfc::BuildOptions::default());
    let invalid = compared.old.has_errors() || compared.new.has_errors();
    let breaks = compared.changes.iter().any(|c| c.verdict == Verdict::Breaks);
    let text =
        if invalid { render::render(&old, &compared.old.diagnostics, true) + &render::render(&new, &compared.new.diagnostics, true) } else { wfc::diff::render(&compared.changes) };
    match case.split('-').next() {
        Some("safe") => assert!(!invalid && !breaks && !compared.changes.is_empty(), "{case}: expected only safe changes:\n{text}"),
        Some("breaks") => assert!(!invalid && breaks, "{case}: expected a breaking change:\n{text}"),
        Some("invalid") => assert!(invalid, "{case}: expected a flow that does not check:\n{text}"),
        _ => panic!("{case}: name it safe-…, breaks-… or invalid-…"),
    }
    insta::assert_snapshot!(format!("diff-{case}"), text);
}

#[test]
fn each_kind_of_edit_is_classified_for_running_workflows() {
    let mut cases: Vec<String> = std::fs::read_dir(repo_root().join("tests/fixtures/diff")).expect("fixtures").filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    cases.sort();
    wfc_tests::cases::each(&cases, |c| c.to_string(), |c| check(c));
}

#[test]
fn the_command_exits_0_when_safe_3_when_breaking_1_when_invalid() {
    let wfc = workers::binary("wfc");
    for (case, code) in [("safe-log-text", 0), ("breaks-activity-added", 3), ("invalid-new-flow", 1)] {
        let dir = format!("tests/fixtures/diff/{case}");
        let out = Command::new(&wfc).args(["diff", &format!("{dir}/old.yaml"), &format!("{dir}/new.yaml")]).current_dir(repo_root()).output().expect("wfc runs");
        assert_eq!(out.status.code(), Some(code), "{case}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn build_with_previous_patches_an_auto_upgrade_flow_and_leaves_a_pinned_one_alone() {
    let build = |new: &str, previous: Option<&str>| {
        let options = wfc::BuildOptions { previous: previous.map(|p| read(&format!("tests/flows/deploys/{p}.yaml"))), ..wfc::BuildOptions::default() };
        wfc::build(&read(&format!("tests/flows/deploys/{new}.yaml")), &options).unwrap_or_else(|d| panic!("{new}: {d:?}"))
    };
    // Pinned: runs never meet the new code, so the crate is the one built without `--previous`.
    let (plain, with_previous) = (build("approval-v2", None), build("approval-v2", Some("approval-v1")));
    assert_eq!(plain.files, with_previous.files);
    assert!(with_previous.patches.as_deref().is_some_and(|note| note.contains("pinned")), "{:?}", with_previous.patches);
    // Auto-upgrade: the added nodes and the kept removed one are on patches.
    let patched = build("patch-v2", Some("patch-v1"));
    let workflow = &patched.files.iter().find(|f| f.path == "src/workflow.rs").expect("a workflow").contents;
    for patch in [r#".patched("wfc:added:before", true)"#, r#".patched("wfc:added:after", true)"#, r#".patched("wfc:removed:legacy", false)"#] {
        assert!(workflow.contains(patch), "{patch} in\n{workflow}");
    }
}
