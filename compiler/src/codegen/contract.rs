//! The contract crate of a crate implementing custom node types (`<crate>-contract`, in the
//! `contract/` folder of a crate given by `path`). For each node type it holds a trait and the
//! input and output structs of the declared schemas. The implementing crate depends on it and
//! implements each trait for its `Nodes` type; the worker depends on both. An implementation
//! that does not fit the declaration (a missing trait, another input or output type) is a
//! compile error naming the node type's trait. wfc writes only this folder, never the crate's
//! own files.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::items::CustomCrate;
use super::types;
use crate::diagnostic::Diagnostic;
use crate::model::Flow;

/// `contract/src/lib.rs`: the types and traits.
pub fn lib(flow: &Flow, krate: &CustomCrate) -> Result<TokenStream, Vec<Diagnostic>> {
    let mut schemas = Vec::new();
    for node in &krate.nodes {
        let declared = flow.activities.get(&node.name);
        schemas.push((format!("{}Input", node.ty), declared.and_then(|a| a.input.as_ref()), "The input of the custom node type, from its declared schema."));
        schemas.push((format!("{}Output", node.ty), declared.and_then(|a| a.output.as_ref()), "The output of the custom node type, from its declared schema."));
    }
    let types = types::from_schemas(flow, schemas)?;
    let traits = krate.nodes.iter().map(|node| {
        let (ty, method) = (&node.ty, &node.method);
        let (input, output) = (format_ident!("{}Input", ty), format_ident!("{}Output", ty));
        let mut docs = Vec::new();
        if let Some(description) = &node.description {
            docs.extend([format!(" {}", description.lines().next().unwrap_or_default()), String::new()]);
        }
        docs.push(format!(" The custom node type `{}`: implement it for `{}::Nodes`.", node.name, krate.krate.name));
        let method_doc = format!(
            " One attempt of the node type `{}`: an activity on the flow's own worker, timed out and retried as the \
             node's `temporal` options say. For a failure no retry can mend, return \
             `ActivityError::application(ApplicationFailure::non_retryable(…))`.",
            node.name
        );
        quote! {
            #(#[doc = #docs])*
            pub trait #ty {
                #[doc = #method_doc]
                fn #method(&self, ctx: ActivityContext, input: #input) -> impl ::std::future::Future<Output = Result<#output, ActivityError>> + Send;
            }
        }
    });
    Ok(quote! {
        #types

        pub use ::temporalio_sdk::ApplicationFailure;
        pub use ::temporalio_sdk::activities::{ActivityContext, ActivityError};

        #(#traits)*
    })
}

/// `contract/Cargo.toml`.
pub fn manifest(krate: &CustomCrate, header: &str) -> String {
    format!(
        "# {header}\n\n[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2024\"\nrust-version = \"1.92\"\n\
         description = \"The custom node types that `{}` implements: one trait each, with its input and output types\"\npublish = false\n\n\
         [dependencies]\ntemporalio-sdk = \"=1.1.1\"\nserde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = {{ version = \"1\", features = [\"preserve_order\"] }}\n",
        krate.contract.0, krate.krate.name
    )
}
