//! Typed access to a map's fields: each accessor checks one value's shape and reports its own
//! located error, so a caller that gets `None` has nothing left to say.

use super::{Lowerer, TEMPORAL_MAX_NAME, temporal_name_problem};
use crate::diagnostic::{Code, Diagnostic, closest, one_of};
use crate::source::Span;
use crate::syntax::{Key, Kind, Value, printable};

impl Lowerer<'_> {
    /// Reports keys of a map outside `known`; false when the value is not a map at all.
    pub(super) fn known_fields(&mut self, value: &Value, known: &[&str], what: &str) -> bool {
        let Some(entries) = self.expect_map(value) else { return false };
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                self.unknown_field(key, known, what);
            }
        }
        true
    }

    pub(super) fn unknown_field(&mut self, key: &Key, known: &[&str], what: &str) {
        let near = closest(&key.name, known.iter().copied());
        let help = if near.is_empty() {
            if known.is_empty() { format!("{what} takes no fields") } else { format!("{what} takes {}", one_of(known)) }
        } else {
            format!("did you mean {}?", one_of(&near))
        };
        self.error(Diagnostic::error(Code::UnknownField, key.span, format!("unknown field `{}` in {what}", key.name)).label("unknown field").help(help));
    }

    pub(super) fn required<'v>(&mut self, map: &'v Value, key: &str, fallback: Span) -> Option<&'v Value> {
        let found = map.get(key);
        if found.is_none() {
            let span = if map.as_map().is_some_and(|m| !m.is_empty()) { map.span } else { fallback };
            self.error(
                Diagnostic::error(Code::MissingField, span, format!("missing required field `{key}`")).label(format!("`{key}` is missing here")).help(format!("add `{key}:`")),
            );
        }
        found
    }

    pub(super) fn expect_map<'v>(&mut self, value: &'v Value) -> Option<&'v [(Key, Value)]> {
        let map = value.as_map();
        if map.is_none() {
            self.wrong_type(value, "a map");
        }
        map
    }

    pub(super) fn expect_seq<'v>(&mut self, value: &'v Value) -> Option<&'v [Value]> {
        let seq = value.as_seq();
        if seq.is_none() {
            self.wrong_type(value, "a list");
        }
        seq
    }

    pub(super) fn string(&mut self, value: &Value) -> Option<String> {
        let s = value.as_str().map(str::to_string);
        if s.is_none() {
            self.wrong_type(value, "a string");
        }
        s
    }

    pub(super) fn boolean(&mut self, value: &Value) -> Option<bool> {
        let Kind::Bool(b) = value.kind else {
            self.wrong_type(value, "`true` or `false`");
            return None;
        };
        Some(b)
    }

    pub(super) fn uint(&mut self, value: &Value, min: u64, max: u64) -> Option<u64> {
        let Kind::Int(i) = value.kind else {
            self.wrong_type(value, "an integer");
            return None;
        };
        match u64::try_from(i) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, value.span, format!("{i} is out of range")).label("out of range").help(format!("use a whole number from {min} to {max}")),
                );
                None
            }
        }
    }

    pub(super) fn number(&mut self, value: &Value, min: f64, max: f64) -> Option<f64> {
        let n = match value.kind {
            Kind::Int(i) => i as f64,
            Kind::Float(f) => f,
            _ => {
                self.wrong_type(value, "a number");
                return None;
            }
        };
        if !(min..=max).contains(&n) {
            self.error(Diagnostic::error(Code::InvalidValue, value.span, format!("{n} is out of range")).label("out of range").help(format!("use a number from {min} to {max}")));
            return None;
        }
        Some(n)
    }

    /// A name Temporal keeps (a task queue): see [`temporal_name_problem`].
    pub(super) fn temporal_name(&mut self, value: &Value, what: &str) -> Option<String> {
        let name = self.string(value)?;
        let Some(problem) = temporal_name_problem(&name) else { return Some(name) };
        self.error(
            Diagnostic::error(Code::InvalidValue, value.span, format!("{what} {problem}"))
                .label("not a name Temporal accepts")
                .help(format!("use printable text of 1 to {TEMPORAL_MAX_NAME} characters")),
        );
        None
    }

    /// A signal name: a Temporal name, and not one of the built-in signals.
    pub(super) fn signal_name(&mut self, name: &str, span: Span) {
        let problem = match name {
            "pause" | "resume" => format!("`{name}` is a built-in signal of every wfc workflow"),
            _ => match temporal_name_problem(name) {
                Some(problem) => format!("a signal name {problem}"),
                None => return,
            },
        };
        self.error(
            Diagnostic::error(Code::InvalidName, span, problem)
                .label("not a signal name")
                .help("name the signal after what it carries, e.g. `approval`; `pause` and `resume` are built in"),
        );
    }

    /// Checks a literal value against a JSON Schema the flow declares, naming each field that
    /// does not conform. A value with templates is checked where it is rendered, at run time.
    pub(super) fn conforms(&mut self, value: &Value, schema: &Value, what: &str, against: &str) {
        let mut strings = Vec::new();
        value.strings(&mut strings);
        if strings.iter().any(|s| s.contains("{{")) {
            return;
        }
        let Ok(validator) = jsonschema::validator_for(&schema.to_json()) else { return };
        let errors: Vec<String> = validator
            .iter_errors(&value.to_json())
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                let message = printable(&e.to_string());
                if at.is_empty() { message } else { format!("at `{at}`: {message}") }
            })
            .collect();
        if !errors.is_empty() {
            self.error(
                Diagnostic::error(Code::TypeMismatch, value.span, format!("{what} does not match {against}: {}", errors.join("; ")))
                    .label("does not match the schema")
                    .related(schema.span, "the schema")
                    .help("change the value, or the schema, so that they agree"),
            );
        }
    }

    /// btree's durations in milliseconds (`delayMs`, `timeoutMs`, `waitMs`).
    pub(super) fn millis(&mut self, value: &Value) -> Option<u64> {
        let ms = self.uint(value, 0, u64::MAX)?;
        match crate::duration::in_range(ms) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.error(
                    Diagnostic::error(Code::InvalidDuration, value.span, format!("{ms}ms {e}"))
                        .label("invalid duration")
                        .help(format!("use a number of milliseconds from 1 to {}", crate::duration::MAX_MS)),
                );
                None
            }
        }
    }

    pub(super) fn duration(&mut self, value: &Value) -> Option<u64> {
        let Some(text) = value.as_str() else {
            let help = match value.kind {
                Kind::Int(i) => format!("write the unit, e.g. `{i}s` or `{i}ms`"),
                _ => "write a duration such as `500ms`, `30s`, `5 minutes` or `7 days`".to_string(),
            };
            self.error(Diagnostic::error(Code::InvalidDuration, value.span, format!("expected a duration, found {}", value.type_name())).label("not a duration").help(help));
            return None;
        };
        match crate::duration::parse(text) {
            Ok(ms) => Some(ms),
            Err(message) => {
                self.error(
                    Diagnostic::error(Code::InvalidDuration, value.span, message)
                        .label("invalid duration")
                        .help("write a number and a unit, e.g. `500ms`, `30s`, `5 minutes`, `24 hours`, `7 days`"),
                );
                None
            }
        }
    }

    pub(super) fn wrong_type(&mut self, value: &Value, expected: &str) {
        self.error(
            Diagnostic::error(Code::WrongType, value.span, format!("expected {expected}, found {}", value.type_name()))
                .label(format!("expected {expected}"))
                .help(format!("write {expected} here")),
        );
    }
}
