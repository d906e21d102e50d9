//! Errors a user can meet before any traffic flows. Each message names the fix.

use std::path::PathBuf;

/// A setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no relay given: pass --relay URL (a node like http://HOST:PORT, or an Apps Script deployment https://script.google.com/macros/s/ID/exec), or script_id in --config"
    )]
    NoRelay,
    #[error(
        "no key given: pass --key (or SEQTUN_KEY, or auth_key in --config); it is the key the first hop checks (the node's TUNNEL_AUTH_KEY for a node URL, the script's AUTH_KEY for an Apps Script URL)"
    )]
    MissingKey,
    #[error(
        "no key for relay {url}: its account group has no auth_key; add one, or a top-level auth_key / --key"
    )]
    MissingRelayKey { url: String },
    #[error("no listener: pass --socks ADDR and/or --http ADDR (e.g. --socks 127.0.0.1:1080)")]
    NoListener,
    #[error(
        "bad relay URL {url:?}: {why} (expected http[s]://HOST[:PORT] for a node, or http[s]://HOST[:PORT]/macros/s/ID/exec for an Apps Script deployment)"
    )]
    BadUrl { url: String, why: String },
    #[error(
        "unknown relay URL form {url:?}: the path must be empty (a node reached directly) or /macros/s/ID/exec (an Apps Script deployment)"
    )]
    UnknownRelayForm { url: String },
    #[error("cannot read --config {path:?}: {why}")]
    ConfigFile { path: PathBuf, why: String },
    #[error(
        "--config {path:?} has mode {mode:?}: seqtun-client only implements mhrv-rs full mode; set \"mode\": \"full\" or drop the field"
    )]
    UnsupportedMode { path: PathBuf, mode: String },
    #[error(
        "--config {path:?} has no \"mode\": mhrv-rs reads that as apps_script, which seqtun-client does not implement; if this is a full-mode config, add \"mode\": \"full\""
    )]
    ModeAbsent { path: PathBuf },
    #[error("bad {field} {value:?}: {why}")]
    BadValue {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("--socks-user and --socks-pass must be given together, each 1 to 255 bytes (RFC 1929)")]
    SocksAuth,
}

/// Why the client could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr} for {role}: {source} (pick another address or port 0)")]
    Listen {
        role: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}
