//! `close` (§2.2): always `{"sid":S,"eof":true}`, whether or not the session existed.

use seqtun_wire::{BatchOp, Reply};

use super::sid;
use crate::NodeState;

pub async fn close(state: &NodeState, op: &BatchOp) -> Reply {
    match sid(op) {
        Ok(sid) => {
            state.table.close(sid).await;
            Reply::gone(sid)
        }
        Err(e) => e.into(),
    }
}
