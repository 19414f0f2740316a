//! How the front end scales: `wfc::check` (parse, lower, check) and `wfc::build` (plus code
//! generation) on generated flows of 1,000, 10,000 and 100,000 nodes. Prints figures; each size
//! runs in its own process so peak memory is per size.
//!
//! `cargo bench -p wfc --bench frontend`

use std::fmt::Write;
use std::process::Command;
use std::time::Instant;

use wfc::{RuntimeSource, SourceFile};

/// A flow of about `n` nodes: a root sequence of stages, each a sequence of a Script, a Parallel
/// of two Logs, a CheckCondition and a SetVariable, reading earlier outputs and variables.
fn flow(n: usize) -> String {
    let stages = n.div_ceil(7);
    let mut yaml = String::from("name: scale\ninputSchema: {type: object, properties: {x: {type: integer}}}\nroot:\n  type: Sequence\n  id: root\n  children:\n");
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

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn measure(n: usize, generate: bool) {
    let text = flow(n);
    let source = SourceFile::new("scale.yaml", text);
    let started = Instant::now();
    let checked = wfc::check(&source);
    let check_time = started.elapsed();
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first());
    let nodes = checked.flow.as_ref().map_or(0, |f| f.root.walk().len());
    let mut line = format!(
        "{nodes:>7} nodes, {:>6.1} KiB of YAML: check {:>8.1} ms ({:.2} µs/node)",
        source.text.len() as f64 / 1024.0,
        check_time.as_secs_f64() * 1000.0,
        check_time.as_secs_f64() * 1e6 / nodes as f64
    );
    if generate {
        let started = Instant::now();
        let built = wfc::build(&source, RuntimeSource::Path("runtime".into())).expect("builds");
        let build_time = started.elapsed();
        let bytes: usize = built.files.iter().map(|f| f.contents.len()).sum();
        let _ = write!(line, ", check + generate {:>8.1} ms ({:.1} MiB of Rust)", build_time.as_secs_f64() * 1000.0, bytes as f64 / 1048576.0);
    }
    let _ = write!(line, ", peak RSS {:.0} MiB", peak_rss_mib());
    println!("{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = args.iter().position(|a| a == "--size").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok()) {
        measure(n, args.iter().any(|a| a == "--generate"));
        return;
    }
    println!("wfc front end: check, and check + code generation, by flow size (release, one process per size)");
    let me = std::env::current_exe().expect("own path");
    for (n, generate) in [(1_000, true), (10_000, true), (100_000, false)] {
        let mut command = Command::new(&me);
        command.args(["--size", &n.to_string()]);
        if generate {
            command.arg("--generate");
        }
        let status = command.status().expect("run a size");
        assert!(status.success(), "size {n} failed");
    }
}
