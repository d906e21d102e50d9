//! Any op this node does not implement: `UNSUPPORTED_OP` (§4.3), and the rest of the batch
//! still runs, so a client can fall back (§6.2).

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};

use super::Action;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The name the op gave itself.
    pub name: String,
}

impl Unknown {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            name: op.op.clone(),
        }
    }

    /// `{"e":"unknown op: <op>","code":"UNSUPPORTED_OP"}`.
    pub fn reply(&self) -> Reply {
        Reply::from(OpError::UnknownOp(self.name.clone()))
    }

    pub(super) fn action(self) -> Action {
        Action::Answer(self.reply())
    }
}
