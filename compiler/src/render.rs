//! Rendering diagnostics with miette, for the terminal and for snapshot tests.
//!
//! miette is given an excerpt per diagnostic, never the whole file: only the lines around the
//! diagnostic's spans, each made printable (control characters such as ANSI escapes and bidi
//! overrides are shown escaped, so a flow cannot drive the terminal) and cut around the spans
//! when it is long (a minified JSON export is one line of megabytes). Line numbers and the
//! `file:line:column` header stay those of the real file.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceFile, Span, push_shown, shown};

/// Lines of context miette shows around a label.
const CONTEXT_LINES: usize = 1;
/// A line longer than this (in bytes) is shown as a window around the spans on it.
const LONG_LINE: usize = 240;
/// What a window keeps before the first span point on its line, and in all (in characters).
const WINDOW_BEFORE: usize = 40;
const WINDOW_WIDTH: usize = 160;

/// A diagnostic bound to its excerpt, in the form miette renders.
#[derive(Debug)]
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    excerpt: Excerpt<'a>,
    location: String,
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", shown(&self.diagnostic.message), self.location)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        let code = self.diagnostic.code;
        Some(Box::new(format!("wfc::{}::{}", code.as_str(), code.slug())))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        (!self.diagnostic.help.is_empty()).then(|| Box::new(shown(&self.diagnostic.help)) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.excerpt)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let label = |text: &str| Some(shown(text)).filter(|l| !l.is_empty());
        let primary = LabeledSpan::new_primary_with_span(label(&d.label), self.excerpt.span(d.span));
        let related = d.related.iter().map(move |(span, text)| LabeledSpan::new_with_span(label(text), self.excerpt.span(*span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders diagnostics as text: without colour and at a fixed width when `plain` (tests, pipes).
pub fn render(source: &SourceFile, diagnostics: &[Diagnostic], plain: bool) -> String {
    let handler =
        if plain { GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100) } else { GraphicalReportHandler::new() }.with_context_lines(CONTEXT_LINES);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let (line, column) = source.line_col(diagnostic.span.start);
        let spans: Vec<Span> = std::iter::once(diagnostic.span).chain(diagnostic.related.iter().map(|(s, _)| *s)).collect();
        let report = Report { diagnostic, excerpt: Excerpt::new(source, &spans), location: format!("{}:{line}:{column}", shown(&source.path)) };
        // Writing to a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

/// The lines of a file that one diagnostic shows, printable, with a map back to the file.
#[derive(Debug)]
struct Excerpt<'a> {
    source: &'a SourceFile,
    name: String,
    /// The shown text: lines `first_line..` of the file; a line no label is near is left empty.
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// (file offset, excerpt offset) at each character boundary of the shown text, sorted.
    points: Vec<(usize, usize)>,
}

impl<'a> Excerpt<'a> {
    fn new(source: &'a SourceFile, spans: &[Span]) -> Self {
        let text = &source.text;
        let line_of = |offset: usize| source.line_col(offset).0 - 1;
        let mut near: Vec<(usize, usize)> = spans.iter().map(|s| (line_of(s.start).saturating_sub(CONTEXT_LINES), line_of(s.end.max(s.start + 1) - 1) + CONTEXT_LINES)).collect();
        near.sort_unstable();
        let first_line = near.first().map_or(0, |s| s.0);
        let last_line = near.iter().map(|s| s.1).max().unwrap_or(0).min(source.line_count().saturating_sub(1));
        let mut excerpt = Excerpt { source, name: shown(&source.path), text: String::new(), first_line, points: Vec::new() };
        for line in first_line..=last_line {
            if line > first_line {
                excerpt.text.push('\n');
            }
            if !near.iter().any(|(a, b)| (*a..=*b).contains(&line)) {
                continue;
            }
            let (start, end) = source.line_range(line);
            let points: Vec<usize> = spans.iter().flat_map(|s| [s.start, s.end]).filter(|p| (start..=end).contains(p)).collect();
            let (from, to) = window(text, start, end, &points);
            if from > start {
                excerpt.text.push('…');
            }
            for (i, c) in text[from..to].char_indices() {
                excerpt.points.push((from + i, excerpt.text.len()));
                push_shown(&mut excerpt.text, c);
            }
            excerpt.points.push((to, excerpt.text.len()));
            if to < end {
                excerpt.text.push('…');
            }
        }
        excerpt
    }

    /// Where a file offset is in the excerpt (an offset cut out is moved to the nearest kept one).
    fn offset(&self, offset: usize) -> usize {
        let i = self.points.partition_point(|(file, _)| *file <= offset);
        match (i.checked_sub(1).and_then(|i| self.points.get(i)), self.points.get(i)) {
            (Some((file, at)), _) if *file == offset => *at,
            (Some(_), Some((_, next))) => *next,
            (Some((_, at)), None) => *at,
            (None, Some((_, at))) => *at,
            (None, None) => 0,
        }
    }

    fn span(&self, span: Span) -> SourceSpan {
        let start = self.offset(span.start);
        SourceSpan::new(start.into(), self.offset(span.end).max(start) - start)
    }

    /// The file offset of an excerpt offset.
    fn file_offset(&self, at: usize) -> usize {
        let i = self.points.partition_point(|(_, ex)| *ex <= at);
        i.checked_sub(1).and_then(|i| self.points.get(i)).map_or(0, |(file, _)| *file)
    }
}

/// The byte range of a line shown: all of it, or for a long line a window that starts a little
/// before the first span point on it.
fn window(text: &str, start: usize, end: usize, points: &[usize]) -> (usize, usize) {
    if end - start <= LONG_LINE {
        return (start, end);
    }
    let anchor = points.iter().copied().min().unwrap_or(start);
    let from = text[start..anchor].char_indices().rev().nth(WINDOW_BEFORE - 1).map_or(start, |(i, _)| start + i);
    let to = text[from..end].char_indices().nth(WINDOW_WIDTH).map_or(end, |(i, _)| from + i);
    (from, to)
}

impl SourceCode for Excerpt<'_> {
    fn read_span<'b>(&'b self, span: &SourceSpan, before: usize, after: usize) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let contents = self.text.read_span(span, before, after)?;
        // Line numbers are the file's; the column of the header too, read from the file.
        let column = if before == 0 {
            let (_, column) = self.source.line_col(self.file_offset(span.offset()));
            column - 1
        } else {
            contents.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(self.name.clone(), contents.data(), *contents.span(), contents.line() + self.first_line, column, contents.line_count())))
    }
}
