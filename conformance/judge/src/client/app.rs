//! The app side of a client case: a SOCKS5 (RFC 1928, with RFC 1929 username/password) or HTTP
//! CONNECT consumer written for the runner, so the client is judged by what a real app sees.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::case::Via;

/// How the front end answered the app's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    Pending,
    /// SOCKS5 reply code (0 = succeeded).
    Socks(u8),
    /// HTTP status of the CONNECT answer.
    Http(u16),
    /// The front end closed or broke the connection before answering.
    Failed(String),
}

impl Handshake {
    pub fn granted(&self) -> bool {
        matches!(self, Handshake::Socks(0))
            || matches!(self, Handshake::Http(s) if (200..300).contains(s))
    }
}

#[derive(Default)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub closed: bool,
}

pub struct App {
    pub handshake: watch::Receiver<Handshake>,
    pub received: Arc<Mutex<Received>>,
    pub changed: Arc<Notify>,
    writer: Arc<tokio::sync::Mutex<Option<OwnedWriteHalf>>>,
    task: JoinHandle<()>,
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl App {
    /// Connects to the front end and starts the handshake; the answer arrives in `handshake`.
    pub fn open(
        front: SocketAddr,
        via: Via,
        host: String,
        port: u16,
        auth: Option<(String, String)>,
        early: Vec<u8>,
    ) -> Self {
        let (tx, rx) = watch::channel(Handshake::Pending);
        let received = Arc::new(Mutex::new(Received::default()));
        let changed = Arc::new(Notify::new());
        let writer = Arc::new(tokio::sync::Mutex::new(None));
        let (r2, c2, w2) = (
            Arc::clone(&received),
            Arc::clone(&changed),
            Arc::clone(&writer),
        );
        let task = tokio::spawn(async move {
            let stream = match TcpStream::connect(front).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Handshake::Failed(format!(
                        "cannot reach the client's front end {front}: {e}"
                    )));
                    return;
                }
            };
            let (mut rd, mut wr) = stream.into_split();
            let result = match via {
                Via::Socks5 => socks5(&mut rd, &mut wr, &host, port, auth, &early).await,
                Via::Http => http_connect(&mut rd, &mut wr, &host, port, &early).await,
            };
            let (hs, leftover) = match result {
                Ok(x) => x,
                Err(e) => (Handshake::Failed(e), Vec::new()),
            };
            *w2.lock().await = Some(wr);
            if let Ok(mut r) = r2.lock() {
                r.bytes.extend(leftover);
            }
            let _ = tx.send(hs);
            c2.notify_waiters();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let full = r2.lock().is_ok_and(|mut r| {
                            r.bytes.extend_from_slice(&buf[..n]);
                            r.bytes.len() > crate::limits::max_read()
                        });
                        c2.notify_waiters();
                        if full {
                            // A client flooding the app cannot take the runner's memory.
                            break;
                        }
                    }
                }
            }
            if let Ok(mut r) = r2.lock() {
                r.closed = true;
            }
            c2.notify_waiters();
        });
        Self {
            handshake: rx,
            received,
            changed,
            writer,
            task,
        }
    }

    pub async fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let mut w = self.writer.lock().await;
        let w = w
            .as_mut()
            .ok_or("the app is not connected (handshake not finished, or closed)")?;
        w.write_all(bytes).await.map_err(|e| e.to_string())
    }

    /// Writes `bytes` in the background: an upload larger than the sockets buffer only finishes
    /// while the case answers the ops that carry it.
    pub fn send_later(&self, bytes: Vec<u8>) -> JoinHandle<Result<(), String>> {
        let writer = Arc::clone(&self.writer);
        tokio::spawn(async move {
            let mut w = writer.lock().await;
            let w = w.as_mut().ok_or("the app is not connected")?;
            w.write_all(&bytes).await.map_err(|e| e.to_string())
        })
    }

    pub async fn half_close(&self) -> Result<(), String> {
        let mut w = self.writer.lock().await;
        match w.as_mut() {
            Some(w) => w.shutdown().await.map_err(|e| e.to_string()),
            None => Err("the app is not connected".into()),
        }
    }

    pub async fn close(&self) {
        self.writer.lock().await.take();
        self.task.abort();
    }

    pub fn snapshot(&self) -> (Vec<u8>, bool) {
        self.received
            .lock()
            .map(|r| (r.bytes.clone(), r.closed))
            .unwrap_or_default()
    }
}

async fn read_exact(rd: &mut (impl AsyncRead + Unpin), n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    rd.read_exact(&mut buf)
        .await
        .map_err(|e| format!("the front end closed during the handshake: {e}"))?;
    Ok(buf)
}

async fn socks5(
    rd: &mut (impl AsyncRead + Unpin),
    wr: &mut (impl AsyncWrite + Unpin),
    host: &str,
    port: u16,
    auth: Option<(String, String)>,
    early: &[u8],
) -> Result<(Handshake, Vec<u8>), String> {
    let method = if auth.is_some() { 0x02 } else { 0x00 };
    wr.write_all(&[0x05, 0x01, method])
        .await
        .map_err(|e| e.to_string())?;
    let chosen = read_exact(rd, 2).await?;
    if chosen[0] != 0x05 || chosen[1] != method {
        return Ok((
            Handshake::Failed(format!("method selection answered {chosen:02x?}")),
            Vec::new(),
        ));
    }
    if let Some((user, pass)) = auth {
        let mut msg = vec![0x01, user.len() as u8];
        msg.extend(user.as_bytes());
        msg.push(pass.len() as u8);
        msg.extend(pass.as_bytes());
        wr.write_all(&msg).await.map_err(|e| e.to_string())?;
        let status = read_exact(rd, 2).await?;
        if status[1] != 0 {
            return Ok((
                Handshake::Failed(format!("username/password rejected ({:02x})", status[1])),
                Vec::new(),
            ));
        }
    }
    let mut req = vec![0x05, 0x01, 0x00];
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V4(a)) => {
            req.push(0x01);
            req.extend(a.octets());
        }
        Ok(IpAddr::V6(a)) => {
            req.push(0x04);
            req.extend(a.octets());
        }
        Err(_) => {
            req.push(0x03);
            req.push(host.len() as u8);
            req.extend(host.as_bytes());
        }
    }
    req.extend(port.to_be_bytes());
    req.extend_from_slice(early);
    wr.write_all(&req).await.map_err(|e| e.to_string())?;
    let head = read_exact(rd, 4).await?;
    let skip = match head[3] {
        0x01 => 4 + 2,
        0x04 => 16 + 2,
        0x03 => read_exact(rd, 1).await?[0] as usize + 2,
        other => {
            return Ok((
                Handshake::Failed(format!("reply with address type {other:02x}")),
                Vec::new(),
            ));
        }
    };
    read_exact(rd, skip).await?;
    Ok((Handshake::Socks(head[1]), Vec::new()))
}

async fn http_connect(
    rd: &mut (impl AsyncRead + Unpin),
    wr: &mut (impl AsyncWrite + Unpin),
    host: &str,
    port: u16,
    early: &[u8],
) -> Result<(Handshake, Vec<u8>), String> {
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes();
    req.extend_from_slice(early);
    wr.write_all(&req).await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 16 * 1024 {
            return Ok((
                Handshake::Failed("CONNECT answer headers longer than 16 KiB".into()),
                Vec::new(),
            ));
        }
        let n = rd.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok((
                Handshake::Failed("the front end closed before answering CONNECT".into()),
                Vec::new(),
            ));
        }
        head.extend_from_slice(&buf[..n]);
    };
    let status_line = String::from_utf8_lossy(&head[..end])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    let leftover = head[end..].to_vec();
    Ok(match code {
        Some(c) => (Handshake::Http(c), leftover),
        None => (
            Handshake::Failed(format!("not an HTTP answer: {status_line:?}")),
            Vec::new(),
        ),
    })
}
