//! `wfc mcp`: a Model Context Protocol server over stdio, so AI agents can author flows. Its
//! tools are the commands a person runs (node types, schema, check, explain, plan, build),
//! answering with structured data; its resources are the samples, the node reference and the
//! schema. Built on `rmcp`, the official Rust SDK. Nothing is written to stdout but protocol.

use std::path::PathBuf;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::schemars::JsonSchema;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};
use wfc::{RuntimeSource, SourceFile, author};

/// The samples, embedded by `build.rs`: (file name, text).
const SAMPLES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/samples.rs"));

/// Serves MCP on stdin/stdout until the client closes it.
pub fn serve() -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("cannot start the MCP runtime: {e}"))?;
    runtime.block_on(async {
        let service = Wfc::new().serve(rmcp::transport::stdio()).await.map_err(|e| format!("MCP initialization failed: {e}"))?;
        service.waiting().await.map_err(|e| format!("the MCP server stopped: {e}"))?;
        Ok(())
    })
}

#[derive(Clone)]
struct Wfc {
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct NodeTypesArgs {
    /// Only this node type (a name or alias), e.g. `HttpRequest`.
    #[serde(rename = "type")]
    node_type: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct FlowArgs {
    /// The flow document (YAML or JSON), as text.
    text: String,
    /// A registry document (YAML with an `activities:` map) declaring activities the flow
    /// calls but does not declare.
    registry: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct ExplainArgs {
    /// A diagnostic code such as `E0102`, or its name such as `unknown-reference`.
    code: String,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct PlanArgs {
    /// The flow document (YAML or JSON), as text.
    text: String,
    /// `text` (default), `mermaid`, `json` or `dot`.
    format: Option<String>,
    /// A registry document (see `check`).
    registry: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct BuildArgs {
    /// The flow document (YAML or JSON), as text.
    text: String,
    /// The folder to write the worker crate into (created if missing).
    directory: String,
    /// How the crate depends on wfc-runtime: `path=DIR` (relative to the crate), `version=REQ`
    /// or `git=URL`. Default: this compiler's release.
    runtime: Option<String>,
    /// A registry document (see `check`).
    registry: Option<String>,
}

/// A tool's failure: `isError` with a message and, when there is more, structured data.
fn failure(message: String, data: Value) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = Some(data);
    result
}

fn success(summary: String, data: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(summary)]);
    result.structured_content = Some(data);
    result
}

/// Checks `text` with an optional registry: the options to build with, the check, and the
/// located diagnostics; or a failure result for an unreadable registry.
fn checked(text: &str, registry: Option<&str>) -> Result<(SourceFile, wfc::BuildOptions, wfc::Checked), Box<CallToolResult>> {
    let mut options = wfc::BuildOptions::default();
    if let Some(registry) = registry {
        let source = SourceFile::new("registry.yaml", registry);
        match wfc::registry(&source) {
            Ok(registry) => options.registry = registry,
            Err(diagnostics) => {
                let located = author::locate(&source, &diagnostics);
                return Err(Box::new(failure("the registry is invalid".into(), json!({ "registry": true, "diagnostics": located }))));
            }
        }
    }
    let source = SourceFile::new("flow.yaml", text);
    let checked = wfc::check(&source, &options);
    Ok((source, options, checked))
}

fn summary(diagnostics: &[author::Located]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{} {}:{} {}: {}{}", d.severity, d.line, d.column, d.code, d.message, if d.help.is_empty() { String::new() } else { format!(" (help: {})", d.help) }))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tool_router]
impl Wfc {
    fn new() -> Self {
        Wfc { tool_router: Self::tool_router() }
    }

    #[tool(description = "List the node types a flow can use, each with its configuration fields (name, kind, required), children and whether it runs as an activity.")]
    fn node_types(&self, Parameters(args): Parameters<NodeTypesArgs>) -> CallToolResult {
        let types = author::node_types();
        let types: Vec<_> = match &args.node_type {
            Some(wanted) => types.into_iter().filter(|t| t.name == wanted || t.aliases.contains(&wanted.as_str())).collect(),
            None => types,
        };
        if types.is_empty() {
            return failure(format!("no node type `{}`", args.node_type.unwrap_or_default()), json!({ "nodeTypes": [] }));
        }
        let names = types.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
        success(names, json!({ "nodeTypes": types }))
    }

    #[tool(description = "The JSON Schema of the workflow document format (both the tree and the graph form).")]
    fn schema(&self) -> CallToolResult {
        let schema = wfc::schema::document_schema();
        success("the JSON Schema of a wfc flow document".into(), json!({ "schema": schema }))
    }

    #[tool(
        description = "Check a flow given as text, as `wfc check` does. Returns `ok` and every diagnostic as data: code, name, severity, message, line, column, endLine, endColumn, label, help."
    )]
    fn check(&self, Parameters(args): Parameters<FlowArgs>) -> CallToolResult {
        let (source, _, checked) = match checked(&args.text, args.registry.as_deref()) {
            Ok(checked) => checked,
            Err(failed) => return *failed,
        };
        let located = author::locate(&source, &checked.diagnostics);
        let ok = !checked.has_errors();
        let text = if located.is_empty() { "ok: no diagnostics".to_string() } else { summary(&located) };
        success(text, json!({ "ok": ok, "diagnostics": located }))
    }

    #[tool(description = "Explain a diagnostic code (e.g. `E0102`): what it means and how to fix it.")]
    fn explain(&self, Parameters(args): Parameters<ExplainArgs>) -> CallToolResult {
        let wanted = args.code.trim().trim_start_matches("wfc::").to_ascii_uppercase();
        match wfc::Code::ALL.iter().find(|c| c.as_str() == wanted || c.slug().eq_ignore_ascii_case(args.code.trim())) {
            Some(code) => {
                let text = code.description();
                success(text.clone(), json!({ "code": code.as_str(), "name": code.slug(), "explanation": text }))
            }
            None => failure(format!("no diagnostic code `{}`", args.code), json!({ "codes": wfc::Code::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>() })),
        }
    }

    #[tool(description = "Show the execution plan of a flow given as text: regions, steps, edges by kind, joins. `format`: text (default), mermaid, json or dot.")]
    fn plan(&self, Parameters(args): Parameters<PlanArgs>) -> CallToolResult {
        let (source, _, checked) = match checked(&args.text, args.registry.as_deref()) {
            Ok(checked) => checked,
            Err(failed) => return *failed,
        };
        let located = author::locate(&source, &checked.diagnostics);
        let (Some(plan), false) = (&checked.plan, checked.has_errors()) else {
            return failure(format!("the flow is invalid:\n{}", summary(&located)), json!({ "diagnostics": located }));
        };
        let format = args.format.as_deref().unwrap_or("text");
        let text = match format {
            "text" => wfc::plan::render::text(plan),
            "mermaid" => wfc::plan::render::mermaid(plan),
            "dot" => wfc::plan::render::dot(plan),
            "json" => return success(format!("the plan of `{}`", source.stem()), json!({ "plan": wfc::plan::render::json(plan) })),
            other => return failure(format!("no plan format `{other}`: use text, mermaid, json or dot"), json!({})),
        };
        success(text.clone(), json!({ "format": format, "plan": text }))
    }

    #[tool(
        description = "Check a flow given as text and write its Temporal worker crate into `directory`, as `wfc build -o` does. Returns the crate's name and the files written; an invalid flow writes nothing and returns its diagnostics."
    )]
    fn build(&self, Parameters(args): Parameters<BuildArgs>) -> CallToolResult {
        let (source, mut options, checked) = match checked(&args.text, args.registry.as_deref()) {
            Ok(checked) => checked,
            Err(failed) => return *failed,
        };
        if let Some(runtime) = &args.runtime {
            match RuntimeSource::parse(runtime) {
                Ok(runtime) => options.runtime = runtime,
                Err(e) => return failure(format!("bad `runtime`: {e}"), json!({})),
            }
        }
        let located = author::locate(&source, &checked.diagnostics);
        if checked.has_errors() {
            return failure(format!("the flow is invalid; nothing was written:\n{}", summary(&located)), json!({ "diagnostics": located }));
        }
        let built = match wfc::generate(&source, checked, &options) {
            Ok(built) => built,
            Err(diagnostics) => {
                let located = author::locate(&source, &diagnostics);
                return failure(format!("the flow is invalid; nothing was written:\n{}", summary(&located)), json!({ "diagnostics": located }));
            }
        };
        let dir = PathBuf::from(&args.directory);
        let mut written = Vec::new();
        for file in &built.files {
            let target = dir.join(&file.path);
            if let Err(e) = target.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&target, &file.contents)) {
                return failure(format!("cannot write {}: {e}", target.display()), json!({ "written": written }));
            }
            written.push(file.path.clone());
        }
        let warnings = author::locate(&source, &built.warnings);
        let text = format!("built `{}` into {} ({} files); `cargo build` there makes the worker binary `{}-worker`", built.name, dir.display(), written.len(), built.name);
        success(text, json!({ "name": built.name, "directory": dir, "files": written, "warnings": warnings }))
    }
}

/// The resources: every sample, the node reference and the document schema.
fn resources() -> Vec<(String, String, &'static str, String)> {
    let mut out: Vec<_> = SAMPLES
        .iter()
        .map(|(name, text)| {
            let what = if name.ends_with(".test.yaml") { "test cases" } else { "sample flow" };
            (format!("wfc://samples/{name}"), name.to_string(), "application/yaml", format!("{what} {name}: {}", first_comment(text)))
        })
        .collect();
    out.push(("wfc://docs/nodes.md".into(), "nodes.md".into(), "text/markdown", "the node reference: every node type with its fields".into()));
    out.push(("wfc://schema/workflow.schema.json".into(), "workflow.schema.json".into(), "application/json", "the JSON Schema of a flow document".into()));
    out
}

/// A sample's description: its `description:` line or its first comment.
fn first_comment(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("description:").or_else(|| l.strip_prefix("# ")).map(|d| d.trim().trim_start_matches('|').trim()))
        .filter(|d| !d.is_empty())
        .unwrap_or("a flow")
        .to_string()
}

fn read(uri: &str) -> Option<String> {
    if let Some(name) = uri.strip_prefix("wfc://samples/") {
        return SAMPLES.iter().find(|(n, _)| *n == name).map(|(_, text)| text.to_string());
    }
    match uri {
        "wfc://docs/nodes.md" => Some(wfc::catalog::reference()),
        "wfc://schema/workflow.schema.json" => serde_json::to_string_pretty(&wfc::schema::document_schema()).ok(),
        _ => None,
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Wfc {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("wfc", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "wfc compiles workflow definitions (behavior-tree YAML, or node/edge graphs) into Temporal worker crates. \
                 To write a flow: read a sample (resources wfc://samples/…), list `node_types`, then `check` your text until it has no \
                 error diagnostics (`explain` a code when unsure), look at its `plan`, and `build` it into a folder.",
            )
    }

    async fn list_resources(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            resources().into_iter().map(|(uri, name, mime, description)| Resource::new(uri, name).with_description(description).with_mime_type(mime)).collect(),
        ))
    }

    async fn read_resource(&self, request: ReadResourceRequestParams, _context: RequestContext<RoleServer>) -> Result<ReadResourceResponse, ErrorData> {
        match read(&request.uri) {
            Some(text) => Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri.clone())]).into()),
            None => Err(ErrorData::resource_not_found(format!("no resource {}; list_resources names them", request.uri), None)),
        }
    }
}
