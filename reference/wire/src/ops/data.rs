//! `data{sid, d?, seq?}` (§2.2, §7): write to a TCP session and drain its downlink.
//!
//! Un-seq'd `data` (and every `data` of a legacy node) writes inline in batch order; a seq'd op
//! becomes a job that takes its turn at the session's gate (§7.4). The two paths are not
//! ordered against each other; clients do not mix them on one session.

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};
use crate::rules::Rules;

use super::{Action, Job, Payload, Transport, Write, sid_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub sid: Result<String, OpError>,
    pub seq: Option<u64>,
    pub payload: Payload,
}

impl Data {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            sid: sid_of(op),
            seq: op.seq,
            payload: Payload::parse(op.d.as_deref()),
        }
    }

    /// The seq this op runs under: none on a legacy node, which ignores `seq` (§11.1).
    pub fn seqd(&self, rules: &Rules) -> Option<u64> {
        rules.echo(self.seq)
    }

    /// A seq'd op is active when it meant to write (its `d` is non-empty text); an un-seq'd
    /// one when its payload decodes to bytes (§5.3), as deployed.
    pub(super) fn is_active(&self, rules: &Rules) -> bool {
        match self.seqd(rules) {
            Some(_) => self.payload.is_present(),
            None => self.payload.has_bytes(),
        }
    }

    pub(super) fn action(self, rules: &Rules) -> Action {
        let seq = self.seqd(rules);
        match (self.sid, seq) {
            (Err(e), Some(seq)) => {
                let echo = rules.echo_seq_on_missing_sid.then_some(seq);
                Action::Answer(Reply::from(e).with_seq(echo))
            }
            (Err(e), None) => Action::Answer(Reply::from(e)),
            (Ok(sid), Some(seq)) => Action::Job(Job {
                sid,
                seq,
                payload: self.payload,
            }),
            (Ok(sid), None) => Action::Write(Write {
                transport: Transport::Tcp,
                sid,
                touch: self.payload.is_present() || rules.touch_tcp_polls,
                bytes: self.payload.into_result(),
            }),
        }
    }
}
