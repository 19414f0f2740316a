//! Test support shared by the test suite and the benchmark: a real Temporal dev server, worker
//! processes built from generated crates, a recording HTTP server, and remote activity workers.

pub mod http;
pub mod remote;
pub mod server;
pub mod workers;

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
