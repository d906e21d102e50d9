//! The body of the node's answers: bytes that stay charged to the memory budget until hyper
//! drops them, and that tell the request's exchange when they were handed to the connection
//! (so sessions the request opened are not closed as orphans, §5.1).
//!
//! A batch over the ops limit is answered entry by entry (§3.5: every op gets the same error).
//! Built in memory, that answer would be ~70 bytes for every 2-byte op of the body; streamed
//! from one repeated block it costs a constant.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};

use crate::exchange::Exchange;
use crate::memory::Charge;

/// Bytes of one streamed block of repeated entries.
const BLOCK_BYTES: usize = 64 << 10;

enum Kind {
    Once(Option<Bytes>),
    /// `head`, then `entry` `left` times separated by commas, then `tail`.
    Repeat {
        head: Option<Bytes>,
        entry: Bytes,
        first: bool,
        left: usize,
        block: Bytes,
        per_block: usize,
        tail: Option<Bytes>,
    },
}

/// An answer's body.
pub struct ReplyBody {
    kind: Kind,
    _charge: Option<Charge>,
    exchange: Option<Arc<Exchange>>,
}

impl ReplyBody {
    pub fn once(bytes: impl Into<Bytes>) -> Self {
        Self {
            kind: Kind::Once(Some(bytes.into())),
            _charge: None,
            exchange: None,
        }
    }

    /// `{"r":[entry,entry,...]}` with `n` entries, streamed.
    pub fn repeated(entry: Bytes, n: usize) -> Self {
        let per_block = (BLOCK_BYTES / (entry.len() + 1)).max(1);
        let mut block = BytesMut::with_capacity(per_block * (entry.len() + 1));
        for _ in 0..per_block {
            block.extend_from_slice(b",");
            block.extend_from_slice(&entry);
        }
        Self {
            kind: Kind::Repeat {
                head: Some(Bytes::from_static(b"{\"r\":[")),
                entry,
                first: true,
                left: n,
                block: block.freeze(),
                per_block,
                tail: Some(Bytes::from_static(b"]}")),
            },
            _charge: None,
            exchange: None,
        }
    }

    /// Keeps `charge` until the body is dropped.
    pub fn charged(mut self, charge: Charge) -> Self {
        self._charge = Some(charge);
        self
    }

    /// Tells `exchange` when the last bytes were handed over.
    pub fn for_exchange(mut self, exchange: Arc<Exchange>) -> Self {
        self.exchange = Some(exchange);
        self
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        match &mut self.kind {
            Kind::Once(b) => b.take(),
            Kind::Repeat {
                head,
                entry,
                first,
                left,
                block,
                per_block,
                tail,
            } => {
                if let Some(h) = head.take() {
                    return Some(h);
                }
                if *left == 0 {
                    return tail.take();
                }
                if *first {
                    *first = false;
                    *left -= 1;
                    return Some(entry.clone());
                }
                if *left >= *per_block {
                    *left -= *per_block;
                    return Some(block.clone());
                }
                let part = block.slice(..*left * (entry.len() + 1));
                *left = 0;
                Some(part)
            }
        }
    }

    fn remaining(&self) -> u64 {
        match &self.kind {
            Kind::Once(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Kind::Repeat {
                head,
                entry,
                first,
                left,
                tail,
                ..
            } => {
                let len = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| b.len() as u64);
                let entries = *left as u64 * (entry.len() as u64 + 1);
                let entries = if *first && *left > 0 {
                    entries - 1
                } else {
                    entries
                };
                len(head) + entries + len(tail)
            }
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = self.next_chunk();
        if self.remaining() == 0
            && let Some(ex) = &self.exchange
        {
            ex.answered();
        }
        Poll::Ready(chunk.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn repeated_entries_stream_as_one_json_array() {
        for n in [1usize, 2, 3, 1000, 5000] {
            let body = ReplyBody::repeated(Bytes::from_static(br#"{"e":"x"}"#), n);
            let hint = body.size_hint().exact().unwrap();
            let bytes = body.collect().await.unwrap().to_bytes();
            assert_eq!(bytes.len() as u64, hint, "n={n}");
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let r = v["r"].as_array().unwrap();
            assert_eq!(r.len(), n);
            assert!(r.iter().all(|e| e["e"] == "x"));
        }
    }
}
