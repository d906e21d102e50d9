//! `close{sid}` (§2.2, §5.5): remove the session from both tables; the reply is always
//! `{"sid":S,"eof":true}`, whether or not it existed.

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};

use super::{Action, sid_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub sid: Result<String, OpError>,
}

impl Close {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self { sid: sid_of(op) }
    }

    pub(super) fn action(self) -> Action {
        match self.sid {
            Ok(sid) => Action::Close { sid },
            Err(e) => Action::Answer(Reply::from(e)),
        }
    }
}
