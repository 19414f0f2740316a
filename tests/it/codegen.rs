//! Code generation: generation is deterministic, and the committed `generated/` folder (the
//! golden: compiled, linted and run by the suite) is exactly what `wfc build` writes.

use std::path::Path;

use wfc::{RuntimeSource, SourceFile};
use wfc_tests::repo_root;

/// How `generated/` is built (README: `wfc build samples/*.yaml -o generated --runtime path=../../runtime`).
fn runtime() -> RuntimeSource {
    RuntimeSource::Path("../../runtime".to_string())
}

fn samples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("samples"))
        .expect("samples/ exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| (n.ends_with(".yaml") || n.ends_with(".json")) && !n.ends_with(".test.yaml"))
        .collect();
    names.sort();
    names
}

fn source(sample: &str) -> SourceFile {
    let path = format!("samples/{sample}");
    let text = std::fs::read_to_string(repo_root().join(&path)).expect("sample is readable");
    SourceFile::new(path, text)
}

/// Generates a sample's crate as the CLI does from the repository root, with every sample built
/// together (so child workflow calls between samples are typed).
fn generate(sample: &str) -> (String, Vec<wfc::GeneratedFile>) {
    let mut options = wfc::BuildOptions::with_runtime(runtime());
    options.siblings = samples().iter().filter_map(|s| wfc::check(&source(s), &options).sibling()).collect();
    // Written into `generated/<name>`: the paths of crates implementing custom node types are
    // made relative to it.
    options.crate_dir = wfc::check(&source(sample), &options).flow.map(|flow| Path::new("generated").join(flow.name));
    let built = wfc::build(&source(sample), &options).unwrap_or_else(|d| panic!("{sample} does not build: {d:#?}"));
    (built.name, built.files)
}

/// The one check of this layer: determinism and freshness of one sample's crate. Returns what
/// is wrong, so that every sample is checked whichever fails.
fn check(sample: &str) -> Vec<String> {
    let (name, files) = generate(sample);
    let (_, again) = generate(sample);
    let mut problems = Vec::new();
    if files != again {
        problems.push(format!("{sample}: two builds differ"));
    }
    for file in &files {
        let committed = std::fs::read_to_string(repo_root().join("generated").join(&name).join(&file.path)).unwrap_or_default();
        if committed != file.contents {
            let line = committed.lines().zip(file.contents.lines()).position(|(a, b)| a != b).unwrap_or(committed.lines().count().min(file.contents.lines().count()));
            let shown = |text: &str| text.lines().nth(line).unwrap_or("(end of file)").to_string();
            problems.push(format!("generated/{name}/{} is stale at line {}:\n  committed: {}\n  generated: {}", file.path, line + 1, shown(&committed), shown(&file.contents)));
        }
    }
    problems
}

#[test]
fn every_sample_generates_deterministically_and_generated_is_fresh() {
    let samples = samples();
    assert!(samples.len() >= 3, "samples/ holds at least three flows");
    let problems: Vec<String> = samples.iter().flat_map(|sample| check(sample)).collect();
    assert!(problems.is_empty(), "{}\nrun `cargo run -p wfc -- build samples/*.yaml -o generated --runtime path=../../runtime`", problems.join("\n"));
}

#[test]
fn a_one_node_change_gives_a_small_local_diff() {
    let path = "samples/user-onboarding.yaml";
    let text = std::fs::read_to_string(repo_root().join(path)).expect("sample");
    let changed = text.replace("Free-tier user", "Free user");
    assert_ne!(text, changed);
    let build = |t: &str| wfc::build(&SourceFile::new(path, t), &wfc::BuildOptions::with_runtime(runtime())).expect("builds").files;
    let (before, after) = (build(&text), build(&changed));
    // Lines of the new output that the old one does not have, counted with multiplicity.
    let mut added = 0;
    for (b, a) in before.iter().zip(&after) {
        let mut old: Vec<&str> = b.contents.lines().collect();
        for line in a.contents.lines() {
            match old.iter().position(|l| *l == line) {
                Some(i) => {
                    old.swap_remove(i);
                }
                None => added += 1,
            }
        }
    }
    // Each file's header (its source hash) and the few lines of the one changed message.
    assert!(added <= before.len() + 3, "{added} lines changed");
}

#[test]
fn flow_content_cannot_inject_code() {
    let flow = r##"
name: injection
description: "*/ } fn evil() { \"#; panic!() //"
root:
  type: Sequence
  id: "r#fn"
  children:
    - type: Log
      id: self
      name: "\"); std::process::exit(1); (\""
      config:
        message: "\"#); panic!(); (r#\" {{ input.x }}"
"##;
    let built = wfc::build(&SourceFile::new("injection.yaml", flow), &wfc::BuildOptions::with_runtime(runtime()));
    // The id `r#fn` is not a valid node id, so this flow is rejected; with a valid id the
    // hostile strings must survive as literals.
    assert!(built.is_err());
    let flow = flow.replace("\"r#fn\"", "main");
    let built = wfc::build(&SourceFile::new("injection.yaml", flow), &wfc::BuildOptions::with_runtime(runtime())).expect("builds");
    let workflow = built.files.iter().find(|f| f.path == "src/workflow.rs").expect("workflow.rs");
    let parsed = syn::parse_file(&workflow.contents).expect("generated code parses");
    let fns: Vec<String> = parsed.items.iter().filter_map(|i| if let syn::Item::Fn(f) = i { Some(f.sig.ident.to_string()) } else { None }).collect();
    // Only the two node functions exist; the hostile text stayed inside literals and comments.
    assert_eq!(fns, ["main", "self_"]);
}

#[test]
fn no_panic_on_mangled_input() {
    let mut tried = 0;
    for sample in samples() {
        let text = std::fs::read_to_string(repo_root().join("samples").join(&sample)).expect("sample");
        let cuts: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for &cut in &cuts {
            tried += 1;
            let _ = wfc::build(&SourceFile::new("cut.yaml", &text[..cut]), &wfc::BuildOptions::with_runtime(runtime()));
            // A cheap deterministic mutation: replace one character with a YAML metacharacter.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let meta = ["{", "}", "[", "]", ":", "-", "\"", "'", "{{", "}}", "\n", "&a", "*a", "!!", "|", "#"];
            let piece = meta[(seed % meta.len() as u64) as usize];
            let mut mutated = text[..cut].to_string();
            mutated.push_str(piece);
            mutated.push_str(&text[cut..]);
            let _ = wfc::build(&SourceFile::new("mutated.yaml", mutated), &wfc::BuildOptions::with_runtime(runtime()));
            tried += 1;
        }
    }
    assert!(tried > 1000);
    eprintln!("no panic on {tried} mangled inputs");
}

#[test]
fn generated_crates_are_workspace_members() {
    let manifest = std::fs::read_to_string(Path::new(&repo_root()).join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("\"generated/*\""), "the workspace builds generated crates with the rest");
}

/// The names a node fn or the workflow type must avoid (`wfc::codegen::FN_NAMES`,
/// `TYPE_NAMES`) cover every name the generated modules of the samples bind or import: a new
/// local in generated code fails this test until it is reserved, instead of failing a user's
/// build when a node happens to share its name. The samples exercise every construct.
#[test]
fn reserved_names_cover_every_name_generated_code_binds() {
    use syn::visit::Visit;
    #[derive(Default)]
    struct Bound {
        values: std::collections::BTreeSet<String>,
        types: std::collections::BTreeSet<String>,
    }
    impl Visit<'_> for Bound {
        fn visit_pat_ident(&mut self, pat: &syn::PatIdent) {
            self.values.insert(pat.ident.to_string());
            syn::visit::visit_pat_ident(self, pat);
        }
        fn visit_use_name(&mut self, name: &syn::UseName) {
            let name = name.ident.to_string();
            if name.starts_with(char::is_uppercase) { &mut self.types } else { &mut self.values }.insert(name);
        }
        fn visit_item_type(&mut self, item: &syn::ItemType) {
            self.types.insert(item.ident.to_string());
            syn::visit::visit_item_type(self, item);
        }
    }
    let mut bound = Bound::default();
    for sample in samples() {
        let (_, files) = generate(&sample);
        for file in files.iter().filter(|f| f.path == "src/workflow.rs" || f.path == "src/main.rs") {
            bound.visit_file(&syn::parse_file(&file.contents).expect("generated code parses"));
        }
    }
    // A node fn never starts with `_` (ids are snake-cased word by word).
    let values: Vec<&String> = bound.values.iter().filter(|n| !n.starts_with('_') && !wfc::codegen::FN_NAMES.contains(&n.as_str())).collect();
    assert!(values.is_empty(), "add to FN_NAMES: {values:?}");
    let types: Vec<&String> = bound.types.iter().filter(|n| !wfc::codegen::TYPE_NAMES.contains(&n.as_str())).collect();
    assert!(types.is_empty(), "add to TYPE_NAMES: {types:?}");
}
