//! `udp_open{host, port, d?}` (§8): bind a connected UDP socket and send `d` as the first
//! datagram; the reply is drained like `udp_data`'s.

use crate::op::BatchOp;
use crate::reply::OpError;

use super::{Action, OpenKind, Payload, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOpen {
    pub target: Result<Target, OpError>,
    pub payload: Payload,
}

impl UdpOpen {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            target: Target::parse(op),
            payload: Payload::parse(op.d.as_deref()),
        }
    }

    /// The target is checked before the payload, as deployed.
    pub fn checked(self) -> Result<(Target, Vec<u8>), OpError> {
        let target = self.target?;
        Ok((target, self.payload.into_result()?))
    }

    pub(super) fn action(self) -> Action {
        super::open(OpenKind::UdpOpen, self.checked())
    }
}
