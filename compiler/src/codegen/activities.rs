//! `src/activities.rs`: the built-in activities this flow uses (each delegates to `wfc-runtime`)
//! and typed definitions of the activities other workers serve.

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
            NodeKind::Builtin { builtin, .. } => Some(builtin),
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
    quote! {
        #imports
        #builtins
        #(#remotes)*
    }
}
