//! Bounds on an expression's size, checked before it is parsed, and the stack it is parsed
//! and evaluated on: the parser and the evaluator recurse, so neither may be handed a text that
//! would exhaust a thread's stack.

use crate::{SyntaxError, code_bytes};

/// The longest expression, in bytes.
pub const MAX_LEN: usize = 16 * 1024;
/// How deeply brackets may nest in an expression's text.
pub const MAX_NESTING: usize = 32;
/// How many operators (and `.`, `,`) an expression may have: the parser builds and walks a
/// chain of them recursively.
pub const MAX_OPERATORS: usize = 500;
/// How deep the parsed expression may be.
pub(crate) const MAX_TREE_DEPTH: usize = 600;

/// The most stack an expression within the bounds gets. The generated ANTLR parser takes over
/// 100 KiB a bracket level in a debug build, more than a runtime thread's 2 MiB allows at the
/// bounds above. Reserved, and committed only as it is touched.
const STACK: usize = 64 << 20;

/// The size of an expression's text, counted outside string literals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    nesting: usize,
    operators: usize,
}

impl Size {
    /// Measures `source` and refuses it when it is past a bound.
    pub(crate) fn of(source: &str) -> Result<Size, SyntaxError> {
        let fail = |message: String| Err(SyntaxError { offset: 0, len: source.len().max(1), message });
        if source.len() > MAX_LEN {
            return fail(format!("the expression is longer than {MAX_LEN} bytes"));
        }
        let (mut depth, mut size) = (0usize, Size { nesting: 0, operators: 0 });
        for (_, b) in code_bytes(source) {
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    size.nesting = size.nesting.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'<' | b'>' | b'=' | b'&' | b'|' | b'?' | b':' | b'.' | b',' => size.operators += 1,
                _ => {}
            }
        }
        if size.nesting > MAX_NESTING {
            return fail(format!("brackets nest deeper than {MAX_NESTING} levels"));
        }
        if size.operators > MAX_OPERATORS {
            return fail(format!("the expression has more than {MAX_OPERATORS} operators; split it into several steps"));
        }
        Ok(size)
    }

    /// Runs `f` with at least the stack an expression of this size needs (measured in a debug
    /// build, with a margin): on the caller's stack when it has that much left, as it has for
    /// everyday expressions, else on a new one.
    pub(crate) fn on_stack<T>(self, f: impl FnOnce() -> T) -> T {
        let need = (512 << 10) + self.nesting * (256 << 10) + self.operators * (40 << 10);
        stacker::maybe_grow(need, STACK, f)
    }
}

/// The depth of a parsed expression, found without recursion.
pub(crate) fn tree_depth(expr: &cel::parser::Expression) -> usize {
    use cel::common::ast::{EntryExpr, Expr};
    let mut deepest = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let mut push = |child| stack.push((child, depth + 1));
        match &e.expr {
            Expr::Select(select) => push(&select.operand),
            Expr::Call(call) => {
                call.target.as_deref().into_iter().chain(&call.args).for_each(push);
            }
            Expr::List(list) => list.elements.iter().for_each(push),
            Expr::Map(map) => map.entries.iter().for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(entry) => {
                    push(&entry.key);
                    push(&entry.value);
                }
                EntryExpr::StructField(field) => push(&field.value),
            }),
            Expr::Struct(s) => s.entries.iter().for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(entry) => {
                    push(&entry.key);
                    push(&entry.value);
                }
                EntryExpr::StructField(field) => push(&field.value),
            }),
            Expr::Comprehension(c) => [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result].into_iter().for_each(push),
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    deepest
}
