//! Command line and environment. Flags win over `--config`; both fall back to the defaults of
//! §9 (the deployed #903 client's).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};
use seqtun_runtime::completions::Shell;
use seqtun_runtime::log::LogArgs;
use seqtun_runtime::{env_bool, heading};
use seqtun_wire::client::ClientParams;

use crate::config::{ClientConfig, RelaySpec};
use crate::config_file::FileConfig;
use crate::error::ConfigError;

/// seqtun reference client: SOCKS5 and HTTP proxies that tunnel TCP through Apps Script
/// relays or directly to a seqtun / mhrv-rs tunnel node, pipelining when the node offers it.
#[derive(Debug, Parser)]
#[command(
    name = "seqtun-client",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// SOCKS5 listener, e.g. 127.0.0.1:1080 (port 0 picks a free port).
    #[arg(long, env = "SEQTUN_SOCKS", help_heading = heading::LISTENERS)]
    pub socks: Option<SocketAddr>,
    /// HTTP proxy listener (CONNECT and plain absolute-form requests), e.g. 127.0.0.1:8085.
    #[arg(long, env = "SEQTUN_HTTP", help_heading = heading::LISTENERS)]
    pub http: Option<SocketAddr>,
    /// Serve /stats (JSON) and /metrics (Prometheus) here, e.g. 127.0.0.1:9101.
    #[arg(long, env = "SEQTUN_METRICS", help_heading = heading::LISTENERS)]
    pub metrics: Option<SocketAddr>,
    /// Relay URL, repeatable (or comma-separated in SEQTUN_RELAYS): http[s]://HOST:PORT is a
    /// node reached directly; https://script.google.com/macros/s/ID/exec is an Apps Script
    /// deployment.
    #[arg(long = "relay", env = "SEQTUN_RELAYS", value_delimiter = ',', help_heading = heading::UPSTREAM)]
    pub relays: Vec<String>,
    /// Domain fronting for the --relay relays (and, when given, for those of --config): connect
    /// to this IP instead of resolving the relay host (e.g. a Google edge IP such as
    /// 216.239.38.120).
    #[arg(long, env = "SEQTUN_FRONT", help_heading = heading::UPSTREAM)]
    pub front: Option<IpAddr>,
    /// Domain fronting: TLS server name to send (e.g. www.google.com); the HTTP Host stays the
    /// relay URL's host. Applies like --front.
    #[arg(long, env = "SEQTUN_SNI", help_heading = heading::UPSTREAM)]
    pub sni: Option<String>,
    /// Extra PEM certificates to trust for https relays.
    #[arg(long, env = "SEQTUN_CA_FILE", help_heading = heading::UPSTREAM)]
    pub ca_file: Option<PathBuf>,
    /// JSON config file (seqtun names, or an mhrv-rs full-mode config.json).
    #[arg(long, env = "SEQTUN_CONFIG", help_heading = heading::UPSTREAM)]
    pub config: Option<PathBuf>,
    /// The key the first hop checks: the node's TUNNEL_AUTH_KEY for a node URL, the script's
    /// AUTH_KEY for an Apps Script URL.
    #[arg(long, env = "SEQTUN_KEY", hide_env_values = true, help_heading = heading::KEYS)]
    pub key: Option<String>,
    /// Require this SOCKS5 username (RFC 1929); needs --socks-pass.
    #[arg(long, env = "SEQTUN_SOCKS_USER", help_heading = heading::KEYS)]
    pub socks_user: Option<String>,
    /// The SOCKS5 password.
    #[arg(long, env = "SEQTUN_SOCKS_PASS", hide_env_values = true, help_heading = heading::KEYS)]
    pub socks_pass: Option<String>,
    /// Ops of one pipelined session in flight [default: 2]; 1 is the legacy loop.
    #[arg(long, env = "SEQTUN_DEPTH", value_parser = positive_usize, help_heading = heading::PROTOCOL)]
    pub depth: Option<usize>,
    /// Never pipeline, whatever the node offers.
    #[arg(long, env = "SEQTUN_NO_PIPELINING", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::PROTOCOL)]
    pub no_pipelining: bool,
    /// Keep a batch open while ops arrive within this many ms of each other [default: 200].
    #[arg(long, env = "SEQTUN_COALESCE_STEP_MS", help_heading = heading::TIMING)]
    pub coalesce_step_ms: Option<u64>,
    /// Fire a batch at most this many ms after its first op [default: 1000].
    #[arg(long, env = "SEQTUN_COALESCE_MAX_MS", help_heading = heading::TIMING)]
    pub coalesce_max_ms: Option<u64>,
    /// Fire a batch at most this many ms after its first prompt op: app bytes, or a poll
    /// while downlink flows [default: 5; 0 fires at once].
    #[arg(long, env = "SEQTUN_COALESCE_PROMPT_MS", help_heading = heading::TIMING)]
    pub coalesce_prompt_ms: Option<u64>,
    /// Wait for the app's first bytes to send connect_data, in ms [default: 50]; 0 always
    /// opens with connect and answers the app only after the node did.
    #[arg(long, env = "SEQTUN_FIRST_DATA_WAIT_MS", help_heading = heading::TIMING)]
    pub first_data_wait_ms: Option<u64>,
    /// Batch HTTP timeout in seconds [default: 30]; batches carrying seq get at least 60.
    #[arg(long, env = "SEQTUN_REQUEST_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = heading::TIMING)]
    pub request_timeout_secs: Option<u64>,
    /// Legacy loop: give up on a reply after this many ms [default: 35000].
    #[arg(long, env = "SEQTUN_LEGACY_REPLY_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..), help_heading = heading::TIMING)]
    pub legacy_reply_timeout_ms: Option<u64>,
    /// How long a failing relay cools down, in seconds [default: 60].
    #[arg(long, env = "SEQTUN_RELAY_COOLDOWN_SECS", help_heading = heading::TIMING)]
    pub relay_cooldown_secs: Option<u64>,
    /// Time an app has to finish its SOCKS5 / CONNECT request, in ms [default: 10000].
    #[arg(long, env = "SEQTUN_HANDSHAKE_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..), help_heading = heading::TIMING)]
    pub handshake_timeout_ms: Option<u64>,
    /// After a connect to a target failed, open the next ones to it only once the node
    /// answered, for this many seconds [default: 30] (§6.7).
    #[arg(long, env = "SEQTUN_FAILED_TARGET_TTL_SECS", help_heading = heading::TIMING)]
    pub failed_target_ttl_secs: Option<u64>,
    /// On SIGTERM / Ctrl-C, how long in-flight batches may take to finish, in seconds
    /// [default: 5].
    #[arg(long, env = "SEQTUN_SHUTDOWN_GRACE_SECS", help_heading = heading::TIMING)]
    pub shutdown_grace_secs: Option<u64>,
    /// Most ops per batch [default: 50].
    #[arg(long, env = "SEQTUN_MAX_BATCH_OPS", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_batch_ops: Option<usize>,
    /// Largest request body of one batch in bytes, JSON envelope, key and base64 included
    /// [default: 2031616, under deployed nodes' 2 MiB limit]. Raise it only for nodes known to
    /// accept more; a node's 413 lowers it at run time.
    #[arg(long, env = "SEQTUN_MAX_BATCH_BYTES", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_batch_bytes: Option<usize>,
    /// Most batches in flight per relay [default: 30].
    #[arg(long, env = "SEQTUN_MAX_INFLIGHT_PER_RELAY", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_inflight_per_relay: Option<usize>,
    /// Consecutive failed batches before a relay cools down [default: 3].
    #[arg(long, env = "SEQTUN_RELAY_FAILURES", value_parser = clap::value_parser!(u32).range(1..), help_heading = heading::LIMITS)]
    pub relay_failures: Option<u32>,
    /// Most raw bytes one data op carries [default: 1048576].
    #[arg(long, env = "SEQTUN_MAX_OP_BYTES", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_op_bytes: Option<usize>,
    /// Largest relay answer read, in bytes [default: 67108864].
    #[arg(long, env = "SEQTUN_MAX_REPLY_BYTES", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_reply_bytes: Option<usize>,
    /// Most local connections tunnelled at once [default: 4096].
    #[arg(long, env = "SEQTUN_MAX_SESSIONS", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub max_sessions: Option<usize>,
    /// Most targets remembered as recently failed [default: 256].
    #[arg(long, env = "SEQTUN_FAILED_TARGETS_MAX", value_parser = positive_usize, help_heading = heading::LIMITS)]
    pub failed_targets_max: Option<usize>,
    /// Most times an op of a replay-safe session is sent again after its batch failed
    /// [default: 5]; 0 never retries (§7.10).
    #[arg(long, env = "SEQTUN_RETRY_MAX", help_heading = heading::LIMITS)]
    pub retry_max: Option<u32>,
    /// No op is sent again later than this many seconds after its first send [default: 120]
    /// (§7.10).
    #[arg(long, env = "SEQTUN_RETRY_WITHIN_SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = heading::TIMING)]
    pub retry_within_secs: Option<u64>,
    /// Seconds between stats lines [default: 60].
    #[arg(long, env = "SEQTUN_STATS_SECS", value_parser = clap::value_parser!(u64).range(1..), help_heading = heading::LOGGING)]
    pub stats_secs: Option<u64>,
    /// No stats lines (RUST_LOG still applies).
    #[arg(long, env = "SEQTUN_QUIET", action = ArgAction::SetTrue, value_parser = env_bool(), help_heading = heading::LOGGING)]
    pub quiet: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Subcommands besides running the proxy.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
}

/// What `--config` and the flags add up to, with what the binary should say about the file.
#[derive(Debug)]
pub struct Loaded {
    pub config: ClientConfig,
    /// `log_level` from the file (the flag and RUST_LOG win over it).
    pub log_level: Option<String>,
    /// File keys nothing reads (warned about by name).
    pub unknown_keys: Vec<String>,
    /// mhrv-rs keys the client has no use for (listed once at startup).
    pub ignored_keys: Vec<String>,
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
        self.load().map(|l| l.config)
    }

    /// The same, with what the binary reports about the file.
    pub fn load(&self) -> Result<Loaded, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        // Fronting goes with the relays it came with: flag relays get only the flags', the
        // file's relays get the flags' where given, else their own (§1.5).
        let relays = if self.relays.is_empty() {
            let mut relays = file.relays()?;
            for r in &mut relays {
                r.front = self.front.or(r.front);
                r.sni = self.sni.clone().or(r.sni.take());
            }
            relays
        } else {
            self.relays
                .iter()
                .map(|u| {
                    RelaySpec::parse(u).map(|mut r| {
                        r.front = self.front;
                        r.sni = self.sni.clone();
                        r
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let key = self.key.clone().or_else(|| file.key()).unwrap_or_default();
        let mut cfg = ClientConfig::new(relays, key);
        cfg.socks = self.socks.or(file.socks()?);
        cfg.http = self.http.or(file.http()?);
        cfg.metrics = self.metrics.or(file.metrics);
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
        if let Some(s) = self.shutdown_grace_secs {
            cfg.shutdown_grace = Duration::from_secs(s);
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
        Ok(Loaded {
            config: cfg,
            log_level: file.log_level.clone(),
            unknown_keys: file.unknown_keys(),
            ignored_keys: file.ignored_mhrv_keys(),
        })
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
        if let Some(ms) = self.coalesce_prompt_ms.or(file.coalesce_prompt_ms) {
            p.coalesce_prompt = Duration::from_millis(ms);
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
        if let Some(s) = self.failed_target_ttl_secs {
            p.failed_target_ttl = Duration::from_secs(s);
        }
        if let Some(n) = self.failed_targets_max {
            p.failed_targets_max = n;
        }
        if let Some(n) = self.retry_max {
            p.retry.max = n;
        }
        if let Some(s) = self.retry_within_secs {
            p.retry.within = Duration::from_secs(s);
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
            "--coalesce-prompt-ms",
            "0",
            "--request-timeout-secs",
            "90",
            "--max-batch-bytes",
            "8000000",
            "--retry-max",
            "0",
            "--retry-within-secs",
            "30",
        ])
        .unwrap();
        // 0 never sends an op twice, even to a replay-safe node (§7.10).
        assert_eq!(c.params.retry.max, 0);
        assert_eq!(c.params.retry.within, Duration::from_secs(30));
        assert_eq!(
            c.params.coalesce_prompt,
            Duration::ZERO,
            "0 is a value here"
        );
        assert_eq!(c.relays.len(), 2);
        // Raised over the deployed 2 MiB for a node known to take more (§6.3).
        assert_eq!(c.params.max_batch_body, 8_000_000);
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
        assert!(Args::try_parse_from(["seqtun-client", "--retry-within-secs", "0"]).is_err());
    }

    fn with_file<T>(json: &str, f: impl FnOnce(&str) -> T) -> T {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("seqtun-cli-{}-{n}.json", std::process::id()));
        std::fs::write(&path, json).unwrap();
        let out = f(path.to_str().unwrap());
        let _ = std::fs::remove_file(&path);
        out
    }

    #[test]
    fn quiet_silences_stats_and_flags_win_over_the_file() {
        let c = with_file(
            r#"{"mode":"full","script_id":"X","auth_key":"file-key","socks5_port":1080,"coalesce_step_ms":0,"depth":3}"#,
            |p| parse(&["--config", p, "--key", "flag-key", "--quiet"]).unwrap(),
        );
        assert_eq!(c.key, "flag-key");
        assert_eq!(c.params.depth, 3);
        assert_eq!(
            c.params.coalesce_step,
            Duration::from_millis(200),
            "0 means the default"
        );
        assert_eq!(c.socks, Some("127.0.0.1:1080".parse().unwrap()));
        assert_eq!(
            c.http,
            Some("127.0.0.1:8085".parse().unwrap()),
            "mhrv-rs's default port"
        );
        assert_eq!(c.relays[0].front, Some("216.239.38.120".parse().unwrap()));
        assert_eq!(c.stats_interval, None);
    }

    /// The safety bug: an mhrv-rs config's fronting defaults (Google's address) must not be
    /// applied to a relay given by --relay, or a loopback test relay is dialled at Google.
    #[test]
    fn fronting_from_the_file_never_reaches_a_flag_relay() {
        let mhrv = r#"{"mode":"full","script_id":"X","auth_key":"k","google_ip":"216.239.38.121","front_domain":"www.google.com"}"#;
        let c = with_file(mhrv, |p| {
            parse(&[
                "--config",
                p,
                "--relay",
                "http://127.0.0.1:8090/macros/s/dep1/exec",
            ])
            .unwrap()
        });
        assert_eq!(c.relays.len(), 1);
        assert_eq!(c.relays[0].url, "http://127.0.0.1:8090/macros/s/dep1/exec");
        assert_eq!(
            (c.relays[0].front, c.relays[0].sni.as_deref()),
            (None, None)
        );
        // Flag fronting goes with flag relays, and overrides the file's for the file's relays.
        let c = with_file(mhrv, |p| {
            parse(&[
                "--config",
                p,
                "--relay",
                "http://127.0.0.1:1",
                "--front",
                "127.0.0.2",
            ])
            .unwrap()
        });
        assert_eq!(c.relays[0].front, Some("127.0.0.2".parse().unwrap()));
        let c = with_file(mhrv, |p| {
            parse(&["--config", p, "--sni", "other.example"]).unwrap()
        });
        assert_eq!(c.relays[0].front, Some("216.239.38.121".parse().unwrap()));
        assert_eq!(c.relays[0].sni.as_deref(), Some("other.example"));
    }

    #[test]
    fn account_groups_keys_and_what_the_file_reports() {
        let json = r#"{"mode":"full","account_groups":[{"auth_key":"a","script_ids":["A"]},{"script_ids":["B"]}],
                       "log_level":"debug","listne_port":1,"hosts":{}}"#;
        let err = with_file(json, |p| parse(&["--config", p]).unwrap_err());
        assert!(matches!(err, ConfigError::MissingRelayKey { .. }), "{err}");
        assert!(err.to_string().contains("/macros/s/B/exec"), "{err}");
        let loaded = with_file(json, |p| {
            let mut argv = vec!["seqtun-client", "--config", p, "--key", "top"];
            argv.truncate(5);
            Args::try_parse_from(argv).unwrap().load().unwrap()
        });
        let keys: Vec<&str> = loaded
            .config
            .relays
            .iter()
            .map(|r| loaded.config.key_for(r))
            .collect();
        assert_eq!(keys, ["a", "top"]);
        assert_eq!(loaded.log_level.as_deref(), Some("debug"));
        assert_eq!(loaded.unknown_keys, ["listne_port"]);
        assert_eq!(loaded.ignored_keys, ["hosts"]);
    }

    #[test]
    fn boolean_env_spellings() {
        let parsed = |v: &str| {
            let cmd = <Args as clap::CommandFactory>::command();
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == "no_pipelining")
                .unwrap()
                .clone();
            clap::builder::TypedValueParser::parse_ref(
                &env_bool(),
                &cmd,
                Some(&arg),
                std::ffi::OsStr::new(v),
            )
        };
        assert!(parsed("yes").unwrap());
        assert!(!parsed("off").unwrap());
        let err = parsed("2").unwrap_err().to_string();
        assert!(err.contains("SEQTUN_NO_PIPELINING=\"2\""), "{err}");
    }
}
