//! `--config FILE`: a JSON file with the same settings as the flags, which also accepts an
//! mhrv-rs full-mode `config.json` so its users can start from what they have (README maps the
//! fields). Flags win over the file; unknown fields are ignored, because an mhrv-rs config
//! carries many settings that mean nothing to a tunnel client.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::RelaySpec;
use crate::error::ConfigError;

/// mhrv-rs's default fronting address and SNI, used for its configs that leave them out.
pub const MHRV_GOOGLE_IP: &str = "216.239.38.120";
pub const MHRV_FRONT_DOMAIN: &str = "www.google.com";
/// mhrv-rs's default listen host.
pub const MHRV_LISTEN_HOST: &str = "127.0.0.1";

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
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
    pub request_timeout_secs: Option<u64>,
    pub max_op_bytes: Option<usize>,
    pub first_data_wait_ms: Option<u64>,
    pub stats_secs: Option<u64>,
    pub quiet: Option<bool>,
    // mhrv-rs full mode
    script_id: Option<String>,
    script_ids: Option<OneOrMany>,
    auth_key: Option<String>,
    google_ip: Option<String>,
    front_domain: Option<String>,
    listen_host: Option<String>,
    listen_port: Option<u16>,
    socks5_port: Option<u16>,
    mode: Option<String>,
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
        if let Some(mode) = &cfg.mode
            && mode != "full"
        {
            return Err(ConfigError::UnsupportedMode {
                path: cfg.path.clone(),
                mode: mode.clone(),
            });
        }
        Ok(cfg)
    }

    fn script_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.script_id.iter().cloned().collect();
        match &self.script_ids {
            Some(OneOrMany::One(id)) => ids.push(id.clone()),
            Some(OneOrMany::Many(list)) => ids.extend(list.iter().cloned()),
            None => {}
        }
        ids.retain(|id| !id.trim().is_empty());
        ids.dedup();
        ids
    }

    fn is_mhrv(&self) -> bool {
        !self.script_ids().is_empty()
    }

    /// Relays: `relays`, else one Apps Script URL per mhrv `script_id(s)`.
    pub fn relays(&self) -> Result<Vec<RelaySpec>, ConfigError> {
        if let Some(urls) = &self.relays {
            return urls.iter().map(|u| RelaySpec::parse(u)).collect();
        }
        self.script_ids()
            .iter()
            .map(|id| RelaySpec::apps_script(id.trim()))
            .collect()
    }

    pub fn key(&self) -> Option<String> {
        self.key.clone().or_else(|| self.auth_key.clone())
    }

    pub fn front(&self) -> Result<Option<IpAddr>, ConfigError> {
        if self.front.is_some() {
            return Ok(self.front);
        }
        let ip = match (&self.google_ip, self.is_mhrv()) {
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

    pub fn sni(&self) -> Option<String> {
        self.sni
            .clone()
            .or_else(|| self.front_domain.clone())
            .or_else(|| self.is_mhrv().then(|| MHRV_FRONT_DOMAIN.to_string()))
    }

    fn listen(&self, port: Option<u16>) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(port) = port else { return Ok(None) };
        let host = self.listen_host.as_deref().unwrap_or(MHRV_LISTEN_HOST);
        let ip: IpAddr = host.parse().map_err(|_| ConfigError::BadValue {
            field: "listen_host",
            value: host.to_string(),
            why: "not an IP address".into(),
        })?;
        Ok(Some(SocketAddr::new(ip, port)))
    }

    pub fn socks(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match self.socks {
            Some(a) => Ok(Some(a)),
            None => self.listen(self.socks5_port),
        }
    }

    pub fn http(&self) -> Result<Option<SocketAddr>, ConfigError> {
        match self.http {
            Some(a) => Ok(Some(a)),
            None => self.listen(self.listen_port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(json: &str) -> (PathBuf, FileConfig) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("seqtun-client-cfg-{}-{n}.json", std::process::id()));
        std::fs::write(&path, json).unwrap();
        let cfg = FileConfig::load(&path);
        let _ = std::fs::remove_file(&path);
        (path, cfg.unwrap())
    }

    #[test]
    fn an_mhrv_full_mode_config_maps_onto_relays_key_front_and_listeners() {
        let (_, c) = write(
            r#"{"mode":"full","script_ids":["AAA","BBB"],"auth_key":"secret","google_ip":"216.239.38.121",
                "front_domain":"mail.google.com","listen_host":"127.0.0.1","listen_port":8085,"socks5_port":1080,
                "request_timeout_secs":45,"log_level":"info","upstream_socks5":null}"#,
        );
        let relays = c.relays().unwrap();
        assert_eq!(relays.len(), 2);
        assert_eq!(relays[1].url, "https://script.google.com/macros/s/BBB/exec");
        assert_eq!(c.key().as_deref(), Some("secret"));
        assert_eq!(c.front().unwrap(), Some("216.239.38.121".parse().unwrap()));
        assert_eq!(c.sni().as_deref(), Some("mail.google.com"));
        assert_eq!(c.http().unwrap(), Some("127.0.0.1:8085".parse().unwrap()));
        assert_eq!(c.socks().unwrap(), Some("127.0.0.1:1080".parse().unwrap()));
        assert_eq!(c.request_timeout_secs, Some(45));
    }

    #[test]
    fn mhrv_defaults_fill_the_fronting_it_leaves_out() {
        let (_, c) = write(r#"{"script_id":"X","auth_key":"k"}"#);
        assert_eq!(c.front().unwrap(), Some(MHRV_GOOGLE_IP.parse().unwrap()));
        assert_eq!(c.sni().as_deref(), Some(MHRV_FRONT_DOMAIN));
        assert_eq!(c.relays().unwrap().len(), 1);
    }

    #[test]
    fn seqtun_names_work_and_need_no_fronting() {
        let (_, c) =
            write(r#"{"relays":["http://127.0.0.1:9"],"key":"k","socks":"127.0.0.1:0","depth":3}"#);
        assert_eq!(
            c.relays().unwrap()[0].endpoint,
            "http://127.0.0.1:9/tunnel/batch"
        );
        assert_eq!(c.front().unwrap(), None);
        assert_eq!(c.sni(), None);
        assert_eq!(c.depth, Some(3));
    }

    #[test]
    fn other_modes_and_bad_files_are_refused_with_the_fix() {
        let path =
            std::env::temp_dir().join(format!("seqtun-client-mode-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"mode":"apps_script","script_id":"X"}"#).unwrap();
        let err = FileConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("\"mode\": \"full\""), "{err}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            FileConfig::load(&path),
            Err(ConfigError::ConfigFile { .. })
        ));
        let _ = std::fs::remove_file(&path);
        assert!(FileConfig::load(Path::new("/nonexistent/seqtun.json")).is_err());
    }
}
