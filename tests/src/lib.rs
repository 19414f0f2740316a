//! Test support shared by the test suite and the benchmark: a real Temporal dev server, worker
//! processes built from generated crates, a recording HTTP server, remote activity workers, and
//! the integrations' real servers: PostgreSQL and an SMTP server.

pub mod cases;
pub mod certs;
pub mod ctk;
pub mod ctk_runner;
pub mod fuzz;
pub mod http;
pub mod postgres;
pub mod remote;
pub mod server;
pub mod smtp;
pub mod workers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Polls `what` every 200 ms until it answers; panics after 60 s.
pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A child's stderr, line by line, read on a thread of its own so the child never blocks.
pub struct Lines {
    received: std::sync::mpsc::Receiver<String>,
    /// Everything read so far.
    pub seen: String,
}

impl Lines {
    /// Takes the child's piped stderr.
    pub fn of(child: &mut std::process::Child) -> Lines {
        use std::io::BufRead;
        let stderr = child.stderr.take().expect("a piped stderr");
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        Lines { received, seen: String::new() }
    }

    /// Reads until `needle` has been seen `count` times in all; panics after 5 minutes (a first
    /// `wfc run` builds a worker crate).
    pub fn until(&mut self, needle: &str, count: usize) -> &str {
        while self.seen.matches(needle).count() < count {
            let line = self.received.recv_timeout(Duration::from_secs(300)).unwrap_or_else(|_| panic!("no `{needle}` ({count}) in:\n{}", self.seen));
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        &self.seen
    }
}
