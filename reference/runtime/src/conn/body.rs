//! Reading request bodies with a size cap, a memory charge and a minimum rate, and the response
//! body wrapper that marks a connection idle again.
//!
//! A body must arrive within `timeout` plus the time its bytes take at `min_rate`: a client on a
//! slow link sending 2 MiB at 64 KiB/s is fine, a peer trickling one byte every few seconds is
//! cut off once `timeout` has passed. Over the size cap (or when the caller refuses to hold
//! more bytes) the rest is read on and dropped, up to `drain` bytes, so a client still writing
//! sees the answer instead of a reset.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Instant;

use super::{ConnState, Phase};

/// How long any body may take before the minimum rate applies (nginx's client_body_timeout
/// is 60 s between two reads).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The slowest average rate a body may arrive at once `BODY_TIMEOUT` has passed (bytes/s).
pub const BODY_MIN_RATE: u64 = 16 << 10;

/// How slowly a body may arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRate {
    pub timeout: Duration,
    /// Bytes per second; at least 1.
    pub min_rate: u64,
}

impl Default for BodyRate {
    fn default() -> Self {
        Self {
            timeout: BODY_TIMEOUT,
            min_rate: BODY_MIN_RATE,
        }
    }
}

impl BodyRate {
    /// The latest moment the body may still be incomplete, `received` bytes in.
    pub fn deadline(&self, start: Instant, received: usize) -> Instant {
        let rate = self.min_rate.max(1);
        let extra = Duration::from_secs_f64(received as f64 / rate as f64);
        start + self.timeout + extra
    }
}

/// The size and time limits of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most bytes kept.
    pub limit: usize,
    /// The flag that raises `limit`, for the error text.
    pub limit_flag: &'static str,
    /// Bytes read on and dropped past the limit before answering.
    pub drain: usize,
    pub rate: BodyRate,
}

/// Why a body was not read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge {
        limit: usize,
        flag: &'static str,
    },
    TooSlow {
        received: usize,
        waited: Duration,
    },
    /// The caller would not hold more bytes (a memory budget); the text says why.
    Refused(String),
    Io(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { limit, flag } => {
                write!(
                    f,
                    "request body too large: limit {limit} bytes (raise {flag})"
                )
            }
            Self::TooSlow { received, waited } => write!(
                f,
                "request body too slow: {received} bytes in {} (raise --body-timeout-ms or lower --body-min-rate)",
                crate::show::duration(*waited)
            ),
            Self::Refused(why) => f.write_str(why),
            Self::Io(e) => write!(f, "request body read failed: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// The connection a request came on, found in the request's extensions.
#[derive(Debug, Clone)]
pub struct ConnHandle(pub Arc<ConnState>);

impl ConnHandle {
    /// The body is read: the connection is busy answering and is not shed any more.
    pub fn busy(&self) {
        self.0.enter(Phase::Busy);
    }
}

/// What pays for the bytes of a body being read (a memory budget's charge).
pub trait Hold: Send {
    /// `n` more bytes are about to be kept; `Err` refuses them, with the reason.
    fn grow(&mut self, n: usize) -> Result<(), String>;
    /// The body is refused: nothing of it is kept any more.
    fn release(&mut self);
}

/// Nothing pays: bodies are bounded by their size limit alone.
pub struct Unpaid;

impl Hold for Unpaid {
    fn grow(&mut self, _: usize) -> Result<(), String> {
        Ok(())
    }
    fn release(&mut self) {}
}

/// Reads a body within `lim`. `hold` is asked before more bytes are kept; a refusal (or the
/// size limit) drains the rest and returns the error, with everything kept given back. The
/// connection (when known) is marked busy once the body is in.
pub async fn read_body(
    mut body: Incoming,
    lim: &BodyLimits,
    conn: Option<&ConnHandle>,
    hold: &mut dyn Hold,
) -> Result<Bytes, BodyError> {
    let start = Instant::now();
    // A known length is reserved at once: growing by doubling would briefly hold a 60 MiB
    // body one and a half times.
    let hinted = usize::try_from(body.size_hint().exact().unwrap_or(0)).unwrap_or(0);
    let mut kept = BytesMut::with_capacity(hinted.min(lim.limit));
    let mut total = 0usize;
    let mut refused: Option<BodyError> = None;
    loop {
        let deadline = lim.rate.deadline(start, total);
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                if let Some(c) = conn {
                    c.0.counters.body_timeouts.fetch_add(1, Ordering::Relaxed);
                }
                return Err(BodyError::TooSlow {
                    received: total,
                    waited: start.elapsed(),
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Io(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if refused.is_none() && total > lim.limit {
            refused = Some(BodyError::TooLarge {
                limit: lim.limit,
                flag: lim.limit_flag,
            });
            kept = BytesMut::new();
            hold.release();
        }
        if refused.is_none() {
            match hold.grow(data.len()) {
                Ok(()) => kept.extend_from_slice(&data),
                Err(why) => {
                    refused = Some(BodyError::Refused(why));
                    kept = BytesMut::new();
                    hold.release();
                }
            }
        }
        if refused.is_some() && total > lim.limit.saturating_add(lim.drain) {
            break;
        }
    }
    if let Some(c) = conn {
        c.busy();
    }
    match refused {
        Some(e) => Err(e),
        None => Ok(kept.freeze()),
    }
}

/// A response body that marks its connection idle when hyper drops it.
pub struct Tracked<B> {
    inner: B,
    state: Arc<ConnState>,
}

impl<B> Tracked<B> {
    pub fn new(inner: B, state: Arc<ConnState>) -> Self {
        Self { inner, state }
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        self.state.enter(Phase::Idle);
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
