//! SIM Studio exports (`{version, state: {blocks, edges, loops, parallels, variables,
//! metadata}}`), read into the graph form: blocks map to node types ([`blocks`]), `subBlocks`
//! become configuration, and SIM's references become CEL ([`references`]).

mod blocks;
mod references;

use std::collections::{BTreeSet, HashMap};

use super::Lowerer;
use super::graph::{RawEdge, string_value, synth};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{ActivityPolicy, Body, Dialect, Schedule};
use crate::source::Span;
use crate::syntax::{Key, Kind, Value, printable};
use references::{Names, Target, normalise};

/// What an export says beyond its blocks and edges.
#[derive(Default)]
pub(super) struct Exported {
    pub schedule: Option<Schedule>,
    /// The workflow input's fields, from the start or trigger block.
    pub input_schema: Option<Value>,
}

/// Block types that start a run: their outputs are the workflow input.
const STARTS: &[&str] = &["starter", "start_trigger", "schedule"];

/// A block's place: its node id and the normalised name of the container it is in.
struct Placed {
    id: String,
    container: Option<String>,
}

impl Lowerer<'_> {
    pub(super) fn sim_document(&mut self, doc: &Value, defaults: &ActivityPolicy, exported: &mut Exported) -> Option<Body> {
        let state = doc.get("state")?;
        if !self.known_fields(state, &["blocks", "edges", "loops", "parallels", "variables", "metadata", "lastSaved", "isDeployed", "deployedAt"], "a SIM `state`") {
            return None;
        }
        let blocks = self.expect_map(state.get("blocks")?)?.to_vec();
        // Containers' member lists win over the members' own `data.parentId`.
        let mut members: HashMap<String, (String, Span)> = HashMap::new();
        let mut containers: HashMap<String, Value> = HashMap::new();
        for key in ["loops", "parallels"] {
            let Some(map) = state.get(key) else { continue };
            for (container, spec) in self.expect_map(map)?.to_vec() {
                if let Some(nodes) = spec.get("nodes").and_then(Value::as_seq) {
                    for member in nodes {
                        if let Some(id) = member.as_str() {
                            members.insert(id.to_string(), (container.name.clone(), member.span));
                        }
                    }
                }
                containers.insert(container.name.clone(), spec);
            }
        }
        let parent_of = |key: &str, block: &Value| -> Option<(String, Span)> {
            members.get(key).cloned().or_else(|| block.get("data").and_then(|d| d.get("parentId")).and_then(|p| Some((p.as_str()?.to_string(), p.span))))
        };

        let mut names = Names::default();
        let mut placed: HashMap<String, Placed> = HashMap::new();
        let mut normalised_of: HashMap<String, String> = HashMap::new();
        let mut named: HashMap<String, Span> = HashMap::new();
        let mut disabled: Vec<String> = Vec::new();
        for (key, block) in &blocks {
            let block_type = block.get("type").and_then(Value::as_str).unwrap_or_default();
            if block_type == "note" {
                continue;
            }
            let name_value = block.get("name").filter(|n| n.as_str().is_some());
            let name = name_value.and_then(Value::as_str).unwrap_or(&key.name);
            let name_span = name_value.map_or(key.span, |n| n.span);
            if let Some(enabled) = block.get("enabled").filter(|e| e.kind == Kind::Bool(false)) {
                // SIM runs neither a disabled block nor the edges to and from it.
                self.diagnostics.push(
                    Diagnostic::warning(Code::IgnoredField, enabled.span, format!("the block `{}` is disabled in SIM: it is not compiled", printable(name)))
                        .label("disabled")
                        .help("enable it in SIM and export again to run it"),
                );
                disabled.push(key.name.clone());
                continue;
            }
            let normalised = normalise(name);
            if let Some(first) = named.insert(normalised.clone(), name_span) {
                self.error(
                    Diagnostic::error(Code::DuplicateNodeId, name_span, format!("two blocks are named `{}` once normalised", printable(&normalised)))
                        .label("same name as another block")
                        .related(first, "the other block")
                        .help("SIM finds a block by its name in lower case without blanks and dots: rename one of them"),
                );
                continue;
            }
            let id = node_id(&normalised, &key.name);
            let target = if is_start(block) {
                Target::Input { fields: start_fields(block) }
            } else {
                match block_type {
                    "loop" | "parallel" => Target::Container { id: id.clone(), is_loop: block_type == "loop" },
                    "agent" => Target::Agent { id: id.clone(), fields: blocks::answer_fields(block) },
                    _ => Target::Node { id: id.clone() },
                }
            };
            names.blocks.insert(normalised.clone(), target);
            normalised_of.insert(key.name.clone(), normalised);
            placed.insert(key.name.clone(), Placed { id, container: None });
        }
        for (key, block) in &blocks {
            if let Some((container, _)) = parent_of(&key.name, block)
                && let Some(place) = placed.get_mut(&key.name)
            {
                place.container = normalised_of.get(&container).cloned();
            }
        }
        let variables = state.get("variables").map(|v| self.sim_variables(v, &mut names)).unwrap_or_default();

        let mut nodes = Vec::new();
        let mut complete = true;
        for (key, block) in &blocks {
            let Some(place) = placed.get(&key.name) else { continue };
            let parent = parent_of(&key.name, block).map(|(container, span)| (placed.get(&container).map_or(container, |p| p.id.clone()), span));
            let node = if is_start(block) {
                self.sim_start(block, &place.id, exported)
            } else {
                self.sim_block(block, &place.id, containers.get(&key.name), &names, place.container.as_deref())
            };
            match node.and_then(|value| self.raw_node(value, parent)) {
                Some(node) => nodes.push(node),
                None => complete = false,
            }
        }
        let mut edges = Vec::new();
        if let Some(list) = state.get("edges") {
            for edge in self.expect_seq(list)? {
                // A missing endpoint is reported by `required`, one that is not a string by
                // `string`: either way the edge is refused with a diagnostic.
                let mut endpoint = |field: &str| -> Option<(String, Span)> {
                    let v = self.required(edge, field, edge.span)?;
                    let text = self.string(v)?;
                    Some((placed.get(text.as_str()).map_or(text, |p| p.id.clone()), v.span))
                };
                let (Some(source), Some(target)) = (endpoint("source"), endpoint("target")) else { return None };
                if [&source, &target].iter().any(|(end, _)| disabled.contains(end)) {
                    continue;
                }
                let handle = edge.get("sourceHandle").and_then(|h| Some((h.as_str()?.to_string(), h.span)));
                edges.push(RawEdge { source, target, handle, span: edge.span });
            }
        }
        if !complete {
            return None;
        }
        // The workflow variables are set once the run starts, before anything reads them.
        if let Some(script) = variables
            && let Some(start) = nodes.iter().find(|n| n.type_name == "Start").map(|n| n.id.clone())
        {
            let span = script.span;
            for edge in edges.iter_mut().filter(|e| e.source.0 == start) {
                edge.source.0 = VARIABLES.to_string();
            }
            edges.push(RawEdge { source: (start, span), target: (VARIABLES.to_string(), span), handle: None, span });
            nodes.push(self.raw_node(
                synth(vec![("id", string_value(VARIABLES, span)), ("type", string_value("Script", span)), ("config", synth(vec![("script", script)], span))], span),
                None,
            )?);
        }
        self.graph(Dialect::Sim, nodes, edges, defaults)
    }

    /// SIM's workflow variables (`{id: {name, type, value}}`) as one script of assignments, each
    /// variable by its normalised name; `None` when there are none.
    fn sim_variables(&mut self, variables: &Value, names: &mut Names) -> Option<Value> {
        let mut lines = Vec::new();
        for (_, variable) in self.expect_map(variables)? {
            let Some(name_value) = variable.get("name").filter(|n| n.as_str().is_some_and(|n| !n.trim().is_empty())) else { continue };
            let name = normalise(name_value.as_str().unwrap_or_default());
            if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                self.error(
                    Diagnostic::error(Code::InvalidName, name_value.span, format!("the workflow variable `{}` has no name wfc can use", printable(&name)))
                        .label("not an identifier once normalised")
                        .help("name SIM's variables with letters, digits and `_`, starting with a letter"),
                );
                continue;
            }
            // Objects and arrays SIM may keep as JSON text; JSON is CEL.
            let value = variable.get("value").map_or(serde_json::Value::Null, Value::to_json);
            let value = match (&value, variable.get("type").and_then(Value::as_str)) {
                (serde_json::Value::String(text), Some("object" | "array" | "number" | "boolean")) => serde_json::from_str(text).unwrap_or(value),
                _ => value,
            };
            lines.push(format!("{name} = {value}"));
            names.variables.insert(name.clone(), name);
        }
        lines.sort();
        (!lines.is_empty()).then(|| string_value(&lines.join("\n"), variables.span))
    }

    /// A start, schedule or trigger block: the graph's start; its fields type the workflow
    /// input, and a schedule becomes the flow's schedule trigger.
    fn sim_start(&mut self, block: &Value, id: &str, exported: &mut Exported) -> Option<Value> {
        let type_value = self.required(block, "type", block.span)?;
        let block_type = self.string(type_value)?;
        let sub_blocks = blocks::sub_block_values(block);
        if block_type == "schedule" {
            let schedule = blocks::schedule(&sub_blocks);
            let at = sub_blocks.get("cronExpression").or(sub_blocks.get("scheduleType")).map_or(type_value.span, |v| v.span);
            if let Err(e) = super::schedule::cron(&schedule.cron) {
                self.error(
                    Diagnostic::error(Code::InvalidValue, at, format!("the schedule `{}` is not a cron spec: {e}", printable(&schedule.cron)))
                        .label("not a schedule wfc can run")
                        .help("set the schedule in SIM again, or write a custom cron spec such as `0 9 * * 1-5`"),
                );
            }
            if !schedule.timezone.is_empty()
                && let Err(e) = super::schedule::timezone(&schedule.timezone)
            {
                let at = sub_blocks.get("timezone").map_or(at, |v| v.span);
                self.error(Diagnostic::error(Code::InvalidValue, at, printable(&e)).label("unknown time zone").help("use an IANA name such as `UTC` or `America/New_York`"));
            }
            exported.schedule = Some(schedule);
        } else if !STARTS.contains(&block_type.as_str()) {
            let event = sub_blocks.get("selectedTriggerId").and_then(Value::as_str).map_or(String::new(), |t| format!(" (`{t}`)"));
            self.diagnostics.push(
                Diagnostic::warning(Code::IgnoredField, type_value.span, format!("SIM's `{block_type}` trigger{event} does not start wfc runs"))
                    .label("compiled as the flow's start")
                    .help("start the workflow with the trigger's payload as its input, e.g. from the webhook's or poller's handler; its fields are the input's"),
            );
        }
        if exported.input_schema.is_none() {
            exported.input_schema = input_schema(block);
        }
        let entries = vec![("id", string_value(id, block.get("id").map_or(block.span, |v| v.span))), ("type", string_value("Start", type_value.span))];
        Some(synth(entries, block.span))
    }
}

/// A start, a schedule, or a block in trigger mode (a webhook or poller).
fn is_start(block: &Value) -> bool {
    let block_type = block.get("type").and_then(Value::as_str).unwrap_or_default();
    STARTS.contains(&block_type) || block.get("triggerMode").is_some_and(|t| t.kind == Kind::Bool(true))
}

/// The fields a start block gives the run: its `inputFormat` and its listed outputs (`None`
/// when the export lists neither).
fn start_fields(block: &Value) -> Option<BTreeSet<String>> {
    let fields: BTreeSet<String> = input_fields(block).into_iter().map(|(name, _, _)| name).collect();
    (!fields.is_empty()).then_some(fields)
}

/// Each input field with its JSON type (when SIM's type has one) and where it is written.
fn input_fields(block: &Value) -> Vec<(String, Option<&'static str>, Span)> {
    let json_type = |t: Option<&str>| match t? {
        "string" => Some("string"),
        "number" => Some("number"),
        "boolean" => Some("boolean"),
        "object" => Some("object"),
        "array" | "file[]" | "files" => Some("array"),
        _ => None,
    };
    let mut fields = Vec::new();
    let format = block.get("subBlocks").and_then(|s| s.get("inputFormat")).and_then(|f| f.get("value")).and_then(Value::as_seq).unwrap_or_default();
    for field in format {
        if let Some(name) = field.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            fields.push((name.to_string(), json_type(field.get("type").and_then(Value::as_str)), field.span));
        }
    }
    for (key, output) in block.get("outputs").and_then(Value::as_map).unwrap_or_default() {
        if !fields.iter().any(|(name, _, _)| *name == key.name) {
            fields.push((key.name.clone(), json_type(output.get("type").and_then(Value::as_str)), key.span));
        }
    }
    fields
}

/// The workflow input's schema from a start block's fields: each optional, typed where SIM
/// says how.
fn input_schema(block: &Value) -> Option<Value> {
    let fields = input_fields(block);
    if fields.is_empty() {
        return None;
    }
    let span = block.span;
    let properties = fields
        .into_iter()
        .map(|(name, json_type, span)| {
            let schema = match json_type {
                Some(t) => synth(vec![("type", string_value(t, span))], span),
                None => Value { kind: Kind::Map(Vec::new()), span },
            };
            (Key { name, span }, schema)
        })
        .collect();
    Some(synth(vec![("type", string_value("object", span)), ("properties", Value { kind: Kind::Map(properties), span })], span))
}

/// The node that sets the export's workflow variables: capitalised, so that no block's
/// normalised name can take it.
const VARIABLES: &str = "Variables";

/// A normalised block name as a node id: characters outside `[A-Za-z0-9_-]` become `_`; a name
/// with no ASCII letter or digit takes the block's key instead.
fn node_id(name: &str, key: &str) -> String {
    let name = if name.chars().any(|c| c.is_ascii_alphanumeric()) { name } else { key };
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    match id.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => id,
        _ => format!("_{id}"),
    }
}

/// The export's own name and description (`state.metadata`), for a flow that gives none.
pub(super) fn metadata<'v>(doc: &'v Value, field: &str) -> Option<&'v str> {
    doc.get("state")?.get("metadata")?.get(field)?.as_str().filter(|s| !s.trim().is_empty())
}
