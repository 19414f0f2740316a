//! `src/main.rs`: the worker binary's entry point; the command line lives in `wfc-runtime`.

use proc_macro2::TokenStream;
use quote::quote;

use super::items::Items;
use crate::model::{Flow, NodeKind, Versioning};

pub fn generate(flow: &Flow, items: &Items, build_id: &str) -> TokenStream {
    let workflow = &items.workflow_type;
    let uses_builtins = flow.nodes().iter().any(|n| matches!(n.kind, NodeKind::Builtin { .. } | NodeKind::Call { .. }));
    let register_activities = uses_builtins.then(|| quote! { .register_activities(activities::Activities) });
    let servers = items.custom_crates.iter().map(|c| &c.server);
    let timeout = super::literal::optional_millis(flow.settings.timeout_ms);
    let schedule = match &flow.schedule {
        Some(schedule) => {
            let (cron, timezone) = (&schedule.cron, &schedule.timezone);
            let input = super::literal::raw_string(&schedule.input.to_string());
            quote! { Some(::wfc_runtime::cli::Schedule { cron: #cron, timezone: #timezone, input: #input }) }
        }
        None => quote! { None },
    };
    let starts_on = match flow.dsl.as_ref().and_then(|d| d.starts_on.as_ref()) {
        Some(_) => quote! { Some(|event| ::wfc_runtime::codegen::starts_on(&workflow::STARTS_ON, event)) },
        None => quote! { None },
    };
    let deployment = flow.settings.deployment.as_deref().unwrap_or(&flow.name);
    let versioning = match flow.settings.versioning {
        Versioning::Pinned => quote! { Pinned },
        Versioning::AutoUpgrade => quote! { AutoUpgrade },
    };
    quote! {
        mod activities;
        mod types;
        mod workflow;

        use ::temporalio_sdk::WorkerOptions;
        use ::temporalio_sdk::workflow_replayer::WorkflowReplayerOptions;

        fn main() -> ::std::process::ExitCode {
            ::wfc_runtime::cli::main(::wfc_runtime::cli::Worker {
                name: workflow::NAME,
                task_queue: workflow::TASK_QUEUE,
                signals: workflow::SIGNALS,
                schedule: #schedule,
                starts_on: #starts_on,
                execution_timeout: #timeout,
                options: |task_queue| {
                    Ok(WorkerOptions::new(task_queue)
                        .register_workflow::<workflow::#workflow>()?
                        #register_activities
                        #(.register_activities(activities::#servers::default()))*
                        .build())
                },
                replayer: || Ok(WorkflowReplayerOptions::new().register_workflow::<workflow::#workflow>()?.build()),
                input: ::wfc_runtime::cli::checked_input::<::wfc_runtime::codegen::Run<types::Input>>,
                deployment: ::wfc_runtime::cli::Deployment {
                    name: #deployment,
                    build_id: #build_id,
                    versioning: ::wfc_runtime::cli::Versioning::#versioning,
                },
                view: include_str!("view.json"),
            })
        }
    }
}
