//! Command line and environment: every platform limit and every fault is a flag.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use seqtun_runtime::completions::Shell;
use seqtun_runtime::log::LogArgs;
use seqtun_runtime::show::{bytes, duration};
use seqtun_runtime::{env_bool, heading};

use crate::config::RelayConfig;
use crate::faults::{self, DuplicateReply, FaultPlan, FaultRates, PlanError, RateDefaults, Source};
use crate::limits::{self, Limits, LimitsError};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// seqtun Apps Script relay emulator: forwards outer-dialect batches to a node with Apps
/// Script's limits and seeded fault injection.
#[derive(Debug, Parser)]
#[command(
    name = "seqtun-relay",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_LISTEN, env = "SEQTUN_RELAY_LISTEN", help_heading = heading::LISTENERS)]
    pub listen: SocketAddr,
    /// The node's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "TUNNEL_SERVER_URL", help_heading = heading::UPSTREAM)]
    pub node: Option<String>,
    /// The node's key, sent as the inner k. Required; there is no default.
    #[arg(long, env = "TUNNEL_AUTH_KEY", hide_env_values = true, help_heading = heading::KEYS)]
    pub node_key: Option<String>,
    /// The relay's own key, expected as the outer k. Required; there is no default.
    #[arg(long, env = "RELAY_AUTH_KEY", hide_env_values = true, help_heading = heading::KEYS)]
    pub key: Option<String>,
    /// Answer with JSON errors instead of the Apps Script decoy page.
    #[arg(long, env = "RELAY_DIAGNOSTIC", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::KEYS)]
    pub diagnostic: bool,
    /// Answer POSTs with a 302 to a one-time GET URL, as script.google.com does.
    #[arg(long, env = "SEQTUN_RELAY_REDIRECT", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::PROTOCOL)]
    pub redirect: bool,
    /// The batch path drops op fields an old relay does not know (seq, wseq, ...).
    #[arg(long, env = "SEQTUN_RELAY_STRIP_UNKNOWN_FIELDS", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::PROTOCOL)]
    pub strip_unknown_fields: bool,

    /// Fixed latency added to every call (ms; the field sees 1500-2500).
    #[arg(long, default_value_t = limits::DEFAULT_LATENCY.as_millis() as u64, env = "SEQTUN_RELAY_LATENCY_MS", help_heading = heading::TIMING)]
    pub latency_ms: u64,
    /// Random extra latency per call, uniform in 0..=this (ms), drawn from the seed.
    #[arg(long, default_value_t = limits::DEFAULT_JITTER.as_millis() as u64, env = "SEQTUN_RELAY_JITTER_MS", help_heading = heading::TIMING)]
    pub jitter_ms: u64,
    /// Per-call transfer rate of request and reply bytes, in kbit/s (0: unlimited): a call
    /// takes its latency plus its bytes at this rate.
    #[arg(long, default_value_t = limits::DEFAULT_BANDWIDTH_KBPS, env = "SEQTUN_RELAY_BANDWIDTH_KBPS", help_heading = heading::TIMING)]
    pub bandwidth_kbps: u64,
    /// Simultaneous executions per deployment; more get Google's 429 page.
    #[arg(long, default_value_t = limits::MAX_CONCURRENT_EXECUTIONS, value_parser = positive_usize, env = "SEQTUN_RELAY_MAX_CONCURRENT", help_heading = heading::LIMITS)]
    pub max_concurrent: usize,
    /// Node fetches per deployment per day; then the quota exception.
    #[arg(long, default_value_t = limits::URLFETCH_CALLS_PER_DAY, env = "SEQTUN_RELAY_CALLS_PER_DAY", help_heading = heading::LIMITS)]
    pub calls_per_day: u64,
    /// Response size cap per call; longer node replies are cut here (bytes).
    #[arg(long, default_value_t = limits::MAX_RESPONSE_BYTES, value_parser = positive_usize, env = "SEQTUN_RELAY_MAX_RESPONSE_BYTES", help_heading = heading::LIMITS)]
    pub max_response_bytes: usize,
    /// Per-deployment limits, e.g. dep1:latency_ms=2000,jitter_ms=500,max_concurrent=5
    /// (keys: latency_ms, jitter_ms, bandwidth_kbps, max_concurrent, calls_per_day,
    /// max_response_bytes).
    /// Repeatable.
    #[arg(long, value_name = "DEPLOYMENT:KEY=VALUE,...", env = "SEQTUN_RELAY_DEPLOYMENT_LIMITS", help_heading = heading::LIMITS)]
    pub deployment_limits: Vec<String>,
    /// Largest request body read from a client (bytes).
    #[arg(long, default_value_t = limits::MAX_REQUEST_BYTES, value_parser = positive_usize, env = "SEQTUN_RELAY_MAX_REQUEST_BYTES", help_heading = heading::LIMITS)]
    pub max_request_bytes: usize,
    /// How long a node fetch may take (ms).
    #[arg(long, default_value_t = limits::FETCH_TIMEOUT.as_millis() as u64, value_parser = positive_u64, env = "SEQTUN_RELAY_FETCH_TIMEOUT_MS", help_heading = heading::TIMING)]
    pub fetch_timeout_ms: u64,
    /// Most distinct deployment ids the relay keeps state for.
    #[arg(long, default_value_t = limits::MAX_DEPLOYMENTS, value_parser = positive_usize, env = "SEQTUN_RELAY_MAX_DEPLOYMENTS", help_heading = heading::LIMITS)]
    pub max_deployments: usize,
    /// How long the daily quota lasts before it refills (s).
    #[arg(long, default_value_t = limits::QUOTA_WINDOW.as_secs(), value_parser = positive_u64, env = "SEQTUN_RELAY_QUOTA_WINDOW_SECS", help_heading = heading::TIMING)]
    pub quota_window_secs: u64,
    /// How long a --redirect reply waits for its GET (ms).
    #[arg(long, default_value_t = limits::REDIRECT_TTL.as_millis() as u64, value_parser = positive_u64, env = "SEQTUN_RELAY_REDIRECT_TTL_MS", help_heading = heading::TIMING)]
    pub redirect_ttl_ms: u64,
    /// Most bytes of unfetched --redirect replies kept; the oldest go first.
    #[arg(long, default_value_t = limits::REDIRECT_STORE_BYTES, value_parser = positive_usize, env = "SEQTUN_RELAY_REDIRECT_STORE_BYTES", help_heading = heading::LIMITS)]
    pub redirect_store_bytes: usize,

    /// Seed of every random choice (faults, jitter). Without it a seed is picked and printed.
    #[arg(long, env = "SEQTUN_RELAY_SEED", help_heading = heading::FAULTS)]
    pub seed: Option<u64>,
    /// Probability per call of closing the connection before the node sees the request.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_DROP_REQUEST_RATE", help_heading = heading::FAULTS)]
    pub drop_request_rate: f64,
    /// Probability per call of closing the connection after the node answered.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_DROP_REPLY_RATE", help_heading = heading::FAULTS)]
    pub drop_reply_rate: f64,
    /// Probability per call of sending the request to the node twice.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_DUPLICATE_RATE", help_heading = heading::FAULTS)]
    pub duplicate_rate: f64,
    /// Probability per call of holding the request until later calls were answered.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_HOLD_BACK_RATE", help_heading = heading::FAULTS)]
    pub hold_back_rate: f64,
    /// Probability per call of answering with the decoy page (node not contacted).
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_DECOY_RATE", help_heading = heading::FAULTS)]
    pub decoy_rate: f64,
    /// Probability per call of a Google 5xx page (node not contacted).
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_SERVER_ERROR_RATE", help_heading = heading::FAULTS)]
    pub server_error_rate: f64,
    /// Probability per call of dropping entries from the end of a batch reply.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_SHORT_REPLY_RATE", help_heading = heading::FAULTS)]
    pub short_reply_rate: f64,
    /// Probability per call of dropping unknown op fields (seq, wseq, ...).
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_STRIP_UNKNOWN_RATE", help_heading = heading::FAULTS)]
    pub strip_unknown_rate: f64,
    /// Probability per call of adding an entry that answers no op to a batch reply.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_EXTRA_ENTRY_RATE", help_heading = heading::FAULTS)]
    pub extra_entry_rate: f64,
    /// Probability per call of swapping two entries of a batch reply.
    #[arg(long, default_value_t = 0.0, env = "SEQTUN_RELAY_SWAP_ENTRIES_RATE", help_heading = heading::FAULTS)]
    pub swap_entries_rate: f64,
    /// hold_back: release after this many other calls were answered.
    #[arg(long, default_value_t = faults::DEFAULT_HOLD_AFTER, env = "SEQTUN_RELAY_HOLD_AFTER", help_heading = heading::FAULTS)]
    pub hold_after: u64,
    /// hold_back: release after this long at the latest (ms).
    #[arg(long, default_value_t = faults::DEFAULT_HOLD_MAX.as_millis() as u64, env = "SEQTUN_RELAY_HOLD_MAX_MS", help_heading = heading::FAULTS)]
    pub hold_max_ms: u64,
    /// server_error: the status to answer (500-599).
    #[arg(long, default_value_t = faults::DEFAULT_SERVER_ERROR_STATUS, env = "SEQTUN_RELAY_SERVER_ERROR_STATUS", help_heading = heading::FAULTS)]
    pub server_error_status: u16,
    /// duplicate: which node reply the client gets.
    #[arg(long, default_value = "first", value_parser = ["first", "second"], env = "SEQTUN_RELAY_DUPLICATE_REPLY", help_heading = heading::FAULTS)]
    pub duplicate_reply: String,
    /// short_reply: entries kept (default: all but the last).
    #[arg(long, env = "SEQTUN_RELAY_SHORT_REPLY_KEEP", help_heading = heading::FAULTS)]
    pub short_reply_keep: Option<usize>,
    /// extra_entry: the index the entry is inserted at (default 0, the front; past the end
    /// appends).
    #[arg(long, env = "SEQTUN_RELAY_EXTRA_ENTRY_AT", help_heading = heading::FAULTS)]
    pub extra_entry_at: Option<usize>,
    /// JSON list of per-call actions, e.g. [{"action":"pass"},{"action":"drop_reply"}];
    /// calls after its end use the rates.
    #[arg(long, conflicts_with = "pattern", env = "SEQTUN_RELAY_SCRIPT", help_heading = heading::FAULTS)]
    pub script: Option<PathBuf>,
    /// Comma-separated actions repeated forever, e.g. pass,pass,drop_reply.
    #[arg(long, env = "SEQTUN_RELAY_PATTERN", help_heading = heading::FAULTS)]
    pub pattern: Option<String>,
    #[command(flatten)]
    pub conn: conn::ConnArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Subcommands besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
}

/// Why the relay refuses to start; each names the fix.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "no node: pass --node <URL> or set TUNNEL_SERVER_URL (the node's base URL, e.g. http://127.0.0.1:8080)"
    )]
    MissingNode,
    #[error(
        "no relay key: pass --key <KEY> or set RELAY_AUTH_KEY (clients send it as the outer k; there is no default key)"
    )]
    MissingRelayKey,
    #[error(
        "no node key: pass --node-key <KEY> or set TUNNEL_AUTH_KEY (the key the node was started with; there is no default key)"
    )]
    MissingNodeKey,
    #[error("cannot read --script {path}: {source}")]
    ScriptFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Limits(#[from] LimitsError),
}

fn positive_u64(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(e) => Err(e.to_string()),
    }
}

fn positive_usize(s: &str) -> Result<usize, String> {
    positive_u64(s).and_then(|v| usize::try_from(v).map_err(|e| e.to_string()))
}

fn required(value: Option<String>, missing: CliError) -> Result<String, CliError> {
    value.filter(|v| !v.is_empty()).ok_or(missing)
}

impl Args {
    /// The relay settings; `fallback_seed` is used when `--seed` is absent.
    pub fn into_config(self, fallback_seed: u64) -> Result<RelayConfig, CliError> {
        let node = required(self.node, CliError::MissingNode)?;
        let node_key = required(self.node_key, CliError::MissingNodeKey)?;
        let relay_key = required(self.key, CliError::MissingRelayKey)?;
        let mut cfg = RelayConfig::new(node, node_key, relay_key);
        cfg.listen = self.listen;
        cfg.diagnostic = self.diagnostic;
        cfg.redirect = self.redirect;
        cfg.strip_unknown_fields = self.strip_unknown_fields;
        cfg.limits = Limits {
            latency: Duration::from_millis(self.latency_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            bandwidth_kbps: self.bandwidth_kbps,
            max_concurrent: self.max_concurrent,
            calls_per_day: self.calls_per_day,
            max_response_bytes: self.max_response_bytes,
        };
        for text in &self.deployment_limits {
            let (id, limits) = cfg.limits.parse_override(text)?;
            cfg.deployment_limits.insert(id, limits);
        }
        cfg.max_request_bytes = self.max_request_bytes;
        cfg.fetch_timeout = Duration::from_millis(self.fetch_timeout_ms);
        cfg.max_deployments = self.max_deployments;
        cfg.quota_window = Duration::from_secs(self.quota_window_secs);
        cfg.redirect_ttl = Duration::from_millis(self.redirect_ttl_ms);
        cfg.redirect_store_bytes = self.redirect_store_bytes;
        cfg.conn = self.conn.limits();
        cfg.max_body_memory_bytes = self.conn.max_body_memory_bytes;
        let source = match (self.script, self.pattern) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| CliError::ScriptFile { path, source })?;
                Source::Script(faults::parse_script(&text)?)
            }
            (None, Some(pattern)) => Source::Pattern(faults::parse_pattern(&pattern)?),
            (None, None) => Source::Rates,
        };
        cfg.faults = FaultPlan {
            seed: self.seed.unwrap_or(fallback_seed),
            rates: FaultRates {
                drop_request: self.drop_request_rate,
                drop_reply: self.drop_reply_rate,
                duplicate: self.duplicate_rate,
                hold_back: self.hold_back_rate,
                decoy: self.decoy_rate,
                server_error: self.server_error_rate,
                short_reply: self.short_reply_rate,
                strip_unknown: self.strip_unknown_rate,
                extra_entry: self.extra_entry_rate,
                swap_entries: self.swap_entries_rate,
            },
            defaults: RateDefaults {
                hold_after: self.hold_after,
                hold_max: Duration::from_millis(self.hold_max_ms),
                server_error_status: self.server_error_status,
                duplicate_reply: if self.duplicate_reply == "second" {
                    DuplicateReply::Second
                } else {
                    DuplicateReply::First
                },
                short_reply_keep: self.short_reply_keep,
                extra_entry_at: self.extra_entry_at,
            },
            source,
        };
        cfg.faults.validate()?;
        Ok(cfg)
    }
}

/// One line with the effective settings, logged at startup.
pub fn summary(cfg: &RelayConfig) -> String {
    let l = &cfg.limits;
    let faults: Vec<String> = cfg
        .faults
        .rates
        .named()
        .iter()
        .filter(|(_, r)| *r > 0.0)
        .map(|(k, r)| format!("{k}={r}"))
        .collect();
    let on = |b: bool| if b { "on" } else { "off" };
    let latency = if l.jitter.is_zero() {
        duration(l.latency)
    } else {
        format!("{}+0..{}", duration(l.latency), duration(l.jitter))
    };
    let bandwidth = match l.bandwidth_kbps {
        0 => "unlimited".to_owned(),
        kbps => format!("{kbps}kbit/s"),
    };
    format!(
        "node={} seed={} diagnostic={} redirect={} strip_unknown_fields={} latency={} \
         bandwidth={} max_concurrent={} calls_per_day={} max_response={} overrides={} \
         fault_rates=[{}] source={}",
        cfg.node_url,
        cfg.faults.seed,
        on(cfg.diagnostic),
        on(cfg.redirect),
        on(cfg.strip_unknown_fields),
        latency,
        bandwidth,
        l.max_concurrent,
        l.calls_per_day,
        bytes(l.max_response_bytes),
        cfg.deployment_limits.len(),
        faults.join(" "),
        match &cfg.faults.source {
            Source::Rates => "rates".to_owned(),
            Source::Script(list) => format!("script({} calls)", list.len()),
            Source::Pattern(list) => format!("pattern({} actions)", list.len()),
        },
    )
}

pub mod conn;

#[cfg(test)]
mod tests;
