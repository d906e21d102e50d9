//! Keeping every request body under the node's body limit (§6.3, §9).
//!
//! Deployed nodes refuse any request body over 2 MiB with HTTP 413 before they parse it, so
//! no op of that batch runs (§1.4). A batch is therefore capped by the size of the whole body
//! it becomes: envelope, key, op fields and base64, measured exactly as `serde_json` writes
//! them, not estimated from the payload alone (4 MiB of base64 was the deployed client's rule,
//! and what broke fast uploads). A 413 (from the node, or `tunnel batch HTTP 413` from a relay
//! in front of it) is an answer, not a failure: nothing ran, so the batch is repacked under a
//! lower cap and sent again, and an op too large on its own goes back to its session to be
//! carried in smaller ops. Nothing is lost and nothing is sent twice.

use crate::envelope::BatchResponse;
use crate::op::{BatchOp, OpKind};

use super::batcher::Batch;
use super::params::MIN_BATCH_BODY_BYTES;
use super::replies::OpFailure;

/// What a relay in front of a node answers when the node said 413 (§1.5).
pub const RELAY_TOO_LARGE: &str = "tunnel batch HTTP 413";
/// HTTP status of a refused body.
pub const STATUS_TOO_LARGE: u16 = 413;

/// Length of `s` as a JSON string literal, quotes included, exactly as `serde_json` writes it
/// (it escapes `"`, `\` and control characters, nothing else).
pub fn json_str_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Length of `op` serialised as JSON, computed without serialising it.
pub fn op_len(op: &BatchOp) -> usize {
    let field = |key: usize, value: usize| 1 + key + 3 + value; // ,"key":value
    let mut n = 1 + 4 + 1 + json_str_len(&op.op) + 1; // {"op":"..."}
    n += op.sid.as_deref().map_or(0, |s| field(3, json_str_len(s)));
    n += op.host.as_deref().map_or(0, |s| field(4, json_str_len(s)));
    n += op.port.map_or(0, |p| field(4, digits(u64::from(p))));
    n += op.d.as_deref().map_or(0, |s| field(1, json_str_len(s)));
    n += op.seq.map_or(0, |s| field(3, digits(s)));
    n += op.ack.map_or(0, |a| field(3, digits(a)));
    n
}

/// Length of a batch body whose envelope without ops (`{"k":…,"ops":[]}`) is `overhead` bytes.
pub fn body_len<'a>(overhead: usize, ops: impl IntoIterator<Item = &'a BatchOp>) -> usize {
    let (count, sum) = ops
        .into_iter()
        .fold((0usize, 0usize), |(c, s), op| (c + 1, s + op_len(op)));
    overhead + sum + count.saturating_sub(1)
}

/// The most raw bytes one `data` op of session `sid` may carry so that a batch holding only it
/// stays within `cap` (any `seq` and `ack` assumed; the margin of `cap` covers relays, §6.3).
pub fn max_data_payload(cap: usize, overhead: usize, sid: &str) -> usize {
    let probe = BatchOp {
        op: "data".into(),
        sid: Some(sid.into()),
        d: Some(String::new()),
        seq: Some(u64::MAX),
        ack: Some(u64::MAX),
        ..BatchOp::default()
    };
    let fixed = overhead + op_len(&probe);
    // Base64 grows 3 raw bytes into 4 characters.
    cap.saturating_sub(fixed) / 4 * 3
}

/// The batch cap in force: the configured one until a node refuses a body, then lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyCap {
    cap: usize,
}

impl BodyCap {
    pub fn new(configured: usize) -> Self {
        Self {
            cap: configured.max(MIN_BATCH_BODY_BYTES),
        }
    }

    pub fn get(&self) -> usize {
        self.cap
    }

    /// A body of `refused` bytes got a 413: the limit is below it. Halving converges on any
    /// limit in a few round trips; the cap never grows back and never drops below
    /// [`MIN_BATCH_BODY_BYTES`].
    pub fn refused(&mut self, refused: usize) -> usize {
        self.cap = self.cap.min(refused / 2).max(MIN_BATCH_BODY_BYTES);
        self.cap
    }
}

/// True when a node answered `status` because the body was too large.
pub fn is_too_large_status(status: u16) -> bool {
    status == STATUS_TOO_LARGE
}

/// True when a relay's answer says the node behind it refused the body (no op ran).
pub fn is_relay_too_large(resp: &BatchResponse) -> bool {
    resp.r.is_empty() && resp.e.as_deref() == Some(RELAY_TOO_LARGE)
}

/// A refused batch, repacked under the new cap.
#[derive(Debug)]
pub struct Repacked<T> {
    /// Batches to send again, each within the cap (or a single op that cannot be split).
    pub parts: Vec<Batch<T>>,
    /// Payload-carrying ops too large for a batch of their own: their sessions resend the
    /// bytes in smaller ops.
    pub too_large: Vec<(BatchOp, T)>,
    /// Ops that cannot be carried at all (a lone op the node refused that cannot be split).
    pub refused: Vec<(BatchOp, T)>,
}

/// Whether a session can carry this op's bytes in several smaller ops.
fn splittable(op: &BatchOp) -> bool {
    op.has_payload() && matches!(op.kind(), OpKind::Data | OpKind::ConnectData)
}

/// Repacks a batch the node refused with 413 into batches that fit `cap`, in op order, so
/// nothing is lost and nothing is duplicated. `close` ops stay behind every data op (they
/// are last in a batch, and a part is only cut before an op, never reordered).
pub fn repack<T>(batch: Batch<T>, cap: usize, overhead: usize) -> Repacked<T> {
    let mut out = Repacked {
        parts: Vec::new(),
        too_large: Vec::new(),
        refused: Vec::new(),
    };
    let lone = batch.len() == 1;
    let mut part: Batch<T> = Batch::default();
    let mut part_len = overhead;
    for (op, tag) in batch.ops.into_iter().zip(batch.tags) {
        let alone = overhead + op_len(&op);
        if alone > cap || lone {
            if splittable(&op) {
                out.too_large.push((op, tag));
            } else if lone {
                out.refused.push((op, tag));
            } else {
                out.parts.push(Batch {
                    ops: vec![op],
                    tags: vec![tag],
                });
            }
            continue;
        }
        let grow = op_len(&op) + usize::from(!part.is_empty());
        if !part.is_empty() && part_len + grow > cap {
            out.parts.push(std::mem::take(&mut part));
            part_len = overhead;
        }
        part_len += op_len(&op) + usize::from(!part.is_empty());
        part.ops.push(op);
        part.tags.push(tag);
    }
    if !part.is_empty() {
        out.parts.push(part);
    }
    out
}

/// What the session of an op in [`Repacked::too_large`] gets: the op's bytes, and how many of
/// them one op may carry under `cap` (a `connect_data` falls back to `connect` and sends them as
/// its first `data` ops).
pub fn too_large(op: &BatchOp, cap: usize, overhead: usize) -> OpFailure {
    // Session ids are opaque; a node's are 36-character UUIDs, and a `connect_data` has none yet.
    let sid = op
        .sid
        .as_deref()
        .unwrap_or("00000000-0000-0000-0000-000000000000");
    match op.payload() {
        Ok(payload) => OpFailure::TooLarge {
            payload,
            max: max_data_payload(cap, overhead, sid),
        },
        Err(e) => OpFailure::Batch(format!("a refused op has an unreadable payload: {e}")),
    }
}

/// What an op in [`Repacked::refused`] gets: nothing smaller can carry it.
pub fn refused(op: &BatchOp, body: usize) -> OpFailure {
    OpFailure::Batch(format!(
        "the node refused a {body}-byte request holding only this {} op as too large (HTTP 413); \
         the node, or a proxy in front of it, must accept larger bodies",
        op.op
    ))
}

#[cfg(test)]
mod tests;
