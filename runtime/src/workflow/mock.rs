//! Test runs (`wfc test`): the real generated workflow, with some nodes answered by the test
//! instead of running (a mocked node's body never runs, so its configuration is not rendered),
//! and every durable timer and wait deadline compressed by a factor, so a 7-day approval
//! timeout is tested in moments. Like a dry run, it is a property of the run's input envelope.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::values::Failure;

/// What a test run overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    /// Node id → what the node returns instead of running.
    #[serde(default)]
    pub mocks: BTreeMap<String, Mock>,
    /// Every timer lasts this fraction of its duration (1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
}

/// A mocked node's answer: an output, or a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Mock {
    Output { output: Value },
    Fail { fail: String },
}

/// The shortest timer a compressed one becomes: still a real durable timer.
const SHORTEST: Duration = Duration::from_millis(1);

impl TestRun {
    /// The answer of a mocked node, if `node` is mocked.
    pub fn answer(&self, node: &str) -> Option<Result<Value, Failure>> {
        Some(match self.mocks.get(node)? {
            Mock::Output { output } => Ok(output.clone()),
            Mock::Fail { fail } => Err(Failure::new(fail.clone())),
        })
    }

    /// A timer's duration in this run.
    pub fn scale(&self, duration: Duration) -> Duration {
        match self.time_scale {
            Some(scale) if scale.is_finite() && scale > 0.0 && scale < 1.0 => duration.mul_f64(scale).max(SHORTEST),
            _ => duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_mock_answers_with_its_output_or_its_failure_and_timers_shrink() {
        let run: TestRun = serde_json::from_value(json!({
            "mocks": {"a": {"output": {"id": 7}}, "b": {"fail": "mailer answered 503"}},
            "time_scale": 0.000001,
        }))
        .unwrap();
        assert_eq!(run.answer("a"), Some(Ok(json!({"id": 7}))));
        assert_eq!(run.answer("b").map(|r| r.map_err(|f| f.message)), Some(Err("mailer answered 503".to_string())));
        assert_eq!(run.answer("c"), None);
        assert_eq!(run.scale(Duration::from_secs(7 * 24 * 3600)), Duration::from_micros(604_800));
        assert_eq!(run.scale(Duration::from_secs(1)), SHORTEST);
        assert_eq!(TestRun::default().scale(Duration::from_secs(5)), Duration::from_secs(5));
    }
}
