//! `connect{host, port}` (§2.2): open TCP; the reply is the new session's id (and `caps`).

use crate::op::BatchOp;
use crate::reply::OpError;

use super::{Action, OpenKind, Target};

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
        super::open(OpenKind::Connect, self.target.map(|t| (t, Vec::new())))
    }
}
