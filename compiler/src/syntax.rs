//! The syntax layer: YAML or JSON text into a tree of values that each know their span.
//!
//! JSON is read by the same YAML 1.2 parser (JSON is YAML 1.2), so both forms get identical spans
//! and diagnostics. This layer never fails: it returns what it could read plus every error.

use std::borrow::Cow;
use std::collections::HashSet;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, Tag};

use crate::diagnostic::{Code, Diagnostic, one_of};
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

    /// How many values this one holds, itself included (what a YAML alias of it copies).
    pub fn size(&self) -> usize {
        1 + match &self.kind {
            Kind::Seq(items) => items.iter().map(Value::size).sum(),
            Kind::Map(entries) => entries.iter().map(|(_, v)| v.size()).sum(),
            _ => 0,
        }
    }

    /// How many collections deep the value nests (a scalar is 0).
    pub fn depth(&self) -> usize {
        match &self.kind {
            Kind::Seq(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Kind::Map(entries) => 1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
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
            Kind::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()),
        }
    }
}

/// How deeply collections may nest. Every later pass (and the compiler's own stack) is bounded
/// by this: a tree of about 60 composites fits, a hostile document of thousands does not.
pub const MAX_DEPTH: usize = 128;

/// How many values aliases may copy in all. Each `*alias` copies its anchor, so a few hundred
/// bytes of nested aliases (a "billion laughs") would otherwise expand without bound.
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// Parses a document. Returns the root value (if any) and every error found.
pub fn parse(text: &str) -> (Option<Value>, Vec<Diagnostic>) {
    let positions = CharToByte::new(text);
    let span_of = |s: &YamlSpan| Span::new(positions.byte(s.start.index()), positions.byte(s.end.index()));
    let mut builder = Builder::default();
    let mut diagnostics = Vec::new();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                let stop = builder.event(event, span_of(&span));
                diagnostics.append(&mut builder.reported);
                match stop {
                    Ok(()) => {}
                    Err(Stop::Continue(d)) => diagnostics.push(d),
                    Err(Stop::Abort(d)) => {
                        diagnostics.push(d);
                        return (None, diagnostics);
                    }
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

/// Why an event was refused: an error after which reading goes on, or one that ends it (the
/// document is too deep or too large to read safely).
enum Stop {
    Continue(Diagnostic),
    Abort(Diagnostic),
}

impl From<Diagnostic> for Stop {
    fn from(d: Diagnostic) -> Self {
        Stop::Continue(d)
    }
}

/// Builds values from parser events: a stack of open collections.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    /// Anchored values, latest last.
    anchors: Vec<Anchor>,
    /// Values copied by aliases so far.
    expanded: usize,
    documents: Vec<Value>,
    /// Documents started; a file holds one flow.
    started: usize,
    /// Errors found while reading on.
    reported: Vec<Diagnostic>,
}

/// An anchored value, and what an alias of it copies: its size in values and its depth.
struct Anchor {
    id: usize,
    value: Value,
    size: usize,
    depth: usize,
}

struct Open {
    value: Value,
    anchor: usize,
    /// For maps: the key waiting for its value.
    pending_key: Option<Pending>,
    /// For maps: the keys set so far, so a duplicate is found in constant time.
    keys: HashSet<String>,
}

impl Open {
    fn new(kind: Kind, span: Span, anchor: usize) -> Self {
        Open { value: Value { kind, span }, anchor, pending_key: None, keys: HashSet::new() }
    }
}

/// The key of a map entry whose value comes next.
enum Pending {
    Key(Key),
    /// A key already reported as an error: its value is read and dropped.
    Rejected,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Stop> {
        match event {
            Event::DocumentStart(_) => {
                self.started += 1;
                if self.started > 1 {
                    return Err(Stop::Abort(
                        Diagnostic::error(Code::Syntax, span, "a second YAML document: a file holds one flow")
                            .label("a new document starts here")
                            .help("remove the `---` and what follows it, or put the second flow in a file of its own"),
                    ));
                }
                Ok(())
            }
            // A refused tag or number is reported and read as `null`, so the structure around it
            // is still read and checked.
            Event::Scalar(text, style, anchor, tag) => {
                let kind = match check_tag(tag.as_deref(), span, &["str", "int", "float", "bool", "null"]) {
                    Err(d) => {
                        self.reported.push(d);
                        Kind::Null
                    }
                    Ok(()) => scalar(text, style, tag.as_deref()).unwrap_or_else(|(message, help)| {
                        self.reported.push(Diagnostic::error(Code::InvalidValue, span, message).label("not a value JSON can hold").help(help));
                        Kind::Null
                    }),
                };
                self.push(Value { kind, span }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                if let Err(d) = check_tag(tag.as_deref(), span, &["seq"]) {
                    self.reported.push(d);
                }
                self.open(Open::new(Kind::Seq(Vec::new()), span, anchor))
            }
            Event::MappingStart(anchor, tag) => {
                if let Err(d) = check_tag(tag.as_deref(), span, &["map"]) {
                    self.reported.push(d);
                }
                self.open(Open::new(Kind::Map(Vec::new()), span, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return Ok(()) };
                let mut value = open.value;
                value.span = Span::new(value.span.start, span.end.max(value.span.start));
                self.push(value, open.anchor)
            }
            Event::Alias(id) => {
                let Some(&Anchor { ref value, size, depth, .. }) = self.anchors.iter().rev().find(|a| a.id == id) else {
                    return Err(Diagnostic::error(Code::Syntax, span, "unknown YAML alias")
                        .label("no anchor with this name before here")
                        .help("define the anchor (`&name`) before using it (`*name`)")
                        .into());
                };
                self.expanded += size;
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(Stop::Abort(
                        Diagnostic::error(Code::Syntax, span, format!("YAML aliases copy more than {MAX_ALIAS_EXPANSION} values"))
                            .label("this alias passes the limit")
                            .help("each `*alias` copies its anchor; nested aliases multiply: write the values out, or reuse less"),
                    ));
                }
                if self.stack.len() + depth > MAX_DEPTH {
                    return Err(Stop::Abort(too_deep(span)));
                }
                let mut value = value.clone();
                value.span = span;
                self.push(value, 0)
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, open: Open) -> Result<(), Stop> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Stop::Abort(too_deep(open.value.span)));
        }
        self.stack.push(open);
        Ok(())
    }

    fn push(&mut self, value: Value, anchor: usize) -> Result<(), Stop> {
        if anchor != 0 {
            self.anchors.push(Anchor { id: anchor, size: value.size(), depth: value.depth(), value: value.clone() });
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
                            return Err(Diagnostic::error(Code::Syntax, value.span, "a map key must be a plain value").label("complex key").help("use a string key").into());
                        }
                    };
                    if !parent.keys.insert(name.clone()) {
                        parent.pending_key = Some(Pending::Rejected);
                        return Err(Diagnostic::error(Code::DuplicateKey, value.span, format!("duplicate key `{name}`"))
                            .label("this key is already set above")
                            .help("remove one of the two entries")
                            .into());
                    }
                    parent.pending_key = Some(Pending::Key(Key { name, span: value.span }));
                }
            },
            _ => {}
        }
        Ok(())
    }
}

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error(Code::Syntax, span, format!("the document nests deeper than {MAX_DEPTH} levels"))
        .label("too deep")
        .help("flatten the structure: a flow this deep cannot be read safely (split it into sub-workflows)")
}

/// Refuses a tag other than the core schema's `allowed` ones (`!!str` and friends): any other
/// tag would be dropped without a word, and wfc documents have no use for one.
fn check_tag(tag: Option<&Tag>, span: Span, allowed: &[&str]) -> Result<(), Diagnostic> {
    let Some(tag) = tag else { return Ok(()) };
    if tag.is_yaml_core_schema() && allowed.contains(&tag.suffix.as_str()) {
        return Ok(());
    }
    let allowed: Vec<String> = allowed.iter().map(|a| format!("!!{a}")).collect();
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    Err(Diagnostic::error(Code::Syntax, span, format!("unsupported YAML tag `{}`", printable(&tag.to_string()))).label("this tag would be ignored").help(format!(
        "remove the tag; here only {} {} understood",
        one_of(&allowed),
        if allowed.len() == 1 { "is" } else { "are" }
    )))
}

/// Resolves a scalar per the YAML 1.2 core schema; quoted scalars and `!!str` stay strings. A
/// number that JSON cannot hold (beyond 64 bits, infinite, NaN) is an error, never a `null`.
fn scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Result<Kind, (String, &'static str)> {
    const QUOTE: &str = "JSON numbers are 64-bit: quote the value to keep it as text";
    let tagged = tag.map(|t| t.suffix.as_str());
    if style != ScalarStyle::Plain && tagged.is_none() || tagged == Some("str") {
        return Ok(Kind::String(text.into_owned()));
    }
    let kind = match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "true" | "True" | "TRUE" => Kind::Bool(true),
        "false" | "False" | "FALSE" => Kind::Bool(false),
        t => {
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if let Ok(i) = t.parse::<i64>() {
                Kind::Int(i)
            } else if let Some(i) = t.strip_prefix("0x").and_then(|h| i64::from_str_radix(h, 16).ok()) {
                Kind::Int(i)
            } else if let Some(i) = t.strip_prefix("0o").and_then(|o| i64::from_str_radix(o, 8).ok()) {
                Kind::Int(i)
            } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) || is_radix(t) {
                return Err((format!("the integer `{}` is beyond the 64-bit range", printable(t)), QUOTE));
            } else if looks_like_float(t) {
                match t.parse::<f64>() {
                    Ok(f) if f.is_finite() => Kind::Float(f),
                    _ => return Err((format!("the number `{}` is beyond the range of a 64-bit float", printable(t)), QUOTE)),
                }
            } else if matches!(t, ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN") {
                return Err((format!("`{t}` is not a number JSON can hold"), QUOTE));
            } else {
                Kind::String(t.to_string())
            }
        }
    };
    match (tagged, &kind) {
        (None, _) | (Some("int"), Kind::Int(_)) | (Some("float"), Kind::Float(_) | Kind::Int(_)) | (Some("bool"), Kind::Bool(_)) | (Some("null"), Kind::Null) => Ok(kind),
        (Some(tag), _) => Err((format!("`{}` is not a valid `!!{tag}`", printable(&text)), "write a value of the tag's type, or remove the tag")),
    }
}

/// `0x…` or `0o…` digits that do not fit 64 bits.
fn is_radix(t: &str) -> bool {
    let (digits, radix) = match (t.strip_prefix("0x"), t.strip_prefix("0o")) {
        (Some(h), _) => (h, 16),
        (_, Some(o)) => (o, 8),
        _ => return false,
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// Text from the document as a message quotes it: [`shown`](crate::source::shown), and cut to
/// a readable length.
pub fn printable(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => crate::source::shown(&text[..cut]) + "…",
        None => crate::source::shown(text),
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
