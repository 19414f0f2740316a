//! What a worker shows operators: Prometheus metrics (`--metrics ADDR`: the SDK's worker,
//! workflow and activity metrics, and wfc's per-node counters and durations) and a health
//! endpoint (`--health ADDR`: `GET /healthz` answers 200 while the worker polls, 503 before it
//! has connected and once it is stopping).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{PrometheusExporterOptions, start_prometheus_metric_exporter};

/// Starts the Prometheus endpoint (`/metrics`) and sends node metrics to it; returns the meter
/// the SDK's own metrics go to.
pub(crate) fn metrics(addr: SocketAddr) -> anyhow::Result<Arc<dyn CoreMeter>> {
    let options = PrometheusExporterOptions::builder().socket_addr(addr).counters_total_suffix(true).use_seconds_for_durations(true).build();
    let server = start_prometheus_metric_exporter(options).map_err(|e| anyhow!("cannot serve metrics on {addr}: {e}"))?;
    tracing::info!(target: "wfc::worker", addr = %server.bound_addr, "metrics on /metrics");
    let meter: Arc<dyn CoreMeter> = server.meter;
    crate::workflow::metrics::install(meter.clone());
    Ok(meter)
}

/// Whether the worker is polling: set once connected, cleared when it stops.
#[derive(Clone, Default)]
pub(crate) struct Health(Arc<AtomicBool>);

impl Health {
    pub(crate) fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }

    /// Serves `GET /healthz` on `addr` until the process ends.
    pub(crate) async fn serve(self, addr: SocketAddr) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow!("cannot serve health on {addr}: {e}"))?;
        tracing::info!(target: "wfc::worker", addr = %listener.local_addr()?, "health on /healthz");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let health = self.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let up = health.0.load(Ordering::Relaxed);
                        async move { Ok::<_, std::convert::Infallible>(answer(request.uri().path(), up)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(())
    }
}

fn answer(path: &str, up: bool) -> Response<Full<Bytes>> {
    let (status, body) = match (path, up) {
        ("/healthz", true) => (StatusCode::OK, "ok\n"),
        ("/healthz", false) => (StatusCode::SERVICE_UNAVAILABLE, "not polling\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}
