//! `udp_data{sid, d?}` (§8): send one datagram (none when empty) inline and drain the queue in
//! phase 2.

use crate::op::BatchOp;
use crate::reply::{OpError, Reply};
use crate::rules::Rules;

use super::{Action, Payload, Transport, Write, sid_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpData {
    pub sid: Result<String, OpError>,
    pub payload: Payload,
}

impl UdpData {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            sid: sid_of(op),
            payload: Payload::parse(op.d.as_deref()),
        }
    }

    /// Every op refreshes idleness, polls included (§5.1); deployed nodes count datagrams only.
    pub(super) fn action(self, rules: &Rules) -> Action {
        match self.sid {
            Ok(sid) => Action::Write(Write {
                transport: Transport::Udp,
                sid,
                touch: self.payload.is_present() || rules.touch_udp_polls,
                bytes: self.payload.into_result(),
            }),
            Err(e) => Action::Answer(Reply::from(e)),
        }
    }
}
