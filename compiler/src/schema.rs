//! The JSON Schema of the workflow document format, for editors (yaml-language-server) and for
//! validating documents outside wfc. Node types and their fields come from the catalog, so the
//! schema cannot drift from what the compiler accepts.

use serde_json::{Map, Value, json};

use crate::catalog;

/// The schema, as JSON Schema draft 2020-12.
pub fn document_schema() -> Value {
    let duration = json!({
        "type": "string",
        "description": "A duration: a number and a unit, e.g. `500ms`, `30s`, `5 minutes`, `7 days`"
    });
    let retry = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "maxAttempts": {"type": "integer", "minimum": 1},
            "initialInterval": {"$ref": "#/$defs/duration"},
            "backoff": {"type": "number", "minimum": 1},
            "maxInterval": {"$ref": "#/$defs/duration"}
        }
    });
    let workflow = json!({
        "type": "object",
        "description": "A workflow document: settings and a tree of nodes under `root`, or a graph of `nodes` and `edges`",
        "oneOf": [{"required": ["root"]}, {"required": ["nodes"]}],
        "additionalProperties": false,
        "properties": {
            "version": {"type": "string"},
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "description": "The Temporal workflow type name"},
            "description": {"type": "string"},
            "taskQueue": {"type": "string"},
            "inputSchema": {"type": "object", "description": "JSON Schema of the input; becomes a typed Rust struct"},
            "outputSchema": {"type": "object", "description": "JSON Schema of the output; becomes a typed Rust struct"},
            "output": {"description": "How the result is built; strings are `{{ }}` templates"},
            "settings": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "timeout": {"$ref": "#/$defs/duration"},
                    "activity": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {"timeout": {"$ref": "#/$defs/duration"}, "retry": {"$ref": "#/$defs/retry"}}
                    },
                    "maxConcurrency": {"type": "integer", "minimum": 1},
                    "maxOutputBytes": {"type": "integer", "minimum": 1},
                    "versioning": {"enum": ["pinned", "auto-upgrade"], "description": "pinned (default): a run finishes on the build that started it; auto-upgrade: it moves to the current build"},
                    "deployment": {"type": "string", "description": "The Worker Deployment's name; default the flow's name"}
                }
            },
            "trigger": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"type": {"enum": ["manual", "schedule"]}, "config": {"type": "object"}}
            },
            "signals": {"type": "object"},
            "activities": {
                "type": "object",
                "description": "Activities by name: served by other workers (`taskQueue`), or custom node types implemented in a Rust crate (`crate`) and served by the flow's own worker",
                "additionalProperties": {
                    "type": "object",
                    "oneOf": [{"required": ["taskQueue"]}, {"required": ["crate"]}],
                    "additionalProperties": false,
                    "properties": {
                        "taskQueue": {"type": "string"},
                        "crate": {
                            "type": "object",
                            "required": ["name"],
                            "additionalProperties": false,
                            "oneOf": [{"required": ["path"]}, {"required": ["version"]}, {"required": ["git"]}],
                            "properties": {
                                "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"},
                                "path": {"type": "string"},
                                "version": {"type": "string"},
                                "git": {"type": "string"}
                            }
                        },
                        "input": {"type": "object"},
                        "output": {"type": "object"},
                        "timeout": {"$ref": "#/$defs/duration"},
                        "description": {"type": "string"}
                    }
                }
            },
            "root": {"$ref": "#/$defs/node"},
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/graphNode"}},
            "edges": {"type": "array", "items": {"$ref": "#/$defs/edge"}},
            "viewport": {"description": "React Flow's viewport; ignored"}
        }
    });
    let graph_node = json!({
        "type": "object",
        "description": "A graph node: wfc's own `{id, type, config, parentId}` or a React Flow node with `data` and `position`",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "parentId": {"type": ["string", "null"], "description": "The `Loop` or `Parallel` container this node belongs to"},
            "config": {"type": ["object", "null"]},
            "props": {"type": ["object", "null"]},
            "data": {"type": "object"}
        }
    });
    let edge = json!({
        "type": "object",
        "required": ["source", "target"],
        "properties": {
            "source": {"type": "string"},
            "target": {"type": "string"},
            "sourceHandle": {
                "type": ["string", "null"],
                "description": "`source` (success), `error`, `condition-<id>`, `router-<id>`, `case-<value>`, `loop-start-source`, `loop-end-source`, `parallel-start-source`, `parallel-end-source`"
            }
        }
    });
    let sim = json!({
        "type": "object",
        "description": "A SIM-style export: blocks, edges, loops and parallels under `state`",
        "required": ["state"],
        "properties": {"state": {"type": "object", "required": ["blocks"]}}
    });

    let mut defs = Map::new();
    let mut per_type = Vec::new();
    for spec in catalog::TABLE {
        let config_def = format!("config-{}", spec.name);
        let fields: Map<String, Value> = spec.fields.iter().map(|(f, kind, _)| (f.to_string(), field_schema(*kind))).collect();
        let required: Vec<&str> = spec.fields.iter().filter(|(_, _, r)| *r).map(|(f, _, _)| *f).collect();
        defs.insert(config_def.clone(), json!({"type": "object", "description": spec.summary, "additionalProperties": false, "properties": fields, "required": required}));
        let config_ref = json!({"$ref": format!("#/$defs/{config_def}")});
        let mut then = json!({"properties": {"config": config_ref, "props": config_ref}});
        if spec.children == (0, 0) {
            then["properties"]["children"] = json!({"maxItems": 0});
        }
        let names: Vec<&str> = std::iter::once(spec.name).chain(spec.aliases.iter().copied()).collect();
        per_type.push(json!({"if": {"properties": {"type": {"enum": names}}, "required": ["type"]}, "then": then}));
    }
    let node = json!({
        "type": "object",
        "required": ["type"],
        "additionalProperties": false,
        "properties": {
            "type": {
                "type": "string",
                "description": "A built-in node type, or the name of an activity declared under `activities:`",
                "examples": catalog::all_names().collect::<Vec<_>>()
            },
            "id": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "config": {"type": ["object", "null"]},
            "props": {"type": ["object", "null"]},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "temporal": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "timeout": {"$ref": "#/$defs/duration"},
                    "retryAttempts": {"type": "integer", "minimum": 1},
                    "retryBackoff": {"$ref": "#/$defs/duration"},
                    "retry": {"$ref": "#/$defs/retry"},
                    "local": {"type": "boolean", "description": "Run a custom node type as a local activity"}
                }
            },
            "onError": {"$ref": "#/$defs/node"}
        },
        "allOf": per_type
    });
    defs.insert("duration".into(), duration);
    defs.insert("retry".into(), retry);
    defs.insert("workflow".into(), workflow);
    defs.insert("node".into(), node);
    defs.insert("graphNode".into(), graph_node);
    defs.insert("edge".into(), edge);
    defs.insert("sim".into(), sim);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wfc workflow document",
        "description": "A workflow (`root:` or `nodes:`/`edges:`), a bare btree node (`type:`), or a SIM export (`state:`), in YAML or JSON",
        "anyOf": [{"$ref": "#/$defs/workflow"}, {"$ref": "#/$defs/node"}, {"$ref": "#/$defs/sim"}],
        "$defs": defs
    })
}

fn field_schema(kind: catalog::FieldKind) -> Value {
    use catalog::FieldKind as F;
    match kind {
        F::Expr | F::Template => json!({}),
        F::Duration => json!({"$ref": "#/$defs/duration"}),
        F::Int(min) => json!({"type": "integer", "minimum": min}),
        F::Millis => json!({"type": "integer", "minimum": 1, "maximum": crate::duration::MAX_MS}),
        F::Number => json!({"type": "number"}),
        F::Bool => json!({"type": "boolean"}),
        F::Str => json!({"type": "string"}),
        F::Enum(values) => json!({"enum": values}),
        F::Node => json!({"$ref": "#/$defs/node"}),
        F::NodeMap => json!({"type": "object", "additionalProperties": {"$ref": "#/$defs/node"}}),
        F::Map => json!({"type": "object"}),
    }
}
