//! A schedule trigger's cron spec and time zone, checked as Temporal will read them.
//!
//! Temporal takes 5 fields (minute hour day-of-month month day-of-week), 6 (a year last) or 7
//! (a second first and a year last), the `@yearly`…`@hourly` shorthands, and `@every <interval>`.
//! The fields are checked by `croner`, the zone against the IANA database of `chrono-tz`.

use croner::parser::{CronParser, Seconds, Year};

/// Why `text` is not a cron spec Temporal accepts, with a hint of the form.
pub fn cron(text: &str) -> Result<(), String> {
    let text = text.trim();
    if let Some(interval) = text.strip_prefix("@every") {
        let interval = interval.trim();
        let interval = interval.split_once('/').map_or(interval, |(every, _)| every);
        return crate::duration::parse(interval).map(|_| ()).map_err(|e| format!("`@every` needs an interval: {e}"));
    }
    if text.starts_with('@') {
        return match text {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => Err(format!("`{text}` is not a shorthand Temporal knows (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`, `@every 5m`)")),
        };
    }
    // croner reads a year only after a second: Temporal's 6 fields get the second `0`.
    let (pattern, seconds, year) = match text.split_whitespace().count() {
        5 => (text.to_string(), Seconds::Disallowed, Year::Disallowed),
        6 => (format!("0 {text}"), Seconds::Required, Year::Required),
        7 => (text.to_string(), Seconds::Required, Year::Required),
        n => return Err(format!("a cron spec has 5 fields (minute hour day-of-month month day-of-week), not {n}")),
    };
    let parser = CronParser::builder().seconds(seconds).year(year).build();
    parser.parse(&pattern).map(|_| ()).map_err(|e| e.to_string())
}

/// Why `name` is not an IANA time zone.
pub fn timezone(name: &str) -> Result<(), String> {
    name.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| format!("`{name}` is not a time zone of the IANA database"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crons_as_temporal_reads_them() {
        for ok in ["0 9 * * 1-5", "*/15 * * * *", "0 0 1 1 * 2030", "30 0 9 * * MON 2031", "@daily", "@every 90m", "0 9 * * MON-FRI"] {
            assert_eq!(cron(ok), Ok(()), "{ok}");
        }
        for bad in ["61 25 * * 8", "* * *", "@sometimes", "@every soon", "0 9 * 13 *", ""] {
            assert!(cron(bad).is_err(), "{bad}");
        }
        assert!(timezone("Europe/Amsterdam").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
    }
}
