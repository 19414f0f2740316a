//! `ui [--port P] [--run ID]`: a local web page that draws the flow's plan and colours each node
//! by its live state. The page polls two JSON answers of this server: `view.json` (the plan the
//! compiler wrote into the crate) and `api/run?id=ID` (the run's [`Report`], replayed from its
//! history). Nothing else is needed: no database, no extra Temporal calls from the workflow.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::anyhow;
use futures::StreamExt;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use temporalio_client::{Client, WorkflowListOptions};

use super::cli::Worker;
use super::report::Report;

const PAGE: &str = include_str!("ui.html");

/// The newest report of each run asked for, kept while its history has not grown.
type Cache = tokio::sync::Mutex<Option<(String, usize, Arc<Report>)>>;

pub(crate) async fn serve(spec: &'static Worker, port: u16, run: Option<String>) -> anyhow::Result<ExitCode> {
    let client = super::connect().await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.map_err(|e| anyhow!("cannot serve the view on port {port}: {e}"))?;
    let address = listener.local_addr()?;
    let query = run.as_deref().map(|id| format!("?run={}", form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())).unwrap_or_default();
    eprintln!("view: http://{address}/{query}");
    let cache: Rc<Cache> = Rc::default();
    // A replay runs workflow code, which is not `Send`: connections are served on this thread.
    let connections = tokio::task::LocalSet::new();
    connections
        .run_until(async move {
            let shutdown = super::cli::shutdown_signal();
            tokio::pin!(shutdown);
            loop {
                let (stream, _) = tokio::select! {
                    accepted = listener.accept() => accepted?,
                    () = &mut shutdown => return Ok(ExitCode::SUCCESS),
                };
                let (client, cache) = (client.clone(), cache.clone());
                tokio::task::spawn_local(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (client, cache) = (client.clone(), cache.clone());
                        async move { Ok::<_, Infallible>(answer(spec, &client, &cache, &request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        })
        .await
}

async fn answer(spec: &Worker, client: &Client, cache: &Cache, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let param = |name: &str| form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    match request.uri().path() {
        "/" | "/index.html" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE.to_string()),
        "/view.json" => respond(StatusCode::OK, "application/json", spec.view.to_string()),
        "/api/runs" => match runs(client, spec.name).await {
            Ok(runs) => respond(StatusCode::OK, "application/json", runs.to_string()),
            Err(e) => respond(StatusCode::BAD_GATEWAY, "application/json", json!({ "error": format!("{e:#}") }).to_string()),
        },
        "/api/run" => {
            let Some(id) = param("id") else { return respond(StatusCode::BAD_REQUEST, "application/json", json!({ "error": "give ?id=RUN" }).to_string()) };
            match run(spec, client, cache, &id).await {
                Ok(report) => respond(StatusCode::OK, "application/json", serde_json::to_string(&*report).unwrap_or_default()),
                Err(e) => respond(StatusCode::BAD_GATEWAY, "application/json", json!({ "error": format!("{e:#}") }).to_string()),
            }
        }
        _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".to_string()),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    response
}

/// The run's report; replayed again only when its history has grown.
async fn run(spec: &Worker, client: &Client, cache: &Cache, id: &str) -> anyhow::Result<Arc<Report>> {
    let events = super::report::history(client, id).await?;
    let mut cached = cache.lock().await;
    if let Some((cached_id, length, report)) = cached.as_ref()
        && cached_id == id
        && *length == events.len()
        && report.state != "running"
    {
        return Ok(report.clone());
    }
    let report = Arc::new(super::report::report(spec, client, id, &events).await?);
    *cached = Some((id.to_string(), events.len(), report.clone()));
    Ok(report)
}

/// The 20 newest runs of the flow, newest first.
async fn runs(client: &Client, name: &str) -> anyhow::Result<serde_json::Value> {
    let query = format!("WorkflowType = '{}'", name.replace('\'', "\\'"));
    let mut listed = client.list_workflows(query, WorkflowListOptions::builder().limit(20).build());
    let mut runs = Vec::new();
    while let Some(run) = listed.next().await {
        let run = run.map_err(|e| anyhow!("cannot list the runs of `{name}`: {e}"))?;
        runs.push(json!({ "id": run.id(), "status": format!("{:?}", run.status()) }));
    }
    Ok(serde_json::Value::Array(runs))
}
