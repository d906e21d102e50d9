//! Target parameters: the timing and size limits a node runs with, so timing and size cases fit
//! any node. Built-in profiles carry the values of the deployed peers (wire-reference §9);
//! `--param NAME=VALUE` overrides one.

use crate::expr::Params;

/// Every parameter vectors may use: its name, meaning and unit, and its value in the `seqtun`
/// profile. The one list: `--param` and `--list-params` read names from it and every profile
/// starts from its values, so a profile cannot carry a parameter `--param` refuses.
const TABLE: &[(&str, &str, f64)] = &[
    (
        "longpoll_deadline",
        "ms a pure-poll batch is held (§5.3)",
        15_000.0,
    ),
    (
        "active_drain_deadline",
        "ms a batch with writes waits for downlink (§5.3)",
        350.0,
    ),
    (
        "settle_max",
        "ms of straggler settle at most (§5.3)",
        1_000.0,
    ),
    (
        "seq_wait_timeout",
        "ms a seq'd op waits for its predecessor (§7.4)",
        30_000.0,
    ),
    (
        "drain_max",
        "bytes one TCP drain returns at most (§5.4)",
        16.0 * MIB,
    ),
    (
        "batch_budget",
        "bytes all drains of one batch return at most (§5.4)",
        32.0 * MIB,
    ),
    (
        "udp_queue_limit",
        "datagrams queued per UDP session (§8)",
        256.0,
    ),
    (
        "replay_max_held",
        "replies a replay-safe session holds until acknowledged (§7.10)",
        32.0,
    ),
    (
        "connect_timeout",
        "ms before a TCP connect fails (§2.2)",
        10_000.0,
    ),
    (
        "tcp_idle",
        "ms before an untouched TCP session is reaped (§5.1)",
        300_000.0,
    ),
    (
        "udp_idle",
        "ms before an untouched UDP session is reaped (§5.1)",
        120_000.0,
    ),
    ("reap_interval", "ms between reaper runs (§5.1)", 30_000.0),
    (
        "single_wait_max",
        "ms the single-op path waits for downlink (§3.6)",
        5_000.0,
    ),
    (
        "coalesce_max",
        "ms a client's batch waits for more ops after its first (§6.3)",
        1_000.0,
    ),
    (
        "first_bytes_wait",
        "ms a client waits for the app's first bytes before choosing connect (§6.2)",
        50.0,
    ),
];

const NAMES: [(&str, &str); TABLE.len()] = names();

const fn names() -> [(&'static str, &'static str); TABLE.len()] {
    let mut out = [("", ""); TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = (TABLE[i].0, TABLE[i].1);
        i += 1;
    }
    out
}

/// Every parameter vectors may use, with its meaning and unit.
pub const KNOWN: &[(&str, &str)] = &NAMES;

/// Names of the built-in profiles.
pub const PROFILES: &[&str] = &["seqtun", "node-903", "node-main", "fast"];
/// The profile a run uses when neither `--profile` nor the long-poll measurement picks one.
pub const DEFAULT_PROFILE: &str = "seqtun";

const MIB: f64 = 1024.0 * 1024.0;

/// A built-in profile by name.
pub fn profile(name: &str) -> Option<Params> {
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
            ("replay_max_held", 4.0),
            ("connect_timeout", 1_500.0),
            ("tcp_idle", 3_000.0),
            ("udp_idle", 3_000.0),
            ("reap_interval", 250.0),
            ("single_wait_max", 2_000.0),
            ("coalesce_max", 100.0),
        ],
        _ => return None,
    };
    let mut p: Params = TABLE.iter().map(|(k, _, v)| (k.to_string(), *v)).collect();
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
        // The client vectors' parameters are known too (they were missing from the list).
        apply(
            &mut p,
            &["coalesce_max=2s".into(), "first_bytes_wait=0".into()],
        )
        .unwrap();
        assert_eq!((p["coalesce_max"], p["first_bytes_wait"]), (2000.0, 0.0));
    }
}
