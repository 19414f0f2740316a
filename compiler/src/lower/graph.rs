//! The graph form (DESIGN section 3): wfc's own `nodes`/`edges`, React Flow exports, and btree's
//! containment graphs, normalised into one `Graph` (a containment graph becomes a tree).
//!
//! Each dialect is read into `RawNode`s, node values in the tree form's shape (`type`, `id`,
//! `name`, `config`) with their original spans, so a graph's nodes are validated by the same code
//! as a tree's and diagnostics point into the file as written.

use std::collections::HashMap;

use super::{Lowerer, empty_map};
use crate::catalog;
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::model::{ActivityPolicy, Body, Branch, Dialect, Edge, FanOut, Graph, GraphNode, Handle, LoopKind, LoopSpec, NodeKind, ParallelSpec};
use crate::source::Span;
use crate::syntax::{Key, Kind, Value};

const WFC_NODE_FIELDS: &[&str] = &["id", "type", "name", "description", "config", "props", "temporal", "parentId"];
const WFC_EDGE_FIELDS: &[&str] = &["id", "source", "target", "sourceHandle", "targetHandle", "label"];
/// React Flow's own node fields: layout and editor state, ignored.
const REACT_FLOW_NODE_FIELDS: &[&str] = &[
    "id",
    "type",
    "data",
    "position",
    "parentId",
    "parentNode",
    "extent",
    "width",
    "height",
    "measured",
    "selected",
    "dragging",
    "positionAbsolute",
    "style",
    "className",
    "hidden",
    "zIndex",
    "draggable",
    "selectable",
    "connectable",
    "deletable",
    "sourcePosition",
    "targetPosition",
    "expandParent",
    "ariaLabel",
    "focusable",
    "resizing",
    "origin",
    "handles",
    "initialWidth",
    "initialHeight",
];
const REACT_FLOW_EDGE_FIELDS: &[&str] = &[
    "id",
    "source",
    "target",
    "sourceHandle",
    "targetHandle",
    "type",
    "animated",
    "label",
    "style",
    "data",
    "markerEnd",
    "markerStart",
    "selected",
    "hidden",
    "zIndex",
    "interactionWidth",
    "deletable",
    "focusable",
    "className",
    "labelStyle",
    "labelShowBg",
    "labelBgStyle",
    "labelBgPadding",
    "labelBgBorderRadius",
    "pathOptions",
    "updatable",
    "reconnectable",
];

/// A node of any dialect, in the tree form's shape.
pub(super) struct RawNode {
    /// A map with `type`, `id` and optionally `name`, `description`, `config`, `temporal`.
    pub value: Value,
    pub id: String,
    pub type_name: String,
    pub parent: Option<(String, Span)>,
}

pub(super) struct RawEdge {
    pub source: (String, Span),
    pub target: (String, Span),
    pub handle: Option<(String, Span)>,
    pub span: Span,
}

/// Node types whose meaning in a graph differs from the tree form (or that exist only there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GraphKind {
    Start,
    Condition,
    Switch,
    Loop,
    Parallel,
}

impl GraphKind {
    pub fn of(type_name: &str) -> Option<GraphKind> {
        Some(match type_name {
            "Start" | "start" | "starter" | "start_trigger" => GraphKind::Start,
            "Condition" | "condition" => GraphKind::Condition,
            "Switch" | "Router" | "router" => GraphKind::Switch,
            "Loop" | "loop" => GraphKind::Loop,
            "Parallel" | "parallel" => GraphKind::Parallel,
            _ => return None,
        })
    }
}

pub(super) fn synth(entries: Vec<(&str, Value)>, span: Span) -> Value {
    let entries = entries.into_iter().map(|(name, value)| (Key { name: name.to_string(), span: value.span }, value)).collect();
    Value { kind: Kind::Map(entries), span }
}

pub(super) fn string_value(text: &str, span: Span) -> Value {
    Value { kind: Kind::String(text.to_string()), span }
}

impl Lowerer<'_> {
    /// wfc's own graph, or a React Flow export (recognised by `viewport`, `position` or `data`).
    pub(super) fn graph_document(&mut self, doc: &Value, defaults: &ActivityPolicy) -> Option<Body> {
        let items = self.expect_seq(doc.get("nodes")?)?;
        let react_flow = doc.get("viewport").is_some() || items.iter().any(|n| n.get("data").is_some() || n.get("position").is_some());
        let dialect = if react_flow { Dialect::ReactFlow } else { Dialect::Wfc };
        let nodes: Vec<RawNode> = items.iter().filter_map(|n| if react_flow { self.react_flow_node(n) } else { self.wfc_node(n) }).collect();
        let edge_fields = if react_flow { REACT_FLOW_EDGE_FIELDS } else { WFC_EDGE_FIELDS };
        let edges = match doc.get("edges") {
            Some(list) => self.raw_edges(list, edge_fields)?,
            None => Vec::new(),
        };
        if nodes.len() != items.len() {
            return None;
        }
        self.graph(dialect, nodes, edges, defaults)
    }

    fn wfc_node(&mut self, value: &Value) -> Option<RawNode> {
        if !self.known_fields(value, WFC_NODE_FIELDS, "a graph node") {
            return None;
        }
        let parent = self.parent_id(value.get("parentId"))?;
        let entries = value.as_map()?.iter().filter(|(k, _)| k.name != "parentId").map(|(k, v)| (k.name.as_str(), v.clone())).collect();
        self.raw_node(synth(entries, value.span), parent)
    }

    /// `{id, type, position, data: {label?, config? | ...}, parentId?}`; `data.type` names the
    /// node type when the node's own `type` is a renderer name such as `custom`.
    fn react_flow_node(&mut self, value: &Value) -> Option<RawNode> {
        if !self.known_fields(value, REACT_FLOW_NODE_FIELDS, "a React Flow node") {
            return None;
        }
        let id = self.required(value, "id", value.span)?.clone();
        let data = value.get("data").cloned().unwrap_or_else(|| empty_map(value.span));
        self.expect_map(&data)?;
        let type_value = match (data.get("type"), value.get("type")) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => {
                self.required(value, "type", value.span)?;
                return None;
            }
        };
        let mut entries = vec![("id", id), ("type", type_value)];
        if let Some(label) = data.get("label").or(data.get("name")) {
            entries.push(("name", label.clone()));
        }
        for key in ["description", "temporal"] {
            if let Some(v) = data.get(key) {
                entries.push((key, v.clone()));
            }
        }
        const DATA_FIELDS: &[&str] = &["type", "label", "name", "description", "temporal", "config", "props"];
        let config = match data.get("config").or(data.get("props")) {
            Some(config) => config.clone(),
            // Builders often keep the configuration directly in `data`.
            None => {
                let rest: Vec<(Key, Value)> = data.as_map()?.iter().filter(|(k, _)| !DATA_FIELDS.contains(&k.name.as_str())).cloned().collect();
                Value { kind: Kind::Map(rest), span: data.span }
            }
        };
        if config.as_map().is_none_or(|m| !m.is_empty()) {
            entries.push(("config", config));
        }
        let parent = self.parent_id(value.get("parentId").or(value.get("parentNode")))?;
        self.raw_node(synth(entries, value.span), parent)
    }

    fn parent_id(&mut self, value: Option<&Value>) -> Option<Option<(String, Span)>> {
        match value {
            None => Some(None),
            Some(v) if v.kind == Kind::Null => Some(None),
            Some(v) => self.string(v).map(|id| Some((id, v.span))),
        }
    }

    pub(super) fn raw_node(&mut self, value: Value, parent: Option<(String, Span)>) -> Option<RawNode> {
        let id = self.required(&value, "id", value.span).and_then(|v| self.string(v))?;
        let type_name = self.required(&value, "type", value.span).and_then(|v| self.string(v))?;
        Some(RawNode { value, id, type_name, parent })
    }

    fn raw_edges(&mut self, list: &Value, fields: &[&str]) -> Option<Vec<RawEdge>> {
        let items = self.expect_seq(list)?;
        let edges: Vec<RawEdge> = items
            .iter()
            .filter_map(|edge| {
                if !self.known_fields(edge, fields, "an edge") {
                    return None;
                }
                let source = self.required(edge, "source", edge.span)?;
                let target = self.required(edge, "target", edge.span)?;
                let handle = match edge.get("sourceHandle") {
                    None => None,
                    Some(v) if v.kind == Kind::Null => None,
                    Some(v) => Some((self.string(v)?, v.span)),
                };
                Some(RawEdge { source: (self.string(source)?, source.span), target: (self.string(target)?, target.span), handle, span: edge.span })
            })
            .collect();
        (edges.len() == items.len()).then_some(edges)
    }

    /// Lowers normalised nodes and edges: a btree containment graph into a tree, any other into
    /// a `Graph`.
    pub(super) fn graph(&mut self, dialect: Dialect, nodes: Vec<RawNode>, edges: Vec<RawEdge>, defaults: &ActivityPolicy) -> Option<Body> {
        let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
        let mut endpoints_ok = true;
        for edge in &edges {
            for (id, span) in [&edge.source, &edge.target] {
                if !index.contains_key(id.as_str()) {
                    let near = closest(id, nodes.iter().map(|n| n.id.as_str()));
                    let help = if near.is_empty() { "an edge joins two node ids of `nodes`".to_string() } else { format!("did you mean {}?", one_of(&near)) };
                    self.error(Diagnostic::error(Code::UnknownEdgeEndpoint, *span, format!("no node has the id `{id}`")).label("unknown node").help(help));
                    endpoints_ok = false;
                }
            }
        }
        if !endpoints_ok {
            return None;
        }
        let is_containment = edges.iter().any(|e| catalog::is_composite(&nodes[index[e.source.0.as_str()]].type_name));
        if is_containment {
            return self.containment(&nodes, &edges, &index, defaults).map(|n| Body::Tree(Box::new(n)));
        }
        let mut parsed_edges = Vec::new();
        for edge in &edges {
            let (text, span) = edge.handle.clone().unwrap_or_else(|| (String::new(), edge.span));
            match Handle::parse(&text) {
                Some(handle) => parsed_edges.push(Edge {
                    source: edge.source.0.clone(),
                    target: edge.target.0.clone(),
                    handle,
                    span: edge.span,
                    source_span: edge.source.1,
                    target_span: edge.target.1,
                    handle_span: span,
                }),
                None => self.error(
                    Diagnostic::error(Code::InvalidHandle, span, format!("`{text}` is not a handle name"))
                        .label("unknown handle")
                        .help("handles are `source` (success), `error`, `condition-<id>`, `router-<id>`, `case-<value>`, `loop-start-source`, `loop-end-source`, `parallel-start-source` and `parallel-end-source`"),
                ),
            }
        }
        self.graph_kinds = true;
        let lowered: Vec<GraphNode> = nodes.iter().filter_map(|raw| self.node(&raw.value, &raw.id, defaults).map(|node| GraphNode { node, parent: raw.parent.clone() })).collect();
        self.graph_kinds = false;
        if lowered.len() != nodes.len() || parsed_edges.len() != edges.len() {
            return None;
        }
        Some(Body::Graph(Graph { dialect, nodes: lowered, edges: parsed_edges }))
    }

    /// btree's visual-builder graph: edges from composites and decorators are containment
    /// (parent → child, in edge order), so the graph is a tree written flat.
    fn containment(&mut self, nodes: &[RawNode], edges: &[RawEdge], index: &HashMap<&str, usize>, defaults: &ActivityPolicy) -> Option<crate::model::Node> {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        let mut parent: Vec<Option<usize>> = vec![None; nodes.len()];
        let mut ok = true;
        for edge in edges {
            let (from, to) = (index[edge.source.0.as_str()], index[edge.target.0.as_str()]);
            if !catalog::takes_children(&nodes[from].type_name) {
                self.error(
                    Diagnostic::error(Code::InvalidContainer, edge.span, format!("`{}` is a `{}`, which has no children", nodes[from].id, nodes[from].type_name))
                        .label("control-flow edge in a containment graph")
                        .help("in btree's graph form, edges go from a composite or decorator to its children; put this node under a `Sequence`"),
                );
                ok = false;
            } else if let Some(first) = parent[to] {
                self.error(
                    Diagnostic::error(Code::InvalidContainer, edge.target.1, format!("`{}` has two parents, `{}` and `{}`", nodes[to].id, nodes[first].id, nodes[from].id))
                        .label("second parent")
                        .help("in btree's graph form each node has one parent; copy the node under a new id to use it twice"),
                );
                ok = false;
            } else {
                parent[to] = Some(from);
                children[from].push(to);
            }
        }
        let roots: Vec<usize> = (0..nodes.len()).filter(|&i| parent[i].is_none()).collect();
        if roots.len() != 1 {
            let span = roots.get(1).map_or(nodes.first().map_or(Span::default(), |n| n.value.span), |&i| nodes[i].value.span);
            let names: Vec<&str> = roots.iter().map(|&i| nodes[i].id.as_str()).collect();
            self.error(
                Diagnostic::error(
                    Code::InvalidContainer,
                    span,
                    format!("a containment graph has one root, found {}", if names.is_empty() { "none (the edges form a cycle)".to_string() } else { one_of(&names) }),
                )
                .label("not under any parent")
                .help("every node but the root is the target of an edge from its parent"),
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        // Nodes not under the root sit on a cycle of parents.
        // Written as a tree, it must fit the bound a tree document has (each node is a map and
        // its `children` list: two levels of the syntax layer's nesting).
        let max_depth = crate::syntax::MAX_DEPTH / 2;
        let mut seen = vec![false; nodes.len()];
        let mut stack = vec![(roots[0], 1)];
        while let Some((at, depth)) = stack.pop() {
            if depth > max_depth {
                self.error(
                    Diagnostic::error(Code::InvalidContainer, nodes[at].value.span, format!("containment nests deeper than {max_depth} levels"))
                        .label("too deep")
                        .help("flatten the tree, or move the inner part into a sub-workflow"),
                );
                return None;
            }
            seen[at] = true;
            stack.extend(children[at].iter().map(|&child| (child, depth + 1)));
        }
        if let Some(stray) = seen.iter().position(|s| !s) {
            self.error(
                Diagnostic::error(Code::Cycle, nodes[stray].value.span, format!("`{}` is its own ancestor", nodes[stray].id))
                    .label("on a cycle of containment edges")
                    .help("containment edges form a tree: remove the edge that leads back up"),
            );
            return None;
        }
        let value = nest(nodes, &children, roots[0]);
        self.node(&value, "root", defaults)
    }

    /// A graph node's kind when its type has a graph meaning.
    pub(super) fn graph_kind(&mut self, kind: GraphKind, config: &Value, type_span: Span) -> Option<NodeKind> {
        match kind {
            GraphKind::Start => self.known_fields(config, &[], "a `Start` node's config").then_some(NodeKind::Start),
            GraphKind::Condition => {
                if !self.known_fields(config, &["conditions"], "a `Condition` node's config") {
                    return None;
                }
                let list = self.required(config, "conditions", type_span)?;
                let branches = self.branches(list, "condition")?;
                Some(NodeKind::Condition { branches })
            }
            GraphKind::Switch => {
                if !self.known_fields(config, &["value", "routes"], "a graph `Switch` node's config") {
                    return None;
                }
                match (config.get("value"), config.get("routes")) {
                    (Some(value), None) => Some(NodeKind::Router { value: Some(self.expr(value)?), routes: Vec::new() }),
                    (None, Some(routes)) => Some(NodeKind::Router { value: None, routes: self.branches(routes, "route")? }),
                    _ => {
                        self.error(
                            Diagnostic::error(Code::MissingField, config.span, "a graph `Switch` has `value` (for `case-<value>` edges) or `routes` (for `router-<id>` edges)")
                                .label("needs exactly one of the two")
                                .help("add `value: input.tier`, or `routes: [{id: gold, condition: input.tier == 'gold'}]`"),
                        );
                        None
                    }
                }
            }
            GraphKind::Loop => {
                let fields = ["loopType", "iterations", "collection", "condition", "maxIterations"];
                if !self.known_fields(config, &fields, "a `Loop` node's config") {
                    return None;
                }
                let loop_type = match config.get("loopType") {
                    Some(v) => self.enumerated("loopType", v, &["for", "forEach", "while", "doWhile"])?,
                    None => "for".to_string(),
                };
                let max_iterations = match config.get("maxIterations") {
                    Some(v) => self.uint(v, 1, 1_000_000_000)?,
                    None => 1000,
                };
                let kind = match loop_type.as_str() {
                    "for" => LoopKind::For { iterations: self.required(config, "iterations", type_span).and_then(|v| self.uint(v, 0, 1_000_000_000))? },
                    "forEach" => LoopKind::ForEach { collection: self.required(config, "collection", type_span).and_then(|v| self.expr(v))? },
                    kind => LoopKind::While { condition: self.required(config, "condition", type_span).and_then(|v| self.expr(v))?, do_while: kind == "doWhile" },
                };
                Some(NodeKind::Loop(LoopSpec { kind, max_iterations }))
            }
            GraphKind::Parallel => {
                if !self.known_fields(config, &["parallelType", "count", "collection", "batchSize"], "a graph `Parallel` node's config") {
                    return None;
                }
                let parallel_type = match config.get("parallelType") {
                    Some(v) => self.enumerated("parallelType", v, &["count", "collection"])?,
                    None if config.get("collection").is_some() => "collection".to_string(),
                    None => "count".to_string(),
                };
                let fan_out = if parallel_type == "count" {
                    FanOut::Count(self.required(config, "count", type_span).and_then(|v| self.uint(v, 1, 1000))?)
                } else {
                    FanOut::Collection(self.required(config, "collection", type_span).and_then(|v| self.expr(v))?)
                };
                let batch_size = match config.get("batchSize") {
                    Some(v) => Some(self.uint(v, 1, 10_000)?),
                    None => None,
                };
                Some(NodeKind::ParallelGroup(ParallelSpec { fan_out, batch_size }))
            }
        }
    }

    /// `[{id, expression}]`; a branch without an expression (or with id `else`) is the `else`,
    /// and may only come last.
    fn branches(&mut self, list: &Value, what: &str) -> Option<Vec<Branch>> {
        let items = self.expect_seq(list)?;
        if items.is_empty() {
            self.error(
                Diagnostic::error(Code::InvalidValue, list.span, format!("a {what} list is empty"))
                    .label("no branches")
                    .help(format!("add at least one {what}, e.g. `{{id: big, expression: input.amount > 100}}`")),
            );
            return None;
        }
        let mut branches: Vec<Branch> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if !self.known_fields(item, &["id", "expression", "condition", "title"], &format!("a {what}")) {
                return None;
            }
            let id_value = self.required(item, "id", item.span)?;
            let id = self.string(id_value)?;
            if let Some(first) = branches.iter().find(|b| b.id == id) {
                self.error(
                    Diagnostic::error(Code::DuplicateNodeId, id_value.span, format!("{what} id `{id}` is used twice"))
                        .label("second use")
                        .related(first.span, "first here")
                        .help(format!("edges name a {what} by its id (`{what}-<id>`): make ids unique")),
                );
                return None;
            }
            let condition = match item.get("expression").or(item.get("condition")) {
                Some(e) => Some(self.expr(e)?),
                None if id == "else" || i + 1 == items.len() => None,
                None => {
                    self.required(item, "expression", item.span);
                    return None;
                }
            };
            if condition.is_none() && i + 1 != items.len() {
                self.error(
                    Diagnostic::error(Code::InvalidValue, item.span, format!("the `else` {what} must come last"))
                        .label("else before other branches")
                        .help("the first true branch is taken; move `else` to the end"),
                );
                return None;
            }
            branches.push(Branch { id, condition, span: item.span });
        }
        Some(branches)
    }
}

/// A containment graph's node as a tree-form node value with its `children`.
fn nest(nodes: &[RawNode], children: &[Vec<usize>], at: usize) -> Value {
    let node = &nodes[at].value;
    let mut entries: Vec<(Key, Value)> = node.as_map().unwrap_or_default().to_vec();
    if !children[at].is_empty() {
        // An ancestor cannot be its own child: `containment` found exactly one root, and a node
        // has at most one parent, so this walk terminates.
        let items = children[at].iter().map(|&c| nest(nodes, children, c)).collect();
        entries.push((Key { name: "children".into(), span: node.span }, Value { kind: Kind::Seq(items), span: node.span }));
    }
    Value { kind: Kind::Map(entries), span: node.span }
}
