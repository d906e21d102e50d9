//! A TCP session's read buffer: a queue of the upstream reads themselves, with the bytes their
//! allocations really hold counted next to the bytes buffered (§5.6).
//!
//! Why not one growing `BytesMut`: it grows by doubling, so it can hold twice what it buffers,
//! and a drain split off its front shares the whole allocation, so a 1 MiB drain waiting in an
//! answer kept a buffer of many MiB alive while the session's next reads went to a new one. The
//! budget counted buffered bytes and the node's resident memory ended far above it (the 30-minute
//! soak in docs/RELIABILITY.md: 932 MiB RSS at a 512 MiB budget). Here every allocation is one
//! read of at most [`TCP_READ_CHUNK`](seqtun_wire::params::TCP_READ_CHUNK) bytes:
//! - a read that filled most of its buffer is queued as it is (no copy); one that did not is
//!   copied into an allocation of its own size, so a trickle of small reads cannot pin a chunk
//!   each;
//! - a drain that is exactly the front read hands that read over; any other drain is copied into
//!   one allocation of exactly its size, so what an answer holds is what it carries;
//! - the budget is charged [`ReadBuf::committed`]: what the queued reads allocated (at most the
//!   buffered bytes, their slack and one partly drained read) plus the read in progress, so a
//!   drain racing a read gives back only what the drained reads held.

use std::collections::VecDeque;

use bytes::{Buf as _, Bytes, BytesMut};

/// A read kept without copying must fill at least this share of its buffer (7/8): the slack a
/// queued read may carry is below 1/7 of its bytes.
const KEEP_NUM: usize = 7;
const KEEP_DEN: usize = 8;

#[derive(Debug)]
struct Piece {
    bytes: Bytes,
    /// What the allocation behind `bytes` holds (it does not shrink when the front is drained).
    alloc: usize,
}

/// Buffered upstream bytes, in order.
#[derive(Debug, Default)]
pub struct ReadBuf {
    pieces: VecDeque<Piece>,
    len: usize,
    allocated: usize,
    /// Bytes reserved for the read in progress (its buffer's capacity).
    reading: usize,
}

/// Bytes taken from the front, and what their allocation holds (the answer's charge).
#[derive(Debug)]
pub struct Taken {
    pub bytes: Bytes,
    pub alloc: usize,
}

impl ReadBuf {
    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the buffered reads' allocations hold (the fair share counts these).
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// What the budget must cover: the queued reads' allocations and the read in progress.
    pub fn committed(&self) -> usize {
        self.allocated + self.reading
    }

    /// A read of up to `n` bytes is about to start.
    pub fn begin_read(&mut self, n: usize) {
        self.reading = n;
    }

    /// Queues one read (`read` holds the bytes read, its capacity the buffer read into); the
    /// read in progress is over.
    pub fn push(&mut self, read: BytesMut) {
        self.reading = 0;
        let n = read.len();
        if n == 0 {
            return;
        }
        let cap = read.capacity().max(n);
        let piece = if n * KEEP_DEN >= cap * KEEP_NUM {
            Piece {
                bytes: read.freeze(),
                alloc: cap,
            }
        } else {
            Piece {
                bytes: Bytes::copy_from_slice(&read),
                alloc: n,
            }
        };
        self.len += n;
        self.allocated += piece.alloc;
        self.pieces.push_back(piece);
    }

    /// Takes the first `n` bytes (at most what is buffered).
    pub fn take(&mut self, n: usize) -> Taken {
        let n = n.min(self.len);
        if n == 0 {
            return Taken {
                bytes: Bytes::new(),
                alloc: 0,
            };
        }
        if self.pieces.front().is_some_and(|p| p.bytes.len() == n)
            && let Some(p) = self.pop_front()
        {
            return Taken {
                bytes: p.bytes,
                alloc: p.alloc,
            };
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let want = n - out.len();
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            if front.bytes.len() <= want {
                out.extend_from_slice(&front.bytes);
                let _ = self.pop_front();
            } else {
                out.extend_from_slice(&front.bytes[..want]);
                front.bytes.advance(want);
                self.len -= want;
            }
        }
        Taken {
            alloc: out.capacity(),
            bytes: out.freeze(),
        }
    }

    fn pop_front(&mut self) -> Option<Piece> {
        let p = self.pieces.pop_front()?;
        self.len -= p.bytes.len();
        self.allocated -= p.alloc;
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], cap: usize) -> BytesMut {
        let mut b = BytesMut::with_capacity(cap);
        b.extend_from_slice(bytes);
        b
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_nearly_full_read_is_kept_and_a_short_one_copied_to_its_size() {
        let mut b = ReadBuf::default();
        b.push(read(&pattern(56), 64));
        assert_eq!(
            (b.len(), b.allocated()),
            (56, 64),
            "7/8 full: kept as it is"
        );
        b.push(read(&pattern(55), 64));
        assert_eq!(
            (b.len(), b.allocated()),
            (111, 64 + 55),
            "below 7/8: copied"
        );
        b.push(BytesMut::with_capacity(64));
        assert_eq!(b.len(), 111, "an empty read adds nothing");
    }

    #[test]
    fn a_read_in_progress_stays_committed_across_a_drain() {
        let mut b = ReadBuf::default();
        b.push(read(&pattern(64), 64));
        b.begin_read(64);
        assert_eq!(b.committed(), 128);
        let _ = b.take(64);
        assert_eq!(
            b.committed(),
            64,
            "the drained read goes, the one in progress stays"
        );
        b.push(read(&pattern(10), 64));
        assert_eq!(b.committed(), 10, "the read landed (copied to its size)");
    }

    #[test]
    fn drains_come_back_in_order_whatever_their_sizes() {
        let data = pattern(10_000);
        let mut b = ReadBuf::default();
        for chunk in data.chunks(700) {
            b.push(read(chunk, 700));
        }
        let mut out = Vec::new();
        for n in [1, 699, 700, 701, 2_100, 0, 5_000, 10_000] {
            out.extend_from_slice(&b.take(n).bytes);
        }
        assert_eq!(out, data);
        assert!(b.is_empty());
        assert_eq!(b.allocated(), 0);
    }

    #[test]
    fn a_drain_of_the_front_read_hands_it_over_and_any_other_is_exact() {
        let mut b = ReadBuf::default();
        b.push(read(&pattern(60), 64));
        b.push(read(&pattern(60), 64));
        let whole = b.take(60);
        assert_eq!((whole.bytes.len(), whole.alloc), (60, 64));
        let part = b.take(10);
        assert_eq!((part.bytes.len(), part.alloc), (10, 10));
        assert_eq!(
            (b.len(), b.allocated()),
            (50, 64),
            "a partly drained read stays charged in full until it goes"
        );
        assert_eq!(
            b.take(50).alloc,
            64,
            "the rest of a read is handed over with its allocation"
        );
        assert_eq!((b.len(), b.allocated()), (0, 0));
    }

    #[test]
    fn what_is_allocated_never_exceeds_the_bytes_by_more_than_one_read_and_the_slack() {
        let chunk = 64 << 10;
        let mut b = ReadBuf::default();
        let mut drained = 0;
        for i in 0..200 {
            let n = chunk - (i * 977) % (chunk / 4);
            b.push(read(&pattern(n), chunk));
            if i % 3 == 0 {
                drained += b.take(100_000 + i).bytes.len();
            }
            assert!(b.allocated() <= b.len() + b.len() / KEEP_NUM + chunk);
        }
        assert!(drained > 0);
    }
}
