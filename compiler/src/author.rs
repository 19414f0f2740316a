//! What editors and AI agents ask of a flow being written (`wfc lsp`, `wfc mcp`): its
//! diagnostics with lines and columns, the node catalog as data, and what sits at a place in
//! the text (hover, completion, go-to-definition). Pure functions of the text, like the rest of
//! the library; a document that does not parse yet still gets completions from its lines.

use serde::Serialize;

use crate::catalog::{self, Field, NodeSpec};
use crate::ident::expr_name;
use crate::syntax::{self, Value};
use crate::{Diagnostic, Severity, SourceFile, Span};

/// A diagnostic with 1-based lines and columns (in characters), as tools exchange them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Located {
    pub code: &'static str,
    /// The code's name, e.g. `unknown-reference`.
    pub name: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub label: String,
    pub help: String,
}

/// `diagnostics` placed in `source`.
pub fn locate(source: &SourceFile, diagnostics: &[Diagnostic]) -> Vec<Located> {
    diagnostics
        .iter()
        .map(|d| {
            let (line, column) = source.line_col(d.span.start);
            let (end_line, end_column) = source.line_col(d.span.end.max(d.span.start));
            Located {
                code: d.code.as_str(),
                name: d.code.slug(),
                severity: match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                message: d.message.clone(),
                line,
                column,
                end_line,
                end_column,
                label: d.label.clone(),
                help: d.help.clone(),
            }
        })
        .collect()
}

/// A node type of the catalog, as data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeType {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    pub fields: Vec<FieldInfo>,
    /// Fields of which at least one must be present.
    pub one_of: &'static [&'static str],
    pub min_children: usize,
    /// `None`: any number.
    pub max_children: Option<usize>,
    /// Runs as an activity on the worker, so its configuration may read `env.NAME`.
    pub activity: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldInfo {
    pub name: &'static str,
    pub kind: String,
    pub required: bool,
}

/// Every node type of the catalog, in the order of the reference.
pub fn node_types() -> Vec<NodeType> {
    catalog::TABLE.iter().map(node_type).collect()
}

fn node_type(spec: &'static NodeSpec) -> NodeType {
    NodeType {
        name: spec.name,
        aliases: spec.aliases,
        summary: spec.summary,
        fields: spec.fields.iter().map(|(name, kind, required)| FieldInfo { name, kind: kind.describe(), required: *required }).collect(),
        one_of: spec.one_of,
        min_children: spec.children.0,
        max_children: (spec.children.1 != usize::MAX).then_some(spec.children.1),
        activity: spec.activity,
    }
}

/// Markdown describing a node type: its name and its section of the node reference.
pub fn describe_type(spec: &NodeSpec) -> String {
    format!("**{}**: {}", spec.name, catalog::section(spec))
}

/// What a place in the text is about.
enum At<'v> {
    /// The `type:` of a node.
    Type(&'static NodeSpec),
    /// A configuration field's key.
    Field(&'static NodeSpec, &'static Field),
    /// A name that is a node's id, and where that node declares it.
    Reference { id: &'v str, node: &'v Value },
}

/// A node of the document: a map with a `type`.
struct Node<'v> {
    map: &'v Value,
    id: Option<(&'v str, Span)>,
    spec: Option<&'static NodeSpec>,
}

/// Every node of the document, in document order.
fn nodes(root: &Value) -> Vec<Node<'_>> {
    fn walk<'v>(value: &'v Value, out: &mut Vec<Node<'v>>) {
        if let Some(entries) = value.as_map() {
            if let Some(kind) = value.get("type").and_then(Value::as_str) {
                let id = value.get("id").and_then(|v| Some((v.as_str()?, v.span)));
                out.push(Node { map: value, id, spec: catalog::lookup(kind) });
            }
            entries.iter().for_each(|(_, v)| walk(v, out));
        } else if let Some(items) = value.as_seq() {
            items.iter().for_each(|v| walk(v, out));
        }
    }
    // The parser bounds nesting (`syntax::MAX_DEPTH`), so this recursion is bounded too.
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

fn config(node: &Value) -> Option<&Value> {
    node.get("config").or_else(|| node.get("props"))
}

fn contains(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

/// The word (letters, digits, `_`, `-`) around `offset`, and its span.
fn word_at(text: &str, offset: usize) -> Option<(&str, Span)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let start = text[..offset].char_indices().rev().take_while(|(_, c)| is_word(*c)).last().map_or(offset, |(i, _)| i);
    let end = text[offset..].char_indices().find(|(_, c)| !is_word(*c)).map_or(text.len(), |(i, _)| offset + i);
    (start < end).then(|| (&text[start..end], Span::new(start, end)))
}

fn at<'v>(text: &str, root: &'v Value, offset: usize) -> Option<(At<'v>, Span)> {
    let nodes = nodes(root);
    for node in &nodes {
        if let Some(kind) = node.map.get("type").filter(|v| contains(v.span, offset))
            && let Some(spec) = node.spec
        {
            return Some((At::Type(spec), kind.span));
        }
        if let (Some(spec), Some(entries)) = (node.spec, config(node.map).and_then(Value::as_map)) {
            for (key, _) in entries {
                if contains(key.span, offset)
                    && let Some(field) = spec.fields.iter().find(|f| f.0 == key.name)
                {
                    return Some((At::Field(spec, field), key.span));
                }
            }
        }
    }
    let (word, span) = word_at(text, offset)?;
    let node = nodes.iter().find(|n| n.id.is_some_and(|(id, _)| id == word || expr_name(id) == word))?;
    let (id, declared) = node.id?;
    // The declaration itself is no reference.
    (!contains(declared, offset)).then_some((At::Reference { id, node: node.map }, span))
}

/// Markdown about what is at `offset` (a node type, a configuration field, a reference to a
/// node), and the span it is about.
pub fn hover(source: &SourceFile, offset: usize) -> Option<(Span, String)> {
    let (root, _) = syntax::parse(&source.text);
    let (target, span) = at(&source.text, root.as_ref()?, offset)?;
    let text = match target {
        At::Type(spec) => describe_type(spec),
        At::Field(spec, field) => {
            let (name, kind, required) = field;
            let need = if *required { "required" } else { "optional" };
            format!("`{name}` of **{}**: {}, {need}.\n\n{}", spec.name, kind.describe().replace("\\|", "or"), spec.summary)
        }
        At::Reference { id, node } => {
            let kind = node.get("type").and_then(Value::as_str).unwrap_or("?");
            let summary = catalog::lookup(kind).map_or("an activity declared by the flow", |s| s.summary);
            format!("node `{id}` (**{kind}**): {summary}")
        }
    };
    Some((span, text))
}

/// Where the node named at `offset` is declared (its `id:` value).
pub fn definition(source: &SourceFile, offset: usize) -> Option<Span> {
    let (root, _) = syntax::parse(&source.text);
    match at(&source.text, root.as_ref()?, offset)? {
        (At::Reference { node, .. }, _) => node.get("id").map(|v| v.span),
        _ => None,
    }
}

/// A completion: what to insert, its kind, and a line of detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompletionKind {
    NodeType,
    Field,
    Node,
    InputField,
    Variable,
}

/// What may be written at `offset`: node types after `type:`, configuration fields as keys
/// of a `config:` (or `props:`) block, and node ids, `input` fields and scopes inside `{{ }}`.
/// Read from the lines before `offset`, so a half-written document gets them too.
pub fn completions(source: &SourceFile, offset: usize) -> Vec<Completion> {
    let text = &source.text;
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return Vec::new();
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..offset];
    if let Some(open) = prefix.rfind("{{")
        && !prefix[open..].contains("}}")
    {
        return in_template(text, line_start, &prefix[open + 2..]);
    }
    let before_word = prefix.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if before_word.trim_end().ends_with("type:") {
        return catalog::TABLE
            .iter()
            .flat_map(|spec| std::iter::once(spec.name).chain(spec.aliases.iter().copied()).map(move |name| (name, spec)))
            .map(|(name, spec)| Completion { label: name.to_string(), kind: CompletionKind::NodeType, detail: spec.summary.to_string() })
            .collect();
    }
    let key_position = before_word.trim_start().trim_start_matches("- ").trim().is_empty();
    match key_position.then(|| enclosing_config_type(text, line_start, prefix.len() - prefix.trim_start().len())).flatten() {
        Some(spec) => spec
            .fields
            .iter()
            .map(|field| Completion { label: field.0.to_string(), kind: CompletionKind::Field, detail: catalog::field_row(spec, field).replace("\\|", "or") })
            .collect(),
        None => Vec::new(),
    }
}

/// The document being edited, parsed: as it is, or else without the line at `line_start`,
/// which is often the one half-written.
fn parse_lenient(text: &str, line_start: usize) -> Option<Value> {
    if let (Some(root), _) = syntax::parse(text) {
        return Some(root);
    }
    let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    syntax::parse(&format!("{}{}", &text[..line_start], &text[line_end..])).0
}

/// Inside `{{ … }}`: `input.` fields from the input schema, else node ids and scopes.
fn in_template(text: &str, line_start: usize, expression: &str) -> Vec<Completion> {
    let Some(root) = parse_lenient(text, line_start) else { return Vec::new() };
    let word_start = expression.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).map_or(0, |i| i + 1);
    let path = &expression[word_start..];
    if path.starts_with("input.") && path.matches('.').count() == 1 {
        let properties = root.get("inputSchema").and_then(|s| s.get("properties")).and_then(Value::as_map).unwrap_or_default();
        return properties
            .iter()
            .map(|(key, schema)| {
                let kind = schema.get("type").and_then(Value::as_str).unwrap_or("any");
                Completion { label: key.name.clone(), kind: CompletionKind::InputField, detail: format!("input field ({kind})") }
            })
            .collect();
    }
    if path.contains('.') {
        return Vec::new();
    }
    let scopes = [("input", "the run's input"), ("var", "the flow's variables"), ("env", "a secret or setting, read only inside an activity")];
    let mut out: Vec<Completion> = scopes.iter().map(|(name, detail)| Completion { label: name.to_string(), kind: CompletionKind::Variable, detail: detail.to_string() }).collect();
    for node in nodes(&root) {
        if let Some((id, _)) = node.id {
            let kind = node.map.get("type").and_then(Value::as_str).unwrap_or_default();
            out.push(Completion { label: expr_name(id), kind: CompletionKind::Node, detail: format!("output of `{id}` ({kind})") });
        }
    }
    out
}

/// The node type whose `config:`/`props:` block a key at `indent` on the line at `line_start`
/// belongs to, found by indentation (the document may not parse while it is being typed).
fn enclosing_config_type(text: &str, line_start: usize, indent: usize) -> Option<&'static NodeSpec> {
    let indent_of = |line: &str| line.len() - line.trim_start().len();
    let before: Vec<&str> = text[..line_start].lines().collect();
    let (at, parent) = before.iter().enumerate().rev().find(|(_, l)| !l.trim().is_empty() && indent_of(l) < indent)?;
    let key = parent.trim().trim_start_matches("- ");
    if key != "config:" && key != "props:" {
        return None;
    }
    // The node's keys sit at the indentation of `config:`; a `- ` item marker counts as indent.
    let level = indent_of(parent) + if parent.trim_start().starts_with("- ") { 2 } else { 0 };
    let key_level = |l: &str| indent_of(l) + if l.trim_start().starts_with("- ") { 2 } else { 0 };
    let type_of = |l: &&str| l.trim().trim_start_matches("- ").strip_prefix("type:").map(|t| t.trim().trim_matches(['"', '\'']).to_string());
    let above = before[..at].iter().rev().take_while(|l| l.trim().is_empty() || key_level(l) >= level);
    let below = text[line_start..].lines().skip_while(|l| l.trim().is_empty() || indent_of(l) > level).take_while(|l| l.trim().is_empty() || key_level(l) >= level);
    let found = above.filter(|l| key_level(l) == level).find_map(type_of).or_else(|| below.filter(|l| key_level(l) == level).find_map(|l| type_of(&l)));
    found.and_then(|name| catalog::lookup(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "name: demo\ninputSchema:\n  type: object\n  properties:\n    email: {type: string}\nroot:\n  type: Sequence\n  id: main\n  children:\n    - type: HttpRequest\n      id: create-user\n      config:\n        url: \"https://x/{{ input.email }}\"\n        \n    - type: Log\n      id: done\n      config: {message: \"{{ create_user.status }}\"}\n";

    fn offset_of(needle: &str) -> usize {
        FLOW.find(needle).unwrap()
    }

    #[test]
    fn hover_describes_types_fields_and_references() {
        let source = SourceFile::new("demo.yaml", FLOW);
        let (_, text) = hover(&source, offset_of("HttpRequest") + 2).unwrap();
        assert!(text.starts_with("**HttpRequest**"), "{text}");
        let (_, text) = hover(&source, offset_of("url:") + 1).unwrap();
        assert!(text.starts_with("`url` of **HttpRequest**"), "{text}");
        let (_, text) = hover(&source, offset_of("create_user.status") + 3).unwrap();
        assert!(text.starts_with("node `create-user` (**HttpRequest**)"), "{text}");
    }

    #[test]
    fn a_reference_leads_to_its_declaration() {
        let source = SourceFile::new("demo.yaml", FLOW);
        let span = definition(&source, offset_of("create_user.status")).unwrap();
        assert_eq!(&FLOW[span.start..span.end], "create-user");
        assert_eq!(definition(&source, offset_of("create-user")), None);
    }

    #[test]
    fn completion_knows_types_fields_and_template_names() {
        let labels = |text: &str, at: usize| completions(&SourceFile::new("demo.yaml", text), at).into_iter().map(|c| c.label).collect::<Vec<_>>();
        let typed = FLOW.replace("- type: Log", "- type: Lo");
        assert!(labels(&typed, typed.find("type: Lo").unwrap() + 8).contains(&"Log".to_string()));
        let blank = offset_of("        \n") + 8;
        let fields = labels(FLOW, blank);
        assert!(fields.contains(&"method".to_string()) && fields.contains(&"url".to_string()), "{fields:?}");
        let input = labels(FLOW, offset_of("input.email") + 6);
        assert_eq!(input, vec!["email".to_string()]);
        let names = labels(FLOW, offset_of("create_user.status"));
        assert!(names.contains(&"create_user".to_string()) && names.contains(&"input".to_string()), "{names:?}");
    }
}
