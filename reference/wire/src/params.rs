//! Node timing and size limits (§5, §9), as named defaults and one value type.
//!
//! Defaults are the NODE-903 values from the field, so a seqtun node paces replies exactly as
//! the deployed #903 node does and existing clients need no retuning. The seqtun-only limits
//! (read buffer cap, body size, ops per batch, sessions) have no deployed counterpart; their
//! defaults are generous enough that a conforming client never meets them.

use std::time::Duration;

/// How long a batch with writes or connects waits for downlink before draining.
pub const ACTIVE_DRAIN_DEADLINE: Duration = Duration::from_millis(350);
/// Straggler settle: re-measure buffered bytes this often after the first wake.
pub const STRAGGLER_SETTLE_STEP: Duration = Duration::from_millis(10);
/// Straggler settle: never settle longer than this.
pub const STRAGGLER_SETTLE_MAX: Duration = Duration::from_millis(1000);
/// How long a pure-poll batch is held when nothing arrives (NODE-903: 15 s).
pub const LONGPOLL_DEADLINE: Duration = Duration::from_secs(15);
/// How long a seq'd op waits for its predecessors before it fails.
pub const SEQ_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// seqtun: most seq'd ops of one session that may wait for their turn at once (a client with
/// depth d has at most d - 1 waiting; the margin absorbs relay duplicates).
pub const SEQ_MAX_WAITING: usize = 64;
/// Most raw bytes one TCP drain returns (field issue #460: replies over 50 MiB broke Apps Script).
pub const TCP_DRAIN_MAX_BYTES: usize = 16 << 20;
/// Most raw bytes all drains of one batch return together (field issue #863).
pub const BATCH_RESPONSE_BUDGET: usize = 32 << 20;
/// seqtun: most bytes buffered per TCP session before the node stops reading upstream.
pub const READ_BUF_CAP: usize = 16 << 20;
/// Upstream read size.
pub const TCP_READ_CHUNK: usize = 64 << 10;
/// Datagrams queued per UDP session; the oldest is dropped beyond this.
pub const UDP_QUEUE_LIMIT: usize = 256;
/// Largest datagram the node receives.
pub const UDP_RECV_BUF_BYTES: usize = 65_536;
/// TCP connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the reaper looks for idle sessions.
pub const REAP_INTERVAL: Duration = Duration::from_secs(30);
/// A TCP session nobody touched for this long is reaped.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// A TCP session whose sid went out in an answer and that no op has named for this long is
/// reaped (§5.1: the answer was lost behind the relay).
pub const TCP_UNCLAIMED_TIMEOUT: Duration = Duration::from_secs(60);
/// A UDP session nobody touched for this long is reaped.
pub const UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Single-op `/tunnel` drain: give up waiting after this long.
pub const SINGLE_WAIT_MAX: Duration = Duration::from_secs(5);
/// Single-op `/tunnel` drain: once bytes arrived, return after this long without growth.
pub const SINGLE_WAIT_QUIET: Duration = Duration::from_millis(100);
/// seqtun: largest request body (plain, or after gzip inflation) the node reads.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// seqtun: how much more of a body over the limit the node reads (and drops) before it answers
/// 413. A client that is still writing its body reads the answer only once it is done, and a
/// node that stops reading stalls it, or resets it when the socket closes with unread data;
/// reading on lets it see the 413, as nginx's lingering close does.
pub const REFUSED_BODY_DRAIN_BYTES: usize = 64 << 20;
/// Largest request body deployed #903 and #1115-era nodes read: axum's default body limit,
/// which neither raises (measured on loopback: 2,096,068 bytes accepted, 2,097,404 refused with
/// `413 Failed to buffer the request body: length limit exceeded`, §1.4). Clients size their
/// batches under it (§6.3).
pub const DEPLOYED_BODY_LIMIT: usize = 2 << 20;
/// seqtun: most ops one batch may carry (deployed clients send at most 50).
pub const MAX_BATCH_OPS: usize = 1024;
/// seqtun: most live sessions (TCP and UDP together) per node.
pub const MAX_SESSIONS: usize = 4096;
/// seqtun: the node-wide memory budget for buffers, bodies and replies (§5.6): half of a
/// 1 GiB VPS, leaving the rest to the kernel's socket buffers, the allocator and the system.
pub const MEMORY_BUDGET: usize = 512 << 20;
/// seqtun: the share of the memory budget upstream buffers (TCP read buffers, UDP queues) may
/// fill; the rest is kept for request bodies and replies (§5.6).
pub const MEMORY_BUFFER_PERCENT: u8 = 75;
/// seqtun: what every session is guaranteed of the budget, so no session can be starved by
/// others that filled the pool: one upstream read.
pub const SESSION_MEMORY_FLOOR: usize = TCP_READ_CHUNK;

/// Every node limit in one value, so tests can shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeParams {
    pub active_drain_deadline: Duration,
    pub settle_step: Duration,
    pub settle_max: Duration,
    pub longpoll_deadline: Duration,
    pub seq_wait_timeout: Duration,
    pub seq_max_waiting: usize,
    pub tcp_drain_max: usize,
    pub batch_budget: usize,
    pub read_buf_cap: usize,
    pub udp_queue_limit: usize,
    pub connect_timeout: Duration,
    pub reap_interval: Duration,
    pub tcp_idle_timeout: Duration,
    /// `Duration::ZERO` turns the unclaimed rule off (§5.1).
    pub tcp_unclaimed_timeout: Duration,
    pub udp_idle_timeout: Duration,
    pub single_wait_max: Duration,
    pub single_wait_quiet: Duration,
    pub max_body_bytes: usize,
    pub refused_body_drain: usize,
    pub max_batch_ops: usize,
    pub max_sessions: usize,
    /// Replay-safe seq (§7.10): replies held per session; 0 turns the feature off.
    pub replay_max_held: usize,
    pub replay_max_session_bytes: usize,
    pub replay_max_node_bytes: usize,
    pub memory_budget: usize,
    pub memory_buffer_percent: u8,
}

impl Default for NodeParams {
    fn default() -> Self {
        Self {
            active_drain_deadline: ACTIVE_DRAIN_DEADLINE,
            settle_step: STRAGGLER_SETTLE_STEP,
            settle_max: STRAGGLER_SETTLE_MAX,
            longpoll_deadline: LONGPOLL_DEADLINE,
            seq_wait_timeout: SEQ_WAIT_TIMEOUT,
            seq_max_waiting: SEQ_MAX_WAITING,
            tcp_drain_max: TCP_DRAIN_MAX_BYTES,
            batch_budget: BATCH_RESPONSE_BUDGET,
            read_buf_cap: READ_BUF_CAP,
            udp_queue_limit: UDP_QUEUE_LIMIT,
            connect_timeout: CONNECT_TIMEOUT,
            reap_interval: REAP_INTERVAL,
            tcp_idle_timeout: TCP_IDLE_TIMEOUT,
            tcp_unclaimed_timeout: TCP_UNCLAIMED_TIMEOUT,
            udp_idle_timeout: UDP_IDLE_TIMEOUT,
            single_wait_max: SINGLE_WAIT_MAX,
            single_wait_quiet: SINGLE_WAIT_QUIET,
            max_body_bytes: MAX_BODY_BYTES,
            refused_body_drain: REFUSED_BODY_DRAIN_BYTES,
            max_batch_ops: MAX_BATCH_OPS,
            max_sessions: MAX_SESSIONS,
            replay_max_held: crate::replay::REPLAY_MAX_HELD,
            replay_max_session_bytes: crate::replay::REPLAY_MAX_SESSION_BYTES,
            replay_max_node_bytes: crate::replay::REPLAY_MAX_NODE_BYTES,
            memory_budget: MEMORY_BUDGET,
            memory_buffer_percent: MEMORY_BUFFER_PERCENT,
        }
    }
}

impl NodeParams {
    /// How a replay-safe session holds replies (§7.10); none when `replay_max_held` is 0.
    pub fn replay_limits(&self) -> Option<crate::replay::ReplayLimits> {
        (self.replay_max_held > 0).then_some(crate::replay::ReplayLimits {
            max_held: self.replay_max_held,
            max_bytes: self.replay_max_session_bytes,
        })
    }

    /// The wait before draining: short when the batch wrote or connected, a long-poll when it
    /// only polled (§5.3).
    pub fn drain_deadline(&self, active: bool) -> Duration {
        if active {
            self.active_drain_deadline
        } else {
            self.longpoll_deadline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_fits_under_the_apps_script_response_cap() {
        // 32 MiB raw is ~43 MiB of base64, under Apps Script's ~50 MiB response limit.
        let b64 = crate::b64::encoded_len(BATCH_RESPONSE_BUDGET);
        assert!(b64 < 50 << 20, "{b64}");
        const { assert!(TCP_DRAIN_MAX_BYTES <= BATCH_RESPONSE_BUDGET) };
    }

    #[test]
    fn deadline_choice() {
        let p = NodeParams::default();
        assert_eq!(p.drain_deadline(true), Duration::from_millis(350));
        assert_eq!(p.drain_deadline(false), Duration::from_secs(15));
    }
}
