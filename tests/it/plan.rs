//! The execution plan: both input forms, every graph dialect, every output format.

use std::process::Command;

use wfc::SourceFile;
use wfc::plan::{Plan, render};
use wfc_tests::{repo_root, workers};

/// The one check of this layer: a flow (with an optional registry) checks without errors, and
/// its plan is returned for snapshots.
fn check(path: &str, registry: Option<&str>) -> Plan {
    let read = |p: &str| SourceFile::new(p, std::fs::read_to_string(repo_root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}")));
    let registry = registry.map_or_else(wfc::lower::Registry::new, |r| wfc::registry(&read(r)).expect("the registry is valid"));
    let checked = wfc::check(&read(path), &wfc::BuildOptions { registry: registry.clone(), ..Default::default() });
    assert!(!checked.has_errors(), "{path}: {:#?}", checked.diagnostics);
    checked.plan.expect("a plan")
}

#[test]
fn the_btree_examples_plans_are_stable() {
    if wfc_tests::shared_kit("conformance/btree").is_none() {
        return;
    }
    for n in ["01-simple-sequence", "02-parallel-timeout", "03-ecommerce-checkout", "04-ai-agent-workflow", "05-order-processing"] {
        let plan = check(&format!("../shared/conformance/btree/{n}.yaml"), None);
        insta::assert_snapshot!(format!("btree-{n}"), render::text(&plan));
    }
}

#[test]
fn a_graph_with_nested_containers_shows_loops_parallels_error_routes_and_skipped_paths() {
    let plan = check("tests/flows/graphs/nested-containers.yaml", None);
    let text = render::text(&plan);
    for shown in [
        "loop for each item of `input.orders`",
        "parallel: 2 static branches",
        "send[1]",
        "--error--> rates-down",
        "--condition-else--> standard",
        "[join:",
        "next iteration",
        "dropped (unreachable): orphan",
    ] {
        assert!(text.contains(shown), "the plan does not show {shown:?}:\n{text}");
    }
    insta::assert_snapshot!("nested-text", text);
    insta::assert_snapshot!("nested-json", serde_json::to_string_pretty(&render::json(&plan)).expect("JSON"));
    insta::assert_snapshot!("nested-mermaid", render::mermaid(&plan));
    insta::assert_snapshot!("nested-dot", render::dot(&plan));
}

#[test]
fn every_dialect_constructs_a_plan() {
    insta::assert_snapshot!("react-flow", render::text(&check("tests/flows/graphs/react-flow-export.json", None)));
    insta::assert_snapshot!("sim", render::text(&check("tests/flows/graphs/sim-export.json", Some("tests/flows/graphs/registry.yaml"))));
    insta::assert_snapshot!("btree-containment", render::text(&check("tests/flows/graphs/btree-containment.yaml", None)));
}

#[test]
fn a_containment_graph_and_its_tree_give_the_same_plan() {
    let graph = render::text(&check("tests/flows/graphs/btree-containment.yaml", None));
    let tree = "type: Sequence\nid: main\nchildren:\n  - {id: greet, type: PrintAction, props: {message: hello}}\n  - id: guard\n    type: Timeout\n    props: {timeoutMs: 5000}\n    children:\n      - id: work\n        type: Parallel\n        props: {strategy: strict}\n        children:\n          - {id: a, type: PrintAction, props: {message: a}}\n          - {id: b, type: PrintAction, props: {message: b}}\n  - {id: bye, type: PrintAction, props: {message: bye}}\n";
    let checked = wfc::check(&SourceFile::new("tree.yaml", tree), &wfc::BuildOptions::default());
    let tree = render::text(&checked.plan.expect("a plan"));
    // Only the workflow's name (the file stem for a graph, the root id for a tree) differs.
    assert_eq!(graph.lines().skip(1).collect::<Vec<_>>(), tree.lines().skip(1).collect::<Vec<_>>());
}

#[test]
fn sim_references_and_secrets_are_translated_to_cel() {
    let source = SourceFile::new("sim.json", std::fs::read_to_string(repo_root().join("tests/flows/graphs/sim-export.json")).expect("readable"));
    let registry = wfc::registry(&SourceFile::new("r.yaml", "activities: {jira: {taskQueue: integrations}}")).expect("registry");
    let flow = wfc::check(&source, &wfc::BuildOptions { registry: registry.clone(), ..Default::default() }).flow.expect("checks");
    let config = |id: &str| {
        let node = flow.nodes().into_iter().find(|n| n.id == id).unwrap_or_else(|| panic!("no node {id}"));
        format!("{:?}", node.kind)
    };
    let fetch = config("fetchticket");
    assert!(fetch.contains("https://tickets.example.test/{{ env.TICKETS_HOST }}/{{ input.ticketId }}"), "{fetch}");
    assert!(fetch.contains("Bearer {{ env.TICKETS_TOKEN }}"), "{fetch}");
    let page = config("pagewatcher");
    assert!(page.contains("{{ loop.item }}") && page.contains("{{ var.team }}") && page.contains("{{ fetchticket.body.id }}"), "{page}");
    // A block by its name as written, blanks and case included; `{{` that is not SIM's
    // environment syntax stays text; `<b>` is not a reference.
    assert!(page.contains("{{ fetchticket.body.priority }}") && page.contains(r#"{{ \"{{\" }} env.TICKETS_TOKEN }} <b>"#), "{page}");
    let condition = config("isurgent");
    assert!(condition.contains(r#"fetchticket.body.priority == \"high\""#), "{condition}");
    // Without the registry, the custom block type is an error that names the way out.
    let unregistered = wfc::check(&source, &wfc::BuildOptions::default());
    assert!(unregistered.diagnostics.iter().any(|d| d.code == wfc::Code::UnknownNodeType && d.help.contains("--registry")), "{:#?}", unregistered.diagnostics);
}

#[test]
fn wfc_plan_prints_every_format_and_refuses_invalid_flows() {
    let wfc = workers::binary("wfc");
    let run = |args: &[&str]| Command::new(&wfc).args(args).current_dir(repo_root()).output().expect("wfc runs");
    for (format, starts) in [("text", "workflow order-batch"), ("json", "{"), ("mermaid", "flowchart TD"), ("dot", "digraph plan {")] {
        let out = run(&["plan", "tests/flows/graphs/nested-containers.yaml", "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(starts), "{format}");
    }
    let out = run(&["plan", "tests/fixtures/invalid/E0017-cycle.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fetch → wait → fetch"));
    let out = run(&["check", "--registry", "tests/flows/graphs/registry.yaml", "tests/flows/graphs/sim-export.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn flow_content_cannot_change_a_diagram() {
    let flow = "name: n\nnodes:\n  - {id: a, type: Start}\n  - {id: b, type: Log, name: 'x\"]; evil[\"', config: {message: m}}\nedges: [{source: a, target: b}]\n";
    let checked = wfc::check(&SourceFile::new("n.yaml", flow), &wfc::BuildOptions::default());
    let plan = checked.plan.expect("a plan");
    // Labels are ids and types, quoted and escaped; names never reach the diagram.
    assert!(!render::mermaid(&plan).contains("evil[\""));
    assert!(!render::dot(&plan).contains("evil"));
}

/// A Serverless Workflow document's plan: its tasks by name, the lists they own
/// (`guarded-try`, `guarded-catch`), a task's `if` as a choice.
#[test]
fn a_serverless_workflow_document_plans_by_task() {
    let plan = check("tests/flows/dsl/features.yaml", None);
    insta::assert_snapshot!("dsl-features", render::text(&plan));
}
