//! The node's protocol decisions, sans I/O: the batch planner (§5.3), the seq'd-op machine
//! (§7.4–§7.7), the drain budget (§5.4) and the single-op path (§3.6).
//!
//! A batch mixes decisions and I/O: connects start concurrently, un-seq'd writes happen in
//! batch order, seq'd ops wait for their turn, and a close may have to wait for a drain of its
//! own batch. Written as one async function, those decisions could only be tested through
//! sockets and real time. Here they are plain state machines fed with what the I/O found
//! ("the session is live", "the turn came", "the wait woke") and an explicit `now`; the node's
//! executor (`seqtun-node`'s `batch` module) performs what they name and decides nothing, and
//! the in-memory pair harness (`tests/pair`) runs the same machines on simulated time.
//!
//! The loop an executor runs:
//!
//! 1. [`plan::plan`] either answers the whole batch at once (too many ops, or a deployed node's
//!    whole-batch type error) or returns a [`plan::BatchPlan`];
//! 2. phase 1: [`plan::BatchPlan::next_step`] until it returns `None`, reporting each write's
//!    and job's session lookup with [`plan::BatchPlan::found`];
//! 3. every open's result, in op order, with [`plan::BatchPlan::opened`];
//! 4. phase 2: [`plan::BatchPlan::phase2`] names the wait, the drains (in budget order), the
//!    seq'd-op machines ([`job::SeqJob`]) and the deferred closes; results go back with
//!    `tcp_drained`, `udp_drained` and `job_done`;
//! 5. [`plan::BatchPlan::finish`] assembles `r`, one entry per op in op order (§3.1), with the
//!    reply-level faults applied once.

pub mod budget;
pub mod job;
pub mod plan;
pub mod single;

pub use budget::Ledger;
pub use job::{JobInput, JobStep, SeqJob, TcpDrain, WriteOutcome};
pub use plan::{BatchPlan, BatchWait, Drain, Phase2, Start, Step, plan};
pub use single::{SingleAction, SingleStep, SingleWait};

#[cfg(test)]
mod props;
