//! `--config FILE`: a JSON file with the same settings as the flags, which also reads an
//! mhrv-rs full-mode `config.json` as it is, so its users can start from what they have (the
//! README maps the fields). Flags win over the file.
//!
//! Fronting (`google_ip`, `front_domain`, or our `front`/`sni`) belongs to the relays the file
//! lists: the CLI attaches it to them only, never to relays given by `--relay`, because a
//! loopback test relay dialled at Google's address is both broken and a leak. Keys the file
//! has that nobody reads are reported by name (a typo should not fail silently); keys mhrv-rs
//! knows but a tunnel client has no use for are listed separately.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::RelaySpec;
use crate::error::ConfigError;

/// mhrv-rs's default fronting address and SNI, used for its configs that leave them out.
pub const MHRV_GOOGLE_IP: &str = "216.239.38.120";
pub const MHRV_FRONT_DOMAIN: &str = "www.google.com";
/// The listen host when an mhrv-rs config has none. mhrv-rs itself binds every interface;
/// an open proxy on the LAN should be a choice, so seqtun binds loopback unless told.
pub const MHRV_LISTEN_HOST: &str = "127.0.0.1";
/// mhrv-rs's HTTP proxy port when `listen_port` is absent; its SOCKS5 port defaults to the
/// HTTP port + 1.
pub const MHRV_LISTEN_PORT: u16 = 8085;

/// mhrv-rs `config.json` keys seqtun-client reads nothing from (they concern its
/// `apps_script` mode, MITM, scanning or the UI). Listed so they are reported as ignored,
/// not as unknown.
pub const MHRV_IGNORED_KEYS: &[&str] = &[
    "verify_ssl",
    "hosts",
    "enable_batching",
    "upstream_socks5",
    "parallel_relay",
    "sni_hosts",
    "fetch_ips_from_api",
    "max_ips_to_scan",
    "scan_batch_size",
    "google_ip_validation",
    "normalize_x_graphql",
    "youtube_via_relay",
    "passthrough_hosts",
    "block_quic",
    "block_stun",
    "disable_padding",
    "force_http1",
    "tunnel_doh",
    "bypass_doh_hosts",
    "block_doh",
    "fronting_groups",
    "auto_blacklist_strikes",
    "auto_blacklist_window_secs",
    "auto_blacklist_cooldown_secs",
    "exit_node",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn push_into(&self, ids: &mut Vec<String>) {
        match self {
            OneOrMany::One(id) => ids.push(id.clone()),
            OneOrMany::Many(list) => ids.extend(list.iter().cloned()),
        }
    }
}

/// mhrv-rs's `account_groups` entry: deployments of one Google account and their key.
#[derive(Debug, Clone, Default, Deserialize)]
struct AccountGroup {
    auth_key: Option<String>,
    script_ids: Option<OneOrMany>,
    script_id: Option<OneOrMany>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// The file's settings; every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileConfig {
    // seqtun names (same as the flags)
    pub socks: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub relays: Option<Vec<String>>,
    pub key: Option<String>,
    pub front: Option<IpAddr>,
    pub sni: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub socks_user: Option<String>,
    pub socks_pass: Option<String>,
    pub depth: Option<usize>,
    pub no_pipelining: Option<bool>,
    pub coalesce_step_ms: Option<u64>,
    pub coalesce_max_ms: Option<u64>,
    pub coalesce_prompt_ms: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub max_op_bytes: Option<usize>,
    pub first_data_wait_ms: Option<u64>,
    pub stats_secs: Option<u64>,
    pub quiet: Option<bool>,
    pub metrics: Option<SocketAddr>,
    /// `error`, `warn`, `info`, `debug`, `trace` (mhrv-rs's name too); `--log-level` and
    /// `RUST_LOG` win over it.
    pub log_level: Option<String>,
    // mhrv-rs full mode
    script_id: Option<OneOrMany>,
    script_ids: Option<OneOrMany>,
    account_groups: Option<Vec<AccountGroup>>,
    auth_key: Option<String>,
    google_ip: Option<String>,
    front_domain: Option<String>,
    listen_host: Option<String>,
    listen_port: Option<u16>,
    socks5_port: Option<u16>,
    mode: Option<String>,
    /// Everything else, reported by [`FileConfig::unknown_keys`].
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
    #[serde(skip)]
    path: PathBuf,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let err = |why: String| ConfigError::ConfigFile {
            path: path.to_path_buf(),
            why,
        };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let mut cfg: FileConfig = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
        cfg.path = path.to_path_buf();
        match cfg.mode.as_deref() {
            Some("full") => {}
            Some(other) => {
                return Err(ConfigError::UnsupportedMode {
                    path: cfg.path.clone(),
                    mode: other.to_string(),
                });
            }
            None if cfg.is_mhrv() => {
                return Err(ConfigError::ModeAbsent {
                    path: cfg.path.clone(),
                });
            }
            None => {}
        }
        Ok(cfg)
    }

    /// Whether the file uses mhrv-rs's names (then mhrv-rs's defaults apply).
    fn is_mhrv(&self) -> bool {
        self.script_id.is_some()
            || self.script_ids.is_some()
            || self.account_groups.is_some()
            || self.auth_key.is_some()
            || self.google_ip.is_some()
            || self.listen_port.is_some()
            || self.socks5_port.is_some()
            || self.mode.is_some()
    }

    /// Top-level keys nothing reads, then those inside `account_groups` entries
    /// (`account_groups[1].scrip_ids`).
    pub fn unknown_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .extra
            .keys()
            .filter(|k| !MHRV_IGNORED_KEYS.contains(&k.as_str()))
            .cloned()
            .collect();
        for (i, g) in self.account_groups.iter().flatten().enumerate() {
            keys.extend(g.extra.keys().map(|k| format!("account_groups[{i}].{k}")));
        }
        keys
    }

    /// mhrv-rs keys in the file that seqtun-client has no use for.
    pub fn ignored_mhrv_keys(&self) -> Vec<String> {
        self.extra
            .keys()
            .filter(|k| MHRV_IGNORED_KEYS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// `(deployment id, key from its account group)` in file order, duplicates dropped.
    fn deployments(&self) -> Vec<(String, Option<String>)> {
        let mut ids = Vec::new();
        for list in [&self.script_id, &self.script_ids].into_iter().flatten() {
            list.push_into(&mut ids);
        }
        let mut out: Vec<(String, Option<String>)> = ids.into_iter().map(|id| (id, None)).collect();
        for g in self.account_groups.iter().flatten() {
            let mut ids = Vec::new();
            for list in [&g.script_id, &g.script_ids].into_iter().flatten() {
                list.push_into(&mut ids);
            }
            out.extend(ids.into_iter().map(|id| (id, g.auth_key.clone())));
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|(id, _)| !id.trim().is_empty() && seen.insert(id.trim().to_string()));
        out
    }

    /// The file's relays, each with its own fronting and (for `account_groups`) its key:
    /// `relays`, else one Apps Script URL per mhrv-rs deployment id.
    pub fn relays(&self) -> Result<Vec<RelaySpec>, ConfigError> {
        let (front, sni) = (self.front()?, self.sni());
        let mut specs: Vec<RelaySpec> = match &self.relays {
            Some(urls) => urls
                .iter()
                .map(|u| RelaySpec::parse(u))
                .collect::<Result<_, _>>()?,
            None => self
                .deployments()
                .into_iter()
                .map(|(id, key)| {
                    RelaySpec::apps_script(id.trim()).map(|mut r| {
                        r.key = key.filter(|k| !k.is_empty());
                        r
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        for r in &mut specs {
            r.front = front;
            r.sni = sni.clone();
        }
        Ok(specs)
    }

    pub fn key(&self) -> Option<String> {
        self.key.clone().or_else(|| self.auth_key.clone())
    }

    fn front(&self) -> Result<Option<IpAddr>, ConfigError> {
        if self.front.is_some() {
            return Ok(self.front);
        }
        let ip = match (&self.google_ip, !self.deployments().is_empty()) {
            (Some(ip), _) => ip.as_str(),
            (None, true) => MHRV_GOOGLE_IP,
            (None, false) => return Ok(None),
        };
        ip.trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::BadValue {
                field: "google_ip",
                value: ip.to_string(),
                why: "not an IP address".into(),
            })
    }

    fn sni(&self) -> Option<String> {
        self.sni
            .clone()
            .or_else(|| self.front_domain.clone())
            .or_else(|| (!self.deployments().is_empty()).then(|| MHRV_FRONT_DOMAIN.to_string()))
    }

    fn listen(&self, port: u16) -> Result<SocketAddr, ConfigError> {
        let host = self.listen_host.as_deref().unwrap_or(MHRV_LISTEN_HOST);
        let ip: IpAddr = host.parse().map_err(|_| ConfigError::BadValue {
            field: "listen_host",
            value: host.to_string(),
            why: "not an IP address".into(),
        })?;
        Ok(SocketAddr::new(ip, port))
    }

    fn mhrv_http_port(&self) -> u16 {
        self.listen_port.unwrap_or(MHRV_LISTEN_PORT)
    }

    /// `socks`, else mhrv-rs's `listen_host:socks5_port` (default: the HTTP port + 1).
    pub fn socks(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if let Some(a) = self.socks {
            return Ok(Some(a));
        }
        if !self.is_mhrv() {
            return Ok(None);
        }
        let port = match self.socks5_port {
            Some(p) => p,
            None => self
                .mhrv_http_port()
                .checked_add(1)
                .ok_or(ConfigError::BadValue {
                    field: "listen_port",
                    value: self.mhrv_http_port().to_string(),
                    why: "no room for the SOCKS5 port after it; set socks5_port".into(),
                })?,
        };
        self.listen(port).map(Some)
    }

    /// `http`, else mhrv-rs's `listen_host:listen_port` (default 8085).
    pub fn http(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if let Some(a) = self.http {
            return Ok(Some(a));
        }
        if !self.is_mhrv() {
            return Ok(None);
        }
        self.listen(self.mhrv_http_port()).map(Some)
    }
}

#[cfg(test)]
mod tests;
