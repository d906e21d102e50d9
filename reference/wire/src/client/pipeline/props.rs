//! Properties of the pipeline under arbitrary arrival orders and action sequences.

use std::time::Instant;

use proptest::prelude::*;

use super::tests::{reply, written};
use super::*;

#[derive(Debug, Clone)]
enum Step {
    App(u8),
    Poll,
    Reply(usize, bool),
    Eof,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u8>().prop_map(Step::App),
        Just(Step::Poll),
        (0usize..8, any::<bool>()).prop_map(|(i, bytes)| Step::Reply(i, bytes)),
        Just(Step::Eof),
    ]
}

proptest! {
    #[test]
    fn bytes_come_out_in_seq_order_whatever_the_arrival_order(
        n in 1usize..12,
        order in any::<u64>(),
    ) {
        let t = Instant::now();
        let mut p = Pipeline::new(Mode::Pipelined { depth: 64, preempts: true }, &ClientParams::default(), &ClientFaults::default(), t);
        let tokens: Vec<_> = (0..n).map(|_| p.send("s", b"", t).0).collect();
        let mut idx: Vec<usize> = (0..n).collect();
        // Fisher-Yates with a seed from proptest.
        let mut state = order | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            idx.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut out = Vec::new();
        for i in idx {
            out.extend(written(&p.on_reply(tokens[i], reply(&[i as u8], Some(i as u64)), t)));
        }
        prop_assert_eq!(out, (0..n as u8).collect::<Vec<_>>());
    }

    #[test]
    fn depth_is_never_exceeded_and_seqs_stay_contiguous(
        depth in 1usize..5,
        preempts in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let t = Instant::now();
        let mode = if depth == 1 { Mode::Legacy } else { Mode::Pipelined { depth, preempts } };
        let mut p = Pipeline::new(mode, &ClientParams::default(), &ClientFaults::default(), t);
        // (token, seq, carries bytes)
        let mut out: Vec<(OpToken, Option<u64>, bool)> = Vec::new();
        let mut seqs = Vec::new();
        for s in steps {
            match s {
                Step::App(b) if p.can_send_bytes() => {
                    let (tok, op) = p.send("s", &[b], t);
                    seqs.push(op.seq);
                    out.push((tok, op.seq, true));
                }
                Step::Poll if p.poll_due() != PollDue::Never => {
                    let (tok, op) = p.send("s", b"", t);
                    seqs.push(op.seq);
                    out.push((tok, op.seq, false));
                }
                Step::Reply(i, bytes) if !out.is_empty() => {
                    let (tok, seq, _) = out.remove(i % out.len());
                    let d: &[u8] = if bytes { b"x" } else { b"" };
                    p.on_reply(tok, reply(d, seq), t);
                }
                Step::Eof => p.on_app_eof(),
                _ => {}
            }
            // Polls stay within depth; one write may join a full set of polls (§7.8).
            let extra = usize::from(depth > 1);
            prop_assert!(p.in_flight() <= depth + extra);
            let polls = p.polls_out();
            prop_assert!(polls <= depth);
            prop_assert!(p.in_flight() <= depth || polls == depth, "the extra slot is a write's");
            prop_assert!(preempts || polls <= 1, "without preemption one poll at a time");
        }
        let want: Vec<Option<u64>> = if depth == 1 {
            vec![None; seqs.len()]
        } else {
            (0..seqs.len() as u64).map(Some).collect()
        };
        prop_assert_eq!(seqs, want);
    }

    /// Idle costs one poll (§7.8): while no reply has carried bytes, whatever the app writes
    /// and in whatever order replies come, at most one poll is out.
    #[test]
    fn no_bytes_received_means_one_poll_at_most(
        depth in 2usize..9,
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let t = Instant::now();
        let mode = Mode::Pipelined { depth, preempts: true };
        let mut p = Pipeline::new(mode, &ClientParams::default(), &ClientFaults::default(), t);
        let mut out: Vec<(OpToken, Option<u64>)> = Vec::new();
        for s in steps {
            match s {
                Step::App(b) if p.can_send_bytes() => {
                    let (tok, op) = p.send("s", &[b], t);
                    out.push((tok, op.seq));
                }
                Step::Poll if p.poll_due() != PollDue::Never => {
                    let (tok, op) = p.send("s", b"", t);
                    out.push((tok, op.seq));
                }
                Step::Reply(i, _) if !out.is_empty() => {
                    let (tok, seq) = out.remove(i % out.len());
                    p.on_reply(tok, reply(b"", seq), t);
                }
                Step::Eof => p.on_app_eof(),
                _ => {}
            }
            prop_assert!(p.polls_out() <= 1);
        }
    }
}
