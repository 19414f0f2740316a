//! `src/activities.rs`: the built-in activities this flow uses (each delegates to `wfc-runtime`),
//! typed definitions of the activities other workers serve, and the custom node types this
//! worker serves (each delegates to its crate's implementation of the contract's trait).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::items::Items;
use std::collections::BTreeSet;

use crate::model::{Builtin, Flow, NodeKind};

pub fn generate(flow: &Flow, items: &Items) -> TokenStream {
    let used: BTreeSet<Builtin> = flow
        .nodes()
        .iter()
        .filter_map(|n| match n.kind {
            NodeKind::Builtin { builtin, .. } | NodeKind::Call { builtin, .. } => Some(builtin),
            _ => None,
        })
        .collect();
    let methods = used.iter().map(|builtin| {
        let name = builtin.activity_name();
        let function = format_ident!("{}", builtin.runtime_fn());
        let doc = format!(" `{name}`: {}", builtin.summary());
        quote! {
            #[doc = #doc]
            #[activity(name = #name)]
            pub async fn #function(
                ctx: ActivityContext,
                input: ::wfc_runtime::codegen::BuiltinInput,
            ) -> Result<::serde_json::Value, ActivityError> {
                ::wfc_runtime::activities::#function(ctx, input).await
            }
        }
    });
    let builtins = (!used.is_empty()).then(|| {
        quote! {
            /// The built-in activities this flow uses, registered on its worker.
            pub struct Activities;

            #[::temporalio_macros::activities]
            impl Activities {
                #(#methods)*
            }
        }
    });
    let imports = (!used.is_empty()).then(|| quote! { use ::temporalio_sdk::activities::{ActivityContext, ActivityError}; });
    let remotes = items.remote_types.iter().map(|(name, ty)| {
        let input = format_ident!("{}Input", ty);
        let output = format_ident!("{}Output", ty);
        let doc = format!(" The activity `{name}`, served by another worker.");
        quote! {
            #[doc = #doc]
            pub struct #ty;

            impl ::temporalio_common::ActivityDefinition for #ty {
                type Input = crate::types::#input;
                type Output = crate::types::#output;

                fn name(&self) -> &str {
                    #name
                }
            }
        }
    });
    let custom = items.custom_crates.iter().map(|krate| {
        let (server, path, contract) = (&krate.server, &krate.path, &krate.contract.1);
        let doc = format!(" The custom node types that the crate `{}` implements, served on this flow's worker.", krate.krate.name);
        let methods = krate.nodes.iter().map(|node| {
            let (name, ty, method) = (&node.name, &node.ty, &node.method);
            let (input, output) = (format_ident!("{}Input", ty), format_ident!("{}Output", ty));
            let doc = format!(" `{name}`: one attempt, run by `{}::Nodes`.", krate.krate.name);
            quote! {
                #[doc = #doc]
                #[activity(name = #name)]
                pub async fn #method(
                    self: ::std::sync::Arc<Self>,
                    ctx: ::temporalio_sdk::activities::ActivityContext,
                    input: ::#contract::#input,
                ) -> Result<::#contract::#output, ::temporalio_sdk::activities::ActivityError> {
                    ::#contract::#ty::#method(&self.0, ctx, input).await
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Default)]
            pub struct #server(pub ::#path::Nodes);

            #[::temporalio_macros::activities]
            impl #server {
                #(#methods)*
            }
        }
    });
    quote! {
        #imports
        #builtins
        #(#remotes)*
        #(#custom)*
    }
}
