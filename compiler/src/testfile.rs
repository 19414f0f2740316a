//! Test files (`<flow>.test.yaml`): cases that run a flow with some nodes mocked, signals sent
//! as nodes wait, and expectations on the result. Read here into typed cases, every node id
//! checked against the flow, so a typo is a located diagnostic like any flow error.
//!
//! ```yaml
//! flow: user-onboarding.yaml          # optional when the name matches
//! cases:
//!   - name: a pro user is onboarded
//!     input: {email: a@b.co, plan: pro}
//!     mocks:                           # node id → what it returns instead of running
//!       create-user: {output: {status: 201, body: {id: 7}}}
//!       send-welcome: {fail: "mailer answered 503", retryable: false}
//!       charge: {fail: {type: CardDeclined, status: 402}}   # a problem, for a `catch`
//!     signals:                         # sent when the named node starts waiting
//!       - {when: approve, signal: approval, payload: {approved: true}}
//!     expect:
//!       output: {userId: 7}            # a subset match
//!       completed: [create-user]
//!       failed: [send-welcome]
//!       skipped: [free-tier]
//!       error: null                    # or a substring of the run's failure
//! ```

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::Flow;
use crate::source::{SourceFile, Span};
use crate::syntax::{self, Key, Kind, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// The flow's path as written, relative to the test file.
    pub flow: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    pub span: Span,
    pub input: Json,
    /// Node id → `{"output": …}` or `{"fail": …}`, as the runtime reads it.
    pub mocks: BTreeMap<String, Json>,
    pub signals: Vec<Signal>,
    pub expect: Expect,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub when: String,
    pub signal: String,
    pub payload: Json,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    /// A subset of the run's output.
    pub output: Option<Json>,
    /// Where `output` is written (for `--update`), or where `expect` is, or the case.
    pub output_span: Option<Span>,
    pub completed: Vec<String>,
    pub failed: Vec<String>,
    pub skipped: Vec<String>,
    /// `Some(None)`: the run must succeed (`error: null`); `Some(Some(text))`: it must fail
    /// with `text` in its failure; `None`: either, unless `output` is expected.
    pub error: Option<Option<String>>,
}

/// Reads a test file; every shape error is a diagnostic.
pub fn parse(source: &SourceFile) -> (Option<TestFile>, Vec<Diagnostic>) {
    let (value, mut diagnostics) = syntax::parse(&source.text);
    let Some(value) = value else { return (None, diagnostics) };
    let mut reader = Reader { diagnostics: &mut diagnostics };
    let file = reader.file(&value);
    (file, diagnostics)
}

/// Every node id a case names must be one of the flow's; every signal one it declares.
pub fn check(source: &SourceFile, flow: &Flow) -> Vec<Diagnostic> {
    let ids: Vec<&str> = flow.nodes().iter().map(|n| n.id.as_str()).collect();
    let mut diagnostics = Vec::new();
    let (value, _) = syntax::parse(&source.text);
    let Some(value) = value else { return diagnostics };
    // Node ids are checked where they are written: the keys of `mocks`, `when`, and the lists.
    for case in field(&value, "cases").and_then(Value::as_seq).unwrap_or_default() {
        let mut names: Vec<(&str, Span)> = Vec::new();
        if let Some(mocks) = field(case, "mocks").and_then(Value::as_map) {
            names.extend(mocks.iter().map(|(key, _)| (key.name.as_str(), key.span)));
        }
        for step in field(case, "signals").and_then(Value::as_seq).unwrap_or_default() {
            names.extend(field(step, "when").and_then(|w| Some((w.as_str()?, w.span))));
        }
        if let Some(expect) = field(case, "expect") {
            for list in ["completed", "failed", "skipped"] {
                for item in field(expect, list).and_then(Value::as_seq).unwrap_or_default() {
                    names.extend(item.as_str().map(|s| (s, item.span)));
                }
            }
        }
        for (name, span) in names {
            if !ids.contains(&name) {
                let close = ids.iter().min_by_key(|id| strsim::levenshtein(id, name)).filter(|id| strsim::levenshtein(id, name) <= 2);
                let help = match close {
                    Some(id) => format!("did you mean `{id}`?"),
                    None => format!("the nodes of `{}` are: {}", flow.name, ids.join(", ")),
                };
                diagnostics.push(Diagnostic::error(Code::UnknownReference, span, format!("`{}` has no node `{name}`", flow.name)).label("no such node").help(help));
            }
        }
    }
    diagnostics
}

fn field<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    value.as_map()?.iter().find(|(key, _)| key.name == name).map(|(_, v)| v)
}

struct Reader<'d> {
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Reader<'_> {
    fn file(&mut self, value: &Value) -> Option<TestFile> {
        let entries = self.map(value, "a test file", &["flow", "cases"])?;
        let mut file = TestFile { flow: None, cases: Vec::new() };
        for (key, value) in entries {
            match key.name.as_str() {
                "flow" => file.flow = self.string(value, "`flow`"),
                _ => {
                    for case in self.seq(value, "`cases`") {
                        file.cases.extend(self.case(case));
                    }
                }
            }
        }
        if field(value, "cases").is_none() {
            self.diagnostics
                .push(Diagnostic::error(Code::MissingField, value.span, "a test file needs `cases`").label("no cases").help("add `cases:` with at least one `- name: …`"));
        }
        Some(file)
    }

    fn case(&mut self, value: &Value) -> Option<Case> {
        let entries = self.map(value, "a case", &["name", "input", "mocks", "signals", "expect"])?;
        let Some(name) = field(value, "name").and_then(|n| self.string(n, "`name`")) else {
            self.diagnostics.push(Diagnostic::error(Code::MissingField, value.span, "a case needs a `name`").label("unnamed case").help("add `name: what this case shows`"));
            return None;
        };
        let mut case = Case { name, span: value.span, input: Json::Object(Default::default()), mocks: BTreeMap::new(), signals: Vec::new(), expect: Expect::default() };
        for (key, value) in entries {
            match key.name.as_str() {
                "input" => case.input = value.to_json(),
                "mocks" => {
                    for (node, mock) in self.map(value, "`mocks`", &[]).unwrap_or_default() {
                        case.mocks.extend(self.mock(node, mock));
                    }
                }
                "signals" => {
                    for step in self.seq(value, "`signals`") {
                        case.signals.extend(self.signal(step));
                    }
                }
                "expect" => case.expect = self.expect(value),
                _ => {}
            }
        }
        if case.expect.output_span.is_none() {
            case.expect.output_span = Some(field(value, "expect").map_or(value.span, |e| e.span));
        }
        Some(case)
    }

    fn mock(&mut self, node: &Key, value: &Value) -> Option<(String, Json)> {
        let entries = self.map(value, "a mock", &["output", "fail", "retryable"])?;
        let output = entries.iter().find(|(k, _)| k.name == "output").map(|(_, v)| v.to_json());
        let fail = field(value, "fail").and_then(|f| self.failure(f));
        match (output, fail) {
            (Some(output), None) => Some((node.name.clone(), serde_json::json!({ "output": output }))),
            (None, Some(fail)) => Some((node.name.clone(), serde_json::json!({ "fail": fail }))),
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(Code::MissingField, value.span, format!("the mock of `{}` needs `output` or `fail`, one of them", node.name))
                        .label("what does the node return?")
                        .help("write `{output: …}` for what the node returns, or `{fail: \"why\"}` for a failure"),
                );
                None
            }
        }
    }

    fn signal(&mut self, value: &Value) -> Option<Signal> {
        self.map(value, "a signal", &["when", "signal", "payload"])?;
        let when = field(value, "when").and_then(|w| self.string(w, "`when`"));
        let signal = field(value, "signal").and_then(|s| self.string(s, "`signal`"));
        let (Some(when), Some(signal)) = (when, signal) else {
            self.diagnostics.push(
                Diagnostic::error(Code::MissingField, value.span, "a signal needs `when` (the node that waits) and `signal` (its name)")
                    .label("incomplete signal")
                    .help("write `{when: approve, signal: approval, payload: {approved: true}}`"),
            );
            return None;
        };
        Some(Signal { when, signal, payload: field(value, "payload").map_or(Json::Null, Value::to_json) })
    }

    fn expect(&mut self, value: &Value) -> Expect {
        let mut expect = Expect::default();
        for (key, value) in self.map(value, "`expect`", &["output", "completed", "failed", "skipped", "error"]).unwrap_or_default() {
            match key.name.as_str() {
                "output" => {
                    expect.output = Some(value.to_json());
                    expect.output_span = Some(value.span);
                }
                "error" => {
                    expect.error = Some(match &value.kind {
                        Kind::Null => None,
                        _ => self.string(value, "`error`"),
                    })
                }
                list => {
                    let names: Vec<String> = self.seq(value, list).iter().filter_map(|item| self.string(item, "a node id")).collect();
                    match list {
                        "completed" => expect.completed = names,
                        "failed" => expect.failed = names,
                        _ => expect.skipped = names,
                    }
                }
            }
        }
        expect
    }

    /// The entries of a map with only `known` keys (any key when `known` is empty).
    fn map<'v>(&mut self, value: &'v Value, what: &str, known: &[&str]) -> Option<&'v [(Key, Value)]> {
        let Some(entries) = value.as_map() else {
            self.diagnostics
                .push(Diagnostic::error(Code::WrongType, value.span, format!("{what} must be a map")).label("not a map").help(format!("write {what} as `key: value` lines")));
            return None;
        };
        for (key, _) in entries {
            if !known.is_empty() && !known.contains(&key.name.as_str()) {
                self.diagnostics.push(
                    Diagnostic::error(Code::UnknownField, key.span, format!("unknown field `{}` in {what}", key.name))
                        .label("unknown field")
                        .help(format!("{what} takes {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))),
                );
            }
        }
        Some(entries)
    }

    fn seq<'v>(&mut self, value: &'v Value, what: &str) -> &'v [Value] {
        value.as_seq().unwrap_or_else(|| {
            self.diagnostics
                .push(Diagnostic::error(Code::WrongType, value.span, format!("{what} must be a list")).label("not a list").help(format!("write {what} as `- …` items")));
            &[]
        })
    }

    /// A mock's failure: why, as text; or an RFC 7807 problem (`type` and `status` at least),
    /// which a Serverless Workflow `catch` filters on as on any error.
    fn failure(&mut self, value: &Value) -> Option<Json> {
        if value.as_map().is_none() {
            return self.string(value, "`fail`").map(Json::String);
        }
        let problem = value.to_json();
        if !(problem.get("type").is_some_and(Json::is_string) && problem.get("status").is_some_and(Json::is_u64)) {
            self.diagnostics.push(
                Diagnostic::error(Code::MissingField, value.span, "a failure written as a problem needs its `type` (text) and `status` (a number)")
                    .label("incomplete problem")
                    .help("write e.g. `{fail: {type: CardDeclined, status: 402, title: Card declined}}`, or the failure's message as text"),
            );
            return None;
        }
        Some(problem)
    }

    fn string(&mut self, value: &Value, what: &str) -> Option<String> {
        let text = value.as_str().map(str::to_string);
        if text.is_none() {
            self.diagnostics.push(Diagnostic::error(Code::WrongType, value.span, format!("{what} must be text")).label("not text").help(format!("write {what} as a string")));
        }
        text
    }
}
