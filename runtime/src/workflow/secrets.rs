//! Secrets: `env.*` templates travel to the activity unresolved and are resolved on the worker.
//!
//! In the workflow, every string of an activity's configuration that reads `env` is replaced by
//! `null` and described by a [`Deferred`]: its JSON pointer and its parts, where workflow data is
//! already rendered to text and `env` expressions are kept as source. Which strings are deferred
//! follows from the flow's templates, never from data, so a value that merely looks like a
//! template (say, user input containing `{{ env.TOKEN }}`) is never resolved.

use serde_json::Value;
use wfc_expr::{Scope, Segment};

use crate::values::{Deferred, Failure, Part, Template};

/// Renders a configuration in the workflow, deferring every string that reads `env`.
pub fn render_deferring(template: Template, scope: &dyn Scope) -> Result<(Value, Vec<Deferred>), Failure> {
    let mut deferred = Vec::new();
    let rendered = walk(template, scope, String::new(), &mut deferred)?;
    Ok((rendered, deferred))
}

fn walk(template: Template, scope: &dyn Scope, pointer: String, deferred: &mut Vec<Deferred>) -> Result<Value, Failure> {
    Ok(match template {
        Template::Text(text) => {
            let template = wfc_expr::Template::parse(text).map_err(|e| Failure::new(e.message))?;
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
        Template::List(items) => Value::Array(items.iter().enumerate().map(|(i, item)| walk(*item, scope, format!("{pointer}/{i}"), deferred)).collect::<Result<_, _>>()?),
        Template::Map(entries) => {
            Value::Object(entries.iter().map(|(k, v)| Ok(((*k).to_string(), walk(*v, scope, format!("{pointer}/{}", escape(k)), deferred)?))).collect::<Result<_, Failure>>()?)
        }
        scalar => scalar.render(scope)?,
    })
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::secrets::resolve;
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
        let config = Template::Map(&[
            ("headers", Template::Map(&[("Authorization", Template::Text("Bearer {{ env.TOKEN }}")), ("X-Note", Template::Text("{{ input.note }}"))])),
            ("url", Template::Text("{{ input.base }}/v1?key={{ env.KEY }}")),
        ]);
        let (rendered, deferred) = render_deferring(config, &data).unwrap();
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
        let config = Template::Map(&[("a", Template::Text("{{ env.KEY }}")), ("b", Template::Text("{{ string(env) }}")), ("c", Template::Text("{{ has(env.TEMPORAL_API_KEY) }}"))]);
        let (rendered, deferred) = render_deferring(config, &Data(json!({}))).unwrap();
        let only_a = Deferred { pointer: "/a".into(), parts: deferred[0].parts.clone() };
        assert_eq!(resolve(rendered.clone(), &[only_a], &env).unwrap()["a"], json!("k1"));
        let whole = resolve(rendered.clone(), &deferred[1..2], &env).unwrap_err();
        assert!(!format!("{whole:?}").contains("cloud-secret"));
        assert_eq!(resolve(rendered, &deferred[2..3], &env).unwrap()["c"], json!("true"));
    }
}
