//! The syntax layer: YAML or JSON text into a tree of values that each know their span.
//!
//! JSON is read by the same YAML 1.2 parser (JSON is YAML 1.2), so both forms get identical spans
//! and diagnostics. This layer never fails: it returns what it could read plus every error.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{CharToByte, Span};

/// A value of the document, with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Value>),
    /// Entries in document order; keys are strings (other scalar keys are read as their text).
    Map(Vec<(Key, Value)>),
}

/// A mapping key with its own span.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Value)]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry of a map by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// Every string in the value (map keys aside), in document order.
    pub fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.kind {
            Kind::String(s) => out.push(s),
            Kind::Seq(items) => items.iter().for_each(|item| item.strings(out)),
            Kind::Map(entries) => entries.iter().for_each(|(_, value)| value.strings(out)),
            _ => {}
        }
    }

    /// A short description of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }

    /// The value as plain JSON (spans dropped), keeping map order.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            Kind::Null => J::Null,
            Kind::Bool(b) => J::Bool(*b),
            Kind::Int(i) => J::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Kind::String(s) => J::String(s.clone()),
            Kind::Seq(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Kind::Map(entries) => {
                J::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect())
            }
        }
    }
}

/// Parses a document. Returns the root value (if any) and every error found.
pub fn parse(text: &str) -> (Option<Value>, Vec<Diagnostic>) {
    let positions = CharToByte::new(text);
    let span_of = |s: &YamlSpan| Span::new(positions.byte(s.start.index()), positions.byte(s.end.index()));
    let mut builder = Builder::default();
    let mut diagnostics = Vec::new();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if let Err(d) = builder.event(event, span_of(&span)) {
                    diagnostics.push(d);
                }
            }
            Err(e) => {
                let at = positions.byte(e.marker().index());
                let span = Span::new(at, (at + 1).min(text.len()));
                diagnostics.push(
                    Diagnostic::error(Code::Syntax, span, format!("invalid YAML/JSON: {}", e.info()))
                        .label("here")
                        .help("check indentation, quotes and brackets around this position"),
                );
                return (None, diagnostics);
            }
        }
    }
    let root = builder.documents.into_iter().next();
    if root.is_none() && diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error(Code::Syntax, Span::new(0, text.len().min(1)), "the document is empty")
                .label("nothing here")
                .help("a flow starts with `name:` and `root:`, or is a single node with `type:`"),
        );
    }
    (root, diagnostics)
}

/// Builds values from parser events: a stack of open collections.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: Vec<(usize, Value)>,
    documents: Vec<Value>,
}

struct Open {
    value: Value,
    anchor: usize,
    /// For maps: the key waiting for its value.
    pending_key: Option<Pending>,
}

/// The key of a map entry whose value comes next.
enum Pending {
    Key(Key),
    /// A key already reported as an error: its value is read and dropped.
    Rejected,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = Value { kind: scalar(text, style, tag.is_some()), span };
                self.push(value, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Open { value: Value { kind: Kind::Seq(Vec::new()), span }, anchor, pending_key: None });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open { value: Value { kind: Kind::Map(Vec::new()), span }, anchor, pending_key: None });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return Ok(()) };
                let mut value = open.value;
                value.span = Span::new(value.span.start, span.end.max(value.span.start));
                self.push(value, open.anchor)
            }
            Event::Alias(id) => {
                let value = self.anchors.iter().rev().find(|(a, _)| *a == id).map(|(_, v)| v.clone());
                match value {
                    Some(mut v) => {
                        v.span = span;
                        self.push(v, 0)
                    }
                    None => Err(Diagnostic::error(Code::Syntax, span, "unknown YAML alias")
                        .label("no anchor with this name before here")
                        .help("define the anchor (`&name`) before using it (`*name`)")),
                }
            }
            _ => Ok(()),
        }
    }

    fn push(&mut self, value: Value, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.push((anchor, value.clone()));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.documents.push(value);
            return Ok(());
        };
        match &mut parent.value.kind {
            Kind::Seq(items) => items.push(value),
            Kind::Map(entries) => match parent.pending_key.take() {
                Some(Pending::Key(key)) => entries.push((key, value)),
                Some(Pending::Rejected) => {}
                None => {
                    let name = match &value.kind {
                        Kind::String(s) => s.clone(),
                        Kind::Int(i) => i.to_string(),
                        Kind::Float(f) => f.to_string(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Null => "null".to_string(),
                        Kind::Seq(_) | Kind::Map(_) => {
                            // Keep the slot so the value that follows is consumed, then report.
                            parent.pending_key = Some(Pending::Rejected);
                            return Err(Diagnostic::error(Code::Syntax, value.span, "a map key must be a plain value")
                                .label("complex key")
                                .help("use a string key"));
                        }
                    };
                    if entries.iter().any(|(k, _)| k.name == name) {
                        parent.pending_key = Some(Pending::Rejected);
                        return Err(Diagnostic::error(Code::DuplicateKey, value.span, format!("duplicate key `{name}`"))
                            .label("this key is already set above")
                            .help("remove one of the two entries"));
                    }
                    parent.pending_key = Some(Pending::Key(Key { name, span: value.span }));
                }
            },
            _ => {}
        }
        Ok(())
    }
}

/// Resolves a scalar per the YAML 1.2 core schema; quoted and tagged scalars stay strings.
fn scalar(text: Cow<'_, str>, style: ScalarStyle, tagged: bool) -> Kind {
    if style != ScalarStyle::Plain || tagged {
        return Kind::String(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        t => {
            if let Ok(i) = t.parse::<i64>() {
                Kind::Int(i)
            } else if let Some(i) = t.strip_prefix("0x").and_then(|h| i64::from_str_radix(h, 16).ok()) {
                Kind::Int(i)
            } else if let Some(i) = t.strip_prefix("0o").and_then(|o| i64::from_str_radix(o, 8).ok()) {
                Kind::Int(i)
            } else if looks_like_float(t) {
                t.parse::<f64>().map_or_else(|_| Kind::String(t.to_string()), Kind::Float)
            } else {
                match t {
                    ".inf" | ".Inf" | ".INF" | "+.inf" => Kind::Float(f64::INFINITY),
                    "-.inf" | "-.Inf" | "-.INF" => Kind::Float(f64::NEG_INFINITY),
                    _ => Kind::String(t.to_string()),
                }
            }
        }
    }
}

/// YAML 1.2 core floats: `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn looks_like_float(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => (int.is_empty() && digits(frac)) || (digits(int) && (frac.is_empty() || digits(frac))),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}
