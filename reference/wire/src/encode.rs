//! Writing batch bodies (a node's response, a client's request), byte for byte what
//! `serde_json` writes, at memcpy speed.
//!
//! A node's reply body is almost all base64 (`d`). Profiling the node under 64 parallel
//! downloads (bench/README.md) put 26 % of its CPU in `serde_json`'s string serialiser, which
//! checks every byte of every string for characters to escape, and 14 % in copies, mostly a
//! `Vec` growing by doubling while the body is written. Base64 never needs escaping, so each
//! string is checked here with a loop the compiler vectorises and then copied whole, and the
//! body is written into a buffer reserved at its final size. Strings that do need escaping (an
//! error text, say) still go through `serde_json`. A test compares the output with
//! `serde_json`'s for arbitrary replies, escapes included.

use std::io::Write as _;

use crate::envelope::{BatchRequestRef, BatchResponse};
use crate::op::BatchOp;
use crate::reply::Reply;

/// Bytes a reply adds beyond its strings: keys, quotes, numbers, commas.
const REPLY_OVERHEAD: usize = 96;

/// The JSON body of `resp`, exactly as `serde_json::to_vec` would write it.
pub fn response_body(resp: &BatchResponse) -> Vec<u8> {
    let strings: usize = resp.r.iter().map(string_bytes).sum();
    let mut out = Vec::with_capacity(strings + REPLY_OVERHEAD * resp.r.len() + 32);
    out.extend_from_slice(b"{\"r\":[");
    for (i, reply) in resp.r.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_reply(&mut out, reply);
    }
    out.push(b']');
    if let Some(e) = &resp.e {
        out.extend_from_slice(b",\"e\":");
        write_str(&mut out, e);
    }
    out.push(b'}');
    out
}

/// The JSON body of a client's request, exactly as `serde_json::to_vec` would write it.
pub fn request_body(req: &BatchRequestRef<'_>) -> Vec<u8> {
    let strings: usize = req
        .ops
        .iter()
        .map(|op| op.d.as_ref().map_or(0, String::len) + REPLY_OVERHEAD)
        .sum();
    let mut out = Vec::with_capacity(strings + req.k.len() + 32);
    out.extend_from_slice(b"{\"k\":");
    write_str(&mut out, req.k);
    if let Some(t) = req.t {
        out.extend_from_slice(b",\"t\":");
        write_str(&mut out, t);
    }
    out.extend_from_slice(b",\"ops\":[");
    for (i, op) in req.ops.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_op(&mut out, op);
    }
    out.extend_from_slice(b"]}");
    out
}

/// One op, its fields in `BatchOp`'s declaration order, absent ones omitted.
fn write_op(out: &mut Vec<u8>, op: &BatchOp) {
    // Destructured in full, so a field added to `BatchOp` fails to compile here.
    let BatchOp {
        op,
        sid,
        host,
        port,
        d,
        seq,
        ack,
    } = op;
    out.extend_from_slice(b"{\"op\":");
    write_str(out, op);
    let strings = [(&b"sid"[..], sid), (b"host", host)];
    for (name, value) in strings {
        if let Some(v) = value {
            field(out, name);
            write_str(out, v);
        }
    }
    if let Some(port) = port {
        field(out, b"port");
        let _ = write!(out, "{port}");
    }
    if let Some(d) = d {
        field(out, b"d");
        write_str(out, d);
    }
    for (name, value) in [(&b"seq"[..], seq), (b"ack", ack)] {
        if let Some(v) = value {
            field(out, name);
            let _ = write!(out, "{v}");
        }
    }
    out.push(b'}');
}

/// `,"name":` after an earlier field.
fn field(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
}

fn string_bytes(r: &Reply) -> usize {
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let pkts = r
        .pkts
        .as_ref()
        .map_or(0, |p| p.iter().map(|s| s.len() + 3).sum());
    len(&r.sid) + len(&r.d) + len(&r.e) + len(&r.code) + pkts
}

/// The fields of one JSON object, written in turn: a comma before all but the first.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    fn key(&mut self, name: &[u8]) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, name: &[u8], value: &Option<String>) {
        if let Some(v) = value {
            self.key(name);
            write_str(self.out, v);
        }
    }

    fn num(&mut self, name: &[u8], value: Option<&impl std::fmt::Display>) {
        if let Some(v) = value {
            self.key(name);
            let _ = write!(self.out, "{v}");
        }
    }
}

/// One reply, its fields in `Reply`'s declaration order, absent ones omitted (§3.2).
fn write_reply(out: &mut Vec<u8>, r: &Reply) {
    // Destructured in full, so a field added to `Reply` fails to compile here.
    let Reply {
        sid,
        d,
        pkts,
        eof,
        e,
        code,
        seq,
        caps,
    } = r;
    out.push(b'{');
    let mut w = Fields { out, first: true };
    w.str(b"sid", sid);
    w.str(b"d", d);
    if let Some(pkts) = pkts {
        w.key(b"pkts");
        w.out.push(b'[');
        for (i, p) in pkts.iter().enumerate() {
            if i > 0 {
                w.out.push(b',');
            }
            write_str(w.out, p);
        }
        w.out.push(b']');
    }
    if let Some(eof) = eof {
        w.key(b"eof");
        w.out
            .extend_from_slice(if *eof { b"true" } else { b"false" });
    }
    w.str(b"e", e);
    w.str(b"code", code);
    w.num(b"seq", seq.as_ref());
    w.num(b"caps", caps.as_ref());
    out.push(b'}');
}

/// A JSON string: copied whole when nothing in it needs escaping, else `serde_json`'s way.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// True when `bytes` hold a quote, a backslash or a control character (what JSON escapes).
/// Checked 32 bytes at a time without branching inside a block, which compiles to vector code.
fn needs_escape(bytes: &[u8]) -> bool {
    let bad = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        if block.iter().fold(false, |acc, &b| acc | bad(b)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| bad(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reply() -> impl Strategy<Value = Reply> {
        let text = proptest::option::of(any::<String>());
        let b64 = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|b| b.map(|b| crate::b64::encode(&b)));
        (
            (
                text.clone(),
                b64,
                proptest::option::of(proptest::collection::vec(any::<String>(), 0..3)),
            ),
            (proptest::option::of(any::<bool>()), text.clone(), text),
            (
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u32>()),
            ),
        )
            .prop_map(|((sid, d, pkts), (eof, e, code), (seq, caps))| Reply {
                sid,
                d,
                pkts,
                eof,
                e,
                code,
                seq,
                caps,
            })
    }

    #[test]
    fn a_long_string_is_written_as_serde_json_writes_it_wherever_the_escape_falls() {
        let serde = |s: &str| serde_json::to_vec(s).unwrap();
        let plain = "QUJD".repeat(3000);
        for at in [
            None,
            Some(0),
            Some(4095),
            Some(4096),
            Some(8191),
            Some(11_999),
        ] {
            let mut text = plain.clone().into_bytes();
            if let Some(at) = at {
                text[at] = b'"';
            }
            let text = String::from_utf8(text).unwrap();
            let mut out = b"prefix".to_vec();
            write_str(&mut out, &text);
            assert_eq!(out[6..], serde(&text)[..], "escape at {at:?}");
            assert_eq!(&out[..6], b"prefix");
        }
    }

    #[test]
    fn escapes_are_found_in_every_position_of_a_block() {
        for bad in [b'"', b'\\', b'\n', 0u8, 0x1f] {
            for len in [1, 31, 32, 33, 64, 100] {
                for at in 0..len {
                    let mut v = vec![b'A'; len];
                    v[at] = bad;
                    assert!(needs_escape(&v), "{bad} at {at} of {len}");
                }
                assert!(!needs_escape(&vec![b'A'; len]));
            }
        }
        assert!(
            !needs_escape("é/+=".as_bytes()),
            "non-ASCII is not escaped by JSON"
        );
    }

    fn op() -> impl Strategy<Value = BatchOp> {
        let text = proptest::option::of(any::<String>());
        (
            any::<String>(),
            (text.clone(), text),
            proptest::option::of(any::<u16>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            (
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u64>()),
            ),
        )
            .prop_map(|(op, (sid, host), port, d, (seq, ack))| BatchOp {
                op,
                sid,
                host,
                port,
                d: d.map(|d| crate::b64::encode(&d)),
                seq,
                ack,
            })
    }

    proptest! {
        #[test]
        fn the_request_is_what_serde_json_writes(
            ops in proptest::collection::vec(op(), 0..6),
            k in any::<String>(),
            outer in any::<bool>(),
        ) {
            let req = BatchRequestRef { k: &k, t: outer.then_some("batch"), ops: &ops };
            prop_assert_eq!(request_body(&req), serde_json::to_vec(&req).unwrap());
        }

        #[test]
        fn the_body_is_what_serde_json_writes(
            r in proptest::collection::vec(reply(), 0..6),
            e in proptest::option::of(any::<String>()),
        ) {
            let resp = BatchResponse { r, e };
            prop_assert_eq!(response_body(&resp), serde_json::to_vec(&resp).unwrap());
        }
    }
}
