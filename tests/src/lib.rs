//! Test support shared by the test suite and the benchmark: a real Temporal dev server, worker
//! processes built from generated crates, a recording HTTP server, remote activity workers, and
//! the integrations' real servers: PostgreSQL and an SMTP server.

pub mod http;
pub mod postgres;
pub mod remote;
pub mod server;
pub mod smtp;
pub mod workers;

use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
