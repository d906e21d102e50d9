//! Command line and environment. Flags win over `--config`; both fall back to the defaults of
//! §9 (the deployed #903 client's).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use seqtun_wire::client::ClientParams;

use crate::config::{ClientConfig, RelaySpec};
use crate::config_file::FileConfig;
use crate::error::ConfigError;

/// seqtun reference client: SOCKS5 and HTTP CONNECT proxies that tunnel TCP through Apps Script
/// relays or directly to a seqtun / mhrv-rs tunnel node, pipelining when the node offers it.
#[derive(Debug, Parser)]
#[command(name = "seqtun-client", version, about)]
pub struct Args {
    /// SOCKS5 listener, e.g. 127.0.0.1:1080 (port 0 picks a free port).
    #[arg(long, env = "SEQTUN_SOCKS")]
    pub socks: Option<SocketAddr>,
    /// HTTP CONNECT listener, e.g. 127.0.0.1:8085.
    #[arg(long, env = "SEQTUN_HTTP")]
    pub http: Option<SocketAddr>,
    /// Relay URL, repeatable (or comma-separated in SEQTUN_RELAYS): http[s]://HOST:PORT is a
    /// node reached directly; https://script.google.com/macros/s/ID/exec is an Apps Script
    /// deployment.
    #[arg(long = "relay", env = "SEQTUN_RELAYS", value_delimiter = ',')]
    pub relays: Vec<String>,
    /// The key the first hop checks: the node's TUNNEL_AUTH_KEY for a node URL, the script's
    /// AUTH_KEY for an Apps Script URL.
    #[arg(long, env = "SEQTUN_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Domain fronting: connect to this IP instead of resolving the relay host (e.g. a Google
    /// edge IP such as 216.239.38.120).
    #[arg(long)]
    pub front: Option<IpAddr>,
    /// Domain fronting: TLS server name to send (e.g. www.google.com); the HTTP Host stays the
    /// relay URL's host.
    #[arg(long)]
    pub sni: Option<String>,
    /// Extra PEM certificates to trust for https relays.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Require this SOCKS5 username (RFC 1929); needs --socks-pass.
    #[arg(long, env = "SEQTUN_SOCKS_USER")]
    pub socks_user: Option<String>,
    /// The SOCKS5 password.
    #[arg(long, env = "SEQTUN_SOCKS_PASS", hide_env_values = true)]
    pub socks_pass: Option<String>,
    /// JSON config file (seqtun names, or an mhrv-rs full-mode config.json).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ops of one pipelined session in flight [default: 2]; 1 is the legacy loop.
    #[arg(long, value_parser = positive_usize)]
    pub depth: Option<usize>,
    /// Never pipeline, whatever the node offers.
    #[arg(long)]
    pub no_pipelining: bool,
    /// Keep a batch open while ops arrive within this many ms of each other [default: 200].
    #[arg(long)]
    pub coalesce_step_ms: Option<u64>,
    /// Fire a batch at most this many ms after its first op [default: 1000].
    #[arg(long)]
    pub coalesce_max_ms: Option<u64>,
    /// Most ops per batch [default: 50].
    #[arg(long, value_parser = positive_usize)]
    pub max_batch_ops: Option<usize>,
    /// Largest request body of one batch in bytes, JSON envelope, key and base64 included
    /// [default: 2031616, under deployed nodes' 2 MiB limit]. Raise it only for nodes known to
    /// accept more; a node's 413 lowers it at run time.
    #[arg(long, value_parser = positive_usize)]
    pub max_batch_bytes: Option<usize>,
    /// Most batches in flight per relay [default: 30].
    #[arg(long, value_parser = positive_usize)]
    pub max_inflight_per_relay: Option<usize>,
    /// Consecutive failed batches before a relay cools down [default: 3].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub relay_failures: Option<u32>,
    /// How long a failing relay cools down, in seconds [default: 60].
    #[arg(long)]
    pub relay_cooldown_secs: Option<u64>,
    /// Most raw bytes one data op carries [default: 1048576].
    #[arg(long, value_parser = positive_usize)]
    pub max_op_bytes: Option<usize>,
    /// Wait for the app's first bytes to send connect_data, in ms [default: 50]; 0 always
    /// opens with connect and answers the app only after the node did.
    #[arg(long)]
    pub first_data_wait_ms: Option<u64>,
    /// Batch HTTP timeout in seconds [default: 30]; batches carrying seq get at least 60.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: Option<u64>,
    /// Legacy loop: give up on a reply after this many ms [default: 35000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub legacy_reply_timeout_ms: Option<u64>,
    /// Largest relay answer read, in bytes [default: 67108864].
    #[arg(long, value_parser = positive_usize)]
    pub max_reply_bytes: Option<usize>,
    /// Time an app has to finish its SOCKS5 / CONNECT request, in ms [default: 10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub handshake_timeout_ms: Option<u64>,
    /// Most local connections tunnelled at once [default: 4096].
    #[arg(long, value_parser = positive_usize)]
    pub max_sessions: Option<usize>,
    /// Seconds between stats lines [default: 60].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub stats_secs: Option<u64>,
    /// No stats lines (RUST_LOG still applies).
    #[arg(long)]
    pub quiet: bool,
}

fn positive_usize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn positive(field: &'static str, v: Option<usize>) -> Result<Option<usize>, ConfigError> {
    match v {
        Some(0) => Err(ConfigError::BadValue {
            field,
            value: "0".into(),
            why: "must be at least 1".into(),
        }),
        v => Ok(v),
    }
}

/// mhrv-rs treats a coalescing value of 0 as "the default".
fn nonzero_ms(v: Option<u64>) -> Option<Duration> {
    v.filter(|&ms| ms > 0).map(Duration::from_millis)
}

impl Args {
    /// The client configuration from flags, then the config file, then defaults.
    pub fn into_config(self) -> Result<ClientConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let relays = if self.relays.is_empty() {
            file.relays()?
        } else {
            self.relays
                .iter()
                .map(|u| RelaySpec::parse(u))
                .collect::<Result<_, _>>()?
        };
        let key = self.key.clone().or_else(|| file.key()).unwrap_or_default();
        let mut cfg = ClientConfig::new(relays, key);
        cfg.socks = self.socks.or(file.socks()?);
        cfg.http = self.http.or(file.http()?);
        cfg.front = match self.front {
            Some(ip) => Some(ip),
            None => file.front()?,
        };
        cfg.sni = self.sni.clone().or_else(|| file.sni());
        cfg.ca_file = self.ca_file.clone().or_else(|| file.ca_file.clone());
        let user = self.socks_user.clone().or_else(|| file.socks_user.clone());
        let pass = self.socks_pass.clone().or_else(|| file.socks_pass.clone());
        cfg.socks_auth = match (user, pass) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => return Err(ConfigError::SocksAuth),
        };
        cfg.params = self.params(&file)?;
        if let Some(ms) = self.handshake_timeout_ms {
            cfg.handshake_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = self.max_sessions {
            cfg.max_sessions = n;
        }
        let quiet = self.quiet || file.quiet.unwrap_or(false);
        cfg.stats_interval = if quiet {
            None
        } else {
            self.stats_secs
                .or(file.stats_secs)
                .filter(|&s| s > 0)
                .map(Duration::from_secs)
                .or(cfg.stats_interval)
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn params(&self, file: &FileConfig) -> Result<ClientParams, ConfigError> {
        let mut p = ClientParams::default();
        if let Some(d) = positive("depth", self.depth.or(file.depth))? {
            p.depth = d;
        }
        p.no_pipelining = self.no_pipelining || file.no_pipelining.unwrap_or(false);
        if let Some(d) = nonzero_ms(self.coalesce_step_ms.or(file.coalesce_step_ms)) {
            p.coalesce_step = d;
        }
        if let Some(d) = nonzero_ms(self.coalesce_max_ms.or(file.coalesce_max_ms)) {
            p.coalesce_max = d;
        }
        if let Some(n) = self.max_batch_ops {
            p.max_batch_ops = n;
        }
        if let Some(n) = self.max_batch_bytes {
            p.max_batch_body = n;
        }
        if let Some(n) = self.max_inflight_per_relay {
            p.max_inflight_per_relay = n;
        }
        if let Some(n) = self.relay_failures {
            p.relay_failure_threshold = n;
        }
        if let Some(s) = self.relay_cooldown_secs {
            p.relay_cooldown = Duration::from_secs(s);
        }
        if let Some(n) = positive("max_op_bytes", self.max_op_bytes.or(file.max_op_bytes))? {
            p.max_data_op_bytes = n;
        }
        if let Some(ms) = self.first_data_wait_ms.or(file.first_data_wait_ms) {
            p.first_data_wait = Duration::from_millis(ms);
        }
        match self.request_timeout_secs.or(file.request_timeout_secs) {
            Some(0) => {
                return Err(ConfigError::BadValue {
                    field: "request_timeout_secs",
                    value: "0".into(),
                    why: "must be at least 1".into(),
                });
            }
            Some(s) => p.request_timeout = Duration::from_secs(s),
            None => {}
        }
        if let Some(ms) = self.legacy_reply_timeout_ms {
            p.legacy_reply_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = self.max_reply_bytes {
            p.max_reply_body_bytes = n;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ClientConfig, ConfigError> {
        let mut argv = vec!["seqtun-client"];
        argv.extend(args);
        Args::try_parse_from(argv)
            .expect("flags parse")
            .into_config()
    }

    #[test]
    fn flags_build_a_config() {
        let c = parse(&[
            "--relay",
            "http://127.0.0.1:1",
            "--relay",
            "http://127.0.0.1:2/macros/s/d/exec",
            "--key",
            "k",
            "--socks",
            "127.0.0.1:0",
            "--depth",
            "4",
            "--coalesce-step-ms",
            "5",
            "--request-timeout-secs",
            "90",
        ])
        .unwrap();
        assert_eq!(c.relays.len(), 2);
        assert_eq!(c.params.depth, 4);
        assert_eq!(c.params.coalesce_step, Duration::from_millis(5));
        assert_eq!(c.params.coalesce_max, Duration::from_millis(1000));
        assert_eq!(c.params.request_timeout, Duration::from_secs(90));
        assert!(c.stats_interval.is_some());
    }

    #[test]
    fn errors_name_the_fix() {
        let e = parse(&["--socks", "127.0.0.1:0", "--key", "k"]).unwrap_err();
        assert!(e.to_string().contains("--relay"), "{e}");
        let e = parse(&["--socks", "127.0.0.1:0", "--relay", "http://127.0.0.1:1"]).unwrap_err();
        assert!(e.to_string().contains("--key"), "{e}");
        let e = parse(&["--key", "k", "--relay", "http://127.0.0.1:1"]).unwrap_err();
        assert!(e.to_string().contains("--socks"), "{e}");
        let e = parse(&[
            "--key",
            "k",
            "--socks",
            "127.0.0.1:0",
            "--relay",
            "http://h/x",
        ])
        .unwrap_err();
        assert!(matches!(e, ConfigError::UnknownRelayForm { .. }), "{e}");
        let e = parse(&[
            "--key",
            "k",
            "--socks",
            "127.0.0.1:0",
            "--relay",
            "http://h",
            "--socks-user",
            "u",
        ])
        .unwrap_err();
        assert!(matches!(e, ConfigError::SocksAuth));
        assert!(Args::try_parse_from(["seqtun-client", "--depth", "0"]).is_err());
    }

    #[test]
    fn quiet_silences_stats_and_flags_win_over_the_file() {
        let path = std::env::temp_dir().join(format!("seqtun-cli-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"script_id":"X","auth_key":"file-key","socks5_port":1080,"coalesce_step_ms":0,"depth":3}"#).unwrap();
        let p = path.to_str().unwrap();
        let c = parse(&["--config", p, "--key", "flag-key", "--quiet"]).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(c.key, "flag-key");
        assert_eq!(c.params.depth, 3);
        assert_eq!(
            c.params.coalesce_step,
            Duration::from_millis(200),
            "0 means the default"
        );
        assert_eq!(c.socks, Some("127.0.0.1:1080".parse().unwrap()));
        assert_eq!(c.front, Some("216.239.38.120".parse().unwrap()));
        assert_eq!(c.stats_interval, None);
    }
}
