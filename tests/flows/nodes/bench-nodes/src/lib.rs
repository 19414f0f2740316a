//! The benchmark's `noop`: answers with its input, like the hand-written worker's activity.

use bench_nodes_contract::{ActivityContext, ActivityError, Noop, NoopInput, NoopOutput};

#[derive(Default)]
pub struct Nodes;

impl Noop for Nodes {
    async fn noop(&self, _ctx: ActivityContext, input: NoopInput) -> Result<NoopOutput, ActivityError> {
        Ok(NoopOutput { step: input.step })
    }
}
