//! Deliberate client bugs, so the conformance suite can prove its client vectors catch real
//! failures (a suite that cannot fail proves nothing). Never reachable from the CLI.

/// One deliberate bug each; the default has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFaults {
    /// Pipelines every session, even when its connect reply has no `caps` bit 0 (§7.2).
    pub seq_without_caps: bool,
    /// Writes reply bytes to the app in arrival order instead of seq order (§7.8).
    pub unordered_delivery: bool,
    /// Accepts a pipelined reply without `seq` and carries on, instead of closing the session
    /// and disabling pipelining (§7.8).
    pub ignore_missing_seq: bool,
    /// Maps `r[i]` to op `i` by position only, as deployed clients do: accepts an `r` longer
    /// than the ops and never compares a reply's `sid` or `seq` with its op's (§3.1).
    pub positional_replies: bool,
    /// seqtun-client before the body cap: batches are capped by 4 MiB of base64 payload only,
    /// and a 413 fails the batch's ops instead of being repacked (§6.3). The compatibility
    /// matrix uses it to show the upload break deployed nodes cause.
    pub ignore_body_limit: bool,
    /// Sends a failed op of a replay-safe session again under a new `seq` instead of its own
    /// (§7.10): the node runs it as new bytes, and a reply that was lost stays lost.
    pub retry_with_new_seq: bool,
    /// Sends failed ops again on every pipelined session, also where the connect reply had no
    /// `caps` bit 1 (§7.10): the node kept no reply, so a retransmit is refused or runs twice.
    pub retry_without_bit_1: bool,
    /// Sends failed ops again without end, ignoring the retry budget (§7.10).
    pub retry_beyond_budget: bool,
    /// Sends a connect whose batch failed once more (§7.10 forbids it: a second connect opens
    /// a second session).
    pub retry_connects: bool,
}

impl ClientFaults {
    /// True when any fault is set.
    pub fn any(&self) -> bool {
        self.seq_without_caps
            || self.unordered_delivery
            || self.ignore_missing_seq
            || self.positional_replies
            || self.ignore_body_limit
            || self.retry_with_new_seq
            || self.retry_without_bit_1
            || self.retry_beyond_budget
            || self.retry_connects
    }
}
