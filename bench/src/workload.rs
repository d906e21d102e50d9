//! The workloads (issue 11): what the app does through the client, and what one run measured.
//!
//! Every run opens its own session(s) through the column's SOCKS5 listener and checks every
//! byte against the origin's pattern. Relay calls are counted from the relay's own counters.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::app::{AppError, read_pattern, socks_connect, write_pattern};
use crate::origin::{Ask, Origin, rpc_answer};
use crate::stack::Stack;

/// Longest a single run may take before the bench gives up on the node under test.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// One workload with its sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    /// The origin streams `size` bytes as fast as the socket allows.
    BulkDown { size: u64 },
    /// The app sends `size` bytes to a recording sink.
    BulkUp { size: u64 },
    /// The origin sends `window` bytes, then waits for a one-byte ack, until `size`.
    Windowed { size: u64, window: u64 },
    /// A session idles `idle` plus a share of `spread` that differs from run to run, then a
    /// 16-byte request is answered by the origin. The spread makes the request land at every
    /// phase of the idle poll's cycle across the runs, as a user's keystroke does, instead of
    /// at one lucky or unlucky instant.
    RpcAfterIdle { idle: Duration, spread: Duration },
    /// `sessions` windowed sessions at once.
    ManySessions {
        sessions: usize,
        size: u64,
        window: u64,
    },
    /// `sessions` bulk downloads at once, straight at the node; node CPU is read.
    Capacity { sessions: usize, size: u64 },
    /// A bulk download of `size` that the app starts again from zero whenever an attempt
    /// breaks, as a browser or curl does, until one completes or `give_up` has passed.
    Goodput { size: u64, give_up: Duration },
}

/// What one run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// The time criterion is given: the whole transfer, or the request's answer time.
    pub elapsed: Duration,
    /// Payload bytes the app moved.
    pub bytes: u64,
    /// Relay calls during `elapsed`.
    pub calls: u64,
    /// Bulk downloads: the second half of the bytes and how long it took (the steady state,
    /// after the open and the ramp to full depth).
    pub steady: Option<(u64, Duration)>,
    /// `rpc_after_idle`: relay calls per minute of the idle phase.
    pub idle_calls_per_min: Option<f64>,
    /// `node_capacity`: node CPU time during the run.
    pub node_cpu: Option<Duration>,
    /// `goodput`: the attempts the download took.
    pub attempts: Option<crate::goodput::Attempts>,
}

impl Workload {
    /// The bench id part and table title.
    pub fn name(&self) -> &'static str {
        match self {
            Workload::BulkDown { .. } => "bulk_down",
            Workload::BulkUp { .. } => "bulk_up",
            Workload::Windowed { .. } => "windowed",
            Workload::RpcAfterIdle { .. } => "rpc_after_idle",
            Workload::ManySessions { .. } => "many_sessions",
            Workload::Capacity { .. } => "node_capacity",
            Workload::Goodput { .. } => "goodput",
        }
    }

    /// Payload bytes one run moves (criterion's throughput), if it is a transfer.
    pub fn bytes(&self) -> Option<u64> {
        match *self {
            Workload::BulkDown { size }
            | Workload::BulkUp { size }
            | Workload::Windowed { size, .. } => Some(size),
            Workload::ManySessions { sessions, size, .. }
            | Workload::Capacity { sessions, size } => Some(sessions as u64 * size),
            Workload::Goodput { size, .. } => Some(size),
            Workload::RpcAfterIdle { .. } => None,
        }
    }

    /// Runs once against `stack`.
    pub async fn run(&self, stack: &Stack, origin: &Origin) -> Result<Sample, AppError> {
        let run = async {
            match *self {
                Workload::BulkDown { size } => bulk_down(stack, origin, size).await,
                Workload::BulkUp { size } => bulk_up(stack, origin, size).await,
                Workload::Windowed { size, window } => {
                    many(stack, origin, 1, size, Some(window)).await
                }
                Workload::RpcAfterIdle { idle, spread } => {
                    rpc_after_idle(stack, origin, idle + spread.mul_f64(next_phase())).await
                }
                Workload::ManySessions {
                    sessions,
                    size,
                    window,
                } => many(stack, origin, sessions, size, Some(window)).await,
                Workload::Capacity { sessions, size } => {
                    let cpu = stack.node.cpu();
                    let mut s = many(stack, origin, sessions, size, None).await?;
                    s.node_cpu = cpu.zip(stack.node.cpu()).map(|(a, b)| b.saturating_sub(a));
                    Ok(s)
                }
                Workload::Goodput { size, give_up } => {
                    crate::goodput::run(stack, origin, size, give_up).await
                }
            }
        };
        tokio::time::timeout(RUN_LIMIT, run)
            .await
            .map_err(|_| AppError::Timeout(self.name()))?
    }
}

/// The next point of a low-discrepancy sequence in [0, 1) (multiples of the golden ratio): any
/// ten consecutive runs cover the interval evenly.
fn next_phase() -> f64 {
    static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (n as f64 * 0.618_033_988_749_895).fract()
}

fn transfer(started: Instant, bytes: u64, calls: u64) -> Sample {
    Sample {
        elapsed: started.elapsed(),
        bytes,
        calls,
        ..Sample::default()
    }
}

pub(crate) async fn open(stack: &Stack, origin: &Origin, ask: Ask) -> Result<TcpStream, AppError> {
    ask_at(stack.socks, origin.addr, ask).await
}

/// A SOCKS5 connection to the origin through `socks`, its ask already sent.
async fn ask_at(socks: SocketAddr, origin: SocketAddr, ask: Ask) -> Result<TcpStream, AppError> {
    let mut s = socks_connect(socks, origin).await?;
    s.write_all(&ask.encode())
        .await
        .map_err(|source| AppError::Io {
            what: "ask",
            source,
        })?;
    Ok(s)
}

async fn bulk_down(stack: &Stack, origin: &Origin, size: u64) -> Result<Sample, AppError> {
    let calls = stack.relay_calls();
    let started = Instant::now();
    let mut s = open(stack, origin, Ask::Source { total: size }).await?;
    let mut buf = Vec::new();
    let half = size / 2;
    read_pattern(&mut s, &mut buf, 0, half, "bulk_down").await?;
    let mid = Instant::now();
    read_pattern(&mut s, &mut buf, half, size - half, "bulk_down").await?;
    let mut sample = transfer(started, size, stack.relay_calls() - calls);
    sample.steady = Some((size - half, mid.elapsed()));
    Ok(sample)
}

async fn bulk_up(stack: &Stack, origin: &Origin, size: u64) -> Result<Sample, AppError> {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let done = origin.expect_sink(id);
    let calls = stack.relay_calls();
    let started = Instant::now();
    let mut s = open(stack, origin, Ask::Sink { total: size, id }).await?;
    write_pattern(&mut s, size).await?;
    let last = done
        .await
        .map_err(|_| AppError::Origin("the sink went away".into()))?
        .map_err(AppError::Origin)?;
    Ok(Sample {
        elapsed: last - started,
        bytes: size,
        calls: stack.relay_calls() - calls,
        ..Sample::default()
    })
}

async fn rpc_after_idle(
    stack: &Stack,
    origin: &Origin,
    idle: Duration,
) -> Result<Sample, AppError> {
    let mut s = open(stack, origin, Ask::Rpc).await?;
    let io = |source| AppError::Io {
        what: "rpc",
        source,
    };
    // One exchange first, so the session is open and polling before it idles.
    exchange(&mut s, [1; 16]).await?;
    let before = stack.relay_calls();
    tokio::time::sleep(idle).await;
    let idle_calls = stack.relay_calls() - before;
    let started = Instant::now();
    exchange(&mut s, [7; 16]).await?;
    let elapsed = started.elapsed();
    let calls = stack.relay_calls() - before - idle_calls;
    s.shutdown().await.map_err(io)?;
    Ok(Sample {
        elapsed,
        bytes: 16,
        calls,
        idle_calls_per_min: Some(idle_calls as f64 / idle.as_secs_f64() * 60.0),
        ..Sample::default()
    })
}

async fn exchange(s: &mut TcpStream, req: [u8; 16]) -> Result<(), AppError> {
    use tokio::io::AsyncReadExt as _;
    s.write_all(&req).await.map_err(|source| AppError::Io {
        what: "rpc",
        source,
    })?;
    let mut answer = [0u8; 16];
    s.read_exact(&mut answer)
        .await
        .map_err(|source| AppError::Io {
            what: "rpc",
            source,
        })?;
    if answer != rpc_answer(&req) {
        return Err(AppError::Corrupt {
            what: "rpc",
            pos: 0,
        });
    }
    Ok(())
}

/// `n` sessions at once: windowed when `window` is given, else bulk downloads.
async fn many(
    stack: &Stack,
    origin: &Origin,
    n: usize,
    size: u64,
    window: Option<u64>,
) -> Result<Sample, AppError> {
    let calls = stack.relay_calls();
    let started = Instant::now();
    let ask = match window {
        Some(window) => Ask::Windowed {
            total: size,
            window,
        },
        None => Ask::Source { total: size },
    };
    let step = window.unwrap_or(size);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(session(stack.socks, origin.addr, ask, size, step));
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| AppError::Origin(format!("session task: {e}")))??;
    }
    Ok(transfer(
        started,
        n as u64 * size,
        stack.relay_calls() - calls,
    ))
}

/// One session: reads `size` pattern bytes `step` at a time, acking each step but the last
/// with one byte (the windowed origin waits for it; a source ignores it).
async fn session(
    socks: SocketAddr,
    origin: SocketAddr,
    ask: Ask,
    size: u64,
    step: u64,
) -> Result<(), AppError> {
    let mut s = ask_at(socks, origin, ask).await?;
    let mut buf = Vec::new();
    let mut pos = 0;
    while pos < size {
        let k = step.min(size - pos);
        read_pattern(&mut s, &mut buf, pos, k, "session").await?;
        pos += k;
        if pos < size {
            s.write_all(b"k").await.map_err(|source| AppError::Io {
                what: "ack",
                source,
            })?;
        }
    }
    Ok(())
}
