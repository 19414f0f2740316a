//! The workflow's run input: the flow's typed input, plus the state a continued run carries.
//!
//! A fresh start sends the input as it is. When a long loop continues as new, the next run gets
//! `{"__wfc_resume": {...}, "input": ...}`, so callers in any language start the workflow with
//! the plain input and never see the envelope.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::flow::Resume;

const RESUME: &str = "__wfc_resume";

#[derive(Debug, Clone, PartialEq)]
pub struct Run<I> {
    pub input: I,
    /// Present in a run that continues an earlier one.
    pub resume: Option<Resume>,
}

impl<I> From<I> for Run<I> {
    fn from(input: I) -> Self {
        Run { input, resume: None }
    }
}

impl<I: Serialize> Serialize for Run<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.resume {
            None => self.input.serialize(serializer),
            Some(resume) => {
                let input = serde_json::to_value(&self.input).map_err(serde::ser::Error::custom)?;
                let resume = serde_json::to_value(resume).map_err(serde::ser::Error::custom)?;
                Value::Object(Map::from_iter([(RESUME.to_string(), resume), ("input".to_string(), input)])).serialize(serializer)
            }
        }
    }
}

impl<'de, I: DeserializeOwned> Deserialize<'de> for Run<I> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let typed = |value: Value| {
            serde_path_to_error::deserialize(value).map_err(|e| D::Error::custom(format!("the input does not fit `inputSchema`: at `{}`: {}", e.path(), e.inner())))
        };
        match value {
            Value::Object(mut envelope) if envelope.len() == 2 && envelope.contains_key(RESUME) && envelope.contains_key("input") => {
                let resume = envelope.remove(RESUME).unwrap_or_default();
                let resume: Resume = serde_json::from_value(resume).map_err(D::Error::custom)?;
                let input = typed(envelope.remove("input").unwrap_or_default())?;
                Ok(Run { input, resume: Some(resume) })
            }
            value => Ok(Run { input: typed(value)?, resume: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_fresh_input_is_plain_and_a_continued_one_carries_its_state() {
        let fresh: Run<Value> = serde_json::from_value(json!({"n": 1})).unwrap();
        assert_eq!(fresh, Run { input: json!({"n": 1}), resume: None });
        assert_eq!(serde_json::to_value(&fresh).unwrap(), json!({"n": 1}));
        let carried = Run { input: json!({"n": 1}), resume: Some(Resume { continued: 2, ..Resume::default() }) };
        let text = serde_json::to_value(&carried).unwrap();
        assert_eq!(text["input"], json!({"n": 1}));
        assert_eq!(serde_json::from_value::<Run<Value>>(text).unwrap(), carried);
    }
}
