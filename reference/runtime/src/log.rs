//! Logging set-up shared by every binary.
//!
//! - the level comes from `--log-level` (`SEQTUN_LOG_LEVEL`), else `RUST_LOG`, else what the
//!   caller passes as a fallback (the client's `log_level` from an mhrv-rs config), else
//!   `info`;
//! - `--log-format json` writes one JSON object per line, for journald and `docker logs`;
//! - colour only when stderr is a terminal: escape codes in a file, journald or a CI log are
//!   noise.

use std::io::IsTerminal as _;

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::heading;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The logging flags every binary flattens into its parser.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Log level or filter (error, warn, info, debug, trace, or RUST_LOG syntax such as
    /// `seqtun_node=debug`); wins over RUST_LOG [default: info].
    #[arg(long, env = "SEQTUN_LOG_LEVEL", help_heading = heading::LOGGING)]
    pub log_level: Option<String>,
    /// Log line format.
    #[arg(long, env = "SEQTUN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, help_heading = heading::LOGGING)]
    pub log_format: LogFormat,
}

/// Why logging could not start.
#[derive(Debug)]
pub struct BadFilter(pub String);

impl std::error::Error for BadFilter {}

impl std::fmt::Display for BadFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad log level {:?}: use error, warn, info, debug or trace (--log-level, SEQTUN_LOG_LEVEL, RUST_LOG or log_level in --config)",
            self.0
        )
    }
}

/// The filter text that applies: the flag, else `RUST_LOG`, else `fallback`, else `info`.
pub fn filter_text(args: &LogArgs, fallback: Option<&str>) -> String {
    args.log_level
        .clone()
        .or_else(|| {
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .or_else(|| fallback.map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

/// Installs the global subscriber (stderr). Call once, before anything logs.
pub fn init(args: &LogArgs, fallback: Option<&str>) -> Result<(), BadFilter> {
    let text = filter_text(args, fallback);
    let filter = EnvFilter::try_new(&text).map_err(|_| BadFilter(text.clone()))?;
    let ansi = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A second init (tests that start a binary's main twice) is not an error worth failing on.
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_fallback() {
        let flag = LogArgs {
            log_level: Some("debug".into()),
            ..LogArgs::default()
        };
        assert_eq!(filter_text(&flag, Some("warn")), "debug");
        if std::env::var_os("RUST_LOG").is_none() {
            assert_eq!(filter_text(&LogArgs::default(), Some("warn")), "warn");
            assert_eq!(filter_text(&LogArgs::default(), None), "info");
        }
        let bad = LogArgs {
            log_level: Some("loud=[".into()),
            ..LogArgs::default()
        };
        let err = init(&bad, None).unwrap_err().to_string();
        assert!(err.contains("--log-level"), "{err}");
    }
}
