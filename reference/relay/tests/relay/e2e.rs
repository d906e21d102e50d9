//! Fixtures for the whole chain: an app speaking SOCKS5 to a real seqtun-client, the client
//! posting to this relay (the apps-script transport), the relay forwarding to a real node, and
//! the node dialling origin servers on loopback.
//!
//! Under faults a stream may legitimately end early, so nothing here asks for "the bytes
//! arrived"; it asks that whatever arrived is a prefix of what was sent, checked byte by byte as
//! it arrives, on both the app's side and the origin's. A short stream is the protocol doing its
//! job; a wrong, duplicated or reordered byte is the failure these tests exist to catch.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seqtun_client::{ClientConfig, ClientFaults, ClientHandle, RelaySpec};
use seqtun_node::{NodeConfig, NodeHandle};
use seqtun_relay::{FaultPlan, RelayConfig, RelayHandle};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{NODE_KEY, RELAY_KEY};
use crate::upstream::server;

/// Deterministic bytes of stream `id`: the pattern every reference crate's tests send.
pub use seqtun_testkit::pattern as stream_bytes;
use seqtun_testkit::socks5;

/// Latency of every relay call: enough that batches overlap and race, small enough that a test
/// takes seconds, not minutes.
pub const LATENCY: Duration = Duration::from_millis(20);
/// Random extra latency per call (drawn from the fault seed), so calls overtake each other.
pub const JITTER: Duration = Duration::from_millis(30);
/// Liveness bound for one app stream: a stream that neither completes nor ends has hung.
pub const STREAM_LIMIT: Duration = Duration::from_secs(30);

/// How one chain is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The node behaves as a pre-#903 node (no `caps`), so sessions use the legacy loop.
    pub legacy: bool,
    /// The relay answers POSTs with a one-time redirect, as script.google.com does.
    pub redirect: bool,
    /// Deployment ids the client is given, round robin.
    pub deployments: Vec<&'static str>,
    pub faults: FaultPlan,
    /// The client's largest `data` op; smaller ops mean more ops in flight per MiB.
    pub max_op_bytes: Option<usize>,
    /// Deliberate client bugs, to show a test can catch them.
    pub client_faults: ClientFaults,
    /// The node's largest TCP drain; smaller means more polls per download.
    pub node_drain_max: Option<usize>,
    /// The node holds replies for retransmits (caps bit 1, §7.10), so the client sends a
    /// failed op again. Off, the node is a #903 node (caps 1) and nothing is retried.
    pub replay_safe: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            legacy: false,
            redirect: false,
            deployments: vec!["dep1"],
            faults: FaultPlan::default(),
            max_op_bytes: None,
            client_faults: ClientFaults::default(),
            node_drain_max: None,
            replay_safe: false,
        }
    }
}

/// A running chain (origins are started by each test).
pub struct E2e {
    pub _node: NodeHandle,
    pub relay: RelayHandle,
    pub client: ClientHandle,
}

/// Starts node, relay and client as `setup` says.
pub async fn e2e(setup: Setup) -> E2e {
    let mut ncfg = NodeConfig::new(NODE_KEY);
    ncfg.legacy = setup.legacy;
    // Idle polls return quickly (a half-closed pipelined session waits for its parked poll),
    // and a seq whose predecessor was lost gives up in seconds.
    ncfg.params.longpoll_deadline = Duration::from_millis(250);
    ncfg.params.seq_wait_timeout = Duration::from_secs(3);
    if let Some(max) = setup.node_drain_max {
        ncfg.params.tcp_drain_max = max;
    }
    if !setup.replay_safe {
        ncfg.params.replay_max_held = 0;
    }
    let node = seqtun_node::spawn(ncfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut rcfg = RelayConfig::new(node.url(), NODE_KEY, RELAY_KEY);
    rcfg.limits.latency = LATENCY;
    rcfg.limits.jitter = JITTER;
    rcfg.redirect = setup.redirect;
    rcfg.faults = setup.faults;
    let relay = seqtun_relay::spawn(rcfg).await.unwrap();
    let relays = setup
        .deployments
        .iter()
        .map(|dep| RelaySpec::parse(&relay.url_for(dep)).unwrap())
        .collect();
    let mut ccfg = ClientConfig::new(relays, RELAY_KEY);
    ccfg.socks = Some("127.0.0.1:0".parse().unwrap());
    ccfg.params.coalesce_step = Duration::from_millis(2);
    ccfg.params.coalesce_max = Duration::from_millis(10);
    ccfg.stats_interval = None;
    ccfg.faults = setup.client_faults;
    if let Some(max) = setup.max_op_bytes {
        ccfg.params.max_data_op_bytes = max;
    }
    let client = seqtun_client::spawn(ccfg).await.unwrap();
    E2e {
        _node: node,
        relay,
        client,
    }
}

impl E2e {
    /// A SOCKS5 connection through the client to `origin`.
    pub async fn open(&self, origin: SocketAddr) -> TcpStream {
        socks5::connect_addr(self.client.socks.unwrap(), origin).await
    }

    /// Like [`Self::open`], but a refused open is returned, not a panic.
    pub async fn try_open(&self, origin: SocketAddr) -> Result<TcpStream, [u8; 10]> {
        socks5::try_connect_addr(self.client.socks.unwrap(), origin).await
    }

    /// Waits until the relay's counters stop changing with no call running, so they are final:
    /// a session's last `close` is sent without waiting, and may still be on its way.
    pub async fn relay_settled(&self) {
        let mut last = self.relay.stats();
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = self.relay.stats();
            if now == last && now.deployments.values().all(|d| d.in_flight == 0) {
                return;
            }
            last = now;
        }
    }
}

/// Asserts that `got` is a prefix of `want`, naming the first wrong offset.
pub fn assert_prefix(what: &str, got: &[u8], want: &[u8]) {
    assert!(
        got.len() <= want.len(),
        "{what}: {} bytes, more than the {} sent",
        got.len(),
        want.len()
    );
    if let Some(at) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: byte {at} of {} is wrong (not a prefix of what was sent)",
            got.len()
        );
    }
}

/// What one origin connection received, shared with the test.
type Received = Arc<Mutex<Vec<u8>>>;

/// An echo origin that keeps what each connection sent it.
#[derive(Clone)]
pub struct EchoOrigin {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<Received>>>,
}

impl EchoOrigin {
    pub async fn start() -> Self {
        let conns: Arc<Mutex<Vec<Received>>> = Arc::default();
        let all = Arc::clone(&conns);
        let addr = server(move |mut s| {
            let seen = Received::default();
            all.lock().unwrap().push(Arc::clone(&seen));
            async move {
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => {
                            let _ = s.shutdown().await;
                            return;
                        }
                        Ok(n) => {
                            seen.lock().unwrap().extend_from_slice(&buf[..n]);
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
            }
        })
        .await;
        Self { addr, conns }
    }

    /// How many connections the node opened.
    pub fn connections(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Asserts that every connection received a prefix of one of `streams` (a stream may reach
    /// the origin twice, e.g. when a duplicated `connect_data` opened two connections).
    pub fn assert_received_prefixes(&self, streams: &[&[u8]]) {
        for (i, conn) in self.conns.lock().unwrap().iter().enumerate() {
            let got = conn.lock().unwrap();
            let matches = |want: &&[u8]| got.len() <= want.len() && want[..got.len()] == got[..];
            assert!(
                streams.iter().any(matches),
                "origin connection {i} received {} bytes that are not a prefix of any stream sent",
                got.len()
            );
        }
    }
}

/// An origin that reads a 16-byte request (stream id and length, little endian), sends that
/// stream and closes.
pub async fn source_origin() -> SocketAddr {
    server(|mut s| async move {
        let mut head = [0u8; 16];
        if s.read_exact(&mut head).await.is_err() {
            return;
        }
        let id = u64::from_le_bytes(head[..8].try_into().unwrap());
        let len = u64::from_le_bytes(head[8..].try_into().unwrap()) as usize;
        for chunk in stream_bytes(id, len).chunks(64 << 10) {
            if s.write_all(chunk).await.is_err() {
                return;
            }
        }
        let _ = s.shutdown().await;
        // Read to the end, so closing does not reset a connection with unread bytes.
        let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
    })
    .await
}

/// How the app's side of a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every expected byte arrived.
    Complete,
    /// The connection was closed early (FIN).
    Eof,
    /// The connection was reset or failed early.
    Error(io::ErrorKind),
}

/// What the app saw of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub got: usize,
    pub end: End,
}

impl Seen {
    pub fn complete(&self) -> bool {
        self.end == End::Complete
    }
}

/// Reads until `want` arrived or the stream ended, checking every byte against `want`.
pub async fn read_checked<R: AsyncRead + Unpin>(rd: &mut R, want: &[u8], what: &str) -> Seen {
    let mut got = 0;
    let mut buf = vec![0u8; 64 << 10];
    while got < want.len() {
        let room = (want.len() - got).min(buf.len());
        let n = match rd.read(&mut buf[..room]).await {
            Ok(0) => return Seen { got, end: End::Eof },
            Ok(n) => n,
            Err(e) => {
                return Seen {
                    got,
                    end: End::Error(e.kind()),
                };
            }
        };
        assert_prefix(what, &buf[..n], &want[got..]);
        got += n;
    }
    Seen {
        got,
        end: End::Complete,
    }
}

/// Asserts the app reads nothing more than what it expected: no duplicated tail.
pub async fn assert_ends_here<R: AsyncRead + Unpin>(rd: &mut R, what: &str) {
    let mut buf = [0u8; 4096];
    match rd.read(&mut buf).await {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("{what}: {n} bytes after the end of the stream"),
    }
}

/// Bounds an app stream by [`STREAM_LIMIT`]: ending early is allowed, hanging is not.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    bounded(what, STREAM_LIMIT, f).await
}

/// Bounds an app stream by `limit`: ending early is allowed, hanging is not.
pub async fn bounded<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: neither completed nor ended (hung)"))
}

/// Writes `data` while reading its echo; stops reading at the end of the echo or of the
/// stream. A complete echo must then end cleanly when the app half-closes.
pub async fn echo_streaming(s: TcpStream, data: Arc<Vec<u8>>, what: &str) -> Seen {
    echo_streaming_within(s, data, what, STREAM_LIMIT).await
}

/// [`echo_streaming`] with its own liveness bound, for transfers larger than a few MiB.
pub async fn echo_streaming_within(
    s: TcpStream,
    data: Arc<Vec<u8>>,
    what: &str,
    limit: Duration,
) -> Seen {
    let (mut rd, mut wr) = s.into_split();
    let sent = Arc::clone(&data);
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(64 << 10) {
            // A killed session makes writes fail; what matters is what the app reads.
            if wr.write_all(chunk).await.is_err() {
                return None;
            }
        }
        Some(wr)
    });
    let seen = bounded(what, limit, read_checked(&mut rd, &data, what)).await;
    let wr = writer.await.unwrap();
    if seen.complete() {
        let mut wr = wr.expect("every byte was echoed, so every write succeeded");
        wr.shutdown().await.unwrap();
        bounded(what, limit, assert_ends_here(&mut rd, what)).await;
    }
    seen
}

/// Sends `data` in `chunk`-sized pieces, each only after the previous one came back, so every
/// relay call of the session carries bytes one way or the other.
pub async fn echo_ping_pong(mut s: TcpStream, data: &[u8], chunk: usize, what: &str) -> Seen {
    let mut got = 0;
    for piece in data.chunks(chunk) {
        if s.write_all(piece).await.is_err() {
            // The session is gone; the read below reports how.
            let seen = within(what, read_checked(&mut s, &data[got..], what)).await;
            return Seen {
                got: got + seen.got,
                end: seen.end,
            };
        }
        let seen = within(what, read_checked(&mut s, piece, what)).await;
        got += seen.got;
        if !seen.complete() {
            return Seen { got, end: seen.end };
        }
    }
    s.shutdown().await.unwrap();
    within(what, assert_ends_here(&mut s, what)).await;
    Seen {
        got,
        end: End::Complete,
    }
}

/// Asks a [`source_origin`] for stream `id` of `len` bytes and reads it, checked.
pub async fn download(mut s: TcpStream, id: u64, len: usize, what: &str) -> Seen {
    let mut head = id.to_le_bytes().to_vec();
    head.extend((len as u64).to_le_bytes());
    s.write_all(&head).await.unwrap();
    let want = stream_bytes(id, len);
    let seen = within(what, read_checked(&mut s, &want, what)).await;
    if seen.complete() {
        within(what, assert_ends_here(&mut s, what)).await;
    }
    seen
}
