//! The workflow's run input: the flow's typed input, plus the state a continued run carries.
//!
//! A fresh start sends the input as it is. When a long loop continues as new, the next run gets
//! `{"__wfc_resume": {...}, "input": ...}`, so callers in any language start the workflow with
//! the plain input and never see the envelope. A dry run is started with
//! `{"__wfc_dry_run": {"canned": {...}}, "input": ...}`, a test run with
//! `{"__wfc_test": {"mocks": {...}, "compress_time": true}, "input": ...}`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::workflow::dry::DryRun;
use crate::workflow::mock::TestRun;
use crate::workflow::state::Resume;

const RESUME: &str = "__wfc_resume";
const DRY_RUN: &str = "__wfc_dry_run";
const TEST: &str = "__wfc_test";
/// Every key an envelope may have besides `input`.
const ENVELOPE: [&str; 3] = [RESUME, DRY_RUN, TEST];

#[derive(Debug, Clone, PartialEq)]
pub struct Run<I> {
    /// The typed input, or why the input sent does not fit the flow's type. A client other than
    /// the worker binary (the `temporal` CLI, another SDK, a schedule) can send anything; a run
    /// whose input does not fit fails naming the field, instead of failing its first workflow
    /// task over and over.
    pub input: Result<I, InvalidInput>,
    /// Present in a run that continues an earlier one.
    pub resume: Option<Resume>,
    /// Present in a dry run's first run (a continued one carries it in `resume`).
    pub dry_run: Option<DryRun>,
    /// Present in a test run's first run (a continued one carries it in `resume`).
    pub test: Option<TestRun>,
}

/// An input that does not fit the flow's type: where, why, and the input as it was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidInput {
    /// The path of the field that does not fit (`.` for the whole input).
    pub at: String,
    pub reason: String,
    pub sent: Value,
}

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at.as_str() {
            "." => write!(f, "the input does not fit `inputSchema`: {}", self.reason),
            at => write!(f, "the input does not fit `inputSchema`: at `{at}`: {}", self.reason),
        }
    }
}

impl<I> From<I> for Run<I> {
    fn from(input: I) -> Self {
        Run { input: Ok(input), resume: None, dry_run: None, test: None }
    }
}

/// What the worker binary asks of a run input before sending it: whether it fits.
pub trait RunInput {
    /// Why the input does not fit the flow's type, if it does not.
    fn problem(&self) -> Option<&InvalidInput>;
}

impl<I> RunInput for Run<I> {
    fn problem(&self) -> Option<&InvalidInput> {
        self.input.as_ref().err()
    }
}

impl<I: Serialize> Serialize for Run<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let input = match &self.input {
            Ok(input) => serde_json::to_value(input).map_err(serde::ser::Error::custom)?,
            Err(invalid) => invalid.sent.clone(),
        };
        let parts = [
            (RESUME, self.resume.as_ref().map(serde_json::to_value)),
            (DRY_RUN, self.dry_run.as_ref().map(serde_json::to_value)),
            (TEST, self.test.as_ref().map(serde_json::to_value)),
        ];
        if parts.iter().all(|(_, part)| part.is_none()) {
            return input.serialize(serializer);
        }
        let mut envelope = Map::from_iter([("input".to_string(), input)]);
        for (key, part) in parts {
            if let Some(part) = part {
                envelope.insert(key.to_string(), part.map_err(serde::ser::Error::custom)?);
            }
        }
        Value::Object(envelope).serialize(serializer)
    }
}

/// Never fails on a JSON value: an input that does not fit becomes [`InvalidInput`].
impl<'de, I: DeserializeOwned> Deserialize<'de> for Run<I> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let typed = |sent: Value| serde_path_to_error::deserialize(sent.clone()).map_err(|e| InvalidInput { at: e.path().to_string(), reason: e.inner().to_string(), sent });
        let is_envelope = |map: &Map<String, Value>| map.contains_key("input") && map.len() >= 2 && map.keys().all(|k| k == "input" || ENVELOPE.contains(&k.as_str()));
        match value {
            Value::Object(mut envelope) if is_envelope(&envelope) => {
                let input = envelope.remove("input").unwrap_or_default();
                match Parts::take(&mut envelope) {
                    Ok(Parts { resume, dry_run, test }) => Ok(Run { input: typed(input), resume, dry_run, test }),
                    Err((key, e)) => Ok(Run { input: Err(InvalidInput { at: format!("/{key}"), reason: e.to_string(), sent: input }), resume: None, dry_run: None, test: None }),
                }
            }
            value => Ok(Run { input: typed(value), resume: None, dry_run: None, test: None }),
        }
    }
}

/// The parts of an envelope besides the input.
struct Parts {
    resume: Option<Resume>,
    dry_run: Option<DryRun>,
    test: Option<TestRun>,
}

impl Parts {
    /// Reads each part; the error names the part that does not fit.
    fn take(envelope: &mut Map<String, Value>) -> Result<Parts, (&'static str, serde_json::Error)> {
        fn part<T: DeserializeOwned>(envelope: &mut Map<String, Value>, key: &'static str) -> Result<Option<T>, (&'static str, serde_json::Error)> {
            envelope.remove(key).map(serde_json::from_value).transpose().map_err(|e| (key, e))
        }
        Ok(Parts { resume: part(envelope, RESUME)?, dry_run: part(envelope, DRY_RUN)?, test: part(envelope, TEST)? })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_fresh_input_is_plain_and_a_continued_one_carries_its_state() {
        let fresh: Run<Value> = serde_json::from_value(json!({"n": 1})).unwrap();
        assert_eq!(fresh, Run::from(json!({"n": 1})));
        assert_eq!(serde_json::to_value(&fresh).unwrap(), json!({"n": 1}));
        let carried = Run { input: Ok(json!({"n": 1})), resume: Some(Resume { continued: 2, ..Resume::default() }), dry_run: None, test: None };
        let text = serde_json::to_value(&carried).unwrap();
        assert_eq!(text["input"], json!({"n": 1}));
        assert_eq!(serde_json::from_value::<Run<Value>>(text).unwrap(), carried);
    }

    #[test]
    fn a_dry_run_carries_its_canned_outputs() {
        let dry = Run { dry_run: Some(DryRun { canned: [("pay".to_string(), json!({"ok": true}))].into() }), ..Run::from(json!({"n": 1})) };
        let text = serde_json::to_value(&dry).unwrap();
        assert_eq!(text, json!({"input": {"n": 1}, "__wfc_dry_run": {"canned": {"pay": {"ok": true}}}}));
        assert_eq!(serde_json::from_value::<Run<Value>>(text).unwrap(), dry);
        // An input of the flow's own that happens to have an `input` field is not an envelope.
        let plain: Run<Value> = serde_json::from_value(json!({"input": 1, "other": 2})).unwrap();
        assert_eq!(plain.input, Ok(json!({"input": 1, "other": 2})));
    }

    #[test]
    fn an_input_that_does_not_fit_is_kept_with_the_reason() {
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        struct Order {
            item: String,
        }
        let run: Run<Order> = serde_json::from_value(json!({"item": 5})).unwrap();
        assert_eq!(run.problem().map(ToString::to_string).as_deref(), Some("the input does not fit `inputSchema`: at `item`: invalid type: integer `5`, expected a string"));
        assert_eq!(serde_json::to_value(&run).unwrap(), json!({"item": 5}));
    }
}
