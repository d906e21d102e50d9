//! Matching a batch's replies back to its ops (§3.1, §6.7 item 3).
//!
//! `r[i]` answers `ops[i]` and nothing else ties a reply to its op. A hop that rewrites `r`
//! (Apps Script's edge-DNS splice does, and a relay is a third party on the path) therefore
//! decides which session gets which bytes, and trusting position alone once delivered one
//! user's downloads to another user's apps: an entry added at the front shifts every reply onto
//! the next op, and two swapped entries with equal seqs pass any seq check, because parallel
//! sessions count from 0 alike. So a reply is accepted only where it provably belongs:
//!
//! - `r` has exactly one entry per op; otherwise no entry can be attributed, and the whole
//!   batch fails (the single-entry whole-request error is the one exception, §3.1);
//! - a reply to an op that names a session names the same session (an error without `sid` is
//!   fine: it carries nothing to write);
//! - a reply carries no `seq` its op was not sent with.
//!
//! Replies to opens (`connect`, `connect_data`, `udp_open`) bring a sid the client has not seen,
//! so only what is impossible for them is refused: a `seq`, a sid another op of the batch
//! names, or a sid two opens of the batch got. Two open replies exchanged with each other are
//! indistinguishable on the wire, which is why a batch carries one open at most
//! ([`super::batcher::MAX_OPENS_PER_BATCH`], PROTOCOL.md §3.1).
//!
//! A failed op ends its session before any of the failed reply's bytes are written: a closed
//! stream can be retried by the app, another user's page in its socket cannot be taken back.

use std::collections::{HashMap, HashSet};

use crate::envelope::BatchResponse;
use crate::op::BatchOp;
use crate::reply::Reply;

use super::faults::ClientFaults;

/// What a reply must show to be the answer to one op.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// The session the op names; `None` for an open, whose reply brings a new sid.
    pub sid: Option<String>,
    /// The `seq` the op was sent with.
    pub seq: Option<u64>,
}

impl Expect {
    /// What the reply to `op` must match.
    pub fn of(op: &BatchOp) -> Self {
        Self {
            sid: if op.opens_session() {
                None
            } else {
                op.sid.clone()
            },
            seq: op.seq,
        }
    }
}

/// Why an op got no reply it may use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpFailure {
    /// `r` was shorter than the batch: which entry is missing cannot be known.
    #[error("missing response in batch: {got} replies for {want} ops, so none can be attributed")]
    Missing { got: usize, want: usize },
    /// `r` was longer than the batch: a hop added entries.
    #[error(
        "extra responses in batch: {got} replies for {want} ops (a hop rewrote the reply list), \
         so none can be attributed"
    )]
    Extra { got: usize, want: usize },
    /// The reply names another session: a hop moved replies between ops.
    #[error(
        "reply for session {got:?} came back on an op of session {sent:?}; its bytes are not written"
    )]
    ForeignSid { sent: String, got: String },
    /// A reply with neither `sid` nor `e` to an op that names a session.
    #[error("reply without a sid on an op of session {sent:?}; its bytes are not written")]
    NoSid { sent: String },
    /// An open's reply names a sid that is not new.
    #[error("reply to an open names session {got:?}, which another op of the batch names or got")]
    TakenSid { got: String },
    /// The reply carries a `seq` its op was not sent with.
    #[error("reply carries seq {got}, but its op was sent with {}", seq_text(*.sent))]
    UnsentSeq { sent: Option<u64>, got: u64 },
    /// The whole batch failed: transport, timeout, non-200, decoy or a relay error.
    #[error("{0}")]
    Batch(String),
    /// The node refused a request holding only this op as too large (HTTP 413), so the op never
    /// ran: its session carries `payload` again in ops of at most `max` raw bytes (§6.3).
    #[error(
        "the node refused this op's request as too large (HTTP 413); its {} bytes go again in ops of at most {max} bytes",
        .payload.len()
    )]
    TooLarge { payload: Vec<u8>, max: usize },
}

fn seq_text(seq: Option<u64>) -> String {
    seq.map_or_else(|| "no seq".to_string(), |s| format!("seq {s}"))
}

/// What one op of a batch got.
pub type OpResult = Result<Reply, OpFailure>;

/// One result per op, and whether the batch came back whole (for the relay cooldown, §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub results: Vec<OpResult>,
    /// No top-level `e`, one entry per op, and every entry matched its op.
    pub clean: bool,
}

/// Prefixes of `e` texts that fail a whole request with one entry (§1.4, §3.5).
const WHOLE_REQUEST_ERRORS: &[&str] = &[
    "bad json: ",
    "unauthorized",
    "gzip decode: ",
    "request body too large",
];

/// True when `reply` is a whole-request failure rather than the reply to one op.
pub fn is_whole_request_error(reply: &Reply) -> bool {
    reply.sid.is_none()
        && reply
            .e
            .as_deref()
            .is_some_and(|e| WHOLE_REQUEST_ERRORS.iter().any(|p| e.starts_with(p)))
}

/// Splits `resp` into one result per op; `ops[i]` describes the batch's op `i`.
pub fn split(resp: BatchResponse, ops: &[Expect], faults: &ClientFaults) -> Split {
    if faults.positional_replies {
        return positional(resp, ops.len());
    }
    let BatchResponse { r, e } = resp;
    let (got, want) = (r.len(), ops.len());
    if let Some(e) = e {
        return failed(vec![
            Err(OpFailure::Batch(format!("relay error: {e}")));
            want
        ]);
    }
    if want > 1 && got == 1 && is_whole_request_error(&r[0]) {
        return failed(vec![Ok(r[0].clone()); want]);
    }
    if got != want {
        let why = if got < want {
            OpFailure::Missing { got, want }
        } else {
            OpFailure::Extra { got, want }
        };
        return failed(vec![Err(why); want]);
    }
    let named: HashSet<&str> = ops.iter().filter_map(|o| o.sid.as_deref()).collect();
    let mut opened: HashMap<String, usize> = HashMap::new();
    for (op, reply) in ops.iter().zip(&r) {
        if let (None, Some(sid)) = (&op.sid, &reply.sid) {
            *opened.entry(sid.clone()).or_default() += 1;
        }
    }
    let results: Vec<OpResult> = ops
        .iter()
        .zip(r)
        .map(|(op, reply)| check(op, reply, &named, &opened))
        .collect();
    let clean = results.iter().all(Result::is_ok);
    Split { results, clean }
}

fn failed(results: Vec<OpResult>) -> Split {
    Split {
        results,
        clean: false,
    }
}

/// The reply to one op, if it provably is one.
fn check(
    op: &Expect,
    reply: Reply,
    named: &HashSet<&str>,
    opened: &HashMap<String, usize>,
) -> OpResult {
    if let Some(got) = reply.seq
        && op.seq != Some(got)
    {
        return Err(OpFailure::UnsentSeq { sent: op.seq, got });
    }
    match (&op.sid, &reply.sid) {
        (Some(sent), Some(got)) if sent != got => Err(OpFailure::ForeignSid {
            sent: sent.clone(),
            got: got.clone(),
        }),
        (Some(sent), None) if reply.e.is_none() => Err(OpFailure::NoSid { sent: sent.clone() }),
        (None, Some(got))
            if named.contains(got.as_str()) || opened.get(got).is_some_and(|n| *n > 1) =>
        {
            Err(OpFailure::TakenSid { got: got.clone() })
        }
        _ => Ok(reply),
    }
}

/// The deployed clients' rule, kept only as the `positional_replies` mutant: `r[i]` goes to op
/// `i` unchecked, extra entries are ignored, and only ops past the end of a short `r` fail.
fn positional(resp: BatchResponse, want: usize) -> Split {
    let BatchResponse { r, e } = resp;
    let got = r.len();
    let clean = e.is_none() && got >= want;
    if want > 1 && got == 1 && is_whole_request_error(&r[0]) {
        return failed(vec![Ok(r[0].clone()); want]);
    }
    let mut replies = r.into_iter();
    let results = (0..want)
        .map(|_| match replies.next() {
            Some(reply) => Ok(reply),
            None => Err(match &e {
                Some(e) => OpFailure::Batch(format!("relay error: {e}")),
                None => OpFailure::Missing { got, want },
            }),
        })
        .collect();
    Split { results, clean }
}

/// The same failure for every op of a batch.
pub fn fail_all(count: usize, why: &str) -> Vec<OpResult> {
    vec![Err(OpFailure::Batch(why.to_string())); count]
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
