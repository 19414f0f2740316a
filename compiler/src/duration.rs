//! Human durations: `500ms`, `30s`, `5 minutes`, `24 hours`, `7 days`, `1 year`.

/// The longest duration a flow may give: Temporal keeps durations as 64-bit nanoseconds in
/// places (about 292 years), so a century is the round bound below that.
pub const MAX_MS: u64 = 100 * 365 * 86_400_000;

/// Parses a duration into milliseconds: at least 1ms (Temporal refuses a zero timeout or
/// timer) and at most [`MAX_MS`].
pub fn parse(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let compact: String = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    // humantime wants the number and unit together ("5minutes"); users write "5 minutes".
    let glued = glue_units(&compact);
    let duration = humantime::parse_duration(&glued).map_err(|e| format!("`{trimmed}` is not a duration: {e}"))?;
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("`{trimmed}` is not a whole number of milliseconds"));
    }
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    in_range(ms).map_err(|e| format!("`{trimmed}` {e}"))
}

/// A duration in milliseconds that Temporal accepts.
pub fn in_range(ms: u64) -> Result<u64, String> {
    match ms {
        0 => Err("is zero: Temporal needs a positive duration".to_string()),
        ms if ms > MAX_MS => Err("is longer than 100 years".to_string()),
        ms => Ok(ms),
    }
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
        assert!(parse("0s").is_err());
        assert!(parse("500us").is_err());
        assert!(parse("1000000 years").is_err());
        assert!(parse("").is_err());
    }
}
