//! Test runs (`wfc test`): the real generated workflow, with some nodes answered by the test
//! instead of running (a mocked node's body never runs, so its configuration is not rendered),
//! and every durable timer and wait deadline compressed by a factor, so a 7-day approval
//! timeout is tested in moments. Like a dry run, it is a property of the run's input envelope.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Every durable timer and wait deadline is compressed ([`compress`]).
    #[serde(default)]
    pub compress_time: bool,
    /// Nodes whose wait the test answers with a signal. Their deadlines keep their length:
    /// compressed, a deadline would expire before the test's signal could arrive.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub answered: BTreeSet<String>,
}

/// A mocked node's answer: an output, or a failure: its message, or (for the Serverless
/// Workflow form's `catch`) an RFC 7807 problem with its `type` and `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Mock {
    Output { output: Value },
    Fail { fail: Value },
}

/// Compressed time: a timer of `d` lasts 1 ms + 50 ms × log2(1 + d / 1 s) of wall time. The
/// map is monotone, so a shorter timer still fires first, and long waits become short: a second
/// lasts 51 ms, an hour 0.59 s, a 7-day approval timeout 0.96 s. Timers that race are kept
/// apart by at least the time a busy worker takes for a workflow task (a 1 s and a 10 s timer
/// end 123 ms apart, a 200 ms and a 30 s one 235 ms apart): when both have fired by the time
/// the worker looks, the race is decided by the order it polls in, not by time.
pub fn compress(duration: Duration) -> Duration {
    let seconds = duration.as_secs_f64();
    Duration::from_secs_f64(0.001 + 0.050 * (1.0 + seconds).log2())
}

impl TestRun {
    /// The answer of a mocked node, if `node` is mocked.
    pub fn answer(&self, node: &str) -> Option<Result<Value, Failure>> {
        Some(match self.mocks.get(node)? {
            Mock::Output { output } => Ok(output.clone()),
            Mock::Fail { fail: Value::String(message) } => Err(Failure::new(message.clone())),
            Mock::Fail { fail: problem } => {
                let text = |key: &str| problem.get(key).and_then(Value::as_str);
                let message = text("detail").or(text("title")).or(text("type")).unwrap_or("mocked failure").to_string();
                Err(Failure { problem: Some(Box::new(problem.clone())), ..Failure::new(message) })
            }
        })
    }

    /// The deadline of `node`'s wait in this run: compressed unless the test answers it.
    pub fn deadline(&self, node: &str, duration: Duration) -> Duration {
        if self.answered.contains(node) { duration } else { self.scale(duration) }
    }

    /// A timer's duration in this run.
    pub fn scale(&self, duration: Duration) -> Duration {
        if self.compress_time { compress(duration) } else { duration }
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
            "compress_time": true,
            "answered": ["wait"],
        }))
        .unwrap();
        assert_eq!(run.answer("a"), Some(Ok(json!({"id": 7}))));
        assert_eq!(run.answer("b").map(|r| r.map_err(|f| f.message)), Some(Err("mailer answered 503".to_string())));
        assert_eq!(run.answer("c"), None);
        let week = run.scale(Duration::from_secs(7 * 24 * 3600));
        assert!(week > Duration::from_millis(900) && week < Duration::from_secs(1), "{week:?}");
        assert_eq!(run.scale(Duration::ZERO), Duration::from_millis(1));
        assert!(run.scale(Duration::from_millis(200)) < run.scale(Duration::from_secs(30)));
        assert_eq!(run.deadline("wait", Duration::from_secs(3600)), Duration::from_secs(3600));
        assert_eq!(run.deadline("other", Duration::from_secs(3600)), compress(Duration::from_secs(3600)));
        assert_eq!(TestRun::default().scale(Duration::from_secs(5)), Duration::from_secs(5));
    }
}
