//! The property the reply matching exists for: whatever a hop does to a correct `r` (permute
//! it, insert an entry, delete one, or several of these), no session writes a byte to its app
//! that was not its own, in its own order, and an open gets only its own reply. Replies go
//! through the real consumer, [`Pipeline`], so "written" means what the shell would write to
//! the app. Batches carry at most one open, as the batcher guarantees
//! ([`MAX_OPENS_PER_BATCH`]); the last test shows why.

use std::time::Instant;

use proptest::prelude::*;

use super::*;
use crate::b64;
use crate::client::batcher::MAX_OPENS_PER_BATCH;
use crate::client::negotiate::Mode;
use crate::client::params::ClientParams;
use crate::client::pipeline::{Event, OpToken, Pipeline};

/// One session with ops in the batch: pipelined (several ops, seqs from `first_seq`, so
/// parallel sessions share seq numbers) or legacy (one op, no seq).
#[derive(Debug, Clone)]
enum Session {
    Legacy { close: bool },
    Pipelined { ops: usize, first_seq: u64 },
}

#[derive(Debug, Clone)]
enum Entry {
    /// Another client's reply, e.g. `{"sid":"zz","d":"QUJD"}`, with or without a seq.
    Foreign(Option<u64>),
    /// A copy of the batch's own entry `k` (mod len).
    Copy(usize),
}

#[derive(Debug, Clone)]
enum Mutation {
    Permute(u64),
    Insert(usize, Entry),
    Delete(usize),
}

fn session() -> impl Strategy<Value = Session> {
    prop_oneof![
        any::<bool>().prop_map(|close| Session::Legacy { close }),
        (1usize..4, 0u64..2).prop_map(|(ops, first_seq)| Session::Pipelined { ops, first_seq }),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let entry = prop_oneof![
        proptest::option::of(0u64..3).prop_map(Entry::Foreign),
        any::<usize>().prop_map(Entry::Copy),
    ];
    prop_oneof![
        any::<u64>().prop_map(Mutation::Permute),
        (any::<usize>(), entry).prop_map(|(at, e)| Mutation::Insert(at, e)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

/// Who an op of the batch belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Owner {
    Data { session: usize, token: OpToken },
    Close,
    Open(usize),
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..v.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

struct Batch {
    pipelines: Vec<Pipeline>,
    /// What each session may write: its own tags, in op order.
    own: Vec<Vec<u8>>,
    ops: Vec<(Owner, BatchOp)>,
    r: Vec<Reply>,
}

fn sid(s: usize) -> String {
    format!("sess-{s}")
}

/// Builds the batch and the reply a correct node gives it; every reply's bytes name their op.
fn build(sessions: &[Session], opens: usize, order: u64) -> Batch {
    let t = Instant::now();
    let params = ClientParams::default();
    let faults = ClientFaults::default();
    let mut b = Batch {
        pipelines: Vec::new(),
        own: vec![Vec::new(); sessions.len()],
        ops: Vec::new(),
        r: Vec::new(),
    };
    let mut replies = Vec::new();
    let mut closes = Vec::new();
    for (s, shape) in sessions.iter().enumerate() {
        let (mode, ops, skip) = match *shape {
            Session::Legacy { .. } => (Mode::Legacy, 1, 0),
            Session::Pipelined { ops, first_seq } => (
                Mode::Pipelined {
                    depth: 16,
                    preempts: true,
                },
                ops,
                first_seq,
            ),
        };
        let mut p = Pipeline::new(mode, &params, &faults, t);
        for _ in 0..skip {
            let (token, _) = p.send(&sid(s), b"", t);
            p.on_reply(
                token,
                Ok(Reply::drained(&sid(s), b"", false).with_seq(Some(0))),
                t,
            );
        }
        for j in 0..ops {
            let (token, op) = p.send(&sid(s), b"", t);
            let tag = format!("s{s}.{j};").into_bytes();
            b.own[s].extend_from_slice(&tag);
            let reply = Reply::drained(&sid(s), &tag, false).with_seq(op.seq);
            replies.push(((Owner::Data { session: s, token }, op), reply));
        }
        if let Session::Legacy { close: true } = shape {
            closes.push((
                (Owner::Close, BatchOp::close(&sid(s))),
                Reply::gone(&sid(s)),
            ));
        }
        b.pipelines.push(p);
    }
    for o in 0..opens {
        let op = BatchOp::connect_data("h", 443, b"hello");
        let reply = Reply::drained(&format!("new-{o}"), format!("o{o};").as_bytes(), false)
            .with_caps(Some(1));
        replies.push(((Owner::Open(o), op), reply));
    }
    shuffle(&mut replies, order);
    replies.extend(closes);
    for (op, reply) in replies {
        b.ops.push(op);
        b.r.push(reply);
    }
    b
}

fn apply(r: &mut Vec<Reply>, m: &Mutation) {
    match m {
        Mutation::Permute(seed) => shuffle(r, *seed),
        Mutation::Insert(at, entry) => {
            let entry = match entry {
                Entry::Foreign(seq) => Reply::drained("zz", b"zz;", false).with_seq(*seq),
                Entry::Copy(k) if !r.is_empty() => r[k % r.len()].clone(),
                Entry::Copy(_) => Reply::gone("zz"),
            };
            let at = at % (r.len() + 1);
            r.insert(at, entry);
        }
        Mutation::Delete(at) if !r.is_empty() => {
            let at = at % r.len();
            r.remove(at);
        }
        Mutation::Delete(_) => {}
    }
}

/// What each session wrote, what it may write, and each open's accepted reply bytes.
type Delivered = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(usize, Vec<u8>)>);

fn deliver(mut b: Batch, r: Vec<Reply>, faults: &ClientFaults) -> Delivered {
    let t = Instant::now();
    let expect: Vec<Expect> = b.ops.iter().map(|(_, op)| Expect::of(op)).collect();
    let out = split(BatchResponse { r, e: None }, &expect, faults);
    let mut written = vec![Vec::new(); b.pipelines.len()];
    let mut opened = Vec::new();
    for ((owner, _), result) in b.ops.iter().zip(out.results) {
        match *owner {
            Owner::Data { session, token } => {
                for Event::Write(bytes) in b.pipelines[session].on_reply(token, result, t) {
                    written[session].extend(bytes);
                }
            }
            Owner::Open(o) => {
                if let Ok(reply) = result {
                    let d = reply.d.as_deref().unwrap_or_default();
                    opened.push((o, b64::decode(d).unwrap_or_default()));
                }
            }
            Owner::Close => {}
        }
    }
    (written, b.own, opened)
}

fn own_bytes_only(written: &[Vec<u8>], own: &[Vec<u8>]) -> Result<(), TestCaseError> {
    for (s, (w, own)) in written.iter().zip(own).enumerate() {
        prop_assert!(
            own.starts_with(w),
            "session {} wrote {:?}, its own bytes are {:?}",
            s,
            String::from_utf8_lossy(w),
            String::from_utf8_lossy(own)
        );
    }
    Ok(())
}

proptest! {
    /// One permutation, insertion or deletion: every session and the open get their own bytes
    /// or none.
    #[test]
    fn no_session_is_handed_a_byte_that_was_not_its_own(
        sessions in proptest::collection::vec(session(), 1..6),
        opens in 0..=MAX_OPENS_PER_BATCH,
        order in any::<u64>(),
        mutation in mutation(),
    ) {
        let b = build(&sessions, opens, order);
        let mut r = b.r.clone();
        apply(&mut r, &mutation);
        let (written, own, opened) = deliver(b, r, &ClientFaults::default());
        own_bytes_only(&written, &own)?;
        for (o, bytes) in opened {
            prop_assert_eq!(bytes, format!("o{o};").into_bytes());
        }
    }

    /// Several rewrites at once (an insertion and a deletion keep the length): sessions still
    /// get only their own bytes. An entry the hop made up may land on the open, whose reply
    /// nothing identifies; an existing session's reply may not.
    #[test]
    fn several_rewrites_never_cross_sessions(
        sessions in proptest::collection::vec(session(), 1..6),
        opens in 0..=MAX_OPENS_PER_BATCH,
        order in any::<u64>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let b = build(&sessions, opens, order);
        let mut r = b.r.clone();
        for m in &mutations {
            apply(&mut r, m);
        }
        let (written, own, opened) = deliver(b, r, &ClientFaults::default());
        own_bytes_only(&written, &own)?;
        for (o, bytes) in opened {
            prop_assert!(
                bytes == format!("o{o};").into_bytes() || bytes == b"zz;",
                "open {} got {:?}", o, String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn a_correct_r_delivers_every_byte(
        sessions in proptest::collection::vec(session(), 1..6),
        opens in 0..=MAX_OPENS_PER_BATCH,
        order in any::<u64>(),
    ) {
        let b = build(&sessions, opens, order);
        let r = b.r.clone();
        let (written, own, opened) = deliver(b, r, &ClientFaults::default());
        prop_assert_eq!(written, own);
        prop_assert_eq!(opened.len(), opens);
    }
}

/// The property is not true by construction: the deployed positional rule breaks it on the
/// issue's own example (a foreign entry at `r[0]` of two legacy sessions' batch).
#[test]
fn the_positional_rule_breaks_the_property() {
    let sessions = [
        Session::Legacy { close: false },
        Session::Legacy { close: false },
    ];
    let b = build(&sessions, 0, 0);
    let mut r = b.r.clone();
    apply(&mut r, &Mutation::Insert(0, Entry::Foreign(None)));
    let faults = ClientFaults {
        positional_replies: true,
        ..ClientFaults::default()
    };
    let (written, own, _) = deliver(b, r, &faults);
    assert!(own_bytes_only(&written, &own).is_err(), "{written:?}");
}

/// Why a batch carries one open at most: two opens' replies swapped pass every check, and each
/// app would get the other's connection and first bytes.
#[test]
fn two_opens_swapped_are_indistinguishable() {
    let b = build(&[], 2, 0);
    let mut r = b.r.clone();
    r.swap(0, 1);
    let (_, _, opened) = deliver(b, r, &ClientFaults::default());
    assert_eq!(opened, vec![(0, b"o1;".to_vec()), (1, b"o0;".to_vec())]);
}
