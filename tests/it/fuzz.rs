//! A structured fuzzer: random documents built from the node catalog, valid and invalid in every
//! way the format allows, through `check` and `build`. Nothing may panic; every rejected document
//! must come with a spanned diagnostic. Reports how many documents were tried.

use serde_json::{Map, Value, json};
use wfc::{RuntimeSource, SourceFile};

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const IDS: &[&str] = &["a", "b", "step-1", "step_1", "fetch", "Fetch", "fetch-2", "root", "input", "env", "9lives", "x y", "r#fn", "ünï"];
const EXPRS: &[&str] = &[
    "input.x", "a.body.id", "step_1.status == 200", "size(input.items) > 2", "input.items.map(i, i * 2)", "env.TOKEN", "input.x +",
    "unknown_name", "has(b.field)", "var.count + 1", "'text' + string(input.x)", "{'k': 1}", "1 / 0", "[1, 2][5]", "input.x ? 1 : 2",
    "", "}}", "{{", "nodes['step-1'].body",
];
const DURATIONS: &[&str] = &["500ms", "30s", "5 minutes", "7 days", "soon", "-1s", "", "99999999999 years"];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(null),
        1 => json!(rng.chance(50)),
        2 => json!(rng.next() as i64 % 1000),
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
    let mut fields: Vec<&str> = match wfc::catalog::lookup(type_name) {
        Some(t) => t.spec().fields.to_vec(),
        None => wfc::catalog::table_spec(type_name).map_or(Vec::new(), |s| s.fields.iter().map(|f| f.0).collect()),
    };
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
    const HANDLES: &[&str] = &["source", "error", "condition-a", "condition-else", "case-x", "router-r", "loop-start-source", "loop-end-source", "parallel-start-source", "parallel-end-source", "bogus"];
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

fn document(rng: &mut Rng) -> Value {
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

#[test]
fn random_documents_never_panic_and_every_rejection_is_spanned() {
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let (mut tried, mut accepted, mut built) = (0, 0, 0);
    for i in 0..4000 {
        let doc = document(&mut rng);
        // Every other document as pretty JSON (YAML's block style is what the mangled-input test covers).
        let text = if i % 2 == 0 { doc.to_string() } else { serde_json::to_string_pretty(&doc).unwrap_or_default() };
        let source = SourceFile::new("fuzz.json", text.clone());
        let outcome = std::panic::catch_unwind(|| {
            let checked = wfc::check(&source);
            for d in &checked.diagnostics {
                assert!(d.span.start <= d.span.end && d.span.end <= source.text.len(), "span out of the file: {d:?}");
                assert!(!d.help.is_empty(), "no help: {d:?}");
            }
            let build = (!checked.has_errors()).then(|| wfc::build(&source, RuntimeSource::Path("runtime".into())).is_ok());
            (!checked.has_errors(), build == Some(true))
        });
        let (ok, did_build) = outcome.unwrap_or_else(|_| panic!("document {i} panicked:\n{text}"));
        tried += 1;
        accepted += usize::from(ok);
        built += usize::from(did_build);
    }
    eprintln!("fuzz: {tried} random documents, {accepted} accepted by check, {built} built into crates, no panic");
    assert!(accepted > 0 && built > 0, "the generator also makes valid documents");
}
