//! jq, for the Serverless Workflow form's `${ }` runtime expressions, through the `jaq` crates.
//!
//! An expression is parsed and compiled by `wfc check` (a syntax error or an unknown function or
//! variable is a located error) and again, once per process, by the worker that evaluates it.
//! Workflow code replays, so what jq would read from the host is not available: the clock
//! (`now`, `localtime`, `strflocaltime`), the environment (`env`, `$ENV`), `halt` (it exits the
//! process) and imports. Evaluation is bounded like CEL's: the text by [`crate::bounds`], the
//! stack by `stacker`.

use jaq_core::compile::Undefined;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::native::Fun;
use jaq_core::{Compiler, Ctx, Filter, Vars, data::JustLut};
use jaq_json::Val;
use serde::Deserialize as _;
use serde_json::Value;

use crate::SyntaxError;

type Data = JustLut<Val>;

/// A compiled jq filter and the `$` names it was compiled with, in order.
pub struct Jq {
    filter: Filter<Data>,
    globals: Vec<String>,
    size: crate::bounds::Size,
}

/// Natives that read the host (clock, time zone, environment) or end the process.
const DENIED_FUNS: &[&str] = &["now", "localtime", "strflocaltime", "env", "halt", "input", "inputs"];
/// Definitions of the prelude that call a denied native.
const DENIED_DEFS: &[&str] = &["halt", "halt_error", "todate", "dateadd", "datesub", "date"];

fn defs() -> impl Iterator<Item = load::parse::Def<&'static str>> {
    jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs()).filter(|d| !DENIED_DEFS.contains(&d.name))
}

fn funs() -> impl Iterator<Item = Fun<Data>> {
    jaq_core::funs::<Data>().chain(jaq_std::funs::<Data>()).chain(jaq_json::funs::<Data>()).filter(|(name, _, _)| !DENIED_FUNS.contains(name))
}

/// The error at `part`, a slice of `code` (pointer arithmetic, as jaq reports positions); the
/// whole text when `part` lies elsewhere (the prelude).
fn at(code: &str, part: &str, message: String) -> SyntaxError {
    let (c, p) = (code.as_ptr() as usize, part.as_ptr() as usize);
    if p >= c && p + part.len() <= c + code.len() {
        SyntaxError { offset: p - c, len: part.len().max(1), message }
    } else {
        SyntaxError { offset: 0, len: code.len().max(1), message }
    }
}

fn load_errors(code: &str, errors: load::Errors<&str, ()>) -> Vec<SyntaxError> {
    let mut out = Vec::new();
    for (_, error) in errors {
        match error {
            load::Error::Io(es) => out.extend(es.into_iter().map(|(path, message)| at(code, path, message))),
            load::Error::Lex(es) => out.extend(es.into_iter().map(|(expect, found)| {
                // `found` is the rest of the text: point at its first character.
                let first = &found[..found.char_indices().nth(1).map_or(found.len(), |(i, _)| i)];
                at(code, first, format!("jq: expected {}", expect.as_str()))
            })),
            load::Error::Parse(es) => out.extend(es.into_iter().map(|(expect, found)| {
                let first = &found[..found.char_indices().nth(1).map_or(found.len(), |(i, _)| i)];
                at(code, first, format!("jq: expected {}", expect.as_str()))
            })),
        }
    }
    out
}

/// The names a program reads as `$secrets.NAME`: the environment variables that `wfc check`
/// checks against `use.secrets` and the activity alone reads.
pub fn secret_names(source: &str) -> Vec<&str> {
    source
        .match_indices("$secrets.")
        .map(|(at, found)| {
            let rest = &source[at + found.len()..];
            &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]
        })
        .collect()
}

/// Parses and compiles `code` (the text inside `${ }`), with `globals` (such as `$input`) the
/// only variables in scope. Errors carry byte offsets into `code`.
pub fn compile(code: &str, globals: &[&str]) -> Result<Jq, Vec<SyntaxError>> {
    let size = crate::bounds::Size::of(code).map_err(|e| vec![e])?;
    // jaq evaluates a recursive definition without a bound on the stack it takes.
    if let Some(at) = code.match_indices("def").find(|(i, _)| {
        let before = code[..*i].chars().next_back();
        let after = code[i + 3..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') && after.is_some_and(char::is_whitespace)
    }) {
        return Err(vec![SyntaxError { offset: at.0, len: 3, message: "jq: definitions (`def`) are not available in workflow expressions".into() }]);
    }
    // jaq's lexer and parser recurse; the bounds keep the depth within the grown stack. Its
    // error reporting has a `panic!` arm for tokens the lexer never produces: contained, so
    // no text can take the checker down.
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| size.on_stack(|| compile_bounded(code, globals, size))));
    compiled.unwrap_or_else(|_| Err(vec![SyntaxError { offset: 0, len: code.len().max(1), message: "jq: this expression could not be read".into() }]))
}

fn compile_bounded(code: &str, globals: &[&str], size: crate::bounds::Size) -> Result<Jq, Vec<SyntaxError>> {
    let arena = Arena::default();
    let modules = Loader::new(defs()).load(&arena, File { code, path: () }).map_err(|e| load_errors(code, e))?;
    // A data import would compile into a variable bound to a file's contents.
    load::import(&modules, |_| Err("imports are not available in workflow expressions".into())).map_err(|e| load_errors(code, e))?;
    let filter = Compiler::default().with_funs(funs()).with_global_vars(globals.iter().copied()).compile(modules).map_err(|errors| {
        errors
            .into_iter()
            .flat_map(|(_, undefined)| undefined)
            .map(|(name, what)| match what {
                Undefined::Filter(arity) => at(code, name, format!("jq: no function `{name}/{arity}`")),
                Undefined::Var => at(code, name, format!("jq: `{name}` is not available here")),
                other => at(code, name, format!("jq: undefined {} `{name}`", other.as_str())),
            })
            .collect::<Vec<_>>()
    })?;
    Ok(Jq { filter, globals: globals.iter().map(|g| g.to_string()).collect(), size })
}

impl Jq {
    /// Runs the filter on `input`, with `vars` for the globals it was compiled with (a missing
    /// one is `null`); every output it yields, or the first error.
    pub fn run(&self, input: &Value, vars: &[(&str, &Value)]) -> Result<Vec<Value>, String> {
        let val = |v: &Value| Val::deserialize(v).map_err(|e| e.to_string());
        let values = self.globals.iter().map(|name| vars.iter().find(|(n, _)| n == name).map_or(Ok(Val::Null), |(_, v)| val(v))).collect::<Result<Vec<_>, _>>()?;
        let input = val(input)?;
        self.size.on_stack(|| {
            let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new(values));
            // Never `jaq_core::unwrap_valr`: it exits the process on `halt`.
            self.filter.id.run((ctx, input)).map(|out| out.map_err(error_text).and_then(to_json)).collect()
        })
    }
}

/// A jq error as text: `error("boom")` reads `boom`, another value its JSON.
fn error_text(exn: jaq_core::Exn<'_, Val>) -> String {
    let text = exn.get_err().map_or_else(|_| "halt".to_string(), |e| e.to_string());
    serde_json::from_str::<String>(&text).unwrap_or(text)
}

fn to_json(value: Val) -> Result<Value, String> {
    Ok(match value {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(b),
        // jq prints NaN and infinities as null.
        Val::Num(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
        Val::TStr(s) => Value::String(String::from_utf8_lossy(&s).into_owned()),
        Val::BStr(_) => return Err("a byte string is not JSON".into()),
        Val::Arr(items) => Value::Array(items.iter().cloned().map(to_json).collect::<Result<_, _>>()?),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match k {
                    Val::TStr(k) => Ok((String::from_utf8_lossy(k).into_owned(), to_json(v.clone())?)),
                    _ => Err("an object key that is not a string".to_string()),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_expression_runs_on_its_input_with_its_variables() {
        let jq = compile("{ ids: [ $input, .id ], greeting: \"Hello \\(.name)!\" }", &["$input"]).unwrap();
        let out = jq.run(&json!({"id": 2, "name": "Ada"}), &[("$input", &json!(1))]).unwrap();
        assert_eq!(out, vec![json!({"ids": [1, 2], "greeting": "Hello Ada!"})]);
        let many = compile(".colors[] | ascii_upcase", &[]).unwrap().run(&json!({"colors": ["red", "green"]}), &[]).unwrap();
        assert_eq!(many, vec![json!("RED"), json!("GREEN")]);
    }

    #[test]
    fn errors_point_into_the_expression() {
        let errors = compile(".a | $secret", &["$input"]).err().unwrap();
        assert_eq!((errors[0].offset, errors[0].len), (5, 7), "{:?}", errors[0].message);
        let errors = compile(".a | nosuch(1)", &[]).err().unwrap();
        assert!(errors[0].message.contains("nosuch/1") && errors[0].offset == 5, "{:?}", errors[0]);
        let errors = compile(".a | (", &[]).err().unwrap();
        assert!(errors[0].message.starts_with("jq: expected"), "{:?}", errors[0]);
    }

    #[test]
    fn what_reads_the_host_is_not_there() {
        for code in ["now", "env", "$ENV", "halt", "input", "localtime", "import \"f\" as $x; .", "def f: 1 + f; f"] {
            assert!(compile(code, &[]).is_err(), "{code} compiles");
        }
        assert_eq!(compile("error(\"boom\")", &[]).unwrap().run(&json!(null), &[]).unwrap_err(), "boom");
    }
}
