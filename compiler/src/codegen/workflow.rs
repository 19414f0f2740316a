//! `src/workflow.rs`: the workflow type, its run method and status query, the graph's region
//! tables (`graph`) and one async fn per node (`node`).

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::literal::{doc_lines, template};
use crate::ident::{self, Names};
use crate::model::{ActivityPolicy, Body, Flow, Handle, Node, NodeKind};
use crate::plan::{Plan, RegionIdx};

/// Names of the generated items, decided once so every file agrees.
pub struct Items {
    pub workflow_type: syn::Ident,
    /// Node id → the fn that runs it.
    pub node_fns: BTreeMap<String, syn::Ident>,
    /// Remote activity name → its definition type in `activities.rs`.
    pub remote_types: BTreeMap<String, syn::Ident>,
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
        let activities: std::collections::BTreeSet<String> = flow.activities.keys().cloned().chain(called).collect();
        let remote_types = activities
            .into_iter()
            .map(|name| {
                let ty = format_ident!("{}", types.unique(ident::camel(&name)));
                (name, ty)
            })
            .collect();
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
                body_regions = super::graph::body_regions(plan);
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
}

pub fn generate(flow: &Flow, plan: &Plan, items: &Items) -> TokenStream {
    let workflow = &items.workflow_type;
    let name = &flow.name;
    let task_queue = &flow.task_queue;
    let mut docs = vec![format!("The `{name}` workflow.")];
    if let Some(description) = &flow.description {
        docs.push(String::new());
        docs.extend(description.lines().map(str::to_string));
    }
    let docs = doc_lines(&docs);
    let output = match &flow.output {
        Some(value) => {
            let t = template(value);
            quote! { cx.finish(result, #t) }
        }
        None => quote! { cx.finish_with_outputs(result) },
    };
    let settings = settings(flow);
    let nodes: Vec<&Node> = flow.nodes();
    let policies: Vec<&ActivityPolicy> = nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Builtin { policy, .. } | NodeKind::Activity { policy, .. } => Some(policy),
            _ => None,
        })
        .collect();
    let default_policy = policies.iter().any(|p| **p == flow.settings.activity).then(|| {
        let p = policy(&flow.settings.activity);
        quote! {
            /// Timeouts and retries of activities without options of their own.
            const DEFAULT_POLICY: ActivityPolicy = #p;
        }
    });
    let (root, regions) = match &flow.body {
        Body::Tree(root) => (items.node_fns[&root.id].clone(), quote! {}),
        Body::Graph(_) => {
            let limit = match flow.settings.max_concurrency {
                Some(n) => {
                    let n = Literal::usize_unsuffixed(n as usize);
                    quote! { #n }
                }
                None => quote! { usize::MAX },
            };
            (items.region_fns[""].clone(), super::graph::regions(plan, items, limit))
        }
    };
    let node_fns: Vec<TokenStream> = nodes.iter().map(|node| super::node::node_fn(flow, node, items)).collect();
    let loops = nodes.iter().any(|n| matches!(n.kind, NodeKind::Loop(_) | NodeKind::Repeat(_)));
    let continuation = loops.then(|| {
        quote! {
            if let Some(next) = cx.continuation(&input) {
                match ctx.continue_as_new(next, ContinueAsNewOptions::default())? {}
            }
        }
    });
    // Import only what this flow's code names, so the crate has no unused imports.
    let mut imports = vec![quote! { FlowSettings }, quote! { FlowState }, quote! { NodeInfo }, quote! { NodeResult }, quote! { Run }, quote! { SignalPayload }, quote! { Status }];
    let flow_signals = self::signals(flow, &nodes);
    let signal_table = flow_signals.iter().map(|(name, schema)| {
        let schema = super::literal::optional_json(schema.as_ref());
        quote! { (#name, #schema) }
    });
    let signals = signal_handlers(flow_signals.keys());
    let used = identifiers(&[quote! { #(#node_fns)* #regions #default_policy #signals }]);
    for name in [
        "ActivityPolicy",
        "ChildFlow",
        "Dag",
        "Fan",
        "Iterate",
        "Level",
        "Link",
        "Loop",
        "On",
        "OnTimeout",
        "Pass",
        "Quorum",
        "RetrySpec",
        "SignalWait",
        "Spread",
        "Template",
        "Value",
        "force_failure",
        "force_success",
        "invert",
        "settled",
    ] {
        if used.contains(name) || name == "Template" && flow.output.is_some() {
            let name = format_ident!("{}", name);
            imports.push(quote! { #name });
        }
    }
    imports.sort_by_key(|i| i.to_string().to_lowercase());
    let sdk = if loops {
        quote! { use ::temporalio_sdk::{ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult}; }
    } else {
        quote! { use ::temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult}; }
    };

    quote! {
        #sdk
        use ::wfc_runtime::codegen::{#(#imports),*};

        use crate::types::{Input, Output};

        /// The Temporal workflow type name.
        pub const NAME: &str = #name;
        /// The task queue this worker polls.
        pub const TASK_QUEUE: &str = #task_queue;

        /// The flow's own signals (besides `pause` and `resume`) and the payload schema the
        /// command line checks before sending one.
        pub const SIGNALS: &[(&str, Option<&str>)] = &[#(#signal_table),*];

        /// Flow-wide settings.
        const SETTINGS: FlowSettings = #settings;

        #default_policy

        type Cx<'a> = ::wfc_runtime::codegen::Cx<'a, #workflow>;

        #docs
        #[::temporalio_macros::workflow]
        #[derive(Default)]
        pub struct #workflow {
            flow: FlowState,
        }

        impl ::wfc_runtime::codegen::Flow for #workflow {
            fn flow(&self) -> &FlowState {
                &self.flow
            }

            fn flow_mut(&mut self) -> &mut FlowState {
                &mut self.flow
            }
        }

        #[::temporalio_macros::workflow_methods]
        impl #workflow {
            /// Runs the flow and builds the output. A long loop may continue the workflow as
            /// new, carrying its state in the input.
            #[run(name = #name)]
            pub async fn run(ctx: &mut WorkflowContext<Self>, input: Run<Input>) -> WorkflowResult<Output> {
                let cx = Cx::start(ctx, NAME, &input, SETTINGS)?;
                let result = #root(&cx).await;
                #continuation
                #output
            }

            /// Completed, running, failed, skipped and waiting nodes, the paused flag, and the
            /// live outputs.
            #[query(name = "status")]
            pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
                self.flow.status()
            }

            /// Pauses the flow: nodes not yet started wait for `resume`. A payload is ignored.
            #[signal(name = "pause")]
            pub fn pause(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _payload: SignalPayload) {
                self.flow.pause();
            }

            /// Resumes a paused flow. A payload is ignored.
            #[signal(name = "resume")]
            pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _payload: SignalPayload) {
                self.flow.resume();
            }

            #signals
        }

        #regions

        #(#node_fns)*
    }
}

/// The flow's own signals: the declared ones and those its waiting nodes name, each with the
/// payload schema the command line checks before sending.
pub fn signals<'f>(flow: &'f Flow, nodes: &[&'f Node]) -> BTreeMap<&'f str, Option<serde_json::Value>> {
    let mut signals: BTreeMap<&str, Option<serde_json::Value>> = flow.signals.iter().map(|(name, schema)| (name.as_str(), Some(schema.clone()))).collect();
    for node in nodes {
        if let NodeKind::WaitSignal(wait) = &node.kind {
            let (name, schema) = (wait.signal.as_str(), wait.schema.clone());
            match signals.get_mut(name) {
                // Nodes that disagree on the schema: each checks its own; the CLI checks none.
                Some(known) if *known != schema => *known = None,
                Some(_) => {}
                None => {
                    signals.insert(name, schema);
                }
            }
        }
    }
    signals
}

/// One handler per signal of the flow: the payload goes to the mailbox, where a waiting node
/// takes it (and checks it against its schema).
fn signal_handlers<'s>(signals: impl Iterator<Item = &'s &'s str>) -> TokenStream {
    let mut names = Names::reserving(&["run", "status", "pause", "resume"]);
    let handlers = signals.map(|signal| {
        let method = format_ident!("{}", names.unique(format!("signal_{}", ident::snake(signal))));
        let doc = format!(" The `{signal}` signal.");
        quote! {
            #[doc = #doc]
            #[signal(name = #signal)]
            pub fn #method(&mut self, _ctx: &mut SyncWorkflowContext<Self>, payload: SignalPayload) {
                self.flow.receive(#signal, payload);
            }
        }
    });
    quote! { #(#handlers)* }
}

/// The identifiers that occur in generated code.
fn identifiers(code: &[TokenStream]) -> std::collections::BTreeSet<String> {
    fn walk(stream: TokenStream, out: &mut std::collections::BTreeSet<String>) {
        for tree in stream {
            match tree {
                proc_macro2::TokenTree::Ident(i) => {
                    out.insert(i.to_string());
                }
                proc_macro2::TokenTree::Group(g) => walk(g.stream(), out),
                _ => {}
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for c in code {
        walk(c.clone(), &mut out);
    }
    out
}

fn settings(flow: &Flow) -> TokenStream {
    let max_output_bytes = match flow.settings.max_output_bytes {
        Some(n) => {
            let n = Literal::usize_unsuffixed(n as usize);
            quote! { Some(#n) }
        }
        None => quote! { None },
    };
    let ids = flow.nodes().into_iter().map(|n| n.id.as_str());
    quote! {
        FlowSettings {
            nodes: &[#(#ids),*],
            max_output_bytes: #max_output_bytes,
        }
    }
}

fn policy(p: &ActivityPolicy) -> TokenStream {
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
