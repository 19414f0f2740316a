//! wfc's test suite, one binary: code generation, diagnostics, and end-to-end runs.

mod activities;
mod authoring;
mod codegen;
mod conformance;
mod deploys;
mod diagnostics;
mod diff;
mod docs;
mod dsl;
mod e2e;
mod fuzz;
mod hostile;
mod live;
mod plan;
mod run;
mod sim;
mod testing;
