//! The single-op path `POST /tunnel` (§3.6): old relays send one op at a time in the inner
//! single form, and it answers differently from a batch: an unknown session is an error, UDP is
//! unsupported, and `data` waits for downlink with its own quieter rule.

use std::time::{Duration, Instant};

use crate::ops::{Op, Target};
use crate::params::NodeParams;
use crate::reply::{OpError, Reply};
use crate::rules::{Rules, SinglePayload};

/// What a single op asks of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingleAction {
    /// Nothing to do: this is the reply.
    Answer(Reply),
    /// Open a TCP session and answer `{"sid":S,"eof":false}` with these `caps` (§7.2).
    Connect { target: Target, caps: Option<u32> },
    /// Open a TCP session, write `first`, then wait and drain like `data`; the reply carries
    /// these `caps`.
    ConnectData {
        target: Target,
        first: Vec<u8>,
        caps: Option<u32>,
    },
    /// Write to a TCP session, wait ([`SingleWait`]) and drain.
    Data(SingleData),
    /// Close a session; the reply is `{"sid":S,"eof":true}`.
    Close { sid: String },
}

/// A single-op `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleData {
    pub sid: String,
    /// What to write after touching the live session, or the error it answers with.
    pub bytes: Result<Vec<u8>, OpError>,
}

impl SingleData {
    /// The answer when no live session has this sid: an error, not the batch path's eof.
    pub fn unknown_session(&self) -> Reply {
        OpError::UnknownSession.into()
    }

    /// The answer when the write failed; the node closes the session first.
    pub fn write_failed(&self, why: String) -> Reply {
        OpError::WriteFailed(why).into()
    }
}

impl SingleAction {
    /// The single-path action of `op`. Only `connect`, `connect_data`, `data` and `close`
    /// exist here; anything else is `UNSUPPORTED_OP` (§3.6).
    pub fn of(op: Op, rules: &Rules) -> Self {
        match op {
            Op::Connect(c) => match c.target {
                Ok(target) => Self::Connect {
                    target,
                    caps: rules.caps,
                },
                Err(e) => Self::Answer(e.into()),
            },
            Op::ConnectData(c) => match c.checked() {
                Ok((target, first)) => Self::ConnectData {
                    target,
                    first,
                    caps: rules.caps,
                },
                Err(e) => Self::Answer(e.into()),
            },
            Op::Data(d) => match d.sid {
                // Deployed nodes ignore an undecodable payload here; seqtun says so instead.
                Ok(sid) => Self::Data(SingleData {
                    sid,
                    bytes: match (d.payload.into_result(), rules.single_payload) {
                        (Err(_), SinglePayload::Ignore) => Ok(Vec::new()),
                        (bytes, _) => bytes,
                    },
                }),
                Err(e) => Self::Answer(e.into()),
            },
            Op::Close(c) => match c.sid {
                Ok(sid) => Self::Close { sid },
                Err(e) => Self::Answer(e.into()),
            },
            Op::Malformed(m) => Self::Answer(m.error().into()),
            other => {
                let name = other.kind().name().to_string();
                Self::Answer(OpError::UnknownOp(name).into())
            }
        }
    }
}

/// What the single-op wait says after a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleStep {
    /// Look again when the session has news, or at this instant.
    WaitUntil(Instant),
    /// Drain now (capped at the drain limit, unlike deployed nodes).
    Drain,
}

/// The single-op wait (§3.6): until the upstream finished, `single_wait_max` passed, or bytes
/// arrived and then `single_wait_quiet` passed without more.
#[derive(Debug, Clone)]
pub struct SingleWait {
    give_up: Instant,
    quiet: Duration,
    seen: usize,
    quiet_until: Option<Instant>,
}

impl SingleWait {
    /// Starts waiting at `now` with `buffered` bytes already there.
    pub fn start(now: Instant, buffered: usize, params: &NodeParams) -> Self {
        Self {
            give_up: now + params.single_wait_max,
            quiet: params.single_wait_quiet,
            seen: buffered,
            quiet_until: (buffered > 0).then(|| now + params.single_wait_quiet),
        }
    }

    /// Looks at the session at `now` (on news, or at the instant it asked for).
    pub fn look(&mut self, now: Instant, buffered: usize, upstream_done: bool) -> SingleStep {
        if upstream_done {
            return SingleStep::Drain;
        }
        let grew = buffered > self.seen;
        // A concurrent drain may shrink the buffer; that is not news to wait for.
        self.seen = buffered;
        if grew {
            self.quiet_until = Some(now + self.quiet);
        } else if now >= self.wake() {
            return SingleStep::Drain;
        }
        SingleStep::WaitUntil(self.wake())
    }

    fn wake(&self) -> Instant {
        self.quiet_until
            .map_or(self.give_up, |q| q.min(self.give_up))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::BatchOp;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn params() -> NodeParams {
        NodeParams {
            single_wait_max: MS(5000),
            single_wait_quiet: MS(100),
            ..NodeParams::default()
        }
    }

    #[test]
    fn nothing_arrives_until_the_give_up() {
        let t0 = Instant::now();
        let mut w = SingleWait::start(t0, 0, &params());
        assert_eq!(w.look(t0, 0, false), SingleStep::WaitUntil(t0 + MS(5000)));
        assert_eq!(
            w.look(t0 + MS(4999), 0, false),
            SingleStep::WaitUntil(t0 + MS(5000))
        );
        assert_eq!(w.look(t0 + MS(5000), 0, false), SingleStep::Drain);
    }

    #[test]
    fn bytes_then_quiet_drains_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut w = SingleWait::start(t0, 0, &params());
        assert_eq!(
            w.look(t0 + MS(30), 5, false),
            SingleStep::WaitUntil(t0 + MS(130))
        );
        // More bytes restart the quiet period.
        assert_eq!(
            w.look(t0 + MS(90), 9, false),
            SingleStep::WaitUntil(t0 + MS(190))
        );
        assert_eq!(w.look(t0 + MS(190), 9, false), SingleStep::Drain);
    }

    #[test]
    fn bytes_already_buffered_start_the_quiet_period() {
        let t0 = Instant::now();
        let mut w = SingleWait::start(t0, 3, &params());
        assert_eq!(w.look(t0, 3, false), SingleStep::WaitUntil(t0 + MS(100)));
        assert_eq!(w.look(t0 + MS(100), 3, false), SingleStep::Drain);
    }

    #[test]
    fn eof_drains_at_once_and_the_give_up_caps_a_trickle() {
        let t0 = Instant::now();
        let mut w = SingleWait::start(t0, 0, &params());
        assert_eq!(w.look(t0 + MS(1), 0, true), SingleStep::Drain);
        let mut w = SingleWait::start(t0, 0, &params());
        for i in 1..=60 {
            let now = t0 + MS(90 * i);
            let step = w.look(now, i as usize, false);
            assert!(
                matches!(step, SingleStep::WaitUntil(at) if at <= t0 + MS(5000)),
                "{step:?}"
            );
        }
        assert_eq!(w.look(t0 + MS(5000), 60, false), SingleStep::Drain);
    }

    #[test]
    fn a_shrinking_buffer_is_not_news() {
        let t0 = Instant::now();
        let mut w = SingleWait::start(t0, 8, &params());
        assert_eq!(w.look(t0 + MS(100), 2, false), SingleStep::Drain);
    }

    #[test]
    fn actions_of_the_single_path() {
        let r = Rules::seqtun();
        let op = |o: BatchOp| SingleAction::of(Op::from_wire(o), &r);
        assert!(matches!(
            op(BatchOp::connect("h", 1)),
            SingleAction::Connect { caps: Some(1), .. }
        ));
        let legacy = Rules::new(true, &crate::rules::NodeFaults::default());
        let cd = SingleAction::of(Op::from_wire(BatchOp::connect_data("h", 1, b"x")), &legacy);
        assert!(matches!(cd, SingleAction::ConnectData { caps: None, .. }));
        let udp = op(BatchOp::udp_open("h", 1, b""));
        assert_eq!(
            udp,
            SingleAction::Answer(OpError::UnknownOp("udp_open".into()).into())
        );
        let bad = BatchOp {
            d: Some("@@".into()),
            ..BatchOp::data("s", b"", None)
        };
        assert!(matches!(
            op(bad.clone()),
            SingleAction::Data(SingleData { bytes: Err(_), .. })
        ));
        let ignoring = Rules::new(
            false,
            &crate::rules::NodeFaults {
                single_ignores_bad_base64: true,
                ..Default::default()
            },
        );
        let ignored = SingleAction::of(Op::from_wire(bad), &ignoring);
        assert_eq!(
            ignored,
            SingleAction::Data(SingleData {
                sid: "s".into(),
                bytes: Ok(Vec::new())
            })
        );
    }
}
