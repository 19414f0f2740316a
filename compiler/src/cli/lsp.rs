//! `wfc lsp`: a language server over stdio for flows being edited. Each open document is
//! checked on every change (the diagnostics of `wfc check`, with ranges; a test file's node
//! ids against its flow, as `wfc test` reads them); hover, completion and
//! go-to-definition come from [`wfc::author`]. Built on rust-analyzer's `lsp-server`, which is
//! synchronous: one document is small and checking it takes milliseconds.

use std::collections::HashMap;

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics};
use lsp_types::request::{Completion, GotoDefinition, HoverRequest, Request as _};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse, Diagnostic, DiagnosticSeverity, GotoDefinitionParams, GotoDefinitionResponse,
    Hover, HoverContents, HoverParams, HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf, Position, PublishDiagnosticsParams, Range,
    ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;
use wfc::author::{self, CompletionKind};
use wfc::{SourceFile, Span};

/// Serves the language server protocol on stdin/stdout until the client shuts it down.
pub fn serve() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions { trigger_characters: Some(vec![".".into(), "{".into(), " ".into(), ":".into()]), ..Default::default() }),
        definition_provider: Some(OneOf::Left(true)),
        ..Default::default()
    };
    let capabilities = serde_json::to_value(capabilities).map_err(|e| e.to_string())?;
    connection.initialize(capabilities).map_err(|e| format!("the client did not initialize: {e}"))?;
    Server { connection: &connection, documents: HashMap::new() }.run()?;
    drop(connection);
    io_threads.join().map_err(|e| format!("the LSP transport failed: {e}"))
}

struct Server<'c> {
    connection: &'c Connection,
    /// Open documents by URI: (path, text).
    documents: HashMap<Uri, SourceFile>,
}

impl Server<'_> {
    fn run(mut self) -> Result<(), String> {
        for message in &self.connection.receiver {
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    let response = self.answer(request);
                    self.send(Message::Response(response))?;
                }
                Message::Notification(notification) => self.notice(notification)?,
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn send(&self, message: Message) -> Result<(), String> {
        self.connection.sender.send(message).map_err(|e| format!("the client went away: {e}"))
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => params::<HoverParams>(request.params).map(|p| {
                let at = &p.text_document_position_params;
                serde_json::to_value(self.hover(&at.text_document.uri, at.position)).unwrap_or(Value::Null)
            }),
            Completion::METHOD => params::<CompletionParams>(request.params).map(|p| {
                let at = &p.text_document_position;
                serde_json::to_value(self.complete(&at.text_document.uri, at.position)).unwrap_or(Value::Null)
            }),
            GotoDefinition::METHOD => params::<GotoDefinitionParams>(request.params).map(|p| {
                let at = &p.text_document_position_params;
                serde_json::to_value(self.definition(&at.text_document.uri, at.position)).unwrap_or(Value::Null)
            }),
            other => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("wfc lsp does not handle `{other}`")),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(e) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, e),
        }
    }

    fn notice(&mut self, notification: Notification) -> Result<(), String> {
        let uri = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = params::<lsp_types::DidOpenTextDocumentParams>(notification.params) else { return Ok(()) };
                self.documents.insert(p.text_document.uri.clone(), SourceFile::new(p.text_document.uri.path().as_str(), p.text_document.text));
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = params::<lsp_types::DidChangeTextDocumentParams>(notification.params) else { return Ok(()) };
                // Full sync: the last change is the whole text.
                let Some(change) = p.content_changes.into_iter().last() else { return Ok(()) };
                self.documents.insert(p.text_document.uri.clone(), SourceFile::new(p.text_document.uri.path().as_str(), change.text));
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = params::<lsp_types::DidCloseTextDocumentParams>(notification.params) else { return Ok(()) };
                self.documents.remove(&p.text_document.uri);
                // Closed: its diagnostics go away.
                return self.publish(p.text_document.uri, Vec::new());
            }
            _ => return Ok(()),
        };
        let diagnostics = self.diagnose(&uri);
        self.publish(uri, diagnostics)
    }

    fn publish(&self, uri: Uri, diagnostics: Vec<Diagnostic>) -> Result<(), String> {
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        self.send(Message::Notification(Notification::new(PublishDiagnostics::METHOD.to_string(), params)))
    }

    /// The diagnostics of `wfc check`, with ranges; for a test file, those of `wfc test`'s
    /// reading of it (every node id checked against its flow).
    fn diagnose(&self, uri: &Uri) -> Vec<Diagnostic> {
        let Some(source) = self.documents.get(uri) else { return Vec::new() };
        let diagnostics = if source.path.ends_with(".test.yaml") { self.test_file(source) } else { wfc::check(source, &wfc::BuildOptions::default()).diagnostics };
        diagnostics
            .iter()
            .map(|d| Diagnostic {
                range: range(source, d.span),
                severity: Some(if d.is_error() { DiagnosticSeverity::ERROR } else { DiagnosticSeverity::WARNING }),
                code: Some(NumberOrString::String(d.code.as_str().to_string())),
                source: Some("wfc".into()),
                message: if d.help.is_empty() { d.message.clone() } else { format!("{}\nhelp: {}", d.message, d.help) },
                ..Default::default()
            })
            .collect()
    }

    /// A test file's diagnostics: its own, then its node ids against its flow, read as the
    /// editor has it open, else from disk.
    fn test_file(&self, source: &SourceFile) -> Vec<wfc::Diagnostic> {
        let (file, mut diagnostics) = wfc::testfile::parse(source);
        let Some(file) = file.filter(|_| !diagnostics.iter().any(wfc::Diagnostic::is_error)) else { return diagnostics };
        let test_path = std::path::Path::new(&source.path);
        let flow_path = match &file.flow {
            Some(flow) => test_path.parent().unwrap_or(std::path::Path::new("")).join(flow),
            None => std::path::PathBuf::from(source.path.trim_end_matches(".test.yaml").to_string() + ".yaml"),
        };
        let open = self.documents.values().find(|d| std::path::Path::new(&d.path) == flow_path).map(|d| d.text.clone());
        let Some(text) = open.or_else(|| std::fs::read_to_string(&flow_path).ok()) else { return diagnostics };
        if let Some(flow) = wfc::check(&SourceFile::new(flow_path.to_string_lossy(), text), &wfc::BuildOptions::default()).flow {
            diagnostics.extend(wfc::testfile::check(source, &flow));
        }
        diagnostics
    }

    fn hover(&self, uri: &Uri, position: Position) -> Option<Hover> {
        let source = self.documents.get(uri)?;
        let (span, text) = author::hover(source, offset(source, position))?;
        Some(Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }), range: Some(range(source, span)) })
    }

    fn complete(&self, uri: &Uri, position: Position) -> Option<CompletionResponse> {
        let source = self.documents.get(uri)?;
        let items = author::completions(source, offset(source, position))
            .into_iter()
            .map(|c| CompletionItem {
                kind: Some(match c.kind {
                    CompletionKind::NodeType => CompletionItemKind::CLASS,
                    CompletionKind::Field => CompletionItemKind::FIELD,
                    CompletionKind::Node => CompletionItemKind::REFERENCE,
                    CompletionKind::InputField => CompletionItemKind::PROPERTY,
                    CompletionKind::Variable => CompletionItemKind::VARIABLE,
                }),
                detail: Some(c.detail),
                label: c.label,
                ..Default::default()
            })
            .collect();
        Some(CompletionResponse::Array(items))
    }

    fn definition(&self, uri: &Uri, position: Position) -> Option<GotoDefinitionResponse> {
        let source = self.documents.get(uri)?;
        let span = author::definition(source, offset(source, position))?;
        Some(GotoDefinitionResponse::Scalar(Location { uri: uri.clone(), range: range(source, span) }))
    }
}

fn params<P: serde::de::DeserializeOwned>(value: Value) -> Result<P, String> {
    serde_json::from_value(value).map_err(|e| format!("bad parameters: {e}"))
}

/// LSP positions count UTF-16 code units within a 0-based line.
fn position(source: &SourceFile, at: usize) -> Position {
    let text = &source.text;
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..line_start].matches('\n').count();
    let character = text[line_start..at].encode_utf16().count();
    Position { line: u32::try_from(line).unwrap_or(u32::MAX), character: u32::try_from(character).unwrap_or(u32::MAX) }
}

fn range(source: &SourceFile, span: Span) -> Range {
    Range { start: position(source, span.start), end: position(source, span.end.max(span.start)) }
}

/// The byte offset of an LSP position (clamped to its line and the text).
fn offset(source: &SourceFile, position: Position) -> usize {
    let text = &source.text;
    let Some(line_start) = (if position.line == 0 { Some(0) } else { text.match_indices('\n').nth(position.line as usize - 1).map(|(i, _)| i + 1) }) else {
        return text.len();
    };
    let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    let mut units = 0;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= position.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_end
}
