//! Source files and byte spans; the one place where saphyr's character positions become bytes.

/// A flow document as read by the CLI: where it came from and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it, used in diagnostics and generated headers.
    pub path: String,
    pub text: String,
    /// Byte offset of the start of every line, for line/column look-ups in O(log n).
    line_starts: Vec<usize>,
    /// An ASCII text's columns are byte distances, found in constant time.
    ascii: bool,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let ascii = text.is_ascii();
        SourceFile { path: path.into(), text, line_starts, ascii }
    }

    /// The file name without directory or extension, the name of a document that has none.
    pub fn stem(&self) -> &str {
        let name = self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path);
        name.split('.').next().unwrap_or(name)
    }

    /// How many lines the file has.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The byte range of a 0-based line, without its line break.
    pub fn line_range(&self, line: usize) -> (usize, usize) {
        let start = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        let end = self.line_starts.get(line + 1).map_or(self.text.len(), |next| next - 1);
        let end = if self.text[..end].ends_with('\r') { end - 1 } else { end };
        (start, end.max(start))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = if self.ascii { offset - line_start } else { self.text[line_start..offset].chars().count() };
        (line, column + 1)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A half-open byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end: end.max(start) }
    }

    /// A sub-range, given in bytes relative to this span's start, clamped to this span.
    pub fn slice(self, offset: usize, len: usize) -> Span {
        let start = (self.start + offset).min(self.end);
        Span::new(start, (start + len).min(self.end))
    }
}

/// Converts saphyr's character indices to byte offsets.
pub(crate) struct CharToByte {
    /// Byte offset of every character, plus the text length; empty when the text is ASCII.
    offsets: Vec<usize>,
    len: usize,
}

impl CharToByte {
    pub fn new(text: &str) -> Self {
        let offsets = if text.is_ascii() { Vec::new() } else { text.char_indices().map(|(i, _)| i).chain([text.len()]).collect() };
        CharToByte { offsets, len: text.len() }
    }

    pub fn byte(&self, char_index: usize) -> usize {
        if self.offsets.is_empty() { char_index.min(self.len) } else { self.offsets.get(char_index).copied().unwrap_or(self.len) }
    }
}

impl SourceFile {
    /// The span of `len` bytes at `offset` inside the string value `text` written at `span`.
    ///
    /// Exact for plain and simply quoted scalars and for the lines of block scalars; a string
    /// whose written form differs from its value otherwise (escapes, folded blocks) gets the
    /// whole value's span. For several pieces of one string, use [`SourceFile::string_positions`].
    pub fn span_in_string(&self, span: Span, text: &str, offset: usize, len: usize) -> Span {
        self.string_positions(span, text).span(offset, len)
    }

    /// Where the bytes of the string value `text`, written at `span`, are in the file: worked
    /// out once (linear in the string), then looked up per piece.
    pub fn string_positions(&self, span: Span, text: &str) -> StringPositions {
        let raw = self.text.get(span.start..span.end).unwrap_or("");
        if raw == text {
            return StringPositions { span, lines: vec![(0, Some(0))] };
        }
        if raw.len() == text.len() + 2 && raw.get(1..raw.len() - 1) == Some(text) {
            return StringPositions { span, lines: vec![(0, Some(1))] };
        }
        // A block scalar (`|`): each line of the value is a line of the source after its
        // indentation; find each line after the previous one.
        let mut lines = Vec::new();
        let (mut cursor, mut at) = (0, 0);
        for line in text.split('\n') {
            let found = (!line.is_empty()).then(|| raw[cursor..].find(line)).flatten().map(|found| cursor + found);
            if let Some(written) = found {
                cursor = written + line.len();
            }
            lines.push((at, found));
            at += line.len() + 1;
        }
        StringPositions { span, lines }
    }
}

/// The map from a string value's bytes to the file, for the lines of the value it could place
/// (see [`SourceFile::string_positions`]).
#[derive(Debug, Clone)]
pub struct StringPositions {
    span: Span,
    /// Per line of the value: its offset, and its offset in the written form when it was
    /// found there. Sorted; one entry for a value written as it is.
    lines: Vec<(usize, Option<usize>)>,
}

impl StringPositions {
    /// The span of `len` bytes at `offset` of the value; the whole value's span when the line
    /// it is on could not be placed.
    pub fn span(&self, offset: usize, len: usize) -> Span {
        let i = self.lines.partition_point(|(at, _)| *at <= offset);
        match i.checked_sub(1).map(|i| self.lines[i]) {
            Some((at, Some(written))) => self.span.slice(written + (offset - at), len),
            _ => self.span,
        }
    }
}

/// Text as a person is shown it: hidden characters escaped (`\u{1b}`), line breaks and tabs
/// kept.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    text.chars().for_each(|c| push_shown(&mut out, c));
    out
}

/// Appends `c` as [`shown`] shows it.
pub fn push_shown(out: &mut String, c: char) {
    if is_hidden(c) && c != '\n' && c != '\t' {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// Characters a terminal or an editor does not show as themselves: controls (ANSI escapes
/// start with one) and the bidi controls that reorder what is displayed around them.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
