//! One file per op: what the node does for it, independent of whether it came in a batch or on
//! the single-op path.

pub mod close;
pub mod connect;
pub mod data;
pub mod udp;

use seqtun_wire::BatchOp;
use seqtun_wire::reply::OpError;

/// The `host` and `port` of a connect-like op; IPv6 literals may come bracketed (§2.2).
pub fn target(op: &BatchOp) -> Result<(String, u16), OpError> {
    let host = op
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .ok_or(OpError::MissingHost)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match op.port {
        Some(port) if port != 0 => Ok((host.to_string(), port)),
        _ => Err(OpError::InvalidPort),
    }
}

/// The `sid` of a session op.
pub fn sid(op: &BatchOp) -> Result<&str, OpError> {
    op.sid.as_deref().ok_or(OpError::MissingSid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_rules() {
        let mut op = BatchOp::connect("[::1]", 80);
        assert_eq!(target(&op).unwrap(), ("::1".to_string(), 80));
        op.port = Some(0);
        assert_eq!(target(&op), Err(OpError::InvalidPort));
        op.port = None;
        assert_eq!(target(&op), Err(OpError::InvalidPort));
        op.host = Some(String::new());
        assert_eq!(target(&op), Err(OpError::MissingHost));
    }
}
