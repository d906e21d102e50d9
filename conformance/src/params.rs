//! Target parameters: the timing and size limits a node runs with, so timing and size cases fit
//! any node. Built-in profiles carry the values of the deployed peers (wire-reference §9);
//! `--param NAME=VALUE` overrides one.

use crate::expr::Params;

/// Every parameter vectors may use, with its meaning and unit.
pub const KNOWN: &[(&str, &str)] = &[
    ("longpoll_deadline", "ms a pure-poll batch is held (§5.3)"),
    (
        "active_drain_deadline",
        "ms a batch with writes waits for downlink (§5.3)",
    ),
    ("settle_max", "ms of straggler settle at most (§5.3)"),
    (
        "seq_wait_timeout",
        "ms a seq'd op waits for its predecessor (§7.4)",
    ),
    ("drain_max", "bytes one TCP drain returns at most (§5.4)"),
    (
        "batch_budget",
        "bytes all drains of one batch return at most (§5.4)",
    ),
    ("udp_queue_limit", "datagrams queued per UDP session (§8)"),
    ("connect_timeout", "ms before a TCP connect fails (§2.2)"),
    (
        "tcp_idle",
        "ms before an untouched TCP session is reaped (§5.1)",
    ),
    (
        "udp_idle",
        "ms before an untouched UDP session is reaped (§5.1)",
    ),
    ("reap_interval", "ms between reaper runs (§5.1)"),
    (
        "single_wait_max",
        "ms the single-op path waits for downlink (§3.6)",
    ),
];

/// Names of the built-in profiles.
pub const PROFILES: &[&str] = &["seqtun", "node-903", "node-main", "fast"];
/// The profile a run uses when neither `--profile` nor the long-poll measurement picks one.
pub const DEFAULT_PROFILE: &str = "seqtun";

const MIB: f64 = 1024.0 * 1024.0;

/// A built-in profile by name.
pub fn profile(name: &str) -> Option<Params> {
    let base: &[(&str, f64)] = &[
        ("longpoll_deadline", 15_000.0),
        ("active_drain_deadline", 350.0),
        ("settle_max", 1_000.0),
        ("seq_wait_timeout", 30_000.0),
        ("drain_max", 16.0 * MIB),
        ("batch_budget", 32.0 * MIB),
        ("udp_queue_limit", 256.0),
        ("connect_timeout", 10_000.0),
        ("tcp_idle", 300_000.0),
        ("udp_idle", 120_000.0),
        ("reap_interval", 30_000.0),
        ("single_wait_max", 5_000.0),
        ("coalesce_max", 1_000.0),
        ("first_bytes_wait", 50.0),
    ];
    let overrides: &[(&str, f64)] = match name {
        // seqtun-node defaults are NODE-903's.
        "seqtun" | "node-903" => &[],
        "node-main" => &[("longpoll_deadline", 2_000.0)],
        // What the built-in run starts its in-process nodes with, so the main job is quick.
        "fast" => &[
            ("longpoll_deadline", 1_500.0),
            ("seq_wait_timeout", 2_000.0),
            ("drain_max", 256.0 * 1024.0),
            ("batch_budget", 512.0 * 1024.0),
            ("udp_queue_limit", 16.0),
            ("connect_timeout", 1_500.0),
            ("tcp_idle", 3_000.0),
            ("udp_idle", 3_000.0),
            ("reap_interval", 250.0),
            ("single_wait_max", 2_000.0),
            ("coalesce_max", 100.0),
        ],
        _ => return None,
    };
    let mut p: Params = base.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    for (k, v) in overrides {
        p.insert(k.to_string(), *v);
    }
    Some(p)
}

/// Why a `--param` could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamError {
    #[error("--param {0}: expected NAME=VALUE")]
    Form(String),
    #[error("--param {0}: unknown name (known: {1})")]
    Name(String, String),
    #[error(
        "--param {0}: value must be a number (ms for times, bytes for sizes) or an expression like 2s"
    )]
    Value(String),
}

/// Applies `NAME=VALUE` overrides.
pub fn apply(params: &mut Params, overrides: &[String]) -> Result<(), ParamError> {
    for o in overrides {
        let (name, value) = o
            .split_once('=')
            .ok_or_else(|| ParamError::Form(o.clone()))?;
        if !KNOWN.iter().any(|(k, _)| *k == name) {
            let known: Vec<&str> = KNOWN.iter().map(|(k, _)| *k).collect();
            return Err(ParamError::Name(o.clone(), known.join(", ")));
        }
        let v =
            crate::expr::eval(value, &Params::new()).map_err(|_| ParamError::Value(o.clone()))?;
        params.insert(name.to_string(), v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_cover_every_known_parameter() {
        for name in PROFILES {
            let p = profile(name).unwrap();
            for (k, _) in KNOWN {
                assert!(p.contains_key(*k), "{name} lacks {k}");
            }
        }
        assert_eq!(profile("node-main").unwrap()["longpoll_deadline"], 2000.0);
        assert!(profile("nope").is_none());
    }

    #[test]
    fn overrides() {
        let mut p = profile("seqtun").unwrap();
        apply(&mut p, &["longpoll_deadline=4s".into()]).unwrap();
        assert_eq!(p["longpoll_deadline"], 4000.0);
        assert!(matches!(
            apply(&mut p, &["x=1".into()]),
            Err(ParamError::Name(..))
        ));
        assert!(matches!(
            apply(&mut p, &["longpoll_deadline".into()]),
            Err(ParamError::Form(..))
        ));
        assert!(matches!(
            apply(&mut p, &["longpoll_deadline=soon".into()]),
            Err(ParamError::Value(..))
        ));
    }
}
