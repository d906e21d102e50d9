//! The relay's connection and memory flags against slow and hostile clients (the same rules
//! as the node's, `seqtun_runtime::conn`).

use std::time::Duration;

use clap::Args;
use seqtun_runtime::conn::{self, ConnLimits, body::BodyRate};
use seqtun_runtime::heading;

use crate::limits;

#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// A connection must send its request head within this (ms).
    #[arg(long, default_value_t = conn::HEADER_TIMEOUT.as_millis() as u64, value_parser = super::positive_u64, env = "SEQTUN_RELAY_HEADER_TIMEOUT_MS", help_heading = heading::TIMING)]
    pub header_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this (ms).
    #[arg(long, default_value_t = conn::IDLE_TIMEOUT.as_millis() as u64, value_parser = super::positive_u64, env = "SEQTUN_RELAY_IDLE_TIMEOUT_MS", help_heading = heading::TIMING)]
    pub idle_timeout_ms: u64,
    /// A request body must arrive within this plus its size at --body-min-rate (ms).
    #[arg(long, default_value_t = conn::body::BODY_TIMEOUT.as_millis() as u64, value_parser = super::positive_u64, env = "SEQTUN_RELAY_BODY_TIMEOUT_MS", help_heading = heading::TIMING)]
    pub body_timeout_ms: u64,
    /// The slowest average rate a request body may arrive at, after --body-timeout-ms (bytes/s).
    #[arg(long, default_value_t = conn::body::BODY_MIN_RATE, value_parser = super::positive_u64, env = "SEQTUN_RELAY_BODY_MIN_RATE", help_heading = heading::TIMING)]
    pub body_min_rate: u64,
    /// Most open client connections; at the cap the most stalled one is closed for a new one.
    /// Default: half the descriptor limit, at most 8192.
    #[arg(long, value_parser = super::positive_usize, env = "SEQTUN_RELAY_MAX_CONNECTIONS", help_heading = heading::LIMITS)]
    pub max_connections: Option<usize>,
    /// Most request-body bytes held at once across all calls; a body beyond it gets Google's
    /// 503 page.
    #[arg(long, default_value_t = limits::MAX_BODY_MEMORY_BYTES, value_parser = super::positive_usize, env = "SEQTUN_RELAY_MAX_BODY_MEMORY_BYTES", help_heading = heading::LIMITS)]
    pub max_body_memory_bytes: usize,
}

impl ConnArgs {
    pub fn limits(&self) -> ConnLimits {
        let d = Duration::from_millis;
        ConnLimits {
            header_timeout: d(self.header_timeout_ms),
            idle_timeout: d(self.idle_timeout_ms),
            max_connections: self
                .max_connections
                .unwrap_or_else(|| conn::default_max_connections(conn::fd_limit::current())),
            body: BodyRate {
                timeout: d(self.body_timeout_ms),
                min_rate: self.body_min_rate,
            },
        }
    }
}
