//! In-workflow actions beyond the basics in `cx`: `Template`, `JsonPath`, the btree utility
//! nodes (`CounterAction`, `RegexExtract`, `SoftAssert`) and choice nodes of the graph form.
//! All are deterministic.

use serde_json::{Value, json};

use super::cx::{Cx, Flow, case_label};
use super::dag::BRANCH;
use crate::values::{Failure, NodeInfo, Template};

impl<W: Flow> Cx<'_, W> {
    /// `AlwaysCondition`, `SuccessNode`, a graph `Start`: succeeds.
    pub fn succeed(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// `Template`: the rendered text.
    pub fn template(&self, template: Template) -> Result<Value, Failure> {
        Ok(Value::String(wfc_expr::interpolate(&self.render(template)?)))
    }

    /// `JsonPath`: the values an RFC 9535 path selects in the rendered input, as a list.
    pub fn json_path(&self, input: Template, path: &str) -> Result<Value, Failure> {
        let value = self.render(input)?;
        let path = serde_json_path::JsonPath::parse(path).map_err(|e| Failure::new(format!("`{path}` is not a JSONPath: {e}")))?;
        Ok(Value::Array(path.query(&value).all().into_iter().cloned().collect()))
    }

    /// `CounterAction`: adds `increment` to the blackboard key (0 when unset); the output is
    /// the new value. The key is btree's flat key, so `agent.steps` stays one key.
    pub fn counter(&self, key: &str, increment: f64) -> Result<Value, Failure> {
        let current = self.ctx.state(|w| w.flow().blackboard(key));
        let current = match &current {
            None | Some(Value::Null) => 0.0,
            Some(v) => v.as_f64().ok_or_else(|| Failure::new(format!("`{key}` holds {}, not a number", wfc_expr::type_name(v))))?,
        };
        let sum = current + increment;
        let value = if sum.fract() == 0.0 && sum.abs() < 9e15 { json!(sum as i64) } else { json!(sum) };
        self.ctx.state_mut(|w| w.flow_mut().set_variable(key, value.clone()));
        Ok(value)
    }

    /// `RegexExtract`: the `group` of the first match of `pattern` in the rendered input, also
    /// stored in `output_key`; no match fails the node.
    pub fn regex_extract(&self, input: Template, pattern: &str, group: usize, output_key: Option<&str>) -> Result<Value, Failure> {
        let text = wfc_expr::interpolate(&self.render(input)?);
        let regex = regex::Regex::new(pattern).map_err(|e| Failure::new(format!("`{pattern}` is not a regular expression: {e}")))?;
        let found = regex.captures(&text).and_then(|c| c.get(group)).map(|m| m.as_str().to_string());
        let found = found.ok_or_else(|| Failure::new(format!("`{pattern}` does not match")))?;
        if let Some(key) = output_key {
            self.ctx.state_mut(|w| w.flow_mut().set_variable(key, Value::String(found.clone())));
        }
        Ok(Value::String(found))
    }

    /// `SoftAssert`: a false condition (or failed child) is logged as a warning, never a
    /// failure. The output says whether it held.
    pub fn soft_assert(&self, node: &NodeInfo, held: Result<bool, Failure>) -> Result<Value, Failure> {
        let held = match held {
            Err(failure) if failure.cancelled => return Err(failure),
            Ok(true) => true,
            Ok(false) | Err(_) => false,
        };
        if !held && !self.ctx.is_replaying() {
            tracing::warn!(target: "wfc::flow", workflow = self.ctx.workflow_id(), "soft assertion `{}` did not hold", node.id);
        }
        Ok(json!({ "passed": held }))
    }

    /// A graph `Condition`: the first branch whose condition holds (a branch without one is the
    /// `else`). The output names the branch's handle.
    pub fn branch(&self, branches: &[(&str, Option<&str>)]) -> Result<Value, Failure> {
        for (handle, condition) in branches {
            let taken = match condition {
                Some(source) => self.condition(source)?,
                None => true,
            };
            if taken {
                return Ok(json!({ BRANCH: handle }));
            }
        }
        Ok(json!({ BRANCH: Value::Null }))
    }

    /// A graph `Switch` on a value: `case-<value>` when an edge has that case, else
    /// `case-default`.
    pub fn route(&self, source: &str, cases: &[&str]) -> Result<Value, Failure> {
        let value = case_label(self.eval(source)?);
        let handle = if cases.contains(&value.as_str()) { format!("case-{value}") } else { "case-default".to_string() };
        Ok(json!({ BRANCH: handle, "value": value }))
    }
}
