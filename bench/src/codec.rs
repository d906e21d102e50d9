//! The JSON/base64 paths a payload byte crosses, each as the reference uses it: the client
//! encodes a request, the node decodes it; the node encodes a reply, the client decodes it.
//! Every function here calls the same `seqtun-wire` code the binaries call.

use seqtun_wire::client::relay_body::parse_reply_body;
use seqtun_wire::envelope::{parse_incoming, parse_op};
use seqtun_wire::{BatchOp, BatchRequestRef, BatchResponse, Reply, b64, body};

/// A session id as long as the node's (a UUID).
const SID: &str = "0b9c2a64-7f1e-4d3a-9e55-3c1f0e6a9d21";
/// Largest reply body the client reads (its default).
const REPLY_LIMIT: usize = 64 << 20;

/// One codec case: `ops` ops of `payload` bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub payload: usize,
    pub ops: usize,
}

impl Case {
    pub const ALL: [Case; 4] = [
        Case {
            payload: 64 << 10,
            ops: 1,
        },
        Case {
            payload: 64 << 10,
            ops: 50,
        },
        Case {
            payload: 1 << 20,
            ops: 1,
        },
        Case {
            payload: 1 << 20,
            ops: 50,
        },
    ];

    pub fn label(&self) -> String {
        let size = if self.payload >= 1 << 20 {
            format!("{}MiB", self.payload >> 20)
        } else {
            format!("{}KiB", self.payload >> 10)
        };
        format!("{size}x{}", self.ops)
    }

    /// Payload bytes of the whole batch.
    pub fn bytes(&self) -> u64 {
        (self.payload * self.ops) as u64
    }

    /// The payloads: incompressible-looking bytes, different per op.
    pub fn payloads(&self) -> Vec<Vec<u8>> {
        (0..self.ops)
            .map(|i| {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
                (0..self.payload)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect()
            })
            .collect()
    }
}

/// The client builds `data` ops (base64) and serialises the outer request (as
/// `Transport::body` does).
pub fn client_encode(key: &str, payloads: &[Vec<u8>]) -> Vec<u8> {
    let ops: Vec<BatchOp> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| BatchOp::data(SID, p, Some(i as u64)))
        .collect();
    let req = BatchRequestRef {
        k: key,
        t: Some("batch"),
        ops: &ops,
    };
    seqtun_wire::encode::request_body(&req)
}

/// The node reads a request body: envelope, each op, each payload. Returns payload bytes.
pub fn node_decode(raw: &[u8]) -> usize {
    let Ok(json) = body::decode_body(raw, usize::MAX) else {
        return 0;
    };
    let Ok(batch) = parse_incoming(&json) else {
        return 0;
    };
    batch
        .ops
        .into_iter()
        .filter_map(|op| parse_op(op).ok())
        .filter_map(|op| op.d.as_deref().map(b64::decode))
        .map(|d| d.map_or(0, |d| d.len()))
        .sum()
}

/// The node builds each drain reply (base64) and serialises the response.
pub fn node_encode(payloads: &[Vec<u8>]) -> Vec<u8> {
    let r = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| Reply::drained(SID, p, false).with_seq(Some(i as u64)))
        .collect();
    seqtun_wire::envelope::encode_response(&BatchResponse { r, e: None })
}

/// The client reads a reply body and decodes each payload. Returns payload bytes.
pub fn client_decode(raw: &[u8]) -> usize {
    let Ok(resp) = parse_reply_body(200, raw, REPLY_LIMIT) else {
        return 0;
    };
    resp.r
        .iter()
        .filter_map(|r| r.d.as_deref().map(b64::decode))
        .map(|d| d.map_or(0, |d| d.len()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_carry_every_payload_byte() {
        let case = Case {
            payload: 1000,
            ops: 3,
        };
        let p = case.payloads();
        assert_ne!(p[0], p[1]);
        assert_eq!(node_decode(&client_encode("k", &p)), 3000);
        assert_eq!(client_decode(&node_encode(&p)), 3000);
    }
}
