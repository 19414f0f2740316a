//! Graph flows: each region of the plan (the workflow, a loop body, a parallel branch) becomes a
//! static table of steps and links plus one fn that hands it to the runtime's dataflow
//! scheduler (`Cx::region`). Nodes are the same node fns as in trees; a container's node fn
//! runs its body region per iteration or branch. A static parallel's copies share one body
//! region: the branch index is a runtime value, so code size does not grow with the count.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::items::Items;
use super::literal::doc_lines;
use crate::model::{FanOut, LoopKind, Node, NodeKind};
use crate::plan::{EdgeKind, Plan, RegionIdx, Role, StepIdx};

/// Every region's table and fn.
pub fn regions(plan: &Plan, items: &Items, limit: TokenStream) -> TokenStream {
    let fns = items.region_fns.iter().map(|(container, f)| {
        let region = items.body_regions[container];
        region_fn(plan, region, container, f, items, &limit)
    });
    quote! { #(#fns)* }
}

fn region_fn(plan: &Plan, region: RegionIdx, container: &str, f: &syn::Ident, items: &Items, limit: &TokenStream) -> TokenStream {
    let r = plan.region(region);
    let mut steps: Vec<StepIdx> = vec![r.start, r.end];
    steps.extend((0..plan.steps.len() as u32).map(StepIdx).filter(|s| plan.step(*s).region == region && !matches!(plan.step(*s).role, Role::Start | Role::End)));
    let position: BTreeMap<StepIdx, usize> = steps.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let names = steps.iter().enumerate().map(|(i, s)| match i {
        0 => "start".to_string(),
        1 => "end".to_string(),
        _ => plan.step(*s).node.clone(),
    });
    let links = plan.edges.iter().filter(|e| e.kind.is_forward()).filter_map(|e| {
        let (from, to) = (position.get(&e.from)?, position.get(&e.to)?);
        let on = match &e.kind {
            EdgeKind::Error => quote! { On::Error },
            EdgeKind::Branch(label) => quote! { On::Branch(#label) },
            _ => quote! { On::Success },
        };
        let (from, to) = (Literal::usize_unsuffixed(*from), Literal::usize_unsuffixed(*to));
        Some(quote! { Link { from: #from, to: #to, on: #on } })
    });
    let table = format_ident!("{}", f.to_string().to_uppercase());
    let what = if container.is_empty() { "the workflow".to_string() } else { format!("the body of `{container}`") };
    let table_doc = doc_lines(&[format!("The steps of {what} and the links between them.")]);
    let fn_doc = doc_lines(&[format!("Runs {what}: each node once its incoming links allow it.")]);
    let nodes: Vec<(usize, &str)> = steps.iter().enumerate().skip(2).map(|(i, s)| (i, plan.step(*s).node.as_str())).collect();
    let run = match nodes.split_last() {
        None => quote! { |_, _| Box::pin(async { Ok(Value::Null) }) },
        Some(((_, only), [])) => {
            let only = &items.node_fns[*only];
            quote! { |_, cx| Box::pin(async move { #only(&cx).await }) }
        }
        Some(((_, last), init)) => {
            let arms = init.iter().map(|(i, node)| {
                let i = Literal::usize_unsuffixed(*i);
                let f = &items.node_fns[*node];
                quote! { #i => #f(&cx).await, }
            });
            let last = &items.node_fns[*last];
            quote! {
                |step, cx| {
                    Box::pin(async move {
                        match step {
                            #(#arms)*
                            _ => #last(&cx).await,
                        }
                    })
                }
            }
        }
    };
    quote! {
        #table_doc
        const #table: Dag = Dag {
            steps: &[#(#names),*],
            links: &[#(#links),*],
        };

        #fn_doc
        async fn #f(cx: &Cx<'_>) -> NodeResult {
            cx.region(&#table, #limit, #run).await
        }
    }
}

/// The body of a `Loop` or `Parallel` container's node fn.
pub fn container_body(node: &Node, items: &Items) -> TokenStream {
    let Some(body) = items.region_fns.get(&node.id) else { return quote! { async { cx.succeed() } } };
    let each = quote! { |_, cx| Box::pin(async move { #body(&cx).await }) };
    match &node.kind {
        NodeKind::Loop(spec) => {
            let iterate = match &spec.kind {
                LoopKind::For { iterations } => {
                    let n = Literal::u64_unsuffixed(*iterations);
                    quote! { Iterate::Times(#n) }
                }
                LoopKind::ForEach { collection } => {
                    let source = &collection.source;
                    quote! { Iterate::Items(#source) }
                }
                LoopKind::While { condition, do_while } => {
                    let source = &condition.source;
                    if *do_while {
                        quote! { Iterate::DoWhile(#source) }
                    } else {
                        quote! { Iterate::While(#source) }
                    }
                }
            };
            let max = Literal::u64_unsuffixed(spec.max_iterations);
            let body = items.spans(&items.descendants(&node.id));
            let around = items.ancestry(&node.id);
            quote! {
                cx.repeat(&NODE, Loop { iterate: #iterate, max_iterations: #max, concurrency: 1, item: "", index: "", body: #body, around: &[#(#around),*] }, #each)
            }
        }
        NodeKind::ParallelGroup(spec) => {
            let (count, collection) = match &spec.fan_out {
                FanOut::Count(n) => {
                    let n = Literal::u64_unsuffixed(*n);
                    (quote! { Some(#n) }, quote! { None })
                }
                FanOut::Collection(e) => {
                    let source = &e.source;
                    (quote! { None }, quote! { Some(#source) })
                }
            };
            let batch = match spec.batch_size {
                Some(n) => {
                    let n = Literal::usize_unsuffixed(n as usize);
                    quote! { #n }
                }
                None => quote! { usize::MAX },
            };
            quote! { cx.fan_out(Spread { count: #count, collection: #collection, at_once: #batch }, #each) }
        }
        _ => quote! { async { cx.succeed() } },
    }
}
