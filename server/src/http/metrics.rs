//! Prometheus metrics: requests by route and status, and a latency histogram. The recorder is
//! process-wide, installed once however many servers a process (a test run) starts.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("scimd_http_request_duration_seconds".into()), LATENCY_BUCKETS)
            .expect("valid buckets")
            .install_recorder()
            .expect("the metrics recorder is installed once")
    })
}

pub fn render() -> String {
    handle().render()
}

pub async fn track(request: Request, next: Next) -> Response {
    handle();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("scimd_http_requests_total", &labels).increment(1);
    metrics::histogram!("scimd_http_request_duration_seconds", &labels[..2]).record(start.elapsed().as_secs_f64());
    response
}
