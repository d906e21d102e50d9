//! Client limits and timings (§6, §9), as named defaults and one value type.
//!
//! The defaults are the deployed #903 client's, so a seqtun client paces relays and spends
//! Apps Script quota as users already budget for; every value is a `seqtun-client` flag.

use std::time::Duration;

use crate::params::DEPLOYED_BODY_LIMIT;

/// Most ops in one batch (deployed clients: 50).
pub const MAX_BATCH_OPS: usize = 50;
/// Room kept under the deployed body limit: a relay swaps its key for the node key (which may
/// be longer) and drops `t`, so the node's body can be a little longer than the client's.
pub const BATCH_BODY_MARGIN: usize = 64 << 10;
/// Largest request body of one batch, envelope, keys and base64 included (§6.3): under the
/// deployed nodes' 2 MiB limit (§1.4) by [`BATCH_BODY_MARGIN`]. `--max-batch-bytes` raises it
/// for nodes known to accept more.
pub const MAX_BATCH_BODY_BYTES: usize = DEPLOYED_BODY_LIMIT - BATCH_BODY_MARGIN;
/// The batch cap never learns itself below this after 413 answers, and a single op this small
/// is not split further: a node that refuses it is misconfigured.
pub const MIN_BATCH_BODY_BYTES: usize = 16 << 10;
/// The base64-payload cap per batch of the deployed client (`MAX_BATCH_PAYLOAD_BYTES`) and of
/// seqtun-client before the body cap; only the `ignore_body_limit` fault still uses it.
pub const LEGACY_MAX_BATCH_PAYLOAD_B64: usize = 4 << 20;
/// After an op arrives, keep collecting while the next one comes within this window.
pub const COALESCE_STEP: Duration = Duration::from_millis(200);
/// Fire a batch no later than this after its first op.
pub const COALESCE_MAX: Duration = Duration::from_millis(1000);
/// seqtun: fire a batch no later than this after its first *prompt* op (app bytes, or a poll
/// while downlink flows, §6.3): long enough for the ops one reply sets off in other sessions
/// (and an app's immediate answer) to share the call, short against any relay round trip.
pub const COALESCE_PROMPT: Duration = Duration::from_millis(5);
/// Most batches in flight per relay (Apps Script runs 30 executions per account at once).
pub const MAX_INFLIGHT_PER_RELAY: usize = 30;
/// Consecutive failed batches after which a relay cools down.
pub const RELAY_FAILURE_THRESHOLD: u32 = 3;
/// How long a failing relay is skipped.
pub const RELAY_COOLDOWN: Duration = Duration::from_secs(60);
/// Ops of one pipelined session in flight at once (depth 1 is the legacy loop).
pub const PIPELINE_DEPTH: usize = 2;
/// Most raw bytes one `data` op carries; more waits for the next op.
pub const MAX_DATA_OP_BYTES: usize = 1 << 20;
/// How long a new session waits for the app's first bytes before choosing `connect` (§6.2).
pub const FIRST_DATA_WAIT: Duration = Duration::from_millis(50);
/// How long a target whose connect failed opens only after the node answered (§6.7); the
/// deployed client's unreachable cache keeps entries as long.
pub const FAILED_TARGET_TTL: Duration = Duration::from_secs(30);
/// Most targets remembered as failed (the deployed client's cache size).
pub const FAILED_TARGETS_MAX: usize = 256;
/// The configured batch HTTP timeout (`request_timeout_secs` in deployed configs).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A batch that carries any `seq` gets at least this HTTP timeout (§6.6).
pub const PIPELINED_BATCH_TIMEOUT_FLOOR: Duration = Duration::from_secs(60);
/// Slack added to twice the pipelined batch timeout for the per-reply watchdog (§6.6).
pub const PIPELINED_REPLY_SLACK: Duration = Duration::from_secs(15);
/// The legacy loop gives up on a reply after this long (§6.5).
pub const LEGACY_REPLY_TIMEOUT: Duration = Duration::from_secs(35);
/// How long the legacy loop waits for app bytes before polling, by consecutive empty replies.
pub const READ_LADDER: [Duration; 4] = [
    Duration::from_millis(20),
    Duration::from_millis(80),
    Duration::from_millis(200),
    Duration::from_millis(500),
];
/// Ports where the server speaks first, so waiting for the app's first bytes is pointless.
pub const SERVER_SPEAKS_FIRST_PORTS: [u16; 7] = [21, 22, 25, 80, 110, 143, 587];
/// Largest relay reply body read (after gzip inflation): a node answers at most 32 MiB raw
/// (~43 MiB of base64) per batch, and Apps Script caps responses near 50 MiB.
pub const MAX_REPLY_BODY_BYTES: usize = 64 << 20;
/// Redirects followed per batch (Apps Script answers every POST with one).
pub const MAX_REDIRECTS: usize = 5;

/// Every client limit in one value, so tests and flags can change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientParams {
    pub max_batch_ops: usize,
    /// Request body cap per batch in bytes (JSON envelope included).
    pub max_batch_body: usize,
    pub coalesce_step: Duration,
    pub coalesce_max: Duration,
    pub coalesce_prompt: Duration,
    pub max_inflight_per_relay: usize,
    pub relay_failure_threshold: u32,
    pub relay_cooldown: Duration,
    pub depth: usize,
    pub max_data_op_bytes: usize,
    pub first_data_wait: Duration,
    pub request_timeout: Duration,
    pub legacy_reply_timeout: Duration,
    pub max_reply_body_bytes: usize,
    /// Never pipeline (`--no-pipelining`); same effect as depth 1.
    pub no_pipelining: bool,
    pub failed_target_ttl: Duration,
    pub failed_targets_max: usize,
    /// How often and how long a replay-safe session sends a failed op again (§7.10); a max
    /// of 0 never retries.
    pub retry: super::retry::RetryBudget,
}

impl Default for ClientParams {
    fn default() -> Self {
        Self {
            max_batch_ops: MAX_BATCH_OPS,
            max_batch_body: MAX_BATCH_BODY_BYTES,
            coalesce_step: COALESCE_STEP,
            coalesce_max: COALESCE_MAX,
            coalesce_prompt: COALESCE_PROMPT,
            max_inflight_per_relay: MAX_INFLIGHT_PER_RELAY,
            relay_failure_threshold: RELAY_FAILURE_THRESHOLD,
            relay_cooldown: RELAY_COOLDOWN,
            depth: PIPELINE_DEPTH,
            max_data_op_bytes: MAX_DATA_OP_BYTES,
            first_data_wait: FIRST_DATA_WAIT,
            request_timeout: REQUEST_TIMEOUT,
            legacy_reply_timeout: LEGACY_REPLY_TIMEOUT,
            max_reply_body_bytes: MAX_REPLY_BODY_BYTES,
            no_pipelining: false,
            failed_target_ttl: FAILED_TARGET_TTL,
            failed_targets_max: FAILED_TARGETS_MAX,
            retry: super::retry::RetryBudget::default(),
        }
    }
}

impl ClientParams {
    /// True when sessions may pipeline at all (depth above 1 and not switched off).
    pub fn pipelining_enabled(&self) -> bool {
        self.depth > 1 && !self.no_pipelining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_keeps_a_margin_under_the_deployed_limit_and_fits_one_full_op() {
        assert_eq!(DEPLOYED_BODY_LIMIT, 2_097_152);
        assert_eq!(MAX_BATCH_BODY_BYTES, 2_031_616);
        // A full 1 MiB op is ~1.4 MB of base64: one fits a batch, two do not.
        let per_op = crate::b64::encoded_len(MAX_DATA_OP_BYTES);
        assert!(per_op + 1024 <= MAX_BATCH_BODY_BYTES);
        assert!(2 * per_op > MAX_BATCH_BODY_BYTES);
        const { assert!(MIN_BATCH_BODY_BYTES < MAX_BATCH_BODY_BYTES) };
    }

    #[test]
    fn depth_one_or_the_switch_disables_pipelining() {
        let mut p = ClientParams::default();
        assert!(p.pipelining_enabled());
        p.depth = 1;
        assert!(!p.pipelining_enabled());
        p.depth = 2;
        p.no_pipelining = true;
        assert!(!p.pipelining_enabled());
    }
}
