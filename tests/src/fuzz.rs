//! Fuzzing the compiler: random documents built from the node catalog (valid and invalid in
//! every way the format allows), and structure-aware mutations of a corpus of real flows (the
//! samples, the test flows and the fixtures, all committed): of their text (YAML
//! metacharacters, cut and repeated lines, hostile strings) and of their structure (subtrees
//! replaced, removed, duplicated or nested deeper, names and numbers at their edges). Shared by
//! the bounded test (`tests/it/fuzz.rs`) and the benchmark's `fuzz` section (10^6 documents).

use std::path::Path;

use serde_json::{Map, Value, json};
use wfc::{RuntimeSource, SourceFile};

/// xorshift64*: deterministic, so a failure reproduces from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const IDS: &[&str] = &["a", "b", "step-1", "step_1", "fetch", "Fetch", "fetch-2", "root", "input", "env", "9lives", "x y", "r#fn", "ünï"];
const EXPRS: &[&str] = &[
    "input.x",
    "a.body.id",
    "step_1.status == 200",
    "size(input.items) > 2",
    "input.items.map(i, i * 2)",
    "env.TOKEN",
    "input.x +",
    "unknown_name",
    "has(b.field)",
    "var.count + 1",
    "'text' + string(input.x)",
    "{'k': 1}",
    "1 / 0",
    "[1, 2][5]",
    "input.x ? 1 : 2",
    "",
    "}}",
    "{{",
    "nodes['step-1'].body",
];
const DURATIONS: &[&str] = &["500ms", "30s", "5 minutes", "7 days", "soon", "-1s", "", "99999999999 years"];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(null),
        1 => json!(rng.chance(50)),
        2 => json!(rng.next_u64() as i64 % 1000),
        3 => json!(-(rng.below(100) as i64)),
        4 => json!(1.5),
        5 => json!(rng.pick(DURATIONS)),
        6 => json!(format!("{{{{ {} }}}}", rng.pick(EXPRS))),
        7 => json!(format!("text {{{{ {} }}}} more", rng.pick(EXPRS))),
        _ => json!(rng.pick(EXPRS)),
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 1 } else { 4 }) {
        0 => scalar(rng),
        1 => Value::Array((0..rng.below(3)).map(|_| value(rng, depth + 1)).collect()),
        2 => Value::Object((0..rng.below(3)).map(|i| (format!("k{i}"), value(rng, depth + 1))).collect()),
        _ => node(rng, depth + 1),
    }
}

fn node(rng: &mut Rng, depth: usize) -> Value {
    let mut names: Vec<&str> = wfc::catalog::all_names().collect();
    names.extend(["HttpRequst", "charge-card", "Bogus", ""]);
    let type_name = *rng.pick(&names);
    let mut fields_map = Map::new();
    fields_map.insert("type".into(), json!(type_name));
    if rng.chance(80) {
        fields_map.insert("id".into(), json!(rng.pick(IDS)));
    }
    let mut fields: Vec<&str> = wfc::catalog::lookup(type_name).map_or(Vec::new(), |s| s.fields.iter().map(|f| f.0).collect());
    fields.extend(["bogus", "url", "condition", "message"]);
    let mut config = Map::new();
    for field in fields {
        if rng.chance(60) {
            config.insert(field.to_string(), value(rng, depth));
        }
    }
    fields_map.insert(if rng.chance(70) { "config" } else { "props" }.into(), Value::Object(config));
    if depth < 4 && rng.chance(60) {
        fields_map.insert("children".into(), Value::Array((0..rng.below(4)).map(|_| node(rng, depth + 1)).collect()));
    }
    if rng.chance(10) {
        fields_map.insert("temporal".into(), json!({"timeout": rng.pick(DURATIONS), "retryAttempts": rng.below(3)}));
    }
    if rng.chance(5) {
        fields_map.insert("onErorr".into(), json!(true));
    }
    Value::Object(fields_map)
}

/// A well-formed node of the compiled types, with unique ids and valid configurations.
fn valid_node(rng: &mut Rng, depth: usize, next_id: &mut usize) -> Value {
    *next_id += 1;
    let id = format!("n{next_id}");
    let leaf = depth >= 3 || rng.chance(50);
    let kind = if leaf { rng.below(5) } else { 5 + rng.below(4) };
    let count = match kind {
        5 | 6 => 1 + rng.below(3),
        7 => 1 + rng.below(2),
        _ => 1,
    };
    let mut children = |rng: &mut Rng, n: usize| -> Value { Value::Array((0..n).map(|_| valid_node(rng, depth + 1, next_id)).collect()) };
    match kind {
        0 => json!({"type": "Log", "id": id, "config": {"message": "value {{ input.x }}"}}),
        1 => json!({"type": "SetVariable", "id": id, "config": {"name": format!("v{next_id}"), "value": "{{ input.x + 1 }}"}}),
        2 => json!({"type": "Script", "id": id, "config": {"script": format!("s{next_id} = input.x * 2")}}),
        3 => json!({"type": "CheckCondition", "id": id, "config": {"condition": "input.x >= 0"}}),
        4 => json!({"type": "Fail", "id": id, "config": {"message": "stop at {{ input.x }}"}}),
        5 => json!({"type": "Sequence", "id": id, "children": children(rng, count)}),
        6 => json!({"type": "Parallel", "id": id, "config": {"strategy": "strict"}, "children": children(rng, count)}),
        7 => json!({"type": "Conditional", "id": id, "config": {"condition": "input.x > 1"}, "children": children(rng, count)}),
        _ => json!({"type": "Delay", "id": id, "config": {"duration": "1s"}, "children": children(rng, count)}),
    }
}

/// A graph: random node types (graph control nodes included), containers, edges and handles.
fn graph(rng: &mut Rng) -> Value {
    const TYPES: &[&str] = &["Start", "Log", "Condition", "Switch", "Loop", "Parallel", "HttpRequest", "Sequence", "Delay", "Nope"];
    const HANDLES: &[&str] = &[
        "source",
        "error",
        "condition-a",
        "condition-else",
        "case-x",
        "router-r",
        "loop-start-source",
        "loop-end-source",
        "parallel-start-source",
        "parallel-end-source",
        "bogus",
    ];
    let count = 1 + rng.below(8);
    let mut nodes = Vec::new();
    for i in 0..count {
        let kind = *rng.pick(TYPES);
        let config = match kind {
            "Condition" => json!({"conditions": [{"id": "a", "expression": *rng.pick(&["true", "n1.x", "input.x >", "loop.index > 1"])}, {"id": "else"}]}),
            "Switch" => json!({"value": "input.x"}),
            "Loop" => json!({"loopType": *rng.pick(&["for", "forEach", "while", "doWhile", "x"]), "iterations": rng.below(3), "collection": "input.xs", "condition": "n0 != null"}),
            "Parallel" => json!({"count": rng.below(3), "batchSize": rng.below(2)}),
            "Log" => json!({"message": *rng.pick(&["m", "{{ n0.body }}", "{{ error.message }}", "{{ parallel.index }}", "{{ has(n2.x) }}"])}),
            "HttpRequest" => json!({"url": "https://example.test"}),
            "Delay" => json!({"duration": "1s"}),
            _ => json!({}),
        };
        let mut node = json!({"id": format!("n{i}"), "type": kind, "config": config});
        if rng.chance(25) {
            node["parentId"] = json!(format!("n{}", rng.below(count + 1)));
        }
        nodes.push(node);
    }
    let edges: Vec<Value> = (0..rng.below(count * 2 + 1))
        .map(|_| {
            let mut edge = json!({"source": format!("n{}", rng.below(count)), "target": format!("n{}", rng.below(count + 1))});
            if rng.chance(50) {
                edge["sourceHandle"] = json!(*rng.pick(HANDLES));
            }
            edge
        })
        .collect();
    json!({"name": "graph", "nodes": nodes, "edges": edges})
}

/// A random document: a graph, a valid tree flow, a bare node or a workflow with settings.
pub fn document(rng: &mut Rng) -> Value {
    if rng.chance(25) {
        return graph(rng);
    }
    if rng.chance(33) {
        let mut next_id = 0;
        let root = valid_node(rng, 0, &mut next_id);
        return json!({"name": "valid-flow", "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}}, "root": root});
    }
    let root = node(rng, 0);
    if rng.chance(25) {
        return root;
    }
    let mut doc = Map::new();
    doc.insert("name".into(), json!(rng.pick(&["flow", "my-flow", "Bad_Name", "", "x"])));
    doc.insert("root".into(), root);
    if rng.chance(40) {
        let property = json!({"type": rng.pick(&["string", "integer", "number", "boolean", "array", "object", "date", "null"])});
        doc.insert("inputSchema".into(), json!({"type": "object", "required": ["x"], "properties": {"x": property, "items": {"type": "array"}}}));
    }
    if rng.chance(30) {
        doc.insert("output".into(), value(rng, 1));
    }
    if rng.chance(30) {
        doc.insert("activities".into(), json!({"charge-card": {"taskQueue": "payments", "timeout": rng.pick(DURATIONS)}}));
    }
    if rng.chance(20) {
        doc.insert("settings".into(), json!({"activity": {"timeout": rng.pick(DURATIONS), "retry": {"maxAttempts": rng.below(4)}}, "maxOutputBytes": rng.below(10)}));
    }
    Value::Object(doc)
}

/// Strings that have broken or could break a compiler of this kind.
const HOSTILE: &[&str] = &[
    "{{ env }}",
    "{{ env.map(k, k) }}",
    "{{ string(env) }}",
    "\u{202e}rtl",
    "a\u{2066}b",
    "line\rbreak",
    "\u{1b}[31m",
    "((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))",
    "cx",
    "invert",
    "settled",
    "input",
    "status",
    "loop",
    "Self",
    "r#fn",
    "",
    " ",
    "-",
    "{{",
    "}}",
    "{{ }}",
    "*/",
    "\"#",
    "`",
    "```",
    "<script>",
    "0s",
    "61 25 * * 8",
    "Mars/Olympus",
    "pause",
    "1e400",
    "99999999999999999999",
    "../../etc/passwd",
];

/// YAML text that changes structure where it lands.
const TOKENS: &[&str] =
    &["{", "}", "[", "]", ":", "- ", "\"", "'", "{{", "}}", "\n", "&a ", "*a", "!!str ", "!tag ", "|", ">", "#", "---\n", "? ", ",", "\t", "[[[[[[[[[[", "\u{202e}", "\r"];

/// The seeds: every committed flow, test flow and fixture.
pub fn corpus(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["samples", "tests/flows", "tests/flows/graphs", "tests/flows/dsl", "tests/fixtures/invalid", "tests/fixtures/hostile"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files.into_iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// Makes documents: generated, or a corpus seed mutated in its text or its structure.
pub struct Fuzzer {
    pub rng: Rng,
    seeds: Vec<String>,
}

impl Fuzzer {
    pub fn new(seed: u64, seeds: Vec<String>) -> Fuzzer {
        Fuzzer { rng: Rng(seed | 1), seeds }
    }

    /// The next document's text.
    pub fn next_document(&mut self) -> String {
        let rng = &mut self.rng;
        if self.seeds.is_empty() || rng.chance(40) {
            let doc = document(rng);
            return if rng.chance(50) { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap_or_default() };
        }
        let seed = self.seeds[rng.below(self.seeds.len())].clone();
        if rng.chance(50) {
            return mutate_text(rng, seed);
        }
        // Structure: the seed as JSON (JSON is YAML), mutated, written compact or pretty.
        let (value, _) = wfc::syntax::parse(&seed);
        let mut doc = value.map_or(Value::Null, |v| v.to_json());
        for _ in 0..1 + rng.below(3) {
            mutate_value(rng, &mut doc);
        }
        if rng.chance(50) { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap_or_default() }
    }
}

fn mutate_text(rng: &mut Rng, mut text: String) -> String {
    for _ in 0..1 + rng.below(3) {
        let at = boundary(&text, rng.below(text.len() + 1));
        match rng.below(5) {
            0 | 1 => {
                let pieces = if rng.chance(50) { TOKENS } else { HOSTILE };
                let piece: &&str = rng.pick(pieces);
                text.insert_str(at, piece);
            }
            2 => {
                let end = boundary(&text, (at + rng.below(40)).min(text.len()));
                text.replace_range(at..end, "");
            }
            3 => {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let line = lines[rng.below(lines.len())].to_string();
                    text.insert_str(at, &format!("{line}\n"));
                }
            }
            _ => {
                let lines: Vec<String> = text.lines().map(str::to_string).collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    let mut lines = lines;
                    lines.swap(a, b);
                    text = lines.join("\n");
                }
            }
        }
    }
    text
}

fn boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Mutates one random place of a JSON document.
fn mutate_value(rng: &mut Rng, doc: &mut Value) {
    let mut paths = Vec::new();
    collect_paths(doc, String::new(), &mut paths);
    let path = paths[rng.below(paths.len())].clone();
    let Some(slot) = doc.pointer_mut(&path) else { return };
    match rng.below(7) {
        0 => *slot = value(rng, 1),
        1 => *slot = json!(*rng.pick(HOSTILE)),
        2 => *slot = json!(*rng.pick(&[json!(0), json!(-1), json!(i64::MAX), json!(1e300), json!(null), json!(""), json!([]), json!({})])),
        3 => {
            // Nest deeper: the value becomes the only child of a Sequence, several times over.
            for _ in 0..1 + rng.below(40) {
                *slot = json!({"type": "Sequence", "children": [slot.take()]});
            }
        }
        4 => {
            if let Value::Array(items) = slot
                && let Some(item) = items.first().cloned()
            {
                items.push(item);
            }
        }
        5 => {
            if let Value::Object(map) = slot
                && let Some(key) = map.keys().nth(rng.below(map.len().max(1))).cloned()
            {
                map.remove(&key);
            }
        }
        _ => *slot = node(rng, 1),
    }
}

fn collect_paths(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| collect_paths(v, format!("{at}/{i}"), out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| collect_paths(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
        _ => {}
    }
}

/// What one document did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    pub accepted: bool,
    pub built: bool,
}

/// Checks (and, when accepted, builds) a document, asserting the compiler's promises: no panic,
/// every diagnostic inside the file with a label and help, check and build agreeing.
pub fn run_one(text: &str) -> Result<Outcome, String> {
    let source = SourceFile::new("fuzz.yaml", text.to_string());
    std::panic::catch_unwind(|| {
        let checked = wfc::check(&source, &wfc::BuildOptions::default());
        for d in &checked.diagnostics {
            if !(d.span.start <= d.span.end && d.span.end <= source.text.len()) {
                return Err(format!("span out of the file: {d:?}"));
            }
            if d.help.is_empty() || d.label.is_empty() {
                return Err(format!("no label or help: {d:?}"));
            }
        }
        let _ = wfc::render::render(&source, &checked.diagnostics, true);
        if checked.has_errors() {
            return Ok(Outcome::default());
        }
        match wfc::build(&source, &wfc::BuildOptions::with_runtime(RuntimeSource::Path("runtime".into()))) {
            Ok(_) => Ok(Outcome { accepted: true, built: true }),
            Err(d) => Err(format!("check accepts what build refuses: {:?}", d.first())),
        }
    })
    .unwrap_or_else(|_| Err("panicked".to_string()))
}
