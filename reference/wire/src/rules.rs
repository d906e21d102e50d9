//! How a node behaves where dialects differ: seqtun's rule, or a deployed node's divergence.
//!
//! A reference node is useful twice: as seqtun's own node, and as a stand-in for the deployed
//! nodes whose divergences users hit in the field (and as mutants that prove the conformance
//! vectors can fail). Each divergence is a named fault in [`NodeFaults`]; [`Rules::new`] is the
//! one place a fault turns into a decision, so the planner, the seq'd-op machine and the
//! single-op path read protocol choices with protocol names (`defer_close`, `preempt_polls`)
//! and never a fault. The reply-level faults are one transform of the assembled replies
//! ([`Rules::finish`]).

use crate::reply::Reply;
use crate::{CAPS_PIPELINE_SEQ, CAPS_POLL_PREEMPTION, CAPS_REPLAY_SAFE};

/// One deliberate bug each, so the conformance suite can prove that its vectors catch real
/// failures (a suite that cannot fail proves nothing), and so the reference node can stand in
/// for deployed nodes, divergences included (`seqtun_node::standin`). The CLI never sets them;
/// mutants, stand-ins and tests do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFaults {
    /// Replies to seq'd ops omit `seq`.
    pub no_seq_echo: bool,
    /// Seq'd ops bypass the gate entirely: writes and drains in arrival order.
    pub unordered_writes: bool,
    /// Writes wait for their turn but a seq'd op drains on arrival, as a #1115 node does.
    pub unordered_drains: bool,
    /// Batched `connect_data` replies omit `caps` (the bug reviewers caught in #903).
    pub no_caps_on_batched_connect_data: bool,
    /// The last entry of every multi-op `r` is dropped, so `len(r) != len(ops)`.
    pub short_replies: bool,
    /// `close` always runs at its position, even after a same-session seq'd op.
    pub close_before_data: bool,
    /// No reply carries `caps`, while `seq` is still echoed. With `unordered_writes` and
    /// `unordered_drains` this stands in for a #1115-era node (§11.3), which the conformance
    /// runner's compatibility matrix needs as a column.
    pub no_caps: bool,
    /// Deployed nodes' body limit: a request body over 2 MiB (axum's default) gets `413 Failed
    /// to buffer the request body: length limit exceeded` as plain text, before any parsing
    /// (wire-reference §1.4, E-17).
    pub deployed_body_limit: bool,
    /// Deployed nodes' router, which has no fallback: another method on a route gets `405` with
    /// `allow` and an empty body (`GET /tunnel/batch` reveals the endpoint), any other path an
    /// empty `404`. Only a wrong key still gets nginx's page.
    pub deployed_http_surface: bool,
    /// A body without `k` is a parse error, answered before the key check: batch `200
    /// {"r":[{"e":"bad json: missing field `k` …"}]}`, single op `422` (E-3).
    pub missing_key_is_bad_json: bool,
    /// No poll preemption (§7.7): a parked poll holds later seqs of its session until its
    /// long-poll deadline (NODE-903, E-19).
    pub no_poll_preemption: bool,
    /// Empty `udp_data` polls do not refresh a UDP session's idleness, so a receive-only flow is
    /// reaped at the UDP idle time (E-8, E-18).
    pub udp_polls_do_not_refresh: bool,
    /// The batch budget running out ends the drain loop: un-seq'd drains past it get no entry
    /// at all, so `len(r) < len(ops)` and later replies shift (NODE-MAIN, E-1).
    pub budget_gap: bool,
    /// `missing sid` on a seq'd op is answered before `seq` is read, so it carries no echo
    /// (NODE-903, measured).
    pub no_seq_on_missing_sid: bool,
    /// A seq'd op with a bad payload fails without taking its turn, so every later seq of the
    /// session waits out the seq timeout (NODE-903, E-13).
    pub bad_base64_keeps_seq: bool,
    /// One malformed op (a type error, a non-object) fails the whole batch with a one-entry
    /// `bad json` reply, as serde does on deployed nodes (E-4).
    pub whole_batch_type_errors: bool,
    /// Single-op `data` writes nothing and says nothing about an undecodable payload (§3.6).
    pub single_ignores_bad_base64: bool,
    // Mutants only, no deployed node has these: they prove that timing cases which a node
    // could pass without the behaviour they check (vacuously) do catch its absence.
    /// A pure-poll batch waits out its whole long-poll deadline, whatever becomes ready.
    pub long_poll_ignores_readiness: bool,
    /// An active seq'd op wakes when any session of its batch is ready, not only its own.
    pub active_op_waits_on_batch: bool,
    /// TCP ops without a payload (polls, seq'd or not) do not refresh a session's idleness.
    pub tcp_polls_do_not_refresh: bool,
    /// A batch body without `k` runs as if its key were right (the key is checked only when
    /// one is sent). An HTTP-layer fault: the node's routes apply it.
    pub missing_key_runs_ops: bool,
    /// No replay-safe seq (§7.10): no `caps` bit 1, `ack` ignored, nothing held. Deployed
    /// nodes never had it.
    pub no_replay_safe: bool,
    /// A retransmit whose reply is held gets a fresh drain instead of that reply (a mutant).
    pub replays_fresh_drain: bool,
    /// A retransmit of a processed seq runs again, writing its payload a second time (a mutant).
    pub reruns_retransmits: bool,
    /// Every session holds replies from its first op, `ack` or not (a mutant): an old client,
    /// which never acknowledges, would make the node hold replies it never releases.
    pub holds_without_ack: bool,
}

/// What a retransmit of a processed seq gets on a replay-safe session (§7.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayRule {
    /// The reply the first copy got, exactly.
    Held,
    /// A drain now (the `replays_fresh_drain` mutant): other bytes, or none.
    FreshDrain,
    /// The op runs again (the `reruns_retransmits` mutant): its payload is written twice.
    Rerun,
}

/// Which sessions an active seq'd op waits on for its answer (§7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Its own session: a sibling's bytes must not cut short the wait for this op's answer.
    Own,
    /// Any session of its batch (the `active_op_waits_on_batch` mutant).
    Batch,
}

/// Where a seq'd op stands against its session's gate (§7.4, §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRules {
    /// Seq'd ops take turns at the gate; `false`: arrival order (`unordered_writes`).
    pub ordered: bool,
    /// A bad payload is refused before the op queues, so it never takes (or passes) its turn
    /// (NODE-903); seqtun lets it take the turn and answer the error (§7.5).
    pub bad_payload_before_turn: bool,
    /// The op drains when it arrives and writes when its turn comes (#1115-like).
    pub drain_before_turn: bool,
    /// A parked idle poll answers at once when a later seq of its session arrives (§7.7).
    pub preempt_polls: bool,
    /// Which sessions an active op waits on.
    pub active_watch: Watch,
    /// What a retransmit of a processed seq gets on a replay-safe session (§7.10).
    pub replay: ReplayRule,
}

/// What a drain does when the batch budget is spent (§5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// `{"sid":S,"eof":false}`: an entry without `d`, bytes kept for the next poll.
    Placeholder,
    /// No entry at all (NODE-MAIN's drain loop stops, E-1); only phase-2 drains do this.
    NoEntry,
}

/// What single-op `data` does with an undecodable payload (§3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinglePayload {
    /// seqtun: `bad base64: ...`.
    Refuse,
    /// Deployed: write nothing, say nothing.
    Ignore,
}

/// Every decision where seqtun and deployed nodes differ, as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// A pre-#903 node: `seq` is ignored and never echoed (§11.1).
    pub legacy: bool,
    /// Sessions that send `ack` hold their replies for retransmits (§7.10).
    pub replay_safe: bool,
    /// Sessions hold replies before their first `ack` (the `holds_without_ack` mutant).
    pub hold_without_ack: bool,
    /// `caps` on successful `connect` replies and single-op connect replies (§7.2).
    pub caps: Option<u32>,
    /// `caps` on batched `connect_data` replies, built by the drain code (§7.2).
    pub caps_on_batched_connect_data: Option<u32>,
    /// One malformed op fails the whole batch with one `bad json` entry (deployed, §3.5).
    pub whole_batch_on_bad_op: bool,
    /// `missing sid` on a seq'd op echoes its `seq` (§7.3).
    pub echo_seq_on_missing_sid: bool,
    /// A close after a same-session drain or job of its batch runs after them (§7.6).
    pub defer_close: bool,
    /// What a phase-2 TCP drain answers when the budget is spent.
    pub spent: Spent,
    /// TCP polls (ops without payload) refresh idleness (§5.1).
    pub touch_tcp_polls: bool,
    /// Empty `udp_data` polls refresh idleness (§5.1).
    pub touch_udp_polls: bool,
    /// A pure-poll batch wakes when a session is ready; `false`: it sits out its deadline.
    pub wake_on_ready: bool,
    pub job: JobRules,
    pub single_payload: SinglePayload,
    /// Reply transform: `seq` stripped from every reply.
    pub strip_seq: bool,
    /// Reply transform: the last entry of a multi-op `r` dropped.
    pub drop_last_reply: bool,
}

impl Rules {
    /// The rules of a node in `legacy` mode (or not) with `faults` switched on.
    pub fn new(legacy: bool, f: &NodeFaults) -> Self {
        let replay_safe = !legacy && !f.no_caps && !f.no_replay_safe;
        let replay_bit = if replay_safe { CAPS_REPLAY_SAFE } else { 0 };
        // Each bit says one thing the node does (§7.2); a stand-in for a deployed #903 node,
        // which neither preempts nor holds replies, offers bit 0 alone.
        let preempts = if f.no_poll_preemption {
            0
        } else {
            CAPS_POLL_PREEMPTION
        };
        let caps = (!legacy && !f.no_caps).then_some(CAPS_PIPELINE_SEQ | replay_bit | preempts);
        Self {
            legacy,
            replay_safe,
            hold_without_ack: replay_safe && f.holds_without_ack,
            caps,
            caps_on_batched_connect_data: caps.filter(|_| !f.no_caps_on_batched_connect_data),
            whole_batch_on_bad_op: f.whole_batch_type_errors,
            echo_seq_on_missing_sid: !f.no_seq_on_missing_sid,
            defer_close: !f.close_before_data,
            spent: if f.budget_gap {
                Spent::NoEntry
            } else {
                Spent::Placeholder
            },
            touch_tcp_polls: !f.tcp_polls_do_not_refresh,
            touch_udp_polls: !f.udp_polls_do_not_refresh,
            wake_on_ready: !f.long_poll_ignores_readiness,
            job: JobRules {
                ordered: !f.unordered_writes,
                bad_payload_before_turn: f.bad_base64_keeps_seq,
                drain_before_turn: f.unordered_drains,
                preempt_polls: !f.no_poll_preemption,
                active_watch: if f.active_op_waits_on_batch {
                    Watch::Batch
                } else {
                    Watch::Own
                },
                replay: if f.reruns_retransmits {
                    ReplayRule::Rerun
                } else if f.replays_fresh_drain {
                    ReplayRule::FreshDrain
                } else {
                    ReplayRule::Held
                },
            },
            single_payload: if f.single_ignores_bad_base64 {
                SinglePayload::Ignore
            } else {
                SinglePayload::Refuse
            },
            strip_seq: f.no_seq_echo,
            drop_last_reply: f.short_replies,
        }
    }

    /// seqtun's own rules: no faults.
    pub fn seqtun() -> Self {
        Self::new(false, &NodeFaults::default())
    }

    /// The same rules without replay-safe seq (a node configured to hold no replies, §7.10).
    pub fn without_replay(mut self) -> Self {
        if self.replay_safe {
            self.replay_safe = false;
            self.hold_without_ack = false;
            let strip = |c: Option<u32>| c.map(|c| c & !CAPS_REPLAY_SAFE);
            self.caps = strip(self.caps);
            self.caps_on_batched_connect_data = strip(self.caps_on_batched_connect_data);
        }
        self
    }

    /// The `seq` a reply echoes for an op that carried `seq`: none in legacy mode (§11.1).
    pub fn echo(&self, seq: Option<u64>) -> Option<u64> {
        seq.filter(|_| !self.legacy)
    }

    /// The reply-level faults, applied once to a finished `r`.
    pub fn finish(&self, mut r: Vec<Reply>) -> Vec<Reply> {
        if self.strip_seq {
            r.iter_mut().for_each(|reply| reply.seq = None);
        }
        if self.drop_last_reply && r.len() > 1 {
            r.pop();
        }
        r
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::seqtun()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqtun_rules_are_the_protocol_text() {
        let r = Rules::seqtun();
        let caps = r.caps.unwrap();
        assert_eq!(caps & CAPS_PIPELINE_SEQ, CAPS_PIPELINE_SEQ, "bit 0");
        assert_eq!(caps & CAPS_REPLAY_SAFE, CAPS_REPLAY_SAFE, "bit 1");
        assert_eq!(caps & CAPS_POLL_PREEMPTION, CAPS_POLL_PREEMPTION, "bit 2");
        assert_eq!(r.caps_on_batched_connect_data, r.caps);
        assert!(r.replay_safe && r.job.replay == ReplayRule::Held);
        let off = Rules::seqtun().without_replay();
        assert_eq!(off.caps.map(|c| c & CAPS_REPLAY_SAFE), Some(0));
        assert!(!off.replay_safe);
        assert!(r.defer_close && r.echo_seq_on_missing_sid && r.wake_on_ready);
        assert!(r.job.ordered && r.job.preempt_polls && !r.job.drain_before_turn);
        assert_eq!(r.job.active_watch, Watch::Own);
        assert_eq!(r.spent, Spent::Placeholder);
        assert_eq!(r.echo(Some(3)), Some(3));
    }

    /// Bit 2 follows poll preemption alone (§7.2, §7.7): the stand-in for a deployed #903
    /// node keeps bit 0 and drops bit 2, and nothing else changes with it.
    #[test]
    fn the_preemption_bit_follows_poll_preemption() {
        let f = NodeFaults {
            no_poll_preemption: true,
            ..NodeFaults::default()
        };
        let (with, without) = (Rules::seqtun(), Rules::new(false, &f));
        let (a, b) = (with.caps.unwrap(), without.caps.unwrap());
        assert_eq!(b & CAPS_PIPELINE_SEQ, CAPS_PIPELINE_SEQ);
        assert_eq!(b & CAPS_POLL_PREEMPTION, 0);
        assert_eq!(a & !CAPS_POLL_PREEMPTION, b, "only bit 2 differs");
        assert!(!without.job.preempt_polls);
    }

    #[test]
    fn legacy_has_no_caps_and_no_echo() {
        let r = Rules::new(true, &NodeFaults::default());
        assert_eq!((r.caps, r.caps_on_batched_connect_data), (None, None));
        assert_eq!(r.echo(Some(3)), None);
    }

    #[test]
    fn reply_faults_are_one_transform() {
        let r = Rules::new(
            false,
            &NodeFaults {
                no_seq_echo: true,
                short_replies: true,
                ..NodeFaults::default()
            },
        );
        let replies = vec![Reply::gone("a").with_seq(Some(1)), Reply::gone("b")];
        assert_eq!(r.finish(replies), vec![Reply::gone("a")]);
        let one = vec![Reply::gone("a")];
        assert_eq!(r.finish(one.clone()), one, "a one-entry r keeps its entry");
    }
}
