//! wfc's test suite, one binary: code generation, diagnostics, and end-to-end runs.

mod activities;
mod codegen;
mod conformance;
mod diagnostics;
mod docs;
mod e2e;
mod fuzz;
mod hostile;
mod plan;
mod sim;
