//! Data-driven tests, one case per fixture: every case runs whichever fails first, and the test
//! fails naming each case that failed.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `check` on every case; panics at the end with every failed case's name and message.
pub fn each<T>(cases: impl IntoIterator<Item = T>, name: impl Fn(&T) -> String, check: impl Fn(&T)) {
    let mut failed = Vec::new();
    for case in cases {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&case))) {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            failed.push(format!("- {}: {}", name(&case), message.lines().next().unwrap_or_default()));
        }
    }
    assert!(failed.is_empty(), "{} case(s) failed:\n{}", failed.len(), failed.join("\n"));
}
