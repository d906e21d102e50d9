//! Command line and environment: every limit is a flag, defaults are NODE-903's (§9).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use seqtun_runtime::completions::Shell;
use seqtun_runtime::log::LogArgs;
use seqtun_runtime::show::{bytes, duration};
use seqtun_runtime::{env_bool, heading};
use seqtun_wire::params::{self, NodeParams};
use seqtun_wire::replay;

use seqtun_runtime::conn::{self, ConnLimits, body::BodyRate};

use crate::config::{DEFAULT_HEALTH_PATH, Faults, NodeConfig};
use crate::stats::STATS_INTERVAL;

/// Default port when neither `--listen` nor `PORT` is given, as deployed.
pub const DEFAULT_PORT: u16 = 8080;

/// seqtun reference tunnel node: holds the real sockets for batch-tunnel clients (legacy,
/// PR #903 pipelined, PR #1115), directly or behind an Apps Script relay.
#[derive(Debug, Parser)]
#[command(
    name = "seqtun-node",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on (port 0 picks a free port). Wins over PORT.
    #[arg(long, env = "SEQTUN_NODE_LISTEN", help_heading = heading::LISTENERS)]
    pub listen: Option<SocketAddr>,
    /// Port on 0.0.0.0 when --listen is not given.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT, help_heading = heading::LISTENERS)]
    pub port: u16,
    /// Serve /stats and /metrics on this address (e.g. 127.0.0.1:9100). They are not on the
    /// node's port unless --metrics-on-main-port: they name the software.
    #[arg(long, env = "SEQTUN_NODE_METRICS", help_heading = heading::LISTENERS)]
    pub metrics: Option<SocketAddr>,
    /// Also serve /stats and /metrics on the node's own port (reveals a seqtun node to anyone).
    #[arg(long, env = "SEQTUN_NODE_METRICS_ON_MAIN_PORT", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::LISTENERS)]
    pub metrics_on_main_port: bool,
    /// Path that answers `GET` with `ok` for health checks; empty hides it. Default /health,
    /// none with --stealth (pick an unguessable path there).
    #[arg(long, env = "SEQTUN_NODE_HEALTH_PATH", help_heading = heading::LISTENERS)]
    pub health_path: Option<String>,
    /// Look like nginx to anyone without the key: no /health unless --health-path, and
    /// malformed bodies, body errors and wrong keys all get nginx pages instead of JSON errors
    /// (costs clients the `bad json` text they may log).
    #[arg(long, env = "SEQTUN_NODE_STEALTH", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::KEYS)]
    pub stealth: bool,
    /// The key clients or the relay send in `k`. Required; there is no default key.
    #[arg(long, env = "TUNNEL_AUTH_KEY", hide_env_values = true, help_heading = heading::KEYS)]
    pub key: Option<String>,
    /// Answer a wrong key with JSON `unauthorized` instead of nginx's 404 page (1/0,
    /// true/false, yes/no, on/off in the variable).
    #[arg(long, env = "MHRV_DIAGNOSTIC", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::KEYS)]
    pub diagnostic: bool,
    /// Behave as a pre-#903 node: no `caps`, `seq` ignored and not echoed.
    #[arg(long, env = "SEQTUN_NODE_LEGACY", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::PROTOCOL)]
    pub legacy: bool,
    /// Long-poll deadline for batches that only poll (ms).
    #[arg(long, env = "SEQTUN_NODE_LONGPOLL_MS", default_value_t = ms(params::LONGPOLL_DEADLINE), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub longpoll_ms: u64,
    /// Wait for downlink after a batch wrote or connected (ms).
    #[arg(long, env = "SEQTUN_NODE_ACTIVE_DRAIN_MS", default_value_t = ms(params::ACTIVE_DRAIN_DEADLINE), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub active_drain_ms: u64,
    /// Straggler settle step (ms).
    #[arg(long, env = "SEQTUN_NODE_SETTLE_STEP_MS", default_value_t = ms(params::STRAGGLER_SETTLE_STEP), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub settle_step_ms: u64,
    /// Longest straggler settle (ms).
    #[arg(long, env = "SEQTUN_NODE_SETTLE_MAX_MS", default_value_t = ms(params::STRAGGLER_SETTLE_MAX), help_heading = heading::TIMING)]
    pub settle_max_ms: u64,
    /// How long a seq'd op waits for its predecessors (ms).
    #[arg(long, env = "SEQTUN_NODE_SEQ_WAIT_MS", default_value_t = ms(params::SEQ_WAIT_TIMEOUT), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub seq_wait_ms: u64,
    /// TCP connect timeout (ms).
    #[arg(long, env = "SEQTUN_NODE_CONNECT_TIMEOUT_MS", default_value_t = ms(params::CONNECT_TIMEOUT), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub connect_timeout_ms: u64,
    /// How often idle sessions are reaped (s).
    #[arg(long, env = "SEQTUN_NODE_REAP_INTERVAL_SECS", default_value_t = params::REAP_INTERVAL.as_secs(), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub reap_interval_secs: u64,
    /// How often idle sessions are reaped, in ms; wins over --reap-interval-secs and may be
    /// below 1 s (the conformance runner's fast profile uses 250).
    #[arg(long, env = "SEQTUN_NODE_REAP_INTERVAL_MS", value_parser = positive_u64, help_heading = heading::TIMING)]
    pub reap_interval_ms: Option<u64>,
    /// Reap TCP sessions idle this long (s).
    #[arg(long, env = "SEQTUN_NODE_TCP_IDLE_SECS", default_value_t = params::TCP_IDLE_TIMEOUT.as_secs(), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub tcp_idle_secs: u64,
    /// Reap a TCP session whose sid went out in an answer and that no op has named for this
    /// long (s); 0 turns this off. Catches connects whose reply the relay lost (§5.1).
    #[arg(long, env = "SEQTUN_NODE_UNCLAIMED_SECS", default_value_t = params::TCP_UNCLAIMED_TIMEOUT.as_secs(), help_heading = heading::TIMING)]
    pub unclaimed_secs: u64,
    /// Reap UDP sessions idle this long (s).
    #[arg(long, env = "SEQTUN_NODE_UDP_IDLE_SECS", default_value_t = params::UDP_IDLE_TIMEOUT.as_secs(), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub udp_idle_secs: u64,
    /// Single-op `/tunnel` drain: longest wait (ms).
    #[arg(long, env = "SEQTUN_NODE_SINGLE_WAIT_MS", default_value_t = ms(params::SINGLE_WAIT_MAX), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub single_wait_ms: u64,
    /// Single-op `/tunnel` drain: quiet time after the last byte (ms).
    #[arg(long, env = "SEQTUN_NODE_SINGLE_QUIET_MS", default_value_t = ms(params::SINGLE_WAIT_QUIET), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub single_quiet_ms: u64,
    /// A connection must send its request head within this (ms).
    #[arg(long, env = "SEQTUN_NODE_HEADER_TIMEOUT_MS", default_value_t = ms(conn::HEADER_TIMEOUT), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub header_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this (ms).
    #[arg(long, env = "SEQTUN_NODE_IDLE_TIMEOUT_MS", default_value_t = ms(conn::IDLE_TIMEOUT), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub idle_timeout_ms: u64,
    /// A request body must arrive within this plus its size at --body-min-rate (ms).
    #[arg(long, env = "SEQTUN_NODE_BODY_TIMEOUT_MS", default_value_t = ms(conn::body::BODY_TIMEOUT), value_parser = positive_u64, help_heading = heading::TIMING)]
    pub body_timeout_ms: u64,
    /// The slowest average rate a request body may arrive at, after --body-timeout-ms (bytes/s).
    #[arg(long, env = "SEQTUN_NODE_BODY_MIN_RATE", default_value_t = conn::body::BODY_MIN_RATE, value_parser = positive_u64, help_heading = heading::TIMING)]
    pub body_min_rate: u64,
    /// On SIGTERM / Ctrl-C, how long in-flight batches may take to finish (s).
    #[arg(long, env = "SEQTUN_NODE_SHUTDOWN_GRACE_SECS", default_value_t = SHUTDOWN_GRACE.as_secs(), help_heading = heading::TIMING)]
    pub shutdown_grace_secs: u64,
    /// Most seq'd ops of one session waiting for their turn.
    #[arg(long, env = "SEQTUN_NODE_SEQ_MAX_WAITING", default_value_t = params::SEQ_MAX_WAITING, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub seq_max_waiting: usize,
    /// Most bytes one TCP drain returns.
    #[arg(long, env = "SEQTUN_NODE_DRAIN_MAX_BYTES", default_value_t = params::TCP_DRAIN_MAX_BYTES, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub drain_max_bytes: usize,
    /// Most bytes all drains of one batch return together.
    #[arg(long, env = "SEQTUN_NODE_BATCH_BUDGET_BYTES", default_value_t = params::BATCH_RESPONSE_BUDGET, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub batch_budget_bytes: usize,
    /// Most bytes buffered per TCP session before reading upstream pauses.
    #[arg(long, env = "SEQTUN_NODE_READ_BUF_CAP_BYTES", default_value_t = params::READ_BUF_CAP, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub read_buf_cap_bytes: usize,
    /// Datagrams queued per UDP session (oldest dropped beyond).
    #[arg(long, env = "SEQTUN_NODE_UDP_QUEUE_LIMIT", default_value_t = params::UDP_QUEUE_LIMIT, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub udp_queue_limit: usize,
    /// Largest request body, plain or after gzip inflation (bytes).
    #[arg(long, env = "SEQTUN_NODE_MAX_BODY_BYTES", default_value_t = params::MAX_BODY_BYTES, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_body_bytes: usize,
    /// How much more of a body over the limit is read (and dropped) before the 413 (bytes).
    #[arg(long, env = "SEQTUN_NODE_REFUSED_BODY_DRAIN_BYTES", default_value_t = params::REFUSED_BODY_DRAIN_BYTES, help_heading = heading::LIMITS)]
    pub refused_body_drain_bytes: usize,
    /// Most ops in one batch.
    #[arg(long, env = "SEQTUN_NODE_MAX_BATCH_OPS", default_value_t = params::MAX_BATCH_OPS, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_batch_ops: usize,
    /// Most live sessions (TCP and UDP together).
    #[arg(long, env = "SEQTUN_NODE_MAX_SESSIONS", default_value_t = params::MAX_SESSIONS, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_sessions: usize,
    /// Replay-safe seq (§7.10): replies one session holds until the client acknowledges them;
    /// 0 turns the feature off (no `caps` bit 1).
    #[arg(long, env = "SEQTUN_NODE_REPLAY_MAX_HELD", default_value_t = replay::REPLAY_MAX_HELD, help_heading = heading::LIMITS)]
    pub replay_max_held: usize,
    /// Bytes of replies one session holds for retransmits; the oldest go first.
    #[arg(long, env = "SEQTUN_NODE_REPLAY_MAX_SESSION_BYTES", default_value_t = replay::REPLAY_MAX_SESSION_BYTES, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub replay_max_session_bytes: usize,
    /// Bytes of replies all sessions hold for retransmits; a reply beyond is not held.
    #[arg(long, env = "SEQTUN_NODE_REPLAY_MAX_NODE_BYTES", default_value_t = replay::REPLAY_MAX_NODE_BYTES, help_heading = heading::LIMITS)]
    pub replay_max_node_bytes: usize,
    /// Most bytes the node holds for buffers, bodies and replies together.
    #[arg(long, env = "SEQTUN_NODE_MEMORY_BUDGET_BYTES", default_value_t = params::MEMORY_BUDGET, value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub memory_budget_bytes: usize,
    /// Share of the memory budget upstream buffers may fill (%, the rest is for bodies and replies).
    #[arg(long, env = "SEQTUN_NODE_MEMORY_BUFFER_PERCENT", default_value_t = params::MEMORY_BUFFER_PERCENT, value_parser = clap::value_parser!(u8).range(1..=100), help_heading = heading::LIMITS)]
    pub memory_buffer_percent: u8,
    /// Most open client connections; at the cap the most stalled one is closed for a new one.
    /// Default: half the descriptor limit, at most 8192.
    #[arg(long, env = "SEQTUN_NODE_MAX_CONNECTIONS", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_connections: Option<usize>,
    /// Seconds between stats lines (0: none).
    #[arg(long, env = "SEQTUN_NODE_STATS_SECS", default_value_t = STATS_INTERVAL.as_secs(), help_heading = heading::LOGGING)]
    pub stats_secs: u64,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Subcommands besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
}

/// How long in-flight batches may take to finish after SIGTERM / Ctrl-C by default: a
/// parked long-poll (15 s) plus slack. Container runtimes wait 10 s (docker) to 30 s
/// (Kubernetes) before SIGKILL; raise theirs, or lower this, to match.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Why the node refuses to start; each names the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    #[error(
        "no key: pass --key <KEY> or set TUNNEL_AUTH_KEY (the node has no default key; use the value your relay sends as the node key)"
    )]
    MissingKey,
    #[error(
        "no key: MHRV_AUTH_KEY is set but the node reads TUNNEL_AUTH_KEY; rename the variable or pass --key"
    )]
    WrongKeyVariable,
    #[error("empty key: TUNNEL_AUTH_KEY / --key must not be empty")]
    EmptyKey,
    #[error("--health-path {0:?} must start with / (or be empty to hide the health check)")]
    HealthPath(String),
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
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

impl Args {
    /// The address to bind: `--listen`, else `0.0.0.0:$PORT`.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], self.port)))
    }

    /// The node settings, or why they are unusable. `legacy_key_var` says whether
    /// MHRV_AUTH_KEY is set, for a better message (field issues #391, #444).
    pub fn into_config(&self, legacy_key_var: bool) -> Result<NodeConfig, CliError> {
        let key = match self.key.clone() {
            Some(k) if k.is_empty() => return Err(CliError::EmptyKey),
            Some(k) => k,
            None if legacy_key_var => return Err(CliError::WrongKeyVariable),
            None => return Err(CliError::MissingKey),
        };
        let d = Duration::from_millis;
        let params = NodeParams {
            active_drain_deadline: d(self.active_drain_ms),
            settle_step: d(self.settle_step_ms),
            settle_max: d(self.settle_max_ms),
            longpoll_deadline: d(self.longpoll_ms),
            seq_wait_timeout: d(self.seq_wait_ms),
            seq_max_waiting: self.seq_max_waiting,
            tcp_drain_max: self.drain_max_bytes,
            batch_budget: self.batch_budget_bytes,
            read_buf_cap: self.read_buf_cap_bytes,
            udp_queue_limit: self.udp_queue_limit,
            connect_timeout: d(self.connect_timeout_ms),
            reap_interval: self
                .reap_interval_ms
                .map_or(Duration::from_secs(self.reap_interval_secs), d),
            tcp_idle_timeout: Duration::from_secs(self.tcp_idle_secs),
            tcp_unclaimed_timeout: Duration::from_secs(self.unclaimed_secs),
            udp_idle_timeout: Duration::from_secs(self.udp_idle_secs),
            single_wait_max: d(self.single_wait_ms),
            single_wait_quiet: d(self.single_quiet_ms),
            max_body_bytes: self.max_body_bytes,
            refused_body_drain: self.refused_body_drain_bytes,
            max_batch_ops: self.max_batch_ops,
            max_sessions: self.max_sessions,
            replay_max_held: self.replay_max_held,
            replay_max_session_bytes: self.replay_max_session_bytes,
            replay_max_node_bytes: self.replay_max_node_bytes,
            memory_budget: self.memory_budget_bytes,
            memory_buffer_percent: self.memory_buffer_percent,
        };
        let health_path = match self.health_path.as_deref() {
            Some("") => None,
            Some(path) if !path.starts_with('/') => {
                return Err(CliError::HealthPath(path.to_owned()));
            }
            Some(path) => Some(path.to_owned()),
            None if self.stealth => None,
            None => Some(DEFAULT_HEALTH_PATH.to_owned()),
        };
        let nofile = conn::fd_limit::current();
        Ok(NodeConfig {
            key,
            diagnostic: self.diagnostic,
            legacy: self.legacy,
            params,
            stats_on_main_port: self.metrics_on_main_port,
            health_path,
            stealth: self.stealth,
            conn: ConnLimits {
                header_timeout: d(self.header_timeout_ms),
                idle_timeout: d(self.idle_timeout_ms),
                max_connections: self
                    .max_connections
                    .unwrap_or_else(|| conn::default_max_connections(nofile)),
                body: BodyRate {
                    timeout: d(self.body_timeout_ms),
                    min_rate: self.body_min_rate,
                },
            },
            faults: Faults::default(),
        })
    }
}

/// One line with the effective settings, logged at startup.
pub fn summary(cfg: &NodeConfig) -> String {
    let p = &cfg.params;
    let d = |v| duration(v);
    format!(
        "mode={} diagnostic={} longpoll={} active_drain={} settle={}/{} seq_wait={} \
         seq_max_waiting={} drain_max={} batch_budget={} read_buf_cap={} udp_queue={} \
         connect_timeout={} idle_tcp={} unclaimed_tcp={} idle_udp={} max_body={} max_batch_ops={} max_sessions={} \
         memory_budget={} buffer_share={}% max_connections={} header_timeout={} idle_timeout={} \
         body_timeout={} body_min_rate={}B/s health={} stealth={} stats_on_main_port={}",
        if cfg.legacy {
            "legacy"
        } else {
            "pipelined(#903)"
        },
        if cfg.diagnostic { "on" } else { "off" },
        d(p.longpoll_deadline),
        d(p.active_drain_deadline),
        d(p.settle_step),
        d(p.settle_max),
        d(p.seq_wait_timeout),
        p.seq_max_waiting,
        bytes(p.tcp_drain_max),
        bytes(p.batch_budget),
        bytes(p.read_buf_cap),
        p.udp_queue_limit,
        d(p.connect_timeout),
        d(p.tcp_idle_timeout),
        d(p.tcp_unclaimed_timeout),
        d(p.udp_idle_timeout),
        bytes(p.max_body_bytes),
        p.max_batch_ops,
        p.max_sessions,
        bytes(p.memory_budget),
        p.memory_buffer_percent,
        cfg.conn.max_connections,
        d(cfg.conn.header_timeout),
        d(cfg.conn.idle_timeout),
        d(cfg.conn.body.timeout),
        cfg.conn.body.min_rate,
        cfg.health_path.as_deref().unwrap_or("off"),
        if cfg.stealth { "on" } else { "off" },
        if cfg.stats_on_main_port { "on" } else { "off" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("seqtun-node").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_are_node_903() {
        let cfg = parse(&["--key", "k"]).into_config(false).unwrap();
        assert_eq!(cfg.params, NodeParams::default());
        assert_eq!(cfg.conn.header_timeout, conn::HEADER_TIMEOUT);
        assert_eq!(cfg.health_path.as_deref(), Some("/health"));
        assert!(!cfg.stats_on_main_port && !cfg.stealth);
        assert!(!cfg.legacy && !cfg.diagnostic);
    }

    #[test]
    fn the_reap_interval_can_go_below_a_second() {
        let cfg = parse(&["--key", "k", "--reap-interval-ms", "250"])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.params.reap_interval, Duration::from_millis(250));
        let cfg = parse(&["--key", "k", "--reap-interval-secs", "2"])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.params.reap_interval, Duration::from_secs(2));
    }

    #[test]
    fn the_unclaimed_rule_defaults_to_a_minute_and_zero_turns_it_off() {
        let cfg = parse(&["--key", "k"]).into_config(false).unwrap();
        assert_eq!(cfg.params.tcp_unclaimed_timeout, Duration::from_secs(60));
        let cfg = parse(&["--key", "k", "--unclaimed-secs", "0"])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.params.tcp_unclaimed_timeout, Duration::ZERO);
    }

    #[test]
    fn no_key_is_refused_with_the_fix() {
        // Only meaningful when the test environment does not set the variable itself.
        if std::env::var_os("TUNNEL_AUTH_KEY").is_none() {
            let err = parse(&[]).into_config(false).unwrap_err();
            assert_eq!(err, CliError::MissingKey);
            assert!(err.to_string().contains("--key"));
            let err = parse(&[]).into_config(true).unwrap_err();
            assert_eq!(err, CliError::WrongKeyVariable);
        }
        assert_eq!(
            parse(&["--key", ""]).into_config(false).unwrap_err(),
            CliError::EmptyKey
        );
    }

    #[test]
    fn the_summary_prints_values_not_debug() {
        let line = summary(&parse(&["--key", "k"]).into_config(false).unwrap());
        for v in [
            "longpoll=15s",
            "active_drain=350ms",
            "drain_max=16MiB",
            "diagnostic=off",
        ] {
            assert!(line.contains(v), "{v} in {line}");
        }
        assert!(!line.contains("Some(") && !line.contains("0ns"), "{line}");
    }

    #[test]
    fn connection_and_memory_flags_reach_the_config() {
        let cfg = parse(&[
            "--key",
            "k",
            "--max-connections",
            "7",
            "--header-timeout-ms",
            "1500",
            "--idle-timeout-ms",
            "2500",
            "--body-timeout-ms",
            "3500",
            "--body-min-rate",
            "99",
            "--memory-budget-bytes",
            "1048576",
            "--memory-buffer-percent",
            "50",
        ])
        .into_config(false)
        .unwrap();
        assert_eq!(cfg.conn.max_connections, 7);
        assert_eq!(cfg.conn.header_timeout, Duration::from_millis(1500));
        assert_eq!(cfg.conn.idle_timeout, Duration::from_millis(2500));
        assert_eq!(cfg.conn.body.timeout, Duration::from_millis(3500));
        assert_eq!(cfg.conn.body.min_rate, 99);
        assert_eq!(cfg.params.memory_budget, 1 << 20);
        assert_eq!(cfg.params.memory_buffer_percent, 50);
        for bad in [["--memory-buffer-percent", "0"], ["--max-connections", "0"]] {
            let r = Args::try_parse_from(["seqtun-node", "--key", "k", bad[0], bad[1]]);
            assert!(r.is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn replay_flags_reach_the_params_and_0_held_turns_the_feature_off() {
        let cfg = parse(&[
            "--key",
            "k",
            "--replay-max-held",
            "4",
            "--replay-max-session-bytes",
            "1000",
            "--replay-max-node-bytes",
            "5000",
        ])
        .into_config(false)
        .unwrap();
        let limits = cfg.params.replay_limits().unwrap();
        assert_eq!(limits.max_held, 4);
        assert_eq!(cfg.params.replay_max_session_bytes, 1000);
        assert_eq!(cfg.params.replay_max_node_bytes, 5000);
        let off = parse(&["--key", "k", "--replay-max-held", "0"])
            .into_config(false)
            .unwrap();
        assert_eq!(off.params.replay_limits(), None);
        let zero = [
            "seqtun-node",
            "--key",
            "k",
            "--replay-max-session-bytes",
            "0",
        ];
        assert!(Args::try_parse_from(zero).is_err());
    }

    #[test]
    fn stealth_hides_health_unless_a_path_is_given() {
        let cfg = parse(&["--key", "k", "--stealth"])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.health_path, None);
        let cfg = parse(&["--key", "k", "--stealth", "--health-path", "/h-3f9a"])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.health_path.as_deref(), Some("/h-3f9a"));
        let cfg = parse(&["--key", "k", "--health-path", ""])
            .into_config(false)
            .unwrap();
        assert_eq!(cfg.health_path, None);
        let err = parse(&["--key", "k", "--health-path", "h"]).into_config(false);
        assert!(matches!(err, Err(CliError::HealthPath(_))));
    }

    #[test]
    fn listen_wins_over_port() {
        let a = parse(&["--key", "k", "--port", "9000"]);
        assert_eq!(a.listen_addr(), "0.0.0.0:9000".parse().unwrap());
        let a = parse(&["--key", "k", "--port", "9000", "--listen", "127.0.0.1:0"]);
        assert_eq!(a.listen_addr(), "127.0.0.1:0".parse().unwrap());
    }

    #[test]
    fn zero_limits_are_rejected() {
        for flag in [
            "--max-batch-ops",
            "--max-sessions",
            "--longpoll-ms",
            "--read-buf-cap-bytes",
        ] {
            let r = Args::try_parse_from(["seqtun-node", "--key", "k", flag, "0"]);
            assert!(r.is_err(), "{flag} 0 accepted");
        }
    }
}
