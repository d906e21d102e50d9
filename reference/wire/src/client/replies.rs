//! Matching a batch's replies back to its ops (§3.1).
//!
//! `r[i]` answers `ops[i]` and nothing else correlates them, so a short `r` must fail the ops
//! without a reply instead of shifting replies onto the wrong sessions (the deployed bug that
//! delivered one session's bytes to another). A whole-request failure (bad envelope, wrong key)
//! is a single entry that concerns every op, so it is given to every op.

use crate::envelope::BatchResponse;
use crate::reply::Reply;

/// Why an op got no reply of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpFailure {
    /// `r` was shorter than the batch.
    #[error("missing response in batch (reply {index} of {count})")]
    Missing { index: usize, count: usize },
    /// The whole batch failed: transport, timeout, non-200, decoy or a relay error.
    #[error("{0}")]
    Batch(String),
}

/// What one op of a batch got.
pub type OpResult = Result<Reply, OpFailure>;

/// Prefixes of `e` texts that fail a whole request with one entry (§1.4, §3.5).
const WHOLE_REQUEST_ERRORS: &[&str] = &[
    "bad json: ",
    "unauthorized",
    "gzip decode: ",
    "request body too large",
];

/// True when `reply` is a whole-request failure rather than the reply to one op.
pub fn is_whole_request_error(reply: &Reply) -> bool {
    reply.sid.is_none()
        && reply
            .e
            .as_deref()
            .is_some_and(|e| WHOLE_REQUEST_ERRORS.iter().any(|p| e.starts_with(p)))
}

/// Splits `resp` into one result per op of a batch of `count` ops.
pub fn split(resp: BatchResponse, count: usize) -> Vec<OpResult> {
    let BatchResponse { r, e } = resp;
    if count > 1 && r.len() == 1 && is_whole_request_error(&r[0]) {
        return vec![Ok(r[0].clone()); count];
    }
    let mut replies = r.into_iter();
    (0..count)
        .map(|index| match replies.next() {
            Some(reply) => Ok(reply),
            None => Err(match &e {
                Some(e) => OpFailure::Batch(format!("relay error: {e}")),
                None => OpFailure::Missing { index, count },
            }),
        })
        .collect()
}

/// The same failure for every op of a batch.
pub fn fail_all(count: usize, why: &str) -> Vec<OpResult> {
    vec![Err(OpFailure::Batch(why.to_string())); count]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(r: Vec<Reply>, e: Option<&str>) -> BatchResponse {
        BatchResponse {
            r,
            e: e.map(str::to_string),
        }
    }

    #[test]
    fn a_short_r_fails_only_the_ops_without_a_reply() {
        let out = split(resp(vec![Reply::gone("a"), Reply::gone("b")], None), 3);
        assert_eq!(out[0], Ok(Reply::gone("a")));
        assert_eq!(out[1], Ok(Reply::gone("b")));
        let err = out[2].clone().unwrap_err();
        assert_eq!(err, OpFailure::Missing { index: 2, count: 3 });
        assert!(err.to_string().starts_with("missing response in batch"));
    }

    #[test]
    fn extra_replies_are_ignored() {
        let out = split(resp(vec![Reply::gone("a"), Reply::gone("b")], None), 1);
        assert_eq!(out, vec![Ok(Reply::gone("a"))]);
    }

    #[test]
    fn a_whole_request_error_reaches_every_op() {
        let bad = Reply {
            e: Some("bad json: expected value".into()),
            ..Reply::default()
        };
        let out = split(resp(vec![bad.clone()], None), 3);
        assert_eq!(out, vec![Ok(bad.clone()); 3]);
        // A one-entry r whose entry is an ordinary op error is positional.
        let refused = Reply {
            e: Some("connect failed: refused".into()),
            ..Reply::default()
        };
        let out = split(resp(vec![refused.clone()], None), 2);
        assert_eq!(out[0], Ok(refused));
        assert!(matches!(out[1], Err(OpFailure::Missing { .. })));
    }

    #[test]
    fn a_relay_error_fails_the_ops_it_did_not_answer() {
        let out = split(resp(vec![], Some("tunnel batch HTTP 502")), 2);
        assert_eq!(
            out,
            vec![
                Err(OpFailure::Batch(
                    "relay error: tunnel batch HTTP 502".into()
                ));
                2
            ]
        );
    }
}
