//! Per-session choices made at open (§6.2, §7.2): whether to wait for the app's first bytes,
//! whether `connect_data` is known to be unsupported, and whether the session pipelines.
//!
//! Pipelining is decided by the session's own connect reply alone: a `seq` echo proves nothing
//! about ordering (#1115 nodes echo without ordering), only `caps` bit 0 does. Two facts are
//! learned once per process and never forgotten: a reply without `seq` on a pipelined session
//! means some node on some path does not order, and an `UNSUPPORTED_OP` on `connect_data` means
//! some hop does not know it. Both are kept as [`StickyFlag`]s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::reply::Reply;

use super::faults::ClientFaults;
use super::params::{ClientParams, SERVER_SPEAKS_FIRST_PORTS};
use super::replies::{OpFailure, OpResult};

/// How a session's `data` ops travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One op in flight, no `seq` (§6.5).
    Legacy,
    /// Up to `depth` seq'd ops in flight (§7.8). More than one poll at a time only when the
    /// node `preempts` parked polls (`caps` bit 2, §7.7): without preemption every extra poll
    /// can hold the session's next write for a long-poll deadline.
    Pipelined { depth: usize, preempts: bool },
}

impl Mode {
    pub fn is_pipelined(self) -> bool {
        matches!(self, Mode::Pipelined { .. })
    }
}

/// Decides the session's mode from its own connect (or connect_data) reply.
pub fn session_mode(
    connect_reply: &Reply,
    params: &ClientParams,
    pipelining_disabled: bool,
    faults: &ClientFaults,
) -> Mode {
    let offered = connect_reply.offers_pipelining() || faults.seq_without_caps;
    if offered && params.pipelining_enabled() && !pipelining_disabled {
        Mode::Pipelined {
            depth: params.depth,
            preempts: connect_reply.offers_preemption(),
        }
    } else {
        Mode::Legacy
    }
}

/// Whether a session whose mode is `mode` sends failed ops again (§7.10): only a pipelined
/// session whose own connect reply had `caps` bits 0 and 1, and only with a retry budget.
pub fn replay_safe(
    connect_reply: &Reply,
    mode: Mode,
    params: &ClientParams,
    faults: &ClientFaults,
) -> bool {
    let offered = connect_reply.offers_replay_safety() || faults.retry_without_bit_1;
    mode.is_pipelined() && offered && params.retry.max > 0
}

/// Whether an open (`connect`, `connect_data`) whose request failed is sent again: never.
/// §7.10: "Nothing else is retried: not a connect (a second connect would open a second
/// session)". A lost connect reply may mean the node opened a session the client will never
/// learn of; the app is answered with the failure instead. `attempts` is how many times the
/// open was sent. The `retry_connects` mutant sends it once more.
pub fn send_open_again(result: &OpResult, attempts: u32, faults: &ClientFaults) -> bool {
    faults.retry_connects && attempts < 2 && super::retry::retryable(result)
}

/// How a session opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenPlan {
    /// Wait this long for the app's first bytes; with bytes send `connect_data`, else `connect`.
    WaitFirstBytes(Duration),
    /// Send `connect` at once.
    Connect,
}

/// The open plan for a destination port. `may_grant_early` is false when an error is likely
/// (the relay path is unproven or the target failed recently, §6.7): then the app is answered
/// only after the node, with the real result.
pub fn open_plan(
    port: u16,
    connect_data_unsupported: bool,
    wait: Duration,
    may_grant_early: bool,
) -> OpenPlan {
    if connect_data_unsupported
        || SERVER_SPEAKS_FIRST_PORTS.contains(&port)
        || wait.is_zero()
        || !may_grant_early
    {
        OpenPlan::Connect
    } else {
        OpenPlan::WaitFirstBytes(wait)
    }
}

/// True when a `connect_data` result says the op is not implemented somewhere on the path.
pub fn connect_data_unsupported(result: &OpResult) -> bool {
    let text = match result {
        Ok(reply) if reply.is_unsupported() => return true,
        Ok(reply) => reply.e.as_deref().unwrap_or_default(),
        Err(OpFailure::Batch(text)) => text.as_str(),
        Err(_) => return false,
    };
    (text.contains("unknown op") || text.contains("unknown tunnel op"))
        && text.contains("connect_data")
}

/// A process-wide fact that, once learned, holds until restart.
#[derive(Debug, Default)]
pub struct StickyFlag(AtomicBool);

impl StickyFlag {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the flag; true only for the call that set it (so it is logged once).
    pub fn set(&self) -> bool {
        !self.0.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(caps: Option<u32>) -> Reply {
        Reply {
            sid: Some("s".into()),
            eof: Some(false),
            caps,
            ..Reply::default()
        }
    }

    #[test]
    fn a_failed_open_is_never_sent_again() {
        let lost: OpResult = Err(OpFailure::Batch("relay timeout".into()));
        let timeout = Ok(Reply {
            code: Some(crate::CODE_SEQ_TIMEOUT.into()),
            ..Reply::default()
        });
        for result in [&lost, &timeout] {
            assert!(!send_open_again(result, 1, &ClientFaults::default()));
        }
        let mutant = ClientFaults {
            retry_connects: true,
            ..ClientFaults::default()
        };
        assert!(send_open_again(&lost, 1, &mutant));
        assert!(!send_open_again(&lost, 2, &mutant), "once more at most");
        assert!(!send_open_again(&Ok(reply(Some(3))), 1, &mutant));
    }

    #[test]
    fn only_caps_bit_zero_enables_pipelining() {
        let p = ClientParams::default();
        let f = ClientFaults::default();
        for (caps, want) in [
            (None, false),
            (Some(0), false),
            (Some(2), false),
            (Some(1), true),
            (Some(3), true),
        ] {
            assert_eq!(
                session_mode(&reply(caps), &p, false, &f).is_pipelined(),
                want,
                "{caps:?}"
            );
        }
    }

    #[test]
    fn the_downgrade_and_depth_one_win_over_caps() {
        let f = ClientFaults::default();
        let mut p = ClientParams::default();
        assert_eq!(session_mode(&reply(Some(1)), &p, true, &f), Mode::Legacy);
        p.depth = 1;
        assert_eq!(session_mode(&reply(Some(1)), &p, false, &f), Mode::Legacy);
        p.depth = 3;
        assert_eq!(
            session_mode(&reply(Some(1)), &p, false, &f),
            Mode::Pipelined {
                depth: 3,
                preempts: false
            }
        );
    }

    #[test]
    fn bit_two_says_the_node_preempts_but_only_beside_bit_zero() {
        use crate::{
            CAPS_PIPELINE_SEQ as SEQ, CAPS_POLL_PREEMPTION as PRE, CAPS_REPLAY_SAFE as SAFE,
        };
        let (p, f) = (ClientParams::default(), ClientFaults::default());
        let mode = |caps| session_mode(&reply(Some(caps)), &p, false, &f);
        let piped = |preempts| Mode::Pipelined {
            depth: p.depth,
            preempts,
        };
        assert_eq!(mode(SEQ | PRE), piped(true));
        assert_eq!(mode(SEQ), piped(false));
        assert_eq!(mode(SEQ | SAFE), piped(false), "bit 1 is not preemption");
        assert_eq!(mode(SEQ | SAFE | PRE), piped(true));
        assert_eq!(mode(PRE), Mode::Legacy, "bit 2 alone offers nothing");
    }

    #[test]
    fn the_fault_pipelines_without_caps() {
        let f = ClientFaults {
            seq_without_caps: true,
            ..ClientFaults::default()
        };
        let p = ClientParams::default();
        assert!(session_mode(&reply(None), &p, false, &f).is_pipelined());
    }

    #[test]
    fn server_speaks_first_ports_and_the_sticky_flag_skip_the_wait() {
        let w = Duration::from_millis(50);
        assert_eq!(open_plan(443, false, w, true), OpenPlan::WaitFirstBytes(w));
        assert_eq!(
            open_plan(443, false, w, false),
            OpenPlan::Connect,
            "an error is likely"
        );
        for port in [21, 22, 25, 80, 110, 143, 587] {
            assert_eq!(open_plan(port, false, w, true), OpenPlan::Connect, "{port}");
        }
        assert_eq!(open_plan(443, true, w, true), OpenPlan::Connect);
        assert_eq!(
            open_plan(443, false, Duration::ZERO, true),
            OpenPlan::Connect
        );
    }

    #[test]
    fn unsupported_connect_data_is_recognised_by_code_or_text() {
        let coded = Reply {
            e: Some("unknown op: connect_data".into()),
            code: Some("UNSUPPORTED_OP".into()),
            ..Reply::default()
        };
        assert!(connect_data_unsupported(&Ok(coded)));
        let relay = Reply {
            e: Some("unknown tunnel op: connect_data".into()),
            ..Reply::default()
        };
        assert!(connect_data_unsupported(&Ok(relay)));
        let text = Err(OpFailure::Batch(
            "relay error: unknown op: connect_data".into(),
        ));
        assert!(connect_data_unsupported(&text));
        let other = Reply {
            e: Some("connect failed: refused".into()),
            ..Reply::default()
        };
        assert!(!connect_data_unsupported(&Ok(other)));
        let unrelated = Reply {
            e: Some("unknown op: frob".into()),
            ..Reply::default()
        };
        assert!(!connect_data_unsupported(&Ok(unrelated)));
    }

    #[test]
    fn a_sticky_flag_reports_only_the_first_set() {
        let f = StickyFlag::default();
        assert!(!f.is_set());
        assert!(f.set());
        assert!(!f.set());
        assert!(f.is_set());
    }
}
