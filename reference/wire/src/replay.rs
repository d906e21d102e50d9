//! Held replies of a replay-safe session (§7.10): what lets a client send a seq'd op again
//! after its batch failed, without a byte lost or written twice.
//!
//! The seq gate already guarantees that a processed seq never runs again; what a retransmit
//! needs besides is the answer the first copy got, since its downlink bytes left the session's
//! buffer when it was drained. So the node keeps each processed reply of a replay-safe session
//! until the client acknowledges it (`ack` on its later ops), and answers a retransmit of a
//! held seq with that exact reply. Memory is bounded three ways, each a named limit: replies
//! per session, bytes per session (the oldest held reply goes first), and bytes for the whole
//! node (a reply that does not fit is not held). A retransmit whose reply is no longer held
//! gets an error that closes the session cleanly: never an empty answer, which would be a
//! silent gap in the stream.

use std::collections::BTreeMap;

use crate::reply::Reply;

/// Most replies one session holds until they are acknowledged.
pub const REPLAY_MAX_HELD: usize = 32;
/// Most reply bytes (as carried, base64 included) one session holds.
pub const REPLAY_MAX_SESSION_BYTES: usize = 32 << 20;
/// Most reply bytes all sessions of a node hold together.
pub const REPLAY_MAX_NODE_BYTES: usize = 128 << 20;

/// The per-session limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayLimits {
    pub max_held: usize,
    pub max_bytes: usize,
}

impl Default for ReplayLimits {
    fn default() -> Self {
        Self {
            max_held: REPLAY_MAX_HELD,
            max_bytes: REPLAY_MAX_SESSION_BYTES,
        }
    }
}

/// What a retransmit of an already processed seq gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The reply the first copy got, exactly.
    Held(Reply),
    /// Not held: acknowledged (a client never retransmits what it acknowledged, so this is a
    /// confused or hostile peer), or dropped to keep within a limit.
    Released { acked: u64, dropped: bool },
}

/// What holding one reply changed, for the node's byte ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    /// Bytes this reply now takes (0 when it was not held).
    pub added: usize,
    /// Bytes of older replies released to make room.
    pub freed: usize,
}

/// The held replies of one session, by seq.
#[derive(Debug, Clone)]
pub struct ReplayStore {
    limits: ReplayLimits,
    held: BTreeMap<u64, (Reply, usize)>,
    bytes: usize,
    /// Every reply below this seq was acknowledged.
    acked: u64,
}

/// The bytes a held reply takes, as the ledger counts it: its base64 strings plus a small
/// fixed cost for the entry.
pub fn reply_bytes(r: &Reply) -> usize {
    const ENTRY: usize = 64;
    ENTRY
        + r.d.as_ref().map_or(0, String::len)
        + r.pkts.iter().flatten().map(String::len).sum::<usize>()
        + r.e.as_ref().map_or(0, String::len)
}

impl ReplayStore {
    pub fn new(limits: ReplayLimits) -> Self {
        Self {
            limits,
            held: BTreeMap::new(),
            bytes: 0,
            acked: 0,
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Replies held now.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The client has every reply below `ack`: they are released. Returns the bytes freed. An
    /// `ack` lower than an earlier one changes nothing (acks travel in different requests and
    /// may arrive out of order).
    pub fn ack(&mut self, ack: u64) -> usize {
        if ack <= self.acked {
            return 0;
        }
        self.acked = ack;
        let kept = self.held.split_off(&ack);
        let freed: usize = self.held.values().map(|(_, n)| n).sum();
        self.held = kept;
        self.bytes -= freed;
        freed
    }

    /// Keeps `reply`, the answer to `seq`, for a retransmit; `node_room` is what the node-wide
    /// limit still allows. Older replies of this session are released, oldest first, to stay
    /// within the session's limits; a reply that does not fit even then is not held.
    pub fn hold(&mut self, seq: u64, reply: &Reply, node_room: usize) -> Held {
        if seq < self.acked {
            return Held::default();
        }
        let size = reply_bytes(reply);
        if size > self.limits.max_bytes || self.limits.max_held == 0 {
            return Held::default();
        }
        let mut freed = 0;
        while self.held.len() >= self.limits.max_held || self.bytes + size > self.limits.max_bytes {
            let Some((_, (_, n))) = self.held.pop_first() else {
                break;
            };
            self.bytes -= n;
            freed += n;
        }
        if size > node_room.saturating_add(freed) {
            return Held { added: 0, freed };
        }
        if let Some((_, n)) = self.held.insert(seq, (reply.clone(), size)) {
            self.bytes -= n;
            freed += n;
        }
        self.bytes += size;
        Held { added: size, freed }
    }

    /// What a retransmit of the processed `seq` gets.
    pub fn replay(&self, seq: u64) -> Replay {
        match self.held.get(&seq) {
            Some((r, _)) => Replay::Held(r.clone()),
            None => Replay::Released {
                acked: self.acked,
                dropped: seq >= self.acked,
            },
        }
    }

    /// Everything is released (the session ended); returns the bytes freed.
    pub fn clear(&mut self) -> usize {
        self.held.clear();
        std::mem::take(&mut self.bytes)
    }
}

#[cfg(test)]
mod tests;
