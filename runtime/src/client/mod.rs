//! The client side: the generated binary's command line, run outside any workflow (starting,
//! signalling and querying runs, the worker process itself, schedules, replay, timelines, logs
//! and the live view).

mod case;
pub mod cli;
mod deployment;
mod observe;
mod replay;
mod report;
mod reset;
pub mod timeline;
mod ui;
mod watch;

use anyhow::{Context, anyhow};
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

/// A client of the Temporal server that Temporal's environment configuration names (the
/// `TEMPORAL_*` variables and profile file).
pub(crate) async fn connect() -> anyhow::Result<Client> {
    // ConfigError is neither Send nor Sync, so it is turned into text here.
    let (connection, options) = ClientOptions::load_from_config(LoadClientConfigProfileOptions::default()).map_err(|e| anyhow!("Temporal configuration: {e}"))?;
    let connection = Connection::connect(connection).await.context("cannot connect to Temporal")?;
    Client::new(connection, options).map_err(|e| anyhow!("cannot create the Temporal client: {e}"))
}
