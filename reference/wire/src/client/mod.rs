//! Client-side protocol decisions (§6, §7.8, §7.9), as sans-IO state machines.
//!
//! A tunnel client is mostly waiting: for the app, for a coalescing window, for a relay, for a
//! reply that may arrive out of order. Every one of those waits ends in a decision (fire the
//! batch now? send a poll? may this reply's bytes be written? is this relay cooling down?), and
//! every decision is made here from plain values and an explicit `now`, so it can be tested
//! exhaustively without sockets or a clock. `seqtun-client` only moves bytes and sleeps until
//! the instants these machines name.

pub mod batcher;
pub mod body_cap;
pub mod classify;
pub mod failed_targets;
pub mod faults;
pub mod negotiate;
pub mod params;
pub mod pipeline;
pub mod relay_body;
pub mod relays;
pub mod replies;
pub mod retry;
pub mod timeouts;

pub use batcher::{Batch, Batcher};
pub use body_cap::BodyCap;
pub use classify::FailureClass;
pub use failed_targets::{FailedTargets, PathHealth};
pub use faults::ClientFaults;
pub use negotiate::{Mode, OpenPlan, StickyFlag};
pub use params::ClientParams;
pub use pipeline::{End, Event, OpToken, Pipeline, PollDue};
pub use relays::RelayPool;
