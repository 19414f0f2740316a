//! Identifier sanitising: the one place where names from a flow become names in code.
//!
//! The original name is always kept for the wire (activity ids, Temporal names, JSON keys); only
//! Rust items get sanitised names, so flow content can never inject code.

use std::collections::BTreeSet;

/// The name a node's output has in expressions: `create-user` reads as `create_user`.
pub fn expr_name(id: &str) -> String {
    id.replace('-', "_")
}

/// Splits a name into lower-case words at `-`, `_`, blanks, other symbols and case changes.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A `snake_case` Rust identifier for `name`, never a keyword and never starting with a digit.
pub fn snake(name: &str) -> String {
    let joined = words(name).join("_");
    let ident = if joined.is_empty() { "unnamed".to_string() } else { joined };
    guard(ident)
}

/// An `UpperCamelCase` Rust type name for `name`.
pub fn camel(name: &str) -> String {
    let joined: String = words(name)
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or(String::new(), |f| f.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect();
    let ident = if joined.is_empty() { "Unnamed".to_string() } else { joined };
    if ident.starts_with(|c: char| c.is_ascii_digit()) { format!("N{ident}") } else { guard(ident) }
}

fn guard(ident: String) -> String {
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{ident}")
    } else if is_keyword(&ident) {
        format!("{ident}_")
    } else {
        ident
    }
}

/// Hands out unique identifiers: a second `foo` becomes `foo_2`, and reserved names are avoided.
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    pub fn reserving(reserved: &[&str]) -> Self {
        Names { taken: reserved.iter().map(|s| s.to_string()).collect() }
    }

    pub fn unique(&mut self, base: String) -> String {
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.taken.insert(candidate.clone()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        candidate
    }
}

/// True for Rust's keywords, strict and reserved.
pub fn is_keyword(ident: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match",
        "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "union",
    ];
    KEYWORDS.contains(&ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising() {
        assert_eq!(snake("create-user"), "create_user");
        assert_eq!(snake("CreateUser"), "create_user");
        assert_eq!(snake("HTTPCall"), "httpcall");
        assert_eq!(snake("3d-secure"), "n3d_secure");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("Self"), "self_");
        assert_eq!(snake("größe"), "gr_e");
        assert_eq!(snake("---"), "unnamed");
        assert_eq!(camel("user-onboarding"), "UserOnboarding");
        assert_eq!(camel("self"), "Self_");
        assert_eq!(camel("1st"), "N1st");
        assert_eq!(expr_name("a-b"), "a_b");
    }

    #[test]
    fn every_keyword_is_guarded() {
        for keyword in ["fn", "loop", "match", "async", "await", "dyn", "gen", "try", "union"] {
            let s = snake(keyword);
            assert_ne!(s, keyword);
            assert!(syn::parse_str::<syn::Ident>(&s).is_ok(), "{s}");
        }
    }

    #[test]
    fn collisions_after_folding_get_suffixes() {
        let mut names = Names::reserving(&["run"]);
        assert_eq!(names.unique(snake("a-b")), "a_b");
        assert_eq!(names.unique(snake("a_b")), "a_b_2");
        assert_eq!(names.unique(snake("A-B")), "a_b_3");
        assert_eq!(names.unique(snake("run")), "run_2");
    }
}
