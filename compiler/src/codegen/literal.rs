//! Flow content as Rust literals. Text from a flow only ever reaches generated code through
//! these functions, as string literals, so it can never become code.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::syntax::Value;

/// A template argument as typed data: `Template::Text("…")` for a string, and `Map`, `List`
/// and scalars around the strings of a JSON-shaped value, so nothing is parsed at run time.
pub fn template(value: &Value) -> TokenStream {
    json_template(&value.to_json())
}

fn json_template(value: &serde_json::Value) -> TokenStream {
    use serde_json::Value as J;
    match value {
        J::String(s) => {
            let s = Literal::string(s);
            quote! { Template::Text(#s) }
        }
        J::Null => quote! { Template::Null },
        J::Bool(b) => quote! { Template::Bool(#b) },
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                let i = Literal::i64_unsuffixed(i);
                quote! { Template::Int(#i) }
            }
            (None, Some(f)) if f.is_finite() => {
                let f = Literal::f64_unsuffixed(f);
                quote! { Template::Float(#f) }
            }
            _ => quote! { Template::Null },
        },
        J::Array(items) => {
            let items = items.iter().map(json_template);
            quote! { Template::List(&[#(#items),*]) }
        }
        J::Object(entries) => {
            let entries = entries.iter().map(|(k, v)| {
                let (k, v) = (Literal::string(k), json_template(v));
                quote! { (#k, #v) }
            });
            quote! { Template::Map(&[#(#entries),*]) }
        }
    }
}

/// A jq program as `Jq { source, vars }`: the text stays data, compiled by jaq in the worker.
pub fn jq(program: &crate::model::Jq) -> TokenStream {
    let source = Literal::string(&program.source);
    let vars = &program.vars;
    quote! { Jq { source: #source, vars: &[#(#vars),*] } }
}

/// A Serverless Workflow value as a `JqValue` tree: literals as they are, jq leaves as `Expr`.
pub fn jq_value(value: &crate::model::JqValue) -> TokenStream {
    use crate::model::JqValue as V;
    match value {
        V::Jq(program) => {
            let program = jq(program);
            quote! { JqValue::Expr(#program) }
        }
        V::Secret(program) => {
            let program = jq(program);
            quote! { JqValue::Secret(#program) }
        }
        V::List(items) => {
            let items = items.iter().map(jq_value);
            quote! { JqValue::List(&[#(#items),*]) }
        }
        V::Map(entries) => {
            let entries = entries.iter().map(|(k, v)| {
                let (k, v) = (Literal::string(k), jq_value(v));
                quote! { (#k, #v) }
            });
            quote! { JqValue::Map(&[#(#entries),*]) }
        }
        V::Json(json) => json_jq_value(json),
    }
}

fn json_jq_value(value: &serde_json::Value) -> TokenStream {
    use serde_json::Value as J;
    match value {
        J::String(s) => {
            let s = Literal::string(s);
            quote! { JqValue::Text(#s) }
        }
        J::Null => quote! { JqValue::Null },
        J::Bool(b) => quote! { JqValue::Bool(#b) },
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => {
                let i = Literal::i64_unsuffixed(i);
                quote! { JqValue::Int(#i) }
            }
            (None, Some(f)) if f.is_finite() => {
                let f = Literal::f64_unsuffixed(f);
                quote! { JqValue::Float(#f) }
            }
            _ => quote! { JqValue::Null },
        },
        J::Array(items) => {
            let items = items.iter().map(json_jq_value);
            quote! { JqValue::List(&[#(#items),*]) }
        }
        J::Object(entries) => {
            let entries = entries.iter().map(|(k, v)| {
                let (k, v) = (Literal::string(k), json_jq_value(v));
                quote! { (#k, #v) }
            });
            quote! { JqValue::Map(&[#(#entries),*]) }
        }
    }
}

/// `Some(…)` or `None` of an optional jq value.
pub fn optional_jq_value(value: Option<&crate::model::JqValue>) -> TokenStream {
    match value {
        Some(v) => {
            let v = jq_value(v);
            quote! { Some(#v) }
        }
        None => quote! { None },
    }
}

/// JSON text as a raw string literal (`r#"…"#`) with enough `#`s that the text cannot end it
/// early. Characters rustc refuses in a literal (bidi controls) or that hide in a review are
/// written as JSON escapes (`\u202e`): they can only stand inside JSON strings, where the escape
/// means the same character.
pub fn raw_string(text: &str) -> Literal {
    let text = &json_escaped(text);
    let mut hashes = 1;
    while text.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let fence = "#".repeat(hashes);
    format!("r{fence}\"{text}\"{fence}").parse().unwrap_or_else(|_| Literal::string(text))
}

fn json_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if crate::source::is_hidden(c) && c != '\n' && c != '\t' {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `Some(r#"<json>"#)` or `None`: a schema carried into generated code as JSON text.
pub fn optional_json(value: Option<&serde_json::Value>) -> TokenStream {
    match value {
        Some(value) => {
            let text = raw_string(&value.to_string());
            quote! { Some(#text) }
        }
        None => quote! { None },
    }
}

/// `Some(Duration::from_millis(ms))` or `None`.
pub fn optional_millis(ms: Option<u64>) -> TokenStream {
    match ms {
        Some(ms) => {
            let ms = Literal::u64_unsuffixed(ms);
            quote! { Some(::std::time::Duration::from_millis(#ms)) }
        }
        None => quote! { None },
    }
}

/// `#[doc]` attributes, one per line, so they print as `///` comments. Hidden characters are
/// shown escaped: rustc refuses bidi controls and a bare CR in a comment.
pub fn doc_lines(lines: &[String]) -> TokenStream {
    let attrs = lines.iter().map(|line| {
        let line = if line.is_empty() { String::new() } else { format!(" {}", crate::source::shown(line)) };
        quote! { #[doc = #line] }
    });
    quote! { #(#attrs)* }
}

#[cfg(test)]
mod tests {
    use super::raw_string;

    #[test]
    fn raw_strings_cannot_be_closed_by_their_content() {
        let text = r###"{"a": "x\"#y", "b": "\"##"}"###;
        let literal = raw_string(text).to_string();
        assert!(literal.starts_with("r###\""));
        let parsed: syn::LitStr = syn::parse_str(&literal).unwrap();
        assert_eq!(parsed.value(), text);
    }

    #[test]
    fn bidi_controls_become_json_escapes() {
        let json = serde_json::json!({"note": "a\u{202e}b\u{2066}"}).to_string();
        let literal: syn::LitStr = syn::parse_str(&raw_string(&json).to_string()).unwrap();
        assert_eq!(literal.value(), r#"{"note":"a\u202eb\u2066"}"#);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&literal.value()).unwrap().to_string(), json);
    }
}
