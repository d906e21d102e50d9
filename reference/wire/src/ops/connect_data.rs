//! `connect_data{host, port, d}` (§2.2): open TCP and write the first bytes in one op, saving
//! a round trip; the reply is drained like `data`'s and carries `caps`.

use crate::op::BatchOp;
use crate::reply::OpError;

use super::{Action, OpenKind, Payload, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectData {
    pub target: Result<Target, OpError>,
    pub payload: Payload,
}

impl ConnectData {
    pub(super) fn parse(op: &BatchOp) -> Self {
        Self {
            target: Target::parse(op),
            payload: Payload::parse(op.d.as_deref()),
        }
    }

    /// The payload is checked before the target, as deployed: nothing is dialled for an op
    /// whose bytes could not be written anyway.
    pub fn checked(self) -> Result<(Target, Vec<u8>), OpError> {
        let first = self.payload.into_result()?;
        Ok((self.target?, first))
    }

    pub(super) fn action(self) -> Action {
        super::open(OpenKind::ConnectData, self.checked())
    }
}
