//! The names and tables of a generated crate, decided once before any code is written so every
//! file agrees: node fns, region fns, remote activity types, the flow's node list and each
//! subtree's span of it, graph switch cases.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ident::{self, Names};
use crate::model::{ActivityPolicy, Body, Flow, Handle, NodeKind, Served};
use crate::plan::{Plan, RegionIdx, RegionKind};

/// Names of the generated items, decided once so every file agrees.
pub struct Items {
    pub workflow_type: syn::Ident,
    /// Node id → the fn that runs it.
    pub node_fns: BTreeMap<String, syn::Ident>,
    /// Remote activity name → its definition type in `activities.rs`.
    pub remote_types: BTreeMap<String, syn::Ident>,
    /// Custom node types, grouped by the crate that implements them.
    pub custom_crates: Vec<CustomCrate>,
    /// Graph form: container id (`""` for the workflow) → the fn that runs its body region.
    pub region_fns: BTreeMap<String, syn::Ident>,
    /// Graph form: container id → its body region in the plan.
    pub body_regions: BTreeMap<String, RegionIdx>,
    /// Node id → the node it is inside of (a composite, a container, or the node whose
    /// `onError` it is).
    parents: BTreeMap<String, String>,
    /// Graph `Switch` on a value → the case values its edges name.
    cases: BTreeMap<String, Vec<String>>,
    /// Node id → where its subtree is in `SETTINGS.nodes` (parents first, so a subtree is one
    /// range of it).
    subtrees: BTreeMap<String, std::ops::Range<usize>>,
    /// The other flows of the same `wfc build`, for typed child workflow calls.
    pub siblings: BTreeMap<String, super::Sibling>,
    /// Node id → the outputs released when it ends (`plan::liveness`).
    pub releases: crate::plan::liveness::Releases,
}

/// A crate implementing custom node types, and the struct in `activities.rs` that serves them.
pub struct CustomCrate {
    pub krate: crate::model::NodeCrate,
    /// Its name in Rust paths (`lead-nodes` → `lead_nodes`).
    pub path: syn::Ident,
    /// Its contract crate: package name (`lead-nodes-contract`) and name in Rust paths.
    pub contract: (String, syn::Ident),
    pub server: syn::Ident,
    pub nodes: Vec<CustomNode>,
}

/// A custom node type: its trait and input/output types in the contract crate, and its method.
pub struct CustomNode {
    pub name: String,
    pub description: Option<String>,
    pub ty: syn::Ident,
    pub method: syn::Ident,
}

impl Items {
    /// The custom node type `name`: its crate's server struct and its method.
    pub fn custom(&self, name: &str) -> Option<(&CustomCrate, &CustomNode)> {
        self.custom_crates.iter().find_map(|c| c.nodes.iter().find(|n| n.name == name).map(|n| (c, n)))
    }
}

/// Names a node fn must not take, because the workflow module already uses them: the runtime
/// functions it imports, and the parameters and locals of the code it generates (a node fn
/// named `cx` would be shadowed by the parameter `cx` where it is called). A test over every
/// sample's generated code keeps this list complete.
pub const FN_NAMES: &[&str] = &[
    "body",
    "ctx",
    "cx",
    "done",
    "f",
    "failure",
    "force_failure",
    "force_success",
    "i",
    "icx",
    "inner",
    "input",
    "invert",
    "item",
    "next",
    "payload",
    "result",
    "settled",
    "step",
    "stepcx",
    "task_queue",
];

/// Names the workflow type must not take: the types the generated modules import or declare
/// and the prelude's. A test over every sample's generated code keeps this list complete.
pub const TYPE_NAMES: &[&str] = &[
    "ActivityPolicy",
    "ChildFlow",
    "ContinueAsNewOptions",
    "Cx",
    "Dag",
    "Fan",
    "FlowSettings",
    "FlowState",
    "Input",
    "Iterate",
    "Level",
    "Link",
    "Loop",
    "NodeInfo",
    "NodeResult",
    "On",
    "OnTimeout",
    "Output",
    "Pass",
    "Quorum",
    "RetrySpec",
    "Run",
    "SignalPayload",
    "SignalWait",
    "Spread",
    "Status",
    "SyncWorkflowContext",
    "Template",
    "Value",
    "WorkerOptions",
    "WorkflowContext",
    "WorkflowContextView",
    "WorkflowReplayerOptions",
    "WorkflowResult",
    // The prelude.
    "Box",
    "Clone",
    "Copy",
    "Default",
    "Drop",
    "Eq",
    "Err",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "IntoIterator",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "Unpin",
    "Vec",
];

/// The workflow type's name: the flow's name in camel case, with `Workflow` after it when that
/// name is taken (see [`TYPE_NAMES`]) or reads as a keyword once lower-cased, as the SDK's
/// macros do (`Loop`, `Box`).
pub fn workflow_type(flow_name: &str) -> String {
    let camel = ident::camel(flow_name);
    if TYPE_NAMES.contains(&camel.as_str()) || ident::is_keyword(&camel.to_lowercase()) { format!("{camel}Workflow") } else { camel }
}

/// A node fn's name: the id in snake case, `_node` after it when the module uses that name.
fn node_fn_name(id: &str) -> String {
    let name = ident::snake(id);
    if FN_NAMES.contains(&name.as_str()) { format!("{name}_node") } else { name }
}

impl Items {
    pub fn new(flow: &Flow, plan: &Plan) -> Self {
        let mut names = Names::reserving(FN_NAMES);
        let node_fns: BTreeMap<String, syn::Ident> = flow.nodes().into_iter().map(|node| (node.id.clone(), format_ident!("{}", names.unique(node_fn_name(&node.id))))).collect();
        let mut types = Names::reserving(&["Activities", "Input", "Output", "Run"]);
        let called = flow.nodes().into_iter().filter_map(|node| match &node.kind {
            NodeKind::Activity { activity, .. } => Some(activity.clone()),
            _ => None,
        });
        let custom = |name: &String| flow.activities.get(name).is_some_and(|a| matches!(a.served, Served::Crate(_)));
        let activities: std::collections::BTreeSet<String> = flow.activities.keys().cloned().chain(called).filter(|name| !custom(name)).collect();
        let remote_types = activities
            .into_iter()
            .map(|name| {
                let ty = format_ident!("{}", types.unique(ident::camel(&name)));
                (name, ty)
            })
            .collect();
        // Every declared custom type is in the contract, used or not, so the implementation
        // does not change with the flow's use of it.
        let mut custom_crates: Vec<CustomCrate> = Vec::new();
        let mut contract_names = Names::reserving(&["ActivityContext", "ActivityError"]);
        let mut methods: BTreeMap<String, Names> = BTreeMap::new();
        for declared in flow.activities.values() {
            let Served::Crate(krate) = &declared.served else { continue };
            let ty = contract_names.unique(ident::camel(&declared.name));
            // Its input and output types are named after it: no other type may take those names.
            contract_names.unique(format!("{ty}Input"));
            contract_names.unique(format!("{ty}Output"));
            let method = methods.entry(krate.name.clone()).or_insert_with(|| Names::reserving(&[])).unique(ident::snake(&declared.name));
            let node = CustomNode { name: declared.name.clone(), description: declared.description.clone(), ty: format_ident!("{ty}"), method: format_ident!("{method}") };
            match custom_crates.iter_mut().find(|c| c.krate.name == krate.name) {
                Some(existing) => existing.nodes.push(node),
                None => custom_crates.push(CustomCrate {
                    krate: krate.clone(),
                    path: format_ident!("{}", krate.name.replace('-', "_")),
                    contract: (format!("{}-contract", krate.name), format_ident!("{}_contract", krate.name.replace('-', "_"))),
                    server: format_ident!("{}", types.unique(ident::camel(&krate.name))),
                    nodes: vec![node],
                }),
            }
        }

        let mut parents = BTreeMap::new();
        // `flow.nodes()` lists each node before its subtree, so a subtree ends where its last
        // child's does.
        let mut subtrees: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
        for (at, node) in flow.nodes().into_iter().enumerate().rev() {
            let end = node.children().into_iter().chain(node.on_error.as_deref()).filter_map(|c| subtrees.get(&c.id)).map(|r| r.end).fold(at + 1, usize::max);
            subtrees.insert(node.id.clone(), at..end);
        }
        let mut cases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let (mut region_fns, mut body_regions) = (BTreeMap::new(), BTreeMap::new());
        match &flow.body {
            Body::Tree(root) => {
                for node in root.walk() {
                    for child in node.children().into_iter().chain(node.on_error.as_deref()) {
                        parents.insert(child.id.clone(), node.id.clone());
                    }
                }
            }
            Body::Graph(graph) => {
                for g in &graph.nodes {
                    if let Some((parent, _)) = &g.parent {
                        parents.insert(g.node.id.clone(), parent.clone());
                    }
                }
                for edge in &graph.edges {
                    if let Handle::Case(value) = &edge.handle {
                        cases.entry(edge.source.clone()).or_default().push(value.clone());
                    }
                }
                body_regions = regions_of_bodies(plan);
                for container in body_regions.keys() {
                    let name = if container.is_empty() { "workflow_graph".to_string() } else { format!("{}_body", ident::snake(container)) };
                    region_fns.insert(container.clone(), format_ident!("{}", names.unique(name)));
                }
            }
        }
        Items {
            workflow_type: format_ident!("{}", workflow_type(&flow.name)),
            node_fns,
            remote_types,
            custom_crates,
            region_fns,
            body_regions,
            parents,
            cases,
            subtrees,
            siblings: BTreeMap::new(),
            releases: BTreeMap::new(),
        }
    }

    /// A node and the nodes it is inside of, innermost first.
    pub fn ancestry(&self, id: &str) -> Vec<String> {
        std::iter::successors(Some(id.to_string()), |id| self.parents.get(id).cloned()).collect()
    }

    /// Every node inside `id`, at any depth.
    pub fn descendants(&self, id: &str) -> Vec<String> {
        self.parents.keys().filter(|n| n.as_str() != id && self.ancestry(n).iter().any(|a| a == id)).cloned().collect()
    }

    /// The nodes of these subtrees as ranges of `SETTINGS.nodes`, adjacent ones merged.
    pub fn node_ranges(&self, roots: &[&str]) -> Vec<std::ops::Range<usize>> {
        let mut ranges: Vec<std::ops::Range<usize>> = roots.iter().filter_map(|id| self.subtrees.get(*id).cloned()).collect();
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
        for range in ranges {
            match merged.last_mut() {
                Some(last) if last.end >= range.start => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }

    /// The case values a graph `Switch`'s edges name.
    pub fn cases(&self, id: &str) -> Vec<String> {
        self.cases.get(id).cloned().unwrap_or_default()
    }

    /// `&[(start, end), …]`: these nodes' subtrees as spans of `SETTINGS.nodes`.
    pub fn spans<S: AsRef<str>>(&self, ids: &[S]) -> TokenStream {
        let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
        let ranges = self.node_ranges(&ids).into_iter().map(|r| {
            let (start, end) = (Literal::usize_unsuffixed(r.start), Literal::usize_unsuffixed(r.end));
            quote! { (#start, #end) }
        });
        quote! { &[#(#ranges),*] }
    }
}

pub fn policy(p: &ActivityPolicy) -> TokenStream {
    let timeout = Literal::u64_unsuffixed(p.timeout_ms);
    let attempts = Literal::u32_unsuffixed(p.max_attempts);
    let initial = Literal::u64_unsuffixed(p.initial_interval_ms);
    let backoff = Literal::f64_unsuffixed(p.backoff);
    let max = Literal::u64_unsuffixed(p.max_interval_ms);
    quote! {
        ActivityPolicy {
            timeout_ms: #timeout,
            max_attempts: #attempts,
            initial_interval_ms: #initial,
            backoff: #backoff,
            max_interval_ms: #max,
        }
    }
}

/// The policy argument of an activity call: the shared default, or the node's own.
pub fn policy_ref(flow: &Flow, p: &ActivityPolicy) -> TokenStream {
    if *p == flow.settings.activity {
        quote! { &DEFAULT_POLICY }
    } else {
        let p = policy(p);
        quote! { &#p }
    }
}

/// The body region of each container node, and the workflow's region under `""`.
fn regions_of_bodies(plan: &Plan) -> BTreeMap<String, RegionIdx> {
    let mut regions = BTreeMap::from([(String::new(), RegionIdx::WORKFLOW)]);
    for (i, region) in plan.regions.iter().enumerate() {
        let Some(container) = region.container else { continue };
        let node = plan.step(container).node.clone();
        let body = match region.kind {
            // Copies share the first branch's body.
            RegionKind::Parallel { fan_out: crate::plan::FanOutPlan::Static(_), .. } => {
                plan.regions.iter().position(|r| r.parent == Some(RegionIdx(i as u32)) && matches!(r.kind, RegionKind::Branch { index: 0 }))
            }
            _ => Some(i),
        };
        if let Some(body) = body {
            regions.entry(node).or_insert(RegionIdx(body as u32));
        }
    }
    regions
}
