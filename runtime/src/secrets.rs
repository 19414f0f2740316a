//! Secrets: `env.*` templates travel to the activity unresolved and are resolved on the worker.
//!
//! In the workflow, every string of an activity's configuration that reads `env` is replaced by
//! `null` and described by a [`Deferred`]: its JSON pointer and its parts, where workflow data is
//! already rendered to text and `env` expressions are kept as source. Which strings are deferred
//! follows from the flow's templates, never from data, so a value that merely looks like a
//! template (say, user input containing `{{ env.TOKEN }}`) is never resolved.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wfc_expr::{Scope, Segment, Template};

use crate::flow::Failure;

/// A string of an activity configuration that is completed inside the activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    /// RFC 6901 pointer to the string in the configuration.
    pub pointer: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Text, already rendered in the workflow.
    Text(String),
    /// An expression reading `env`, evaluated inside the activity.
    Env(String),
}

/// Renders a configuration in the workflow, deferring every string that reads `env`.
pub fn render_deferring(value: &Value, scope: &dyn Scope) -> Result<(Value, Vec<Deferred>), Failure> {
    let mut deferred = Vec::new();
    let rendered = walk(value, scope, String::new(), &mut deferred)?;
    Ok((rendered, deferred))
}

fn walk(value: &Value, scope: &dyn Scope, pointer: String, deferred: &mut Vec<Deferred>) -> Result<Value, Failure> {
    Ok(match value {
        Value::String(text) => {
            let template = Template::parse(text).map_err(|e| Failure::new(e.message))?;
            let reads_env = template.exprs().any(|e| wfc_expr::parse_expr(e.source).is_ok_and(|r| r.variables.iter().any(|v| v == "env")));
            if !reads_env {
                return wfc_expr::render(text, scope).map_err(Failure::from);
            }
            let mut parts = Vec::new();
            for segment in &template.segments {
                match segment {
                    Segment::Text(t) => parts.push(Part::Text((*t).to_string())),
                    Segment::Expr(e) => {
                        let env = wfc_expr::parse_expr(e.source).is_ok_and(|r| r.variables.iter().any(|v| v == "env"));
                        if env {
                            parts.push(Part::Env(e.source.to_string()));
                        } else {
                            parts.push(Part::Text(wfc_expr::interpolate(&wfc_expr::eval(e.source, scope)?)));
                        }
                    }
                }
            }
            deferred.push(Deferred { pointer, parts });
            Value::Null
        }
        Value::Array(items) => Value::Array(items.iter().enumerate().map(|(i, item)| walk(item, scope, format!("{pointer}/{i}"), deferred)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), walk(v, scope, format!("{pointer}/{}", escape(k)), deferred)?))).collect::<Result<_, Failure>>()?)
        }
        other => other.clone(),
    })
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Completes a configuration inside the activity, reading `env` from the worker's environment.
/// Each expression sees only the variables it names (`env.NAME`), never the whole environment.
pub fn resolve(mut config: Value, deferred: &[Deferred], env: &dyn Scope) -> Result<Value, Failure> {
    for item in deferred {
        let mut text = String::new();
        for part in &item.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Env(source) => {
                    let selected = Selected::new(source, env)?;
                    text.push_str(&wfc_expr::interpolate(&wfc_expr::eval(source, &selected)?));
                }
            }
        }
        let slot = config.pointer_mut(&item.pointer).ok_or_else(|| Failure::new(format!("configuration has no value at {}", item.pointer)))?;
        *slot = Value::String(text);
    }
    Ok(config)
}

/// The variables one expression names, and only those, as its `env`.
struct Selected(Value);

impl Selected {
    fn new(source: &str, env: &dyn Scope) -> Result<Self, Failure> {
        let references = wfc_expr::parse_expr(source).map_err(|e| Failure::new(e.message))?;
        if references.env_whole {
            return Err(Failure::new(format!("`{source}` reads `env` as a whole; read each variable as `env.NAME`")));
        }
        let all = env.lookup("env").unwrap_or_default();
        let named = references.env.iter().filter_map(|name| Some((name.clone(), all.get(name)?.clone()))).collect();
        Ok(Selected(Value::Object(named)))
    }
}

impl Scope for Selected {
    fn lookup(&self, name: &str) -> Option<Value> {
        (name == "env").then(|| self.0.clone())
    }
}

/// The worker's environment as the `env` name of expressions. [`resolve`] hands each expression
/// only the variables it names.
pub struct ProcessEnv;

impl Scope for ProcessEnv {
    fn lookup(&self, name: &str) -> Option<Value> {
        (name == "env").then(|| Value::Object(std::env::vars().map(|(k, v)| (k, Value::String(v))).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Data(Value);
    impl Scope for Data {
        fn lookup(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn env_strings_are_deferred_and_data_is_never_resolved_as_a_template() {
        let data = Data(json!({"input": {"base": "https://x", "note": "{{ env.SECRET }}"}}));
        let config = json!({
            "url": "{{ input.base }}/v1?key={{ env.KEY }}",
            "headers": {"Authorization": "Bearer {{ env.TOKEN }}", "X-Note": "{{ input.note }}"},
        });
        let (rendered, deferred) = render_deferring(&config, &data).unwrap();
        assert_eq!(rendered["url"], Value::Null);
        assert_eq!(rendered["headers"]["X-Note"], json!("{{ env.SECRET }}"));
        assert_eq!(deferred.len(), 2);
        let env = Data(json!({"env": {"KEY": "k1", "TOKEN": "t1", "SECRET": "leaked"}}));
        let resolved = resolve(rendered, &deferred, &env).unwrap();
        assert_eq!(resolved["url"], json!("https://x/v1?key=k1"));
        assert_eq!(resolved["headers"]["Authorization"], json!("Bearer t1"));
        assert_eq!(resolved["headers"]["X-Note"], json!("{{ env.SECRET }}"));
        assert!(!serde_json::to_string(&deferred).unwrap().contains("t1"));
    }

    #[test]
    fn an_expression_sees_only_the_variables_it_names() {
        let env = Data(json!({"env": {"KEY": "k1", "TEMPORAL_API_KEY": "cloud-secret"}}));
        let config = json!({"a": "{{ env.KEY }}", "b": "{{ string(env) }}", "c": "{{ has(env.TEMPORAL_API_KEY) }}"});
        let (rendered, deferred) = render_deferring(&config, &Data(json!({}))).unwrap();
        let only_a = Deferred { pointer: "/a".into(), parts: deferred[0].parts.clone() };
        assert_eq!(resolve(rendered.clone(), &[only_a], &env).unwrap()["a"], json!("k1"));
        let whole = resolve(rendered.clone(), &deferred[1..2], &env).unwrap_err();
        assert!(!format!("{whole:?}").contains("cloud-secret"));
        assert_eq!(resolve(rendered, &deferred[2..3], &env).unwrap()["c"], json!("true"));
    }
}
