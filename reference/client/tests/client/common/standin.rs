//! A stand-in Apps Script relay: outer dialect in, inner dialect to the node, the answer served
//! once by a GET after a 302, gzip when asked for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{KEY, RELAY_KEY};

pub async fn apps_script_standin(node: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pending: Arc<Mutex<std::collections::HashMap<u64, Vec<u8>>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (pending, next, http) = (Arc::clone(&pending), Arc::clone(&next), http.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (pending, next, http) =
                        (Arc::clone(&pending), Arc::clone(&next), http.clone());
                    async move {
                        let path = req.uri().path().to_string();
                        let gzip_ok = req
                            .headers()
                            .get("accept-encoding")
                            .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
                        let resp = if req.method() == hyper::Method::POST
                            && path.starts_with("/macros/s/")
                            && path.ends_with("/exec")
                        {
                            let bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let outer: Value =
                                serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            if outer["k"] != RELAY_KEY || outer["t"] != "batch" {
                                decoy()
                            } else {
                                let inner = json!({"k": KEY, "ops": outer["ops"]}).to_string();
                                let fwd = Request::post(format!("http://{node}/tunnel/batch"))
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(inner)))
                                    .unwrap();
                                let answer = http.request(fwd).await.unwrap();
                                let status = answer.status();
                                let body = answer
                                    .into_body()
                                    .collect()
                                    .await
                                    .unwrap()
                                    .to_bytes()
                                    .to_vec();
                                let body = if status == StatusCode::OK {
                                    body
                                } else {
                                    json!({"e": format!("tunnel batch HTTP {}", status.as_u16())})
                                        .to_string()
                                        .into_bytes()
                                };
                                let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                pending.lock().unwrap().insert(id, body);
                                Response::builder()
                                    .status(302)
                                    .header("location", format!("http://{addr}/echo?id={id}"))
                                    .body(Full::new(Bytes::new()))
                                    .unwrap()
                            }
                        } else if req.method() == hyper::Method::GET && path == "/echo" {
                            let id: Option<u64> = req
                                .uri()
                                .query()
                                .and_then(|q| q.strip_prefix("id="))
                                .and_then(|n| n.parse().ok());
                            match id.and_then(|id| pending.lock().unwrap().remove(&id)) {
                                Some(body) if gzip_ok => Response::builder()
                                    .header("content-type", "application/json")
                                    .header("content-encoding", "gzip")
                                    .body(Full::new(Bytes::from(seqtun_wire::body::gzip(&body))))
                                    .unwrap(),
                                Some(body) => Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                                None => decoy(),
                            }
                        } else {
                            decoy()
                        };
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

pub const DECOY_PAGE: &str = "<!DOCTYPE html><html><head><title>Error</title></head><body><div>The script completed but did not return anything.</div></body></html>";

fn decoy() -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from_static(DECOY_PAGE.as_bytes())))
        .unwrap()
}
