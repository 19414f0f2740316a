//! `src/workflow.rs`: the workflow type, its run method and status query, the graph's region
//! tables (`graph`) and one async fn per node (`node`).

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::items::{Items, policy};
use super::literal::{doc_lines, template};
use crate::ident::{self, Names};
use crate::model::{ActivityPolicy, Body, Flow, Node, NodeKind};
use crate::plan::Plan;

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
        _ if flow.dsl.is_some() => quote! { cx.finish_data(result) },
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
            NodeKind::Builtin { policy, .. } | NodeKind::Activity { policy, .. } | NodeKind::Custom { policy, .. } | NodeKind::Call { policy, .. } => Some(policy),
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
    // A Serverless Workflow document's own data flow around its tasks.
    let (document, run_root) = match &flow.dsl {
        Some(dsl) => {
            let (input, output) = (super::literal::optional_jq_value(dsl.input.as_ref()), super::literal::optional_jq_value(dsl.output.as_ref()));
            let definition = super::literal::raw_string(&dsl.definition.to_string());
            let starts_on = dsl.starts_on.as_ref().map(|on| {
                let on = super::node::listen(on);
                quote! {
                    /// `schedule.on`: the events that start a run (the binary's `event` command).
                    pub const STARTS_ON: Listen = #on;
                }
            });
            (
                quote! {
                    /// The document's `input.from` and `output.as`, and the document itself
                    /// (`$workflow.definition`).
                    const DOCUMENT: Document = Document { input: #input, output: #output, definition: #definition };
                    #starts_on
                },
                quote! { cx.document(&DOCUMENT, #root(&cx)).await },
            )
        }
        None => (quote! {}, quote! { #root(&cx).await }),
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
    let used = identifiers(&[quote! { #(#node_fns)* #regions #default_policy #signals #document }]);
    for name in [
        "ActivityPolicy",
        "CallOutput",
        "ChildFlow",
        "Dag",
        "Document",
        "Consume",
        "ErrorFilter",
        "EventFilter",
        "EventRead",
        "Fan",
        "Iterate",
        "Jq",
        "JqValue",
        "Level",
        "Link",
        "Listen",
        "Loop",
        "On",
        "OnTimeout",
        "Pass",
        "Quorum",
        "RetrySpec",
        "SignalWait",
        "Spread",
        "Task",
        "TaskResult",
        "Template",
        "Until",
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

        #document

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
                let result = #run_root;
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
            // A `listen`'s events arrive as the signals of their types, or the generic one.
            if let Some(listen) = &wait.listen {
                for name in listen.signals() {
                    signals.entry(name).or_insert(None);
                }
                continue;
            }
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
