//! Authoring tools with real clients: `wfc mcp` driven by the official MCP Python SDK, as an
//! agent would (list node types, check a broken flow, read the diagnostic, fix it, plan, build,
//! read a sample), and `wfc lsp` driven by a scripted JSON-RPC session, as an editor would.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};
use wfc_tests::{repo_root, workers};

#[test]
fn an_agent_authors_a_flow_over_mcp() {
    let out = workers::target_dir().join("mcp-session");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("a folder for the built crate");
    let session = Command::new("python3").arg(repo_root().join("tests/clients/mcp_session.py")).arg(workers::binary("wfc")).arg(&out).output().expect("python3 runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&session.stdout), String::from_utf8_lossy(&session.stderr));
    assert!(session.status.success(), "the MCP session failed (scripts/setup.sh installs PyPI's `mcp`):\n{stdout}{stderr}");
    eprint!("{stdout}");
}

/// An editor's side of `wfc lsp`: framed JSON-RPC over the child's stdin and stdout.
struct Editor {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
}

impl Editor {
    fn start() -> Editor {
        let mut child = Command::new(workers::binary("wfc")).arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("wfc lsp starts");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout"));
        Editor { child, input, output, next_id: 0 }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.input.flush().expect("flush");
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            assert!(self.output.read_line(&mut line).expect("read") > 0, "wfc lsp closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        self.output.read_exact(&mut body).expect("body");
        serde_json::from_slice(&body).expect("JSON")
    }

    /// Sends a request and returns its result, skipping notifications in between.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics the server publishes.
    fn diagnostics(&mut self) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics" {
                return message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
        }
    }
}

const URI: &str = "file:///work/flows/signup.yaml";

const BROKEN: &str = "name: signup
inputSchema:
  type: object
  properties:
    email: {type: string}
root:
  type: Sequence
  id: main
  children:
    - type: HttpRequest
      id: create-user
      config:
        url: \"https://api.example.com/users/{{ input.email }}\"

    - type: Log
      id: done
      config: {message: \"created {{ create_usr.status }}\"}
";

/// The position (0-based line, UTF-16 column) of the `nth` occurrence of `needle`, plus `shift`.
fn at(text: &str, needle: &str, shift: usize) -> Value {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is in the text")) + shift;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": column})
}

fn document(position: Value) -> Value {
    json!({"textDocument": {"uri": URI}, "position": position})
}

fn labels(completions: &Value) -> Vec<String> {
    completions.as_array().into_iter().flatten().filter_map(|c| c["label"].as_str().map(str::to_string)).collect()
}

#[test]
fn an_editor_gets_diagnostics_hover_completion_and_definitions_over_lsp() {
    let mut editor = Editor::start();
    let init = editor.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": {}}));
    let capabilities = &init["capabilities"];
    assert_eq!(capabilities["hoverProvider"], json!(true), "{init}");
    assert_eq!(capabilities["definitionProvider"], json!(true), "{init}");
    assert!(capabilities["completionProvider"].is_object(), "{init}");
    editor.notify("initialized", json!({}));

    // Opening a flow with a typo publishes `wfc check`'s diagnostic, with its range.
    editor.notify("textDocument/didOpen", json!({"textDocument": {"uri": URI, "languageId": "yaml", "version": 1, "text": BROKEN}}));
    let diagnostics = editor.diagnostics();
    let typo = diagnostics.iter().find(|d| d["code"] == "E0102").unwrap_or_else(|| panic!("an E0102 diagnostic: {diagnostics:?}"));
    assert_eq!(typo["range"]["start"], at(BROKEN, "create_usr", 0), "{typo}");
    assert_eq!(typo["range"]["end"], at(BROKEN, "create_usr", "create_usr".len()), "{typo}");
    assert!(typo["message"].as_str().unwrap().contains("did you mean `create_user`"), "{typo}");
    assert_eq!(typo["severity"], 1);

    // Hover: a node type and a field show their docs from the catalog.
    let hover = editor.request("textDocument/hover", document(at(BROKEN, "HttpRequest", 3)));
    assert!(hover["contents"]["value"].as_str().unwrap().starts_with("**HttpRequest**"), "{hover}");
    let hover = editor.request("textDocument/hover", document(at(BROKEN, "url:", 1)));
    assert!(hover["contents"]["value"].as_str().unwrap().contains("`url` of **HttpRequest**"), "{hover}");

    // Completion: input fields after `input.`, node ids inside `{{ }}`, and config fields
    // where a new key of `config:` is being typed.
    let input = labels(&editor.request("textDocument/completion", document(at(BROKEN, "input.email", "input.".len()))));
    assert_eq!(input, ["email"]);
    let names = labels(&editor.request("textDocument/completion", document(at(BROKEN, "create_usr", 0))));
    assert!(names.contains(&"create_user".to_string()) && names.contains(&"input".to_string()), "{names:?}");
    let typing_key = BROKEN.replace("\n\n    - type: Log", "\n        he\n    - type: Log");
    editor.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": typing_key}]}));
    let _ = editor.diagnostics();
    let fields = labels(&editor.request("textDocument/completion", document(at(&typing_key, "        he", 10))));
    assert!(fields.contains(&"method".to_string()) && fields.contains(&"headers".to_string()), "{fields:?}");

    // Fixing the typo clears the diagnostics; then go-to-definition leads to the node's id.
    let fixed = BROKEN.replace("create_usr", "create_user");
    editor.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": fixed}]}));
    let diagnostics = editor.diagnostics();
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let definition = editor.request("textDocument/definition", document(at(&fixed, "create_user.status", 2)));
    assert_eq!(definition["uri"], URI);
    assert_eq!(definition["range"]["start"], at(&fixed, "create-user", 0), "{definition}");

    // Typing a node type offers the catalog.
    let typing = fixed.replace("- type: Log", "- type: Lo");
    editor.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 4}, "contentChanges": [{"text": typing}]}));
    let _ = editor.diagnostics();
    let types = labels(&editor.request("textDocument/completion", document(at(&typing, "type: Lo", "type: Lo".len()))));
    assert!(types.contains(&"Log".to_string()) && types.contains(&"HumanApproval".to_string()), "{types:?}");

    // A test file is checked against its flow: a mock of a node the flow lacks is pointed at.
    let tests_uri = format!("file://{}", repo_root().join("samples/purchase-approval.test.yaml").display());
    let tests = "cases:\n  - name: a typo\n    mocks:\n      manager-aproval: {output: {approved: true}}\n";
    editor.notify("textDocument/didOpen", json!({"textDocument": {"uri": tests_uri, "languageId": "yaml", "version": 1, "text": tests}}));
    let diagnostics = editor.diagnostics();
    let typo = diagnostics.iter().find(|d| d["code"] == "E0102").unwrap_or_else(|| panic!("an E0102 diagnostic: {diagnostics:?}"));
    assert_eq!(typo["range"]["start"], at(tests, "manager-aproval", 0), "{typo}");
    assert!(typo["message"].as_str().unwrap().contains("manager-approval"), "{typo}");

    editor.request("shutdown", Value::Null);
    editor.notify("exit", Value::Null);
    let status = editor.child.wait().expect("wfc lsp exits");
    assert!(status.success(), "{status}");
}
