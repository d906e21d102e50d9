//! `connect{host, port}` (§2.2): open TCP; the reply is the new session's id (and `caps`).

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};

use super::{Action, Open, OpenKind, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub target: Result<Target, OpError>,
}

impl Connect {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            target: Target::parse(op),
        }
    }

    pub(super) fn action(self) -> Action {
        match self.target {
            Ok(target) => Action::Open(Open {
                kind: OpenKind::Connect,
                target,
                first: Vec::new(),
            }),
            Err(e) => Action::Answer(Reply::from(e)),
        }
    }
}
