//! `src/workflow.rs`: the workflow type, its run method and status query, and one async fn per
//! node. Control flow is compiled here; the runtime only implements each node's action.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::literal::{doc_lines, template};
use crate::ident::{self, Names};
use crate::model::{ActivityPolicy, Flow, LogLevel, Node, NodeKind};

/// Names of the generated items, decided once so every file agrees.
pub struct Items {
    pub workflow_type: syn::Ident,
    /// Node id → the fn that runs it.
    pub node_fns: BTreeMap<String, syn::Ident>,
    /// Remote activity name → its definition type in `activities.rs`.
    pub remote_types: BTreeMap<String, syn::Ident>,
}

impl Items {
    pub fn new(flow: &Flow) -> Self {
        let mut names = Names::default();
        let node_fns = flow
            .nodes()
            .into_iter()
            .map(|node| (node.id.clone(), format_ident!("{}", names.unique(ident::snake(&node.id)))))
            .collect();
        let mut types = Names::reserving(&["Activities", "Input", "Output"]);
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
        Items { workflow_type: format_ident!("{}", ident::camel(&flow.name)), node_fns, remote_types }
    }
}

pub fn generate(flow: &Flow, root: &Node, items: &Items) -> TokenStream {
    let workflow = &items.workflow_type;
    let name = &flow.name;
    let task_queue = &flow.task_queue;
    let root_fn = &items.node_fns[&root.id];
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
            NodeKind::HttpRequest { policy, .. } | NodeKind::Activity { policy, .. } => Some(policy),
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
    // Import only what this flow's code names, so the crate has no unused imports.
    let mut imports = vec![quote! { FlowSettings }, quote! { FlowState }, quote! { NodeInfo }, quote! { NodeResult }, quote! { Status }];
    if !policies.is_empty() {
        imports.insert(0, quote! { ActivityPolicy });
    }
    if nodes.iter().any(|n| matches!(n.kind, NodeKind::Log { .. })) {
        imports.push(quote! { Level });
    }
    let uses_templates = flow.output.is_some()
        || nodes.iter().any(|n| {
            matches!(
                n.kind,
                NodeKind::HttpRequest { .. } | NodeKind::Activity { .. } | NodeKind::Log { .. } | NodeKind::SetVariable { .. } | NodeKind::Fail { .. }
            )
        });
    if uses_templates {
        imports.push(quote! { Template });
    }
    let nodes = nodes.into_iter().map(|node| node_fn(flow, node, items));

    quote! {
        use ::temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};
        use ::wfc_runtime::codegen::{#(#imports),*};

        use crate::types::{Input, Output};

        /// The Temporal workflow type name.
        pub const NAME: &str = #name;
        /// The task queue this worker polls.
        pub const TASK_QUEUE: &str = #task_queue;

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
            /// Runs the flow from its root node and builds the output.
            #[run(name = #name)]
            pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Output> {
                let cx = Cx::start(ctx, NAME, &input, SETTINGS)?;
                let result = #root_fn(&cx).await;
                #output
            }

            /// Completed, running, failed and skipped nodes, and the live outputs.
            #[query(name = "status")]
            pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
                self.flow.status()
            }
        }

        #(#nodes)*
    }
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
fn policy_ref(flow: &Flow, p: &ActivityPolicy) -> TokenStream {
    if *p == flow.settings.activity {
        quote! { &DEFAULT_POLICY }
    } else {
        let p = policy(p);
        quote! { &#p }
    }
}

fn node_fn(flow: &Flow, node: &Node, items: &Items) -> TokenStream {
    let fn_name = &items.node_fns[&node.id];
    let mut doc = vec![format!("`{}`: {} (line {}).", node.id, node.type_name, node.line)];
    if let Some(name) = &node.name {
        doc.push(String::new());
        doc.push(name.clone());
    }
    if let Some(description) = &node.description {
        doc.push(String::new());
        doc.extend(description.lines().map(str::to_string));
    }
    let doc = doc_lines(&doc);
    let id = &node.id;
    let kind = &node.type_name;
    let line = Literal::u32_unsuffixed(u32::try_from(node.line).unwrap_or(u32::MAX));
    let call = |child: &Node| {
        let f = &items.node_fns[&child.id];
        quote! { #f(cx).await }
    };
    let body = match &node.kind {
        NodeKind::Sequence(children) => {
            let steps = children.iter().map(|c| {
                let call = call(c);
                quote! { #call?; }
            });
            quote! { async { #(#steps)* Ok(()) } }
        }
        NodeKind::Parallel(children) => {
            // Each branch is bound first: prettyplease does not format inside `join!`.
            let futures: Vec<_> = (0..children.len()).map(|i| format_ident!("b{}", i)).collect();
            let results: Vec<_> = (0..children.len()).map(|i| format_ident!("r{}", i)).collect();
            let branches = children.iter().zip(&futures).map(|(c, b)| {
                let f = &items.node_fns[&c.id];
                quote! { let #b = branches.guard(#f(&branches)); }
            });
            quote! {
                async {
                    let branches = cx.fork();
                    #(#branches)*
                    let (#(#results,)*) = ::temporalio_sdk::workflows::join!(#(#futures),*);
                    ::wfc_runtime::codegen::all_succeeded([#(#results),*])
                }
            }
        }
        NodeKind::Conditional { condition, then, otherwise } => {
            let condition = &condition.source;
            let then_call = call(then);
            let then_ids = subtree_ids(then);
            let else_ids = otherwise.as_deref().map(subtree_ids).unwrap_or_default();
            let else_branch = match otherwise {
                Some(o) => {
                    let c = call(o);
                    quote! { #c }
                }
                None => quote! { Ok(()) },
            };
            let skip = |ids: &[String]| if ids.is_empty() { quote! {} } else { quote! { cx.skip(&[#(#ids),*]); } };
            let skip_else = skip(&else_ids);
            let skip_then = skip(&then_ids);
            quote! {
                async {
                    if cx.condition(#condition)? {
                        #skip_else
                        #then_call
                    } else {
                        #skip_then
                        #else_branch
                    }
                }
            }
        }
        NodeKind::Delay { duration_ms, child } => {
            let ms = Literal::u64_unsuffixed(*duration_ms);
            let sleep = quote! { cx.sleep(::std::time::Duration::from_millis(#ms)) };
            match child {
                Some(child) => {
                    let c = call(child);
                    quote! { async { #sleep.await?; #c } }
                }
                None => sleep,
            }
        }
        NodeKind::HttpRequest { config, policy } => {
            let config = template(config);
            let policy = policy_ref(flow, policy);
            quote! { cx.builtin(&NODE, crate::activities::Activities::http_request, #config, #policy) }
        }
        NodeKind::Activity { activity, task_queue, input, policy } => {
            let ty = &items.remote_types[activity];
            let input = template(input);
            let policy = policy_ref(flow, policy);
            quote! { cx.remote(&NODE, crate::activities::#ty, #task_queue, #input, #policy) }
        }
        NodeKind::Log { message, level, output_key } => {
            let message = template(message);
            let level = match level {
                LogLevel::Debug => quote! { Level::Debug },
                LogLevel::Info => quote! { Level::Info },
                LogLevel::Warn => quote! { Level::Warn },
                LogLevel::Error => quote! { Level::Error },
            };
            let key = match output_key {
                Some(k) => quote! { Some(#k) },
                None => quote! { None },
            };
            quote! { async { cx.log(#level, #message, #key) } }
        }
        NodeKind::SetVariable { name, value } => {
            let value = template(value);
            quote! { async { cx.set_variable(#name, #value) } }
        }
        NodeKind::Script { assignments } => {
            let lines = assignments.iter().map(|(name, expr)| {
                let source = &expr.source;
                quote! { (#name, #source) }
            });
            quote! { async { cx.script(&[#(#lines),*]) } }
        }
        NodeKind::CheckCondition { condition, .. } => {
            let source = &condition.source;
            quote! { async { cx.check(#source) } }
        }
        NodeKind::Fail { message } => {
            let message = template(message);
            quote! { async { cx.fail(#message) } }
        }
        // `generate` refuses flows with pending nodes (E0014) before any file is written; should
        // one ever get here, the crate refuses to compile rather than run without the node.
        NodeKind::Pending { .. }
        | NodeKind::Start
        | NodeKind::Condition { .. }
        | NodeKind::Router { .. }
        | NodeKind::Loop(_)
        | NodeKind::ParallelGroup(_) => {
            let message = format!("wfc cannot compile `{}` nodes yet", node.type_name);
            quote! { compile_error!(#message) }
        }
    };
    quote! {
        #doc
        async fn #fn_name(cx: &Cx<'_>) -> NodeResult {
            const NODE: NodeInfo = NodeInfo::new(#id, #kind, #line);
            let body = #body;
            cx.node(&NODE, body).await
        }
    }
}

/// Ids of a node and its descendants: what is skipped when a branch is not taken.
fn subtree_ids(node: &Node) -> Vec<String> {
    node.walk().into_iter().map(|n| n.id.clone()).collect()
}
