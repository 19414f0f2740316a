//! Deterministic iteration: CEL maps are hash maps, so a comprehension over a map's keys
//! (`m.map(k, …)`, `m.filter(…)`) would follow per-process hash order, and a replay on another
//! worker could see another value. Every comprehension ranges over `__wfc_ordered(range)`
//! instead, which gives a map's keys in sorted order and a list as it is.

/// The function every comprehension's range goes through: a map becomes the list of its keys
/// in sorted order, so `m.map(k, …)` and `m.filter(…)` never depend on hash order.
pub(crate) const ORDERED: &str = "__wfc_ordered";

/// Makes iteration deterministic: each comprehension ranges over `__wfc_ordered(range)`.
pub(crate) fn order_iteration(expr: &mut cel::parser::Expression) {
    use cel::common::ast::{CallExpr, EntryExpr, Expr};
    match &mut expr.expr {
        Expr::Select(select) => order_iteration(&mut select.operand),
        Expr::Call(call) => {
            if let Some(target) = call.target.as_deref_mut() {
                order_iteration(target);
            }
            call.args.iter_mut().for_each(order_iteration);
        }
        Expr::List(list) => list.elements.iter_mut().for_each(order_iteration),
        Expr::Map(map) => map.entries.iter_mut().for_each(|entry| match &mut entry.expr {
            EntryExpr::MapEntry(entry) => {
                order_iteration(&mut entry.key);
                order_iteration(&mut entry.value);
            }
            EntryExpr::StructField(field) => order_iteration(&mut field.value),
        }),
        Expr::Struct(s) => s.entries.iter_mut().for_each(|entry| match &mut entry.expr {
            EntryExpr::MapEntry(entry) => {
                order_iteration(&mut entry.key);
                order_iteration(&mut entry.value);
            }
            EntryExpr::StructField(field) => order_iteration(&mut field.value),
        }),
        Expr::Comprehension(c) => {
            for e in [&mut c.iter_range, &mut c.accu_init, &mut c.loop_cond, &mut c.loop_step, &mut c.result] {
                order_iteration(e);
            }
            if c.iter_var2.is_none() {
                let range = std::mem::take(&mut c.iter_range);
                let id = range.id;
                c.iter_range = cel::common::ast::IdedExpr { id, expr: Expr::Call(CallExpr { func_name: ORDERED.to_string(), target: None, args: vec![range] }) };
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// A map's keys, sorted (booleans, then integers, then strings); anything else as it is.
pub(crate) fn ordered(value: cel::Value) -> cel::Value {
    use cel::objects::Key;
    let cel::Value::Map(map) = value else { return value };
    let mut keys: Vec<Key> = map.map.keys().cloned().collect();
    keys.sort_by(|a, b| {
        let rank = |k: &Key| match k {
            Key::Bool(_) => 0,
            Key::Int(_) | Key::Uint(_) => 1,
            Key::String(_) => 2,
        };
        let number = |k: &Key| match k {
            Key::Int(i) => i128::from(*i),
            Key::Uint(u) => i128::from(*u),
            _ => 0,
        };
        rank(a).cmp(&rank(b)).then(number(a).cmp(&number(b))).then(a.cmp(b))
    });
    cel::Value::List(keys.into_iter().map(cel::Value::from).collect::<Vec<_>>().into())
}
