//! Prometheus text exposition and the `/stats` + `/metrics` listener.
//!
//! Each binary keeps its counters in its own small stats struct (atomics with increment
//! methods) and describes them here as [`Family`] values at scrape time; `prometheus-client`
//! (the Prometheus project's Rust client) writes the text format, so escaping, `# HELP` /
//! `# TYPE` lines, `_total` suffixes and the `# EOF` trailer follow the OpenMetrics rules
//! without us re-implementing them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The content type of the text exposition.
pub const CONTENT_TYPE_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Counter (only goes up) or gauge (a level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One metric with its samples, one per label set.
#[derive(Debug, Clone)]
pub struct Family {
    /// Without the binary's prefix and (for counters) without `_total`.
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    pub fn counter(name: &'static str, help: &'static str, value: u64) -> Self {
        Self::labelled(name, help, Kind::Counter, vec![(vec![], value as f64)])
    }

    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Self {
        Self::labelled(name, help, Kind::Gauge, vec![(vec![], value)])
    }

    pub fn labelled(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        samples: Vec<(Vec<(&'static str, String)>, f64)>,
    ) -> Self {
        Self {
            name,
            help,
            kind,
            samples,
        }
    }
}

#[derive(Debug)]
struct Snapshot(Vec<Family>);

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let ty = match f.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, ty)?;
            for (labels, value) in &f.samples {
                if labels.is_empty() {
                    encode_value(f.kind, *value, &mut metric)?;
                } else {
                    encode_value(f.kind, *value, &mut metric.encode_family(labels)?)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_value(
    kind: Kind,
    value: f64,
    sample: &mut MetricEncoder<'_>,
) -> Result<(), std::fmt::Error> {
    match kind {
        // Counters here are whole numbers of events or bytes.
        Kind::Counter => sample.encode_counter::<NoLabelSet, _, u64>(&(value as u64), None),
        // Whole levels print without a fraction (`2`, not `2.0`).
        Kind::Gauge if value.fract() == 0.0 && value.abs() < 9.0e15 => {
            sample.encode_gauge(&(value as i64))
        }
        Kind::Gauge => sample.encode_gauge(&value),
    }
}

/// The text exposition of `families`, every name prefixed with `prefix_`.
pub fn render(prefix: &str, families: Vec<Family>) -> String {
    let mut registry = Registry::with_prefix(prefix);
    registry.register_collector(Box::new(Snapshot(families)));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// What the `/stats` and `/metrics` listener serves.
pub trait StatsSource: Send + Sync + 'static {
    /// The `/stats` JSON document.
    fn stats_json(&self) -> String;
    /// The `/metrics` text exposition.
    fn metrics_text(&self) -> String;
}

/// Answers `GET /stats` and `GET /metrics` from `source`; anything else is a 404. Returns
/// `None` for other paths so a binary can mount these two on its own router.
pub fn answer(
    source: &dyn StatsSource,
    method: &Method,
    path: &str,
) -> Option<Response<Full<Bytes>>> {
    if method != Method::GET {
        return None;
    }
    let (ctype, body) = match path {
        "/stats" => ("application/json", source.stats_json()),
        "/metrics" => (CONTENT_TYPE_TEXT, source.metrics_text()),
        _ => return None,
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    if let Ok(v) = ctype.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    Some(resp)
}

/// Binds `addr` (the `--metrics` flag) and serves `/stats` and `/metrics` until `stop`.
pub async fn listen(
    addr: SocketAddr,
    source: Arc<dyn StatsSource>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.changed() => return,
            };
            let source = Arc::clone(&source);
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let source = Arc::clone(&source);
                    async move {
                        let resp = answer(source.as_ref(), req.method(), req.uri().path())
                            .unwrap_or_else(not_found);
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}

fn not_found() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(
        b"not found: try /stats or /metrics\n",
    )));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_become_the_text_format() {
        let text = render(
            "seqtun_node",
            vec![
                Family::counter("batches", "Batches answered.", 3),
                Family::labelled(
                    "sessions_live",
                    "Live sessions.",
                    Kind::Gauge,
                    vec![
                        (vec![("kind", "tcp".into())], 2.0),
                        (vec![("kind", "udp".into())], 0.0),
                    ],
                ),
            ],
        );
        assert!(
            text.contains("# TYPE seqtun_node_batches counter"),
            "{text}"
        );
        assert!(text.contains("seqtun_node_batches_total 3"), "{text}");
        assert!(
            text.contains("seqtun_node_sessions_live{kind=\"tcp\"} 2"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
