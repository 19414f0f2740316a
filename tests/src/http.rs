//! A real HTTP server on loopback that records every request and answers from a route table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// The server; it stops when dropped.
pub struct HttpServer {
    pub base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    routes: Arc<Mutex<BTreeMap<&'static str, Route>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A route header that is not sent: the server waits this many milliseconds before answering
/// (each request is answered on its own thread, so slow answers do not queue).
pub const DELAY_MS: &str = "x-test-delay-ms";

/// A route header that is not sent: its value is the body, as it is (for answers that are not
/// JSON, or not valid JSON).
pub const RAW_BODY: &str = "x-test-raw-body";

/// An answer: status, extra headers and a JSON body.
pub type Route = (u16, Vec<(&'static str, String)>, Value);

impl HttpServer {
    /// Serves `routes` (by `METHOD /path`); anything else gets 404. Answers are JSON
    /// unless the route says otherwise ([`RAW_BODY`], a `content-type` header).
    pub fn start(routes: Vec<(&'static str, Route)>) -> HttpServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("cannot bind an HTTP server on 127.0.0.1"));
        let base_url = format!("http://{}", server.server_addr().to_ip().expect("an IP listener"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes: Arc<Mutex<BTreeMap<&'static str, Route>>> = Arc::new(Mutex::new(routes.into_iter().collect()));
        let (server2, requests2, routes2) = (server.clone(), requests.clone(), routes.clone());
        let thread = std::thread::spawn(move || {
            for mut request in server2.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let path = request.url().split('?').next().unwrap_or_default().to_string();
                let key = format!("{} {}", request.method(), path);
                let recorded = Recorded {
                    method: request.method().to_string(),
                    path: request.url().to_string(),
                    headers: request.headers().iter().map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_string())).collect(),
                    body,
                };
                requests2.lock().unwrap_or_else(|e| e.into_inner()).push(recorded);
                let route = routes2.lock().unwrap_or_else(|e| e.into_inner()).get(key.as_str()).cloned();
                let (status, headers, json) = route.unwrap_or((404, Vec::new(), Value::String("not found".into())));
                let raw = headers.iter().find(|(name, _)| *name == RAW_BODY).map(|(_, body)| body.clone());
                let mut response = tiny_http::Response::from_string(raw.unwrap_or_else(|| json.to_string())).with_status_code(status);
                if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
                    response.add_header(tiny_http::Header::from_bytes("content-type", "application/json").expect("a valid header"));
                }
                let mut delay = 0;
                for (name, value) in headers {
                    if name == DELAY_MS {
                        delay = value.parse().unwrap_or(0);
                    } else if name != RAW_BODY {
                        response.add_header(tiny_http::Header::from_bytes(name, value.as_bytes()).expect("a valid header"));
                    }
                }
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(delay));
                    let _ = request.respond(response);
                });
            }
        });
        HttpServer { base_url, requests, routes, server, thread: Some(thread) }
    }

    /// Answers `route` (`METHOD /path`) this way from now on, e.g. a failing endpoint fixed.
    pub fn set_route(&self, route: &'static str, answer: Route) {
        self.routes.lock().unwrap_or_else(|e| e.into_inner()).insert(route, answer);
    }

    /// How many requests came for `path` (query aside).
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path.split('?').next() == Some(path)).count()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `127.0.0.1:<port>` of a server that answers anything, a TLS handshake included, with a plain
/// HTTP 400, as web servers do: where an `https://` URL meets a server without TLS.
pub fn no_tls_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let address = listener.local_addr().expect("an address").to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0; 512];
            let _ = std::io::Read::read(&mut stream, &mut buffer);
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    address
}
