//! Completing the `env` parts of a built-in's configuration inside the activity (see
//! `workflow::secrets` for how they are deferred): each expression sees only the variables it
//! names, read from the worker's environment.

use serde_json::Value;
use wfc_expr::Scope;

use crate::values::{Deferred, Failure, Part};

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
