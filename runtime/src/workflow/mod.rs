//! Workflow code: what runs inside the workflow and is replayed from history. Every `impl Cx`
//! lives here; nothing here does I/O, reads a clock or the environment, or iterates a hash map.
//! (`metrics` only counts into the worker's meter, and only when not replaying; `journal` keeps
//! entries only in the `logs` and `ui` processes, which replay a history to see every node.)

pub mod actions;
pub mod child;
pub mod control;
pub mod cx;
pub mod dag;
pub mod dry;
#[cfg(feature = "jq")]
pub mod dsl;
pub mod journal;
pub mod mailbox;
pub(crate) mod metrics;
pub mod mock;
pub mod run;
pub mod secrets;
pub mod signals;
pub mod state;
