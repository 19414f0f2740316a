//! Test support shared by the test suite and the benchmark: a real Temporal dev server, worker
//! processes built from generated crates, a recording HTTP server, remote activity workers, and
//! the integrations' real servers: PostgreSQL and an SMTP server.

pub mod cases;
pub mod certs;
pub mod fuzz;
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

/// A kit from `../shared/` (beside the repository in CI, absent in a user's clone): its folder,
/// or `None` after printing that the test that needs it is skipped.
pub fn shared_kit(kit: &str) -> Option<PathBuf> {
    let dir = repo_root().join("../shared").join(kit);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent (CI has ../shared beside the clone; a bare clone does not)", dir.display());
        None
    }
}
