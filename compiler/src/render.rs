//! Rendering diagnostics with miette, for the terminal and for snapshot tests.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceFile, Span};

/// A diagnostic bound to its source file, in the form miette renders.
#[derive(Debug)]
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
    location: String,
}

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.diagnostic.message, self.location)
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
        (!self.diagnostic.help.is_empty()).then(|| Box::new(&self.diagnostic.help) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let d = self.diagnostic;
        let primary = LabeledSpan::new_primary_with_span(Some(d.label.clone()).filter(|l| !l.is_empty()), to_miette(d.span));
        let related = d.related.iter().map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), to_miette(*span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// The one conversion from our byte spans to miette's.
fn to_miette(span: Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.end - span.start)
}

/// Renders diagnostics as text: without colour and at a fixed width when `plain` (tests, pipes).
pub fn render(source: &SourceFile, diagnostics: &[Diagnostic], plain: bool) -> String {
    let handler = if plain {
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100)
    } else {
        GraphicalReportHandler::new()
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let (line, column) = source.line_col(diagnostic.span.start);
        let report = Report {
            diagnostic,
            source: NamedSource::new(&source.path, source.text.clone()),
            location: format!("{}:{line}:{column}", source.path),
        };
        // Writing to a String cannot fail.
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}
