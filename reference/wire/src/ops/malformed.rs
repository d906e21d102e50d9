//! An op that is not valid JSON for its kind (a `port` of 70000, a negative `seq`, a string
//! where an object belongs). seqtun answers it alone with `bad op: ...` and runs the rest of
//! the batch (§3.5); deployed nodes fail the whole batch (`Rules::whole_batch_on_bad_op`).

use crate::op::OpKind;
use crate::reply::{OpError, Reply};
use crate::rules::Rules;

use super::Action;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// serde's complaint.
    pub detail: String,
    /// The op's `seq` when that field alone is a valid u64, so even this reply echoes it (§7.3).
    pub seq: Option<u64>,
    /// The `op` field, when it is a string (counters only).
    name: Option<String>,
    pub(super) uplink: usize,
}

impl Malformed {
    pub(crate) fn new(
        detail: String,
        seq: Option<u64>,
        name: Option<String>,
        uplink: usize,
    ) -> Self {
        Self {
            detail,
            seq,
            name,
            uplink,
        }
    }

    /// The kind the op named, for counters.
    pub fn kind(&self) -> OpKind<'_> {
        OpKind::parse(self.name.as_deref().unwrap_or_default())
    }

    /// `bad op: <detail>`.
    pub fn error(&self) -> OpError {
        OpError::BadOp(self.detail.clone())
    }

    /// What a deployed node answers instead: the whole batch fails with one `bad json` entry.
    pub fn whole_batch_reply(&self) -> Reply {
        Reply {
            e: Some(format!("bad json: {}", self.detail)),
            ..Reply::default()
        }
    }

    pub(super) fn action(self, rules: &Rules) -> Action {
        Action::Answer(Reply::from(self.error()).with_seq(rules.echo(self.seq)))
    }
}
