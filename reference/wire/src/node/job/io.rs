//! The vocabulary between a seq'd op's machine and its executor: what the executor does next
//! ([`JobStep`]) and what it saw ([`JobInput`]).

use std::time::{Duration, Instant};

use crate::reply::Reply;
use crate::rules::Watch;
use crate::seq_gate::{Arrival, Turn};

/// What a TCP drain returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpDrain<'a> {
    /// The session was closed under the op (§5.5): `{"sid":S,"eof":true}`.
    Closed,
    /// Bytes taken within the allowance (maybe none) and whether that was the end (§4.4).
    Bytes { bytes: &'a [u8], eof: bool },
    /// No entry at all: a deployed divergence ([`crate::rules::Spent::NoEntry`]).
    Omitted,
}

/// What an uplink write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written and flushed (or nothing to write).
    Written,
    /// The session was closed before or during the write; nothing more is written.
    Closed,
    /// The upstream refused the bytes.
    Failed(String),
}

/// What the executor saw since the last step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobInput<'a> {
    /// Start the machine.
    Start,
    /// The last step (`Preempt`, `Touch`, `WriteBlind`, `Settle` or `WaitIdle`) was carried
    /// out.
    Performed,
    /// `gate.arrive(seq, now)` answered.
    Arrived(Arrival),
    /// `gate.poll(seq, now)` answered.
    Turn(Turn),
    /// The session was closed while the op waited for its turn.
    SessionClosed,
    Wrote(WriteOutcome),
    /// The wait ended because a watched session was ready (`true`) or at its deadline.
    Woke(bool),
    Drained(TcpDrain<'a>),
}

/// The next thing the executor does for this op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStep {
    /// Drain the session within the batch budget, touching it first when `touch`; report
    /// [`JobInput::Drained`].
    Drain { touch: bool },
    /// Arrive at the session's gate; report [`JobInput::Arrived`]. An `Arrival::Run` means this
    /// op holds the turn from now on.
    Arrive,
    /// Wake the session's parked idle poll (§7.7); report [`JobInput::Performed`].
    Preempt,
    /// Unless the session is closed ([`JobInput::SessionClosed`]), poll the gate; report
    /// [`JobInput::Turn`]. A `Turn::Run` means this op holds the turn from now on.
    PollTurn,
    /// Wait until the turn passes or `deadline`, then do [`JobStep::PollTurn`] again.
    AwaitTurn { deadline: Instant },
    /// Mark the session active (§5.1); report [`JobInput::Performed`].
    Touch,
    /// Write these bytes unless the session is closed (none to write: only that check);
    /// report [`JobInput::Wrote`].
    Write(Vec<u8>),
    /// Write these bytes and ignore the outcome; report [`JobInput::Performed`].
    WriteBlind(Vec<u8>),
    /// Wait up to `within` for the watched sessions; report [`JobInput::Woke`].
    WaitActive { within: Duration, watch: Watch },
    /// Settle on the op's own session (§5.3 step 2); report [`JobInput::Performed`].
    Settle,
    /// Park as an idle poll for up to `within`, woken by any session of the batch, and (when
    /// `preemptible`) by a later seq of its session (§7.7): call `gate.park(seq)` first and skip
    /// the wait when it refuses, `gate.unpark(seq)` after. Report [`JobInput::Performed`].
    WaitIdle { within: Duration, preemptible: bool },
    /// The op's reply; the machine is over.
    Done(Reply),
}
