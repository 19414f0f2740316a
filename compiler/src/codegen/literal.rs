//! Flow content as Rust literals. Text from a flow only ever reaches generated code through
//! these functions, as string literals, so it can never become code.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::syntax::{Kind, Value};

/// A template argument: `Template::Text("…")` for a string, `Template::Json(r#"…"#)` otherwise.
pub fn template(value: &Value) -> TokenStream {
    match &value.kind {
        Kind::String(s) => quote! { Template::Text(#s) },
        _ => {
            let json = serde_json::to_string_pretty(&value.to_json()).unwrap_or_else(|_| "null".to_string());
            let literal = raw_string(&json);
            quote! { Template::Json(#literal) }
        }
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
