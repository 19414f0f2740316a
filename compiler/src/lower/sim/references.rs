//! SIM's references, read the way SIM's resolver reads them and translated to CEL paths:
//! `<block.path>` by the block's normalised name in any letter case, a container's iteration by
//! `<loop.x>`, `<parallel.x>` or the container's own name, `<variable.x>`, a start or trigger
//! block's fields (the workflow input), SIM's agent outputs (`content`, `tokens`, the fields of
//! its `responseFormat`), and `{{ENV}}`. What cannot be translated is reported, never left as
//! text that would reach a run.

use std::collections::{BTreeSet, HashMap};

use crate::diagnostic::{closest, one_of};
use crate::ident::expr_name;

/// What a normalised block name refers to.
pub(super) enum Target {
    /// A start, schedule or trigger block: its outputs are the workflow input's fields (`None`
    /// when the export does not list them).
    Input { fields: Option<BTreeSet<String>> },
    /// A loop or parallel container: its members read the current iteration by its name; after
    /// it, `results` is the list of its iterations' results.
    Container { id: String, is_loop: bool },
    /// An agent: SIM's output names map onto the AI node's, and with a `responseFormat` the
    /// answer's own fields are outputs too.
    Agent { id: String, fields: Option<BTreeSet<String>> },
    /// Any other block: its output as the node returns it.
    Node { id: String },
}

/// Every block and variable a reference can name, by normalised name.
#[derive(Default)]
pub(super) struct Names {
    pub blocks: HashMap<String, Target>,
    /// The export's workflow variables: normalised name → the flow variable's name.
    pub variables: HashMap<String, String>,
}

/// SIM's normalised block name: lower case, without blanks and dots.
pub(super) fn normalise(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace() && *c != '.').flat_map(char::to_lowercase).collect()
}

/// A reference that cannot be translated, at `offset..offset + len` of the text it is in.
pub(super) struct Unresolved {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub help: String,
}

/// Translates the text of one block: `enclosing` is the normalised name of the container the
/// block is in, if any.
pub(super) struct Translator<'a> {
    pub names: &'a Names,
    pub enclosing: Option<&'a str>,
    pub unresolved: Vec<Unresolved>,
}

enum Resolved {
    /// Not a reference (`<b>`, `a <= b`): the text stays.
    Text,
    Path(String),
    Unresolved(String, String),
}

impl Translator<'_> {
    /// Text with SIM references → a wfc template: `<agent1.content>` → `{{ agent1.text }}`,
    /// `{{API_KEY}}` → `{{ env.API_KEY }}`.
    pub fn template(&mut self, text: &str) -> String {
        self.scan(text, true, |path| format!("{{{{ {path} }}}}"))
    }

    /// A SIM condition or collection (JavaScript-like) → CEL: references become paths, `===`
    /// becomes `==`.
    pub fn expression(&mut self, text: &str) -> String {
        self.scan(text, false, |path| path.to_string()).replace("===", "==").replace("!==", "!=")
    }

    fn scan(&mut self, text: &str, env: bool, emit: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        let mut at = 0;
        while let Some(found) = text[at..].find(['<', '{']) {
            let start = at + found;
            out.push_str(&text[at..start]);
            let rest = &text[start..];
            if env && rest.starts_with("{{") {
                match rest[2..].split_once("}}").filter(|(name, _)| is_env_name(name.trim())) {
                    Some((name, after)) => {
                        out.push_str(&format!("{{{{ env.{} }}}}", name.trim()));
                        at = text.len() - after.len();
                    }
                    // Any other `{{` is text in SIM; in a wfc template it would start code.
                    None => {
                        out.push_str(r#"{{ "{{" }}"#);
                        at = start + 2;
                    }
                }
                continue;
            }
            // SIM's pattern: `<` and the nearest `>` with no `<` between them.
            if let Some(inner) = rest.strip_prefix('<').and_then(|r| r.split_once('>')).map(|(inner, _)| inner).filter(|inner| !inner.contains('<')) {
                let len = inner.len() + 2;
                match self.resolve(inner) {
                    Resolved::Path(path) => {
                        out.push_str(&emit(&path));
                        at = start + len;
                        continue;
                    }
                    Resolved::Unresolved(message, help) => {
                        self.unresolved.push(Unresolved { offset: start, len, message, help });
                        out.push_str(&text[start..start + len]);
                        at = start + len;
                        continue;
                    }
                    Resolved::Text => {}
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            at = start + c.len_utf8();
        }
        out.push_str(&text[at..]);
        out
    }

    /// The text between `<` and `>`.
    fn resolve(&self, inner: &str) -> Resolved {
        if !is_likely_reference(inner) {
            return Resolved::Text;
        }
        let (head, path) = inner.split_once('.').unwrap_or((inner, ""));
        let name = normalise(head);
        let segments: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('.').collect() };
        if segments.iter().any(|s| s.is_empty() || !has_valid_indexes(s)) {
            return Resolved::Unresolved(
                format!("`<{inner}>` is not a path wfc can read"),
                "write the path as `<block.field.subfield>`, with list indexes as numbers (`items[0]`)".into(),
            );
        }
        match name.as_str() {
            "loop" => return iteration(inner, true, &segments),
            "parallel" => return iteration(inner, false, &segments),
            "variable" if segments.is_empty() => return Resolved::Text,
            "variable" => {
                let wanted = normalise(field_name(segments[0]));
                return match self.names.variables.get(&wanted) {
                    Some(var) => Resolved::Path(format!("var.{var}{}{}", &segments[0][field_name(segments[0]).len()..], cel_path(&segments[1..]))),
                    None => {
                        let mut known: Vec<&str> = self.names.variables.keys().map(String::as_str).collect();
                        known.sort_unstable();
                        let help =
                            if known.is_empty() { "the export declares no workflow variables".to_string() } else { format!("the workflow variables are {}", one_of(&known)) };
                        Resolved::Unresolved(format!("`<{inner}>` reads a workflow variable the export does not declare"), help)
                    }
                };
            }
            _ => {}
        }
        let Some(target) = self.names.blocks.get(&name) else {
            if segments.is_empty() {
                return Resolved::Text;
            }
            let names: Vec<&str> = self.names.blocks.keys().map(String::as_str).collect();
            let near = closest(&name, names.iter().copied());
            let help = if near.is_empty() {
                let mut all = names;
                all.sort_unstable();
                format!("the blocks are {}", one_of(&all))
            } else {
                format!("did you mean {}?", one_of(&near))
            };
            return Resolved::Unresolved(format!("`<{inner}>` names no block: no block is called `{name}`"), help);
        };
        match target {
            Target::Input { fields } => {
                if let (Some(first), Some(fields)) = (segments.first(), fields)
                    && !fields.contains(field_name(first))
                {
                    let known: Vec<&str> = fields.iter().map(String::as_str).collect();
                    let near = closest(field_name(first), known.iter().copied());
                    let help = if near.is_empty() { format!("the input's fields are {}", one_of(&known)) } else { format!("did you mean {}?", one_of(&near)) };
                    return Resolved::Unresolved(format!("`<{inner}>` reads `{}`, which the start block does not have", field_name(first)), help);
                }
                Resolved::Path(format!("input{}", cel_path(&segments)))
            }
            Target::Container { id, is_loop } => match segments.first().copied().map(field_name) {
                Some("results") => Resolved::Path(format!("{}{}", expr_name(id), cel_path(&segments[1..]))),
                _ if self.enclosing != Some(name.as_str()) => Resolved::Unresolved(
                    format!("`<{inner}>` reads the iteration of `{head}` from outside its body"),
                    format!("only blocks directly inside `{head}` (not inside a container within it) read its current item; after it, `<{head}.results>` lists its results"),
                ),
                _ => iteration(inner, *is_loop, &segments),
            },
            Target::Agent { id, fields } => agent_output(inner, &expr_name(id), fields.as_ref(), &segments),
            Target::Node { id } => Resolved::Path(format!("{}{}", expr_name(id), cel_path(&segments))),
        }
    }
}

/// `index`, `currentItem` or `items` of the innermost loop or parallel.
fn iteration(inner: &str, is_loop: bool, segments: &[&str]) -> Resolved {
    let scope = if is_loop { "loop" } else { "parallel" };
    let property = match (segments.first().copied(), is_loop) {
        (Some("index"), _) => "index",
        (Some("currentItem"), true) => "item",
        (Some("currentItem"), false) => "currentItem",
        (other, _) => {
            let what = other.map_or("nothing".to_string(), |p| format!("`{p}`"));
            return Resolved::Unresolved(
                format!("`<{inner}>` reads {what} of a {scope}, which wfc does not have"),
                format!("a {scope}'s body reads `<{scope}.index>` and `<{scope}.currentItem>`"),
            );
        }
    };
    Resolved::Path(format!("{scope}.{property}{}", cel_path(&segments[1..])))
}

/// SIM's agent outputs on wfc's AI node: `content` is the answer's `text` (with a
/// `responseFormat`, `content.x` and `x` read the parsed answer), `tokens` is `usage`.
fn agent_output(inner: &str, id: &str, fields: Option<&BTreeSet<String>>, segments: &[&str]) -> Resolved {
    let Some(first) = segments.first().copied() else { return Resolved::Path(id.to_string()) };
    let rest = &segments[1..];
    match (first, fields) {
        ("content", Some(_)) if !rest.is_empty() => Resolved::Path(format!("{id}.json{}", cel_path(rest))),
        ("content", None) if !rest.is_empty() => Resolved::Unresolved(
            format!("`<{inner}>` reads a field of an answer that is text"),
            "give the agent a `responseFormat` (a JSON Schema of its answer) so that its fields can be read".into(),
        ),
        ("content", _) => Resolved::Path(format!("{id}.text")),
        ("model", _) => Resolved::Path(format!("{id}.model{}", cel_path(rest))),
        ("tokens", _) => {
            let renamed: Vec<&str> = rest
                .iter()
                .enumerate()
                .map(|(i, s)| match (i, *s) {
                    (0, "input" | "prompt") => Some("promptTokens"),
                    (0, "output" | "completion") => Some("completionTokens"),
                    (0, "total") => Some("totalTokens"),
                    (0, _) => None,
                    (_, s) => Some(s),
                })
                .collect::<Option<_>>()
                .unwrap_or_default();
            if renamed.len() != rest.len() {
                return Resolved::Unresolved(format!("`<{inner}>` reads a token count wfc does not have"), "an agent's `tokens` are `input`, `output` and `total`".into());
            }
            Resolved::Path(format!("{id}.usage{}", cel_path(&renamed)))
        }
        (field, Some(fields)) if fields.contains(field_name(field)) => Resolved::Path(format!("{id}.json{}", cel_path(segments))),
        ("toolCalls" | "cost" | "providerTiming", _) => Resolved::Unresolved(
            format!("`<{inner}>` reads SIM's agent output `{first}`, which wfc's AI node does not have"),
            "an AI node's output is `text`, `model`, `usage` (SIM's `content`, `model`, `tokens`) and, with a `responseFormat`, its fields".into(),
        ),
        (field, fields) => {
            let mut known = vec!["content", "model", "tokens"];
            known.extend(fields.into_iter().flatten().map(String::as_str));
            Resolved::Unresolved(format!("`<{inner}>` reads `{}`, which the agent does not answer", field_name(field)), format!("the agent's outputs are {}", one_of(&known)))
        }
    }
}

/// SIM's test for text between `<` and `>` that is meant as a reference (its
/// `isLikelyReferenceSegment`): no operator characters, no blank after the first dot, and not a
/// bare number; `<b>`, `a <= b` and `<3` stay text.
fn is_likely_reference(inner: &str) -> bool {
    let operator = |c: char| matches!(c, '+' | '*' | '/' | '=' | '<' | '>' | '!');
    if inner.is_empty() || inner.starts_with(char::is_whitespace) || inner.chars().any(operator) {
        return false;
    }
    match inner.split_once('.') {
        Some((_, after)) => !after.contains(char::is_whitespace),
        None => !inner.chars().all(|c| c.is_ascii_digit()) && !inner.split_whitespace().skip(1).any(|w| w.starts_with(|c: char| c.is_ascii_digit())),
    }
}

/// A segment's indexes are numbers: `items[0][1]`.
fn has_valid_indexes(segment: &str) -> bool {
    let Some(at) = segment.find('[') else { return !segment.contains(']') };
    let mut rest = &segment[at..];
    while !rest.is_empty() {
        let Some((index, after)) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) else { return false };
        if index.is_empty() || !index.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
        rest = after;
    }
    true
}

/// A segment's name without its indexes: `attachments[0]` → `attachments`.
fn field_name(segment: &str) -> &str {
    segment.split('[').next().unwrap_or(segment)
}

/// Path segments as CEL: `.name` for an identifier, `["some-name"]` otherwise, indexes kept.
fn cel_path(segments: &[&str]) -> String {
    let mut out = String::new();
    for segment in segments {
        let (name, indexes) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        let is_ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_ident {
            out.push('.');
            out.push_str(name);
        } else if name.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() {
            out.push_str(&format!("[{name}]"));
        } else if !name.is_empty() {
            out.push_str(&format!("[{}]", serde_json::Value::String(name.to_string())));
        }
        out.push_str(indexes);
    }
    out
}

/// SIM's environment variable names (`{{ NAME }}`, blanks trimmed).
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
