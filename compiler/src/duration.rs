//! Human durations: `500ms`, `30s`, `5 minutes`, `24 hours`, `7 days`, `1 year`.

/// Parses a duration into milliseconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let compact: String = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    // humantime wants the number and unit together ("5minutes"); users write "5 minutes".
    let glued = glue_units(&compact);
    let duration = humantime::parse_duration(&glued).map_err(|e| format!("`{trimmed}` is not a duration: {e}"))?;
    u64::try_from(duration.as_millis()).map_err(|_| format!("`{trimmed}` is too long"))
}

/// Removes the blank between a number and its unit: `5 minutes 3 s` → `5minutes 3s`.
fn glue_units(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c.is_ascii_digit() && chars.peek() == Some(&' ') {
            let mut lookahead = chars.clone();
            lookahead.next();
            if lookahead.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
                chars.next();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_forms_of_the_contract() {
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("30s"), Ok(30_000));
        assert_eq!(parse("5 minutes"), Ok(300_000));
        assert_eq!(parse("24 hours"), Ok(86_400_000));
        assert_eq!(parse("7 days"), Ok(604_800_000));
        assert_eq!(parse("1m 30s"), Ok(90_000));
        assert!(parse("1 year").unwrap() > 365 * 86_400_000);
        assert!(parse("soon").is_err());
        assert!(parse("").is_err());
    }
}
