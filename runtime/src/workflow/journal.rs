//! The journal: what each node did, in order, as workflow code runs. Off in workers (one atomic
//! load per entry); `logs` and `ui` turn it on in their own process while they replay a run's
//! history, which is how nodes that run inside the workflow and leave no Temporal events are
//! seen. Nothing here adds a command to the history or is read by the workflow.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use crate::values::Level;

/// One thing a node did, at a point in workflow time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Workflow time, seconds since the Unix epoch (the start of the workflow task).
    pub at: f64,
    pub node: String,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum What {
    Started {
        kind: String,
    },
    /// What an activity node was called with (secrets stay unresolved names).
    Input {
        input: Value,
    },
    /// In a dry run, a built-in's request that was recorded instead of sent.
    Recorded {
        kind: String,
        request: Value,
    },
    Waiting {
        signal: String,
    },
    Completed {
        output: Value,
    },
    Failed {
        error: String,
    },
    Skipped,
    Log {
        level: &'static str,
        message: String,
    },
    /// A signal the run received (from the history, not the workflow code; `node` is empty).
    Signal {
        signal: String,
    },
}

static ON: AtomicBool = AtomicBool::new(false);
static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Whether entries are kept: only inside [`capture`].
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

pub(crate) fn record(at: Option<SystemTime>, node: &str, what: What) {
    if !on() {
        return;
    }
    let at = at.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0.0, |d| d.as_secs_f64());
    ENTRIES.lock().unwrap_or_else(|e| e.into_inner()).push(Entry { at, node: node.to_string(), what });
}

pub(crate) fn level(level: Level) -> &'static str {
    match level {
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Keeps every entry recorded while `work` runs and returns them. One capture at a time: the
/// caller serialises (a replay runs the workflow code of one history).
pub async fn capture<T>(work: impl Future<Output = T>) -> (T, Vec<Entry>) {
    ENTRIES.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ON.store(true, Ordering::Relaxed);
    let result = work.await;
    ON.store(false, Ordering::Relaxed);
    (result, std::mem::take(&mut *ENTRIES.lock().unwrap_or_else(|e| e.into_inner())))
}
