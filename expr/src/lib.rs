//! wfc's expression language: `{{ expr }}` templates whose expressions are CEL.
//!
//! The compiler uses this crate to check templates ahead of time and the runtime uses it to
//! evaluate them, so both agree on the syntax by construction. Evaluation is deterministic: the
//! CEL standard library is built without clock functions, and maps come out with sorted keys.

mod bounds;
mod cache;
#[cfg(feature = "jq")]
pub mod jq;
mod order;

use std::fmt;

use serde_json::Value;

pub use bounds::{MAX_LEN, MAX_NESTING, MAX_OPERATORS};
use bounds::{MAX_TREE_DEPTH, Size, tree_depth};
use order::{ORDERED, order_iteration, ordered};

/// One piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Literal text, copied as it is.
    Text(&'a str),
    /// An expression between `{{` and `}}`.
    Expr(Expr<'a>),
}

/// An expression inside a template, with where it sits in that template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expr<'a> {
    /// The expression's source, without the braces and surrounding blanks.
    pub source: &'a str,
    /// Byte offset of `source` within the template string.
    pub offset: usize,
}

/// An error at a byte range of a template or expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset within the template string where the problem starts.
    pub offset: usize,
    /// Length in bytes of the offending text (at least 1 when the text is not empty).
    pub len: usize,
    pub message: String,
}

/// A template string split into text and expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<'a> {
    pub segments: Vec<Segment<'a>>,
}

impl<'a> Template<'a> {
    /// Splits `text` at its `{{ … }}` markers.
    pub fn parse(text: &'a str) -> Result<Self, SyntaxError> {
        let mut segments = Vec::new();
        let mut rest = 0;
        while let Some(open) = text[rest..].find("{{").map(|i| i + rest) {
            if open > rest {
                segments.push(Segment::Text(&text[rest..open]));
            }
            let inner_start = open + 2;
            let Some(close) = text[inner_start..].find("}}").map(|i| i + inner_start) else {
                return Err(SyntaxError { offset: open, len: text.len() - open, message: "`{{` is never closed by `}}`".to_string() });
            };
            let inner = &text[inner_start..close];
            let source = inner.trim();
            if source.is_empty() {
                return Err(SyntaxError { offset: open, len: close + 2 - open, message: "empty expression `{{ }}`".to_string() });
            }
            let offset = inner_start + (inner.len() - inner.trim_start().len());
            segments.push(Segment::Expr(Expr { source, offset }));
            rest = close + 2;
        }
        if rest < text.len() {
            segments.push(Segment::Text(&text[rest..]));
        }
        Ok(Template { segments })
    }

    /// The expression, when the template is exactly one `{{ expr }}` and keeps the value's type.
    pub fn single_expr(&self) -> Option<Expr<'a>> {
        match self.segments.as_slice() {
            [Segment::Expr(expr)] => Some(*expr),
            _ => None,
        }
    }

    /// Every expression of the template, in order.
    pub fn exprs(&self) -> impl Iterator<Item = Expr<'a>> + '_ {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Expr(expr) => Some(*expr),
            Segment::Text(_) => None,
        })
    }

    /// True when the template has no expression at all.
    pub fn is_literal(&self) -> bool {
        self.exprs().next().is_none()
    }
}

/// The names an expression reads, found when it is parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct References {
    /// Top-level identifiers, sorted: `input`, `create_user`, `env`, …
    pub variables: Vec<String>,
    /// Identifiers tested with `has()` somewhere in the expression (`has(lookup.body)`), sorted:
    /// the expression is written for the case where they are absent.
    pub guarded: Vec<String>,
    /// The environment variables read as `env.NAME`, sorted.
    pub env: Vec<String>,
    /// True when `env` is read other than as `env.NAME` (`env`, `env['X']`, `env.map(…)`):
    /// that would hand over the whole environment.
    pub env_whole: bool,
    /// Per name, the field paths the expression selects from it; an empty path means the
    /// value is read whole.
    pub paths: std::collections::BTreeMap<String, Vec<FieldPath>>,
}

/// Parses one CEL expression (once per process: see [`cache`]) and returns the names it reads.
pub fn parse_expr(source: &str) -> Result<References, SyntaxError> {
    Ok(cache::compiled(source)?.references.clone())
}

/// The top-level names an expression reads from its scope, sorted: identifiers that macros bind
/// (`i` in `items.map(i, i.price)`) are not free.
fn free_variables(program: &cel::parser::Expression) -> References {
    type Names = std::collections::BTreeSet<String>;
    /// The identifier a chain of field selections starts from.
    fn root(expr: &cel::IdedExpr) -> Option<&str> {
        match &expr.expr {
            cel::common::ast::Expr::Ident(name) => Some(name),
            cel::common::ast::Expr::Select(select) => root(&select.operand),
            _ => None,
        }
    }
    /// `x.a.b` as `x` and `[a, b]`, when the chain of selections starts at an identifier.
    fn chain(expr: &cel::IdedExpr) -> Option<(&str, Vec<String>)> {
        match &expr.expr {
            cel::common::ast::Expr::Ident(name) => Some((name, Vec::new())),
            cel::common::ast::Expr::Select(select) => {
                let (root, mut path) = chain(&select.operand)?;
                path.push(select.field.clone());
                Some((root, path))
            }
            _ => None,
        }
    }
    #[derive(Default)]
    struct Found {
        out: Names,
        guarded: Names,
        env: Names,
        env_whole: bool,
        /// Per name, the field paths selected from it; an empty path means read whole.
        paths: std::collections::BTreeMap<String, Vec<FieldPath>>,
    }
    fn walk(expr: &cel::IdedExpr, bound: &mut Vec<String>, found: &mut Found) {
        use cel::common::ast::{EntryExpr, Expr};
        if let Expr::Select(select) = &expr.expr
            && select.test
            && let Some(name) = root(&select.operand).filter(|n| !bound.iter().any(|b| b == n))
        {
            found.guarded.insert(name.to_string());
        }
        let free = |name: &str, bound: &Vec<String>| !bound.iter().any(|b| b == name);
        match &expr.expr {
            Expr::Ident(name) => {
                if free(name, bound) {
                    found.env_whole |= name == "env";
                    found.out.insert(name.clone());
                    found.paths.entry(name.clone()).or_default().push(Vec::new());
                }
            }
            // `env.NAME`: one variable of the environment, the only way to read it.
            Expr::Select(select) if matches!(&select.operand.expr, Expr::Ident(name) if name == "env" && free(name, bound)) => {
                found.out.insert("env".to_string());
                found.env.insert(select.field.clone());
            }
            Expr::Select(select) => match chain(expr) {
                Some((root, path)) if free(root, bound) => {
                    found.out.insert(root.to_string());
                    found.paths.entry(root.to_string()).or_default().push(path);
                }
                _ => walk(&select.operand, bound, found),
            },
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    walk(target, bound, found);
                }
                call.args.iter().for_each(|a| walk(a, bound, found));
            }
            Expr::List(list) => list.elements.iter().for_each(|e| walk(e, bound, found)),
            Expr::Map(map) => map.entries.iter().for_each(|e| match &e.expr {
                EntryExpr::MapEntry(entry) => {
                    walk(&entry.key, bound, found);
                    walk(&entry.value, bound, found);
                }
                EntryExpr::StructField(field) => walk(&field.value, bound, found),
            }),
            Expr::Struct(s) => s.entries.iter().for_each(|e| match &e.expr {
                EntryExpr::MapEntry(entry) => {
                    walk(&entry.key, bound, found);
                    walk(&entry.value, bound, found);
                }
                EntryExpr::StructField(field) => walk(&field.value, bound, found),
            }),
            Expr::Comprehension(c) => {
                walk(&c.iter_range, bound, found);
                walk(&c.accu_init, bound, found);
                let depth = bound.len();
                bound.push(c.iter_var.clone());
                bound.extend(c.iter_var2.clone());
                bound.push(c.accu_var.clone());
                walk(&c.loop_cond, bound, found);
                walk(&c.loop_step, bound, found);
                walk(&c.result, bound, found);
                bound.truncate(depth);
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    let mut found = Found::default();
    walk(program, &mut Vec::new(), &mut found);
    for names in [&mut found.out, &mut found.guarded] {
        for (name, alias) in ALIASES {
            if names.remove(*alias) {
                names.insert(name.to_string());
            }
        }
    }
    let paths = found.paths.into_iter().map(|(name, paths)| (ALIASES.iter().find(|(_, alias)| *alias == name).map_or(name, |(n, _)| n.to_string()), paths)).collect();
    References { variables: found.out.into_iter().collect(), guarded: found.guarded.into_iter().collect(), env: found.env.into_iter().collect(), env_whole: found.env_whole, paths }
}

/// `var` and `loop` are reserved words in CEL, but wfc's expressions read `var.name` and
/// `loop.index`: each is renamed to its alias before parsing, and back in every name reported.
const ALIASES: &[(&str, &str)] = &[("var", "__wfc_var"), ("loop", "__wfc_loop")];

/// The bytes of an expression's code with their offsets: string literals (and their escapes)
/// left out.
fn code_bytes(source: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    source.bytes().enumerate().filter(move |&(_, b)| match quote {
        Some(_) if escaped => {
            escaped = false;
            false
        }
        Some(_) if b == b'\\' => {
            escaped = true;
            false
        }
        Some(q) => {
            if b == q {
                quote = None;
            }
            false
        }
        None if b == b'"' || b == b'\'' => {
            quote = Some(b);
            false
        }
        None => true,
    })
}

/// Byte offsets where `name` stands as a top-level identifier in `source`: not inside a string
/// literal, not part of a longer name, and not a field after a `.`.
pub fn identifier_offsets(source: &str, name: &str) -> Vec<usize> {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    code_bytes(source)
        .map(|(i, _)| i)
        .filter(|&i| {
            bytes[i..].starts_with(name.as_bytes()) && (i == 0 || (!is_ident(bytes[i - 1]) && bytes[i - 1] != b'.')) && bytes.get(i + name.len()).is_none_or(|n| !is_ident(*n))
        })
        .collect()
}

/// Renames the identifiers of [`ALIASES`]. A syntax error reported after a renamed identifier
/// is off by a few columns; its message is exact.
fn rename_reserved(source: &str) -> std::borrow::Cow<'_, str> {
    let mut text = std::borrow::Cow::Borrowed(source);
    for (name, alias) in ALIASES {
        let offsets = identifier_offsets(&text, name);
        if offsets.is_empty() {
            continue;
        }
        let mut out = String::with_capacity(text.len() + offsets.len() * alias.len());
        let mut last = 0;
        for at in offsets {
            out.push_str(&text[last..at]);
            out.push_str(alias);
            last = at + name.len();
        }
        out.push_str(&text[last..]);
        text = std::borrow::Cow::Owned(out);
    }
    text
}

/// Parses an expression into the tree evaluation walks, its comprehensions made deterministic.
/// The text is bounded first (see [`bounds`]), so that neither the parser nor evaluation can
/// exhaust a thread's stack.
fn compile(source: &str) -> Result<(cel::parser::Expression, Size), SyntaxError> {
    let size = Size::of(source)?;
    Ok((size.on_stack(|| parse_bounded(source))?, size))
}

fn parse_bounded(source: &str) -> Result<cel::parser::Expression, SyntaxError> {
    let renamed = rename_reserved(source);
    // The CEL parser is a generated ANTLR parser; a panic in it must never take a workflow or the
    // compiler down with it.
    let parsed = std::panic::catch_unwind(|| cel::parser::Parser::new().max_recursion_depth(MAX_TREE_DEPTH as u16).parse(&renamed));
    match parsed {
        Ok(Ok(expr)) if tree_depth(&expr) > MAX_TREE_DEPTH => Err(SyntaxError { offset: 0, len: source.len().max(1), message: "the expression nests too deeply".to_string() }),
        Ok(Ok(mut expr)) => {
            order_iteration(&mut expr);
            Ok(expr)
        }
        Ok(Err(errors)) => {
            let first = errors.errors.first();
            let message = first.map(|e| e.msg.clone()).unwrap_or_else(|| "invalid expression".to_string());
            let offset = first.map(|e| column_to_offset(source, e.pos.1)).unwrap_or(0);
            Err(SyntaxError { offset, len: source.len().saturating_sub(offset).max(1), message })
        }
        Err(_) => Err(SyntaxError { offset: 0, len: source.len().max(1), message: "the expression could not be parsed".to_string() }),
    }
}

/// CEL reports 0-based character columns; the expression is a single line.
fn column_to_offset(source: &str, column: isize) -> usize {
    let column = usize::try_from(column).unwrap_or(0);
    source.char_indices().nth(column).map_or(source.len(), |(offset, _)| offset)
}

/// Where evaluation looks up the top-level names an expression reads.
pub trait Scope {
    /// The value bound to `name`, or `None` when nothing is.
    fn lookup(&self, name: &str) -> Option<Value>;

    /// The value bound to `name`, keeping only the field paths an expression selects from it
    /// (`create_user.body.id` keeps `body.id`). A scope that holds values can project them
    /// without copying the rest; this default copies, then projects.
    fn project(&self, name: &str, paths: &[FieldPath]) -> Option<Value> {
        self.lookup(name).map(|value| project(&value, paths))
    }
}

/// A chain of field selections from a top-level name: `["body", "id"]` for `x.body.id`.
pub type FieldPath = Vec<String>;

/// `value` with only these field paths: what an expression that selects only them can see.
/// A path that ends at (or passes) something other than a map keeps that value whole, so
/// selecting from it fails just as it would have.
pub fn project(value: &Value, paths: &[FieldPath]) -> Value {
    if paths.iter().any(Vec::is_empty) {
        return value.clone();
    }
    let Value::Object(map) = value else { return value.clone() };
    let mut fields: std::collections::BTreeMap<&str, Vec<FieldPath>> = std::collections::BTreeMap::new();
    for path in paths {
        fields.entry(path[0].as_str()).or_default().push(path[1..].to_vec());
    }
    Value::Object(fields.into_iter().filter_map(|(field, rest)| Some((field.to_string(), project(map.get(field)?, &rest)))).collect())
}

/// A failure to evaluate an expression at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// The expression that failed.
    pub expr: String,
    pub message: String,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.expr, self.message)
    }
}

impl std::error::Error for EvalError {}

/// Evaluates one CEL expression against `scope`.
pub fn eval(source: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    let fail = |message: String| EvalError { expr: source.to_string(), message };
    let compiled = cache::compiled(source).map_err(|e| fail(e.message))?;
    // CEL's standard library and wfc's functions are set up once; each evaluation binds its
    // variables in a scope of its own.
    static ROOT: std::sync::LazyLock<cel::Context<'static, 'static>> = std::sync::LazyLock::new(|| {
        let mut root = cel::Context::default();
        // Refused only for a name the standard library declares, which this one is not (and a
        // comprehension would then fail to evaluate, never panic).
        let _ = root.add_function(ORDERED, ordered);
        root
    });
    let mut context = ROOT.new_inner_scope();
    for (name, bound, paths) in &compiled.names {
        let value = match paths {
            Some(paths) => scope.project(name, paths),
            None => scope.lookup(name),
        };
        if let Some(value) = value {
            context.add_variable_from_value(bound.clone(), from_json(&value));
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compiled.size.on_stack(|| cel::Value::resolve(&compiled.program, &context))))
        .map_err(|_| fail("evaluation failed unexpectedly".to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    to_json(&result).map_err(fail)
}

/// Evaluates an expression that must give a boolean.
pub fn eval_bool(source: &str, scope: &dyn Scope) -> Result<bool, EvalError> {
    match eval(source, scope)? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError { expr: source.to_string(), message: format!("expected a boolean, got {}", type_name(&other)) }),
    }
}

/// Renders a template: exactly one `{{ expr }}` keeps the value's JSON type; anything else is
/// text with each value interpolated.
pub fn render(text: &str, scope: &dyn Scope) -> Result<Value, EvalError> {
    let template = Template::parse(text).map_err(|e| EvalError { expr: text.to_string(), message: e.message })?;
    if let Some(expr) = template.single_expr() {
        return eval(expr.source, scope);
    }
    let mut out = String::new();
    for segment in &template.segments {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Expr(expr) => out.push_str(&interpolate(&eval(expr.source, scope)?)),
        }
    }
    Ok(Value::String(out))
}

/// Renders every string inside a JSON value as a template; keys are kept as they are.
pub fn render_json(value: &Value, scope: &dyn Scope) -> Result<Value, EvalError> {
    Ok(match value {
        Value::String(s) => render(s, scope)?,
        Value::Array(items) => Value::Array(items.iter().map(|item| render_json(item, scope)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), render_json(v, scope)?))).collect::<Result<_, EvalError>>()?),
        other => other.clone(),
    })
}

/// The text a value takes inside a larger string: strings as they are, the rest as JSON.
pub fn interpolate(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A short name of a JSON value's type, for messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Converts a CEL value to JSON, sorting map keys so the result never depends on hash order.
fn to_json(value: &cel::Value) -> Result<Value, String> {
    use cel::Value as C;
    Ok(match value {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(*b),
        C::Int(i) => Value::from(*i),
        C::UInt(u) => Value::from(*u),
        C::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).ok_or_else(|| format!("{f} is not a finite number"))?,
        C::String(s) => Value::String(s.to_string()),
        C::List(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        C::Map(map) => {
            let mut entries: Vec<(String, Value)> = map.map.iter().map(|(k, v)| Ok((key_string(k), to_json(v)?))).collect::<Result<_, String>>()?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        other => other.json().map_err(|_| format!("a {:?} value has no JSON form", other.type_of()))?,
    })
}

/// Converts JSON to CEL. JSON has one number type: integers become CEL `int` (so `x + 1` works),
/// integers beyond `int` become `uint`, the rest `double`.
fn from_json(value: &Value) -> cel::Value {
    use cel::Value as C;
    match value {
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => C::Int(i),
            (None, Some(u)) => C::UInt(u),
            _ => C::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => C::String(s.clone().into()),
        Value::Array(items) => C::List(items.iter().map(from_json).collect::<Vec<_>>().into()),
        Value::Object(map) => {
            C::Map(cel::objects::Map { map: std::sync::Arc::new(map.iter().map(|(k, v)| (cel::objects::Key::String(k.clone().into()), from_json(v))).collect()) })
        }
    }
}

fn key_string(key: &cel::objects::Key) -> String {
    match key {
        cel::objects::Key::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Json(Value);
    impl Scope for Json {
        fn lookup(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    #[test]
    fn single_template_keeps_type_and_mixed_text_interpolates() {
        let scope = Json(json!({"input": {"count": 3, "name": "Ada"}}));
        assert_eq!(render("{{ input.count }}", &scope).unwrap(), json!(3));
        assert_eq!(render("Hi {{ input.name }} x{{ input.count + 1 }}", &scope).unwrap(), json!("Hi Ada x4"));
        assert_eq!(render("plain", &scope).unwrap(), json!("plain"));
    }

    #[test]
    fn maps_come_out_sorted() {
        let scope = Json(json!({}));
        let v = eval("{'b': 1, 'a': 2, 'c': 3}", &scope).unwrap();
        assert_eq!(v.to_string(), r#"{"a":2,"b":1,"c":3}"#);
    }

    #[test]
    fn template_errors_point_at_the_problem() {
        let err = Template::parse("ab {{ x").unwrap_err();
        assert_eq!(err.offset, 3);
        assert!(Template::parse("{{  }}").is_err());
        let t = Template::parse("a {{  b.c }} d").unwrap();
        assert_eq!(t.exprs().next().unwrap(), Expr { source: "b.c", offset: 6 });
    }

    #[test]
    fn references_and_syntax_errors() {
        assert_eq!(parse_expr("create_user.body.id + input.x").unwrap().variables, vec!["create_user", "input"]);
        assert!(parse_expr("a +").is_err());
        assert_eq!(parse_expr("items.map(i, i.price * rate).exists(x, x > min)").unwrap().variables, vec!["items", "min", "rate"]);
        assert!(parse_expr("1 / 0").is_ok());
    }

    #[test]
    fn an_expression_reads_only_the_fields_it_selects() {
        let paths = |source: &str| parse_expr(source).unwrap().paths;
        let found = paths("create_user.body.id + size(items) + (has(lookup.body) ? 1 : 0) + var.total + loop.items.map(i, i.x).size()");
        assert_eq!(found["create_user"], vec![vec!["body".to_string(), "id".to_string()]]);
        assert_eq!(found["items"], vec![Vec::<String>::new()], "a name read whole keeps an empty path");
        assert_eq!(found["lookup"], vec![vec!["body".to_string()]]);
        assert_eq!(found["var"], vec![vec!["total".to_string()]]);
        assert_eq!(found["loop"], vec![vec!["items".to_string()]]);
        assert!(!found.contains_key("i"), "macro variables are not read from the scope");

        let output = serde_json::json!({"body": {"id": 7, "blob": "x".repeat(1000)}, "headers": {"a": "b"}, "status": 201});
        let projected = project(&output, &[vec!["body".into(), "id".into()], vec!["status".into()], vec!["missing".into()]]);
        assert_eq!(projected, serde_json::json!({"body": {"id": 7}, "status": 201}));
        assert_eq!(project(&output, &[vec!["status".into(), "x".into()]]), serde_json::json!({"status": 201}), "selecting from a number keeps it, to fail as before");

        struct Outputs(Value);
        impl Scope for Outputs {
            fn lookup(&self, name: &str) -> Option<Value> {
                self.0.get(name).cloned()
            }
        }
        let scope = Outputs(serde_json::json!({"create_user": output}));
        assert_eq!(eval("create_user.body.id", &scope).unwrap(), serde_json::json!(7));
        assert_eq!(eval("has(create_user.missing)", &scope).unwrap(), serde_json::json!(false));
        assert!(eval("create_user.missing", &scope).is_err());
        assert_eq!(eval("create_user.status + size(create_user.headers)", &scope).unwrap(), serde_json::json!(202));
    }

    #[test]
    fn var_reads_variables_although_cel_reserves_the_word() {
        let scope = Json(json!({"var": {"total": 5}, "variance": 1}));
        assert_eq!(parse_expr("var.total + variance").unwrap().variables, vec!["var", "variance"]);
        assert_eq!(eval("var.total + variance", &scope).unwrap(), json!(6));
        assert_eq!(eval("'var.x' + \"var\"", &scope).unwrap(), json!("var.xvar"));
    }

    #[test]
    fn comprehensions_over_maps_follow_sorted_keys() {
        let scope = Json(json!({"m": {"zeta": 1, "alpha": 2, "mid": 3, "beta": 4}}));
        assert_eq!(eval("m.map(k, k)", &scope).unwrap(), json!(["alpha", "beta", "mid", "zeta"]));
        assert_eq!(eval("m.filter(k, m[k] > 1)", &scope).unwrap(), json!(["alpha", "beta", "mid"]));
        assert_eq!(eval("{3: 'c', 1: 'a', 2: 'b'}.map(k, k)", &scope).unwrap(), json!([1, 2, 3]));
        assert_eq!(eval("[3, 1, 2].map(x, x * 2)", &scope).unwrap(), json!([6, 2, 4]), "lists keep their order");
        assert_eq!(eval("m.exists_one(k, k == 'mid')", &scope).unwrap(), json!(true));
    }

    #[test]
    fn env_is_read_only_by_name() {
        let refs = parse_expr("env.TOKEN + env.OTHER").unwrap();
        assert_eq!((refs.env, refs.env_whole), (vec!["OTHER".to_string(), "TOKEN".to_string()], false));
        for whole in ["env", "env['TOKEN']", "env.map(k, k)", "string(env)", "[env][0].X"] {
            assert!(parse_expr(whole).unwrap().env_whole, "{whole}");
        }
        assert!(!parse_expr("[1].map(env, env)").unwrap().env_whole, "a bound name is not the environment");
    }

    #[test]
    fn identifiers_are_found_between_multibyte_characters() {
        assert_eq!(identifier_offsets("\u{202e}env + 'é' + env", "env"), vec![3, 16]);
    }

    /// Expressions at every limit parse and evaluate on a 2 MiB stack (a runtime thread's),
    /// and past the limits they are refused, never a stack overflow.
    #[test]
    fn nesting_and_length_are_bounded() {
        let at_limit = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let scope = Json(json!({"x": 1}));
                let nested = format!("{}x{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
                assert_eq!(eval(&nested, &scope).unwrap(), json!(1));
                let lists = format!("{}1{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
                assert!(eval(&lists, &scope).is_ok());
                let chain = vec!["x"; MAX_OPERATORS + 1].join("+");
                assert_eq!(eval(&chain, &scope).unwrap(), json!(MAX_OPERATORS + 1));
                let negations = format!("{}true", "!".repeat(MAX_OPERATORS));
                assert!(eval(&negations, &scope).is_ok());
                let selects = format!("{{}}{}", ".a".repeat(MAX_OPERATORS - 1));
                assert!(eval(&selects, &scope).is_err());
            })
            .unwrap()
            .join();
        assert!(at_limit.is_ok());
        let scope = Json(json!({}));
        for hostile in
            [format!("{}1{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1)), vec!["1"; 10_000].join("+"), format!("{}true", "!".repeat(10_000)), "'a'".repeat(MAX_LEN)]
        {
            assert!(parse_expr(&hostile).is_err());
            assert!(eval(&hostile, &scope).is_err());
        }
        assert!(parse_expr("'((((((((((((((((((((((((((((((' + \"+++\"").is_ok(), "strings are not counted");
    }

    #[test]
    fn runtime_errors_are_errors_not_panics() {
        let scope = Json(json!({"n": 0}));
        assert!(eval("1 / n", &scope).is_err());
        assert!(eval("missing.field", &scope).is_err());
        assert!(eval("9223372036854775807 + 1", &scope).is_err());
        assert!(eval_bool("1", &scope).is_err());
    }
}
