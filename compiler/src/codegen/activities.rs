//! `src/activities.rs`: the built-in activities this flow uses (each delegates to `wfc-runtime`)
//! and typed definitions of the activities other workers serve.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::workflow::Items;
use crate::model::{Flow, NodeKind};

pub fn generate(flow: &Flow, items: &Items) -> TokenStream {
    let uses_http = flow.nodes().iter().any(|n| matches!(n.kind, NodeKind::HttpRequest { .. }));
    let builtins = uses_http.then(|| {
        quote! {
            /// The built-in activities this flow uses, registered on its worker.
            pub struct Activities;

            #[::temporalio_macros::activities]
            impl Activities {
                /// `HttpRequest`: sends the request a node describes; returns `{status, headers, body}`.
                #[activity(name = "HttpRequest")]
                pub async fn http_request(
                    ctx: ActivityContext,
                    input: ::wfc_runtime::codegen::BuiltinInput,
                ) -> Result<::serde_json::Value, ActivityError> {
                    ::wfc_runtime::activities::http_request(ctx, input).await
                }
            }
        }
    });
    let imports = uses_http.then(|| quote! { use ::temporalio_sdk::activities::{ActivityContext, ActivityError}; });
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
