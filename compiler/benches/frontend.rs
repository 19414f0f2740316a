//! How the front end scales: `wfc::check` (parse, lower, construct the plan, check expressions
//! against it) and `wfc::build` (plus code generation) on generated flows of 1,000, 10,000 and
//! 100,000 nodes, in the tree form and in the graph form. Prints figures; each size runs in its
//! own process so peak memory is per size.
//!
//! Then the shapes that were super-linear (issue 13): many keys in one map, many templated lines
//! in one block scalar, a deep chain of containers, a megabyte on one line with an error at its
//! end; each at two sizes four times apart, with the ratio of their times (≈ 4 is linear).
//!
//! `cargo bench -p wfc --bench frontend`

use std::fmt::Write;
use std::process::Command;
use std::time::Instant;

use wfc::{RuntimeSource, SourceFile};

/// A flow of about `n` nodes (with an `output`, so output liveness is computed): a root sequence of stages, each a sequence of a Script, a Parallel
/// of two Logs, a CheckCondition and a SetVariable, reading earlier outputs and variables.
fn flow(n: usize) -> String {
    let stages = n.div_ceil(7);
    let mut yaml = String::from(
        "name: scale\ninputSchema: {type: object, properties: {x: {type: integer}}}\noutput: {last: \"{{ last }}\"}\nroot:\n  type: Sequence\n  id: root\n  children:\n",
    );
    for i in 0..stages {
        let previous = if i == 0 { "input.x".to_string() } else { format!("v{}", i - 1) };
        let _ = write!(
            yaml,
            "    - type: Sequence\n      id: stage-{i}\n      children:\n\
             \x20       - {{type: Script, id: script-{i}, config: {{script: \"v{i} = {previous} + {i}\"}}}}\n\
             \x20       - type: Parallel\n          id: fan-{i}\n          children:\n\
             \x20           - {{type: Log, id: log-a-{i}, config: {{message: \"stage {i}: {{{{ v{i} }}}}\"}}}}\n\
             \x20           - {{type: Log, id: log-b-{i}, config: {{message: \"{{{{ script_{i}.v{i} * 2 }}}}\"}}}}\n\
             \x20       - {{type: CheckCondition, id: check-{i}, config: {{condition: \"v{i} >= 0\"}}}}\n\
             \x20       - {{type: SetVariable, id: set-{i}, config: {{name: last, value: \"{{{{ v{i} }}}}\"}}}}\n"
        );
    }
    yaml
}

/// A graph of about `n` nodes: a chain of stages, each a `Condition` whose two branches join,
/// then a `Script`; every join reads the condition (guaranteed) and tests a branch with `has()`.
fn graph_flow(n: usize) -> String {
    let stages = n.div_ceil(5);
    let mut nodes = String::from("  - {id: start, type: Start}\n");
    let mut edges = String::from("  - {source: start, target: c0}\n");
    for i in 0..stages {
        let _ = write!(
            nodes,
            "  - {{id: c{i}, type: Condition, config: {{conditions: [{{id: hi, expression: \"input.x > {i}\"}}, {{id: else}}]}}}}\n\
             \x20 - {{id: a{i}, type: Log, config: {{message: \"{{{{ input.x }}}}\"}}}}\n\
             \x20 - {{id: b{i}, type: Log, config: {{message: b}}}}\n\
             \x20 - {{id: j{i}, type: Log, config: {{message: \"{{{{ has(a{i}.x) }}}} {{{{ c{i} }}}}\"}}}}\n\
             \x20 - {{id: s{i}, type: Script, config: {{script: \"v = {i}\"}}}}\n"
        );
        let _ = write!(
            edges,
            "  - {{source: c{i}, target: a{i}, sourceHandle: condition-hi}}\n  - {{source: c{i}, target: b{i}, sourceHandle: condition-else}}\n\
             \x20 - {{source: a{i}, target: j{i}}}\n  - {{source: b{i}, target: j{i}}}\n  - {{source: j{i}, target: s{i}}}\n"
        );
        if i + 1 < stages {
            let _ = writeln!(edges, "  - {{source: s{i}, target: c{}}}", i + 1);
        }
    }
    format!("name: scale-graph\ninputSchema: {{type: object, properties: {{x: {{type: integer}}}}}}\noutput: {{x: \"{{{{ input.x }}}}\"}}\nnodes:\n{nodes}edges:\n{edges}")
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()).map_or(0.0, |kb| kb / 1024.0)
}

fn measure(n: usize, generate: bool, graph: bool) {
    let text = if graph { graph_flow(n) } else { flow(n) };
    let source = SourceFile::new("scale.yaml", text);
    let started = Instant::now();
    let checked = wfc::check(&source, &wfc::BuildOptions::default());
    let check_time = started.elapsed();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first());
    let nodes = checked.flow.as_ref().map_or(0, |f| f.nodes().len());
    let form = if graph { "graph" } else { "tree " };
    let mut line = format!(
        "{form} {nodes:>7} nodes, {:>6.1} KiB of YAML: check {:>8.1} ms ({:.2} µs/node)",
        source.text.len() as f64 / 1024.0,
        check_time.as_secs_f64() * 1000.0,
        check_time.as_secs_f64() * 1e6 / nodes as f64
    );
    if generate {
        let started = Instant::now();
        let built = wfc::build(&source, &wfc::BuildOptions::with_runtime(RuntimeSource::Path("runtime".into()))).expect("builds");
        let build_time = started.elapsed();
        let bytes: usize = built.files.iter().map(|f| f.contents.len()).sum();
        let _ = write!(line, ", check + generate {:>8.1} ms ({:.1} MiB of Rust)", build_time.as_secs_f64() * 1000.0, bytes as f64 / 1048576.0);
    }
    let _ = write!(line, ", peak RSS {:.0} MiB", peak_rss_mib());
    println!("{line}");
}

/// A document of the shape `shape` at size `n`.
fn hostile(shape: &str, n: usize) -> String {
    match shape {
        "keys" => {
            let keys: String = (0..n).map(|i| format!("    k{i}: {i}\n")).collect();
            format!("name: keys\nroot:\n  type: Log\n  config:\n    message: hi\n  extra:\n{keys}")
        }
        "block" => {
            let lines: String = (0..n).map(|i| format!("      line {i}: {{{{ input.x + {i} }}}}\n")).collect();
            format!("name: block\ninputSchema: {{type: object, properties: {{x: {{type: integer}}}}}}\nroot:\n  type: Log\n  config:\n    message: |\n{lines}")
        }
        "containers" => {
            let nodes: String = (0..n)
                .map(|i| if i == 0 { "{\"id\":\"l0\",\"type\":\"Loop\"}".to_string() } else { format!(",{{\"id\":\"l{i}\",\"type\":\"Loop\",\"parentId\":\"l{}\"}}", i - 1) })
                .collect();
            format!("{{\"name\":\"deep\",\"nodes\":[{nodes}],\"edges\":[]}}")
        }
        _ => {
            let nodes: String = (0..n).map(|i| format!("{{\"id\":\"n{i}\",\"type\":\"Log\",\"config\":{{\"message\":\"{{{{ nope{i} }}}}\"}}}},")).collect();
            format!("{{\"name\":\"minified\",\"nodes\":[{}],\"edges\":[]}}", nodes.trim_end_matches(','))
        }
    }
}

/// Checks (and, for the one-line shape, renders every diagnostic of) a hostile shape at `n` and
/// `4n`; prints both times and their ratio.
fn shapes() {
    println!("\nhostile shapes: time at n and 4n, and the ratio (4 is linear)");
    for (shape, n) in [("keys", 20_000), ("block", 500), ("containers", 1_250), ("one-line", 2_500)] {
        let time = |n: usize| {
            let source = SourceFile::new("shape.yaml", hostile(shape, n));
            let started = Instant::now();
            let checked = wfc::check(&source, &wfc::BuildOptions::default());
            if shape == "one-line" {
                let _ = wfc::render::render(&source, &checked.diagnostics, true);
            }
            (started.elapsed().as_secs_f64(), source.text.len(), checked.diagnostics.len())
        };
        let (small, _, _) = time(n);
        let (large, bytes, diagnostics) = time(4 * n);
        println!(
            "{shape:<10} n={n:>6}: {:>8.1} ms, 4n: {:>8.1} ms ({:.1} KiB, {diagnostics} diagnostics), ratio {:.1}",
            small * 1000.0,
            large * 1000.0,
            bytes as f64 / 1024.0,
            large / small
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args.iter().position(|a| a == "--size").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok()) {
        measure(n, args.iter().any(|a| a == "--generate"), args.iter().any(|a| a == "--graph"));
        return;
    }
    println!("wfc front end: check (parse, lower, plan, check) and check + code generation, by flow size (release, one process per size)");
    let me = std::env::current_exe().expect("own path");
    let runs = [(1_000, true, false), (10_000, true, false), (100_000, false, false), (1_000, false, true), (10_000, false, true), (100_000, false, true)];
    for (n, generate, graph) in runs {
        let mut command = Command::new(&me);
        command.args(["--size", &n.to_string()]);
        if generate {
            command.arg("--generate");
        }
        if graph {
            command.arg("--graph");
        }
        let status = command.status().expect("run a size");
        assert!(status.success(), "size {n} failed");
    }
    shapes();
}
