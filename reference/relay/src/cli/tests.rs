use super::*;
use crate::faults::Action;

const BASE: [&str; 6] = [
    "--node",
    "http://127.0.0.1:1",
    "--node-key",
    "N",
    "--key",
    "R",
];

fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(
        std::iter::once("seqtun-relay")
            .chain(BASE)
            .chain(extra.iter().copied()),
    )
}

fn config(extra: &[&str]) -> Result<RelayConfig, CliError> {
    parse(extra).unwrap().into_config(77)
}

#[test]
fn defaults_are_the_platform_limits_without_latency_or_faults() {
    let cfg = config(&[]).unwrap();
    assert_eq!(cfg.limits, Limits::default());
    assert_eq!(cfg.limits.max_concurrent, 30);
    assert_eq!(cfg.limits.calls_per_day, 20_000);
    assert_eq!(cfg.limits.max_response_bytes, 50 << 20);
    assert_eq!(cfg.faults, FaultPlan::new(77));
    assert_eq!(cfg.listen, DEFAULT_LISTEN.parse().unwrap());
    assert!(!cfg.diagnostic && !cfg.redirect && !cfg.strip_unknown_fields);
    assert_eq!((cfg.node_key.as_str(), cfg.relay_key.as_str()), ("N", "R"));
}

#[test]
fn every_setting_has_a_flag() {
    let cfg = config(&[
        "--listen",
        "127.0.0.1:0",
        "--diagnostic",
        "--redirect",
        "--strip-unknown-fields",
        "--latency-ms",
        "1500",
        "--jitter-ms",
        "500",
        "--max-concurrent",
        "3",
        "--calls-per-day",
        "9",
        "--max-response-bytes",
        "1000",
        "--max-request-bytes",
        "2000",
        "--fetch-timeout-ms",
        "300",
        "--max-deployments",
        "4",
        "--quota-window-secs",
        "60",
        "--redirect-ttl-ms",
        "700",
        "--redirect-store-bytes",
        "800",
        "--deployment-limits",
        "slow:latency_ms=2500",
        "--seed",
        "5",
        "--drop-reply-rate",
        "0.5",
        "--hold-after",
        "2",
        "--hold-max-ms",
        "40",
        "--server-error-status",
        "503",
        "--duplicate-reply",
        "second",
        "--short-reply-keep",
        "1",
        "--extra-entry-rate",
        "0.25",
        "--swap-entries-rate",
        "0.125",
        "--extra-entry-at",
        "3",
    ])
    .unwrap();
    assert_eq!(cfg.listen, "127.0.0.1:0".parse().unwrap());
    assert!(cfg.diagnostic && cfg.redirect && cfg.strip_unknown_fields);
    assert_eq!(cfg.limits.latency, Duration::from_millis(1500));
    assert_eq!(cfg.limits.jitter, Duration::from_millis(500));
    assert_eq!(
        (
            cfg.limits.max_concurrent,
            cfg.limits.calls_per_day,
            cfg.limits.max_response_bytes
        ),
        (3, 9, 1000)
    );
    assert_eq!(cfg.max_request_bytes, 2000);
    assert_eq!(cfg.fetch_timeout, Duration::from_millis(300));
    assert_eq!(cfg.max_deployments, 4);
    assert_eq!(cfg.quota_window, Duration::from_secs(60));
    assert_eq!(cfg.redirect_ttl, Duration::from_millis(700));
    assert_eq!(cfg.redirect_store_bytes, 800);
    let slow = cfg.limits_for("slow");
    assert_eq!(slow.latency, Duration::from_millis(2500));
    assert_eq!(
        slow.max_concurrent, 3,
        "overrides start from the global flags"
    );
    assert_eq!(cfg.limits_for("other").latency, Duration::from_millis(1500));
    assert_eq!(cfg.faults.seed, 5);
    assert_eq!(cfg.faults.rates.drop_reply, 0.5);
    let d = &cfg.faults.defaults;
    assert_eq!((d.hold_after, d.hold_max), (2, Duration::from_millis(40)));
    assert_eq!(d.server_error_status, 503);
    assert_eq!(d.duplicate_reply, DuplicateReply::Second);
    assert_eq!(d.short_reply_keep, Some(1));
    assert_eq!(
        (cfg.faults.rates.extra_entry, cfg.faults.rates.swap_entries),
        (0.25, 0.125)
    );
    assert_eq!(d.extra_entry_at, Some(3));
}

#[test]
fn missing_settings_name_the_flag_and_variable() {
    // Only meaningful when the environment does not provide them itself.
    let env_free = ["TUNNEL_SERVER_URL", "TUNNEL_AUTH_KEY", "RELAY_AUTH_KEY"]
        .iter()
        .all(|v| std::env::var_os(v).is_none());
    if env_free {
        let bare = |args: &[&str]| {
            Args::try_parse_from(std::iter::once("seqtun-relay").chain(args.iter().copied()))
                .unwrap()
                .into_config(0)
                .unwrap_err()
                .to_string()
        };
        assert!(bare(&["--node-key", "N", "--key", "R"]).contains("TUNNEL_SERVER_URL"));
        let e = bare(&["--node", "http://x:1", "--key", "R"]);
        assert!(
            e.contains("--node-key") && e.contains("TUNNEL_AUTH_KEY"),
            "{e}"
        );
        let e = bare(&["--node", "http://x:1", "--node-key", "N"]);
        assert!(e.contains("--key") && e.contains("RELAY_AUTH_KEY"), "{e}");
    }
    let empty = Args::try_parse_from([
        "seqtun-relay",
        "--node",
        "http://x:1",
        "--node-key",
        "N",
        "--key",
        "",
    ])
    .unwrap()
    .into_config(0)
    .unwrap_err()
    .to_string();
    assert!(empty.contains("RELAY_AUTH_KEY"), "{empty}");
}

#[test]
fn bad_values_are_refused() {
    for args in [
        &["--max-concurrent", "0"][..],
        &["--max-response-bytes", "0"],
        &["--fetch-timeout-ms", "0"],
        &["--quota-window-secs", "0"],
        &["--redirect-ttl-ms", "0"],
        &["--redirect-store-bytes", "0"],
        &["--duplicate-reply", "third"],
        &["--script", "x.json", "--pattern", "pass"],
    ] {
        assert!(parse(args).is_err(), "{args:?} accepted");
    }
    let e = config(&["--drop-reply-rate", "0.7", "--decoy-rate", "0.7"]).unwrap_err();
    assert!(e.to_string().contains("more than 1"), "{e}");
    let e = config(&["--server-error-status", "404"]).unwrap_err();
    assert!(e.to_string().contains("5xx"), "{e}");
    let e = config(&["--deployment-limits", "d:speed=1"]).unwrap_err();
    assert!(e.to_string().contains("unknown key"), "{e}");
    let e = config(&["--pattern", "pass,boom"]).unwrap_err();
    assert!(e.to_string().contains("boom"), "{e}");
}

#[test]
fn script_and_pattern_files() {
    let path =
        std::env::temp_dir().join(format!("seqtun-relay-script-{}.json", std::process::id()));
    std::fs::write(&path, r#"[{"action":"drop_reply"},{"action":"pass"}]"#).unwrap();
    let cfg = config(&["--script", path.to_str().unwrap()]).unwrap();
    assert_eq!(
        cfg.faults.source,
        Source::Script(vec![Action::DropReply, Action::Pass])
    );
    std::fs::write(&path, r#"[{"action":"drop_reply","bogus":1}]"#).unwrap();
    let e = config(&["--script", path.to_str().unwrap()]).unwrap_err();
    assert!(matches!(e, CliError::Plan(PlanError::Script(_))), "{e}");
    std::fs::remove_file(&path).unwrap();
    let e = config(&["--script", path.to_str().unwrap()]).unwrap_err();
    assert!(e.to_string().contains("cannot read --script"), "{e}");

    let cfg = config(&["--pattern", "pass,decoy"]).unwrap();
    assert_eq!(
        cfg.faults.source,
        Source::Pattern(vec![Action::Pass, Action::Decoy])
    );
    assert!(summary(&cfg).contains("pattern(2 actions)"));
    let line = summary(&config(&["--latency-ms", "1500", "--jitter-ms", "500"]).unwrap());
    assert!(
        line.contains("latency=1.5s+0..500ms") && line.contains("max_response=50MiB"),
        "{line}"
    );
    let cfg = config(&["--bandwidth-kbps", "2000"]).unwrap();
    assert_eq!(cfg.limits.bandwidth_kbps, 2000);
    assert!(summary(&cfg).contains("bandwidth=2000kbit/s"));
    let line = summary(&config(&[]).unwrap());
    assert!(line.contains("bandwidth=unlimited"), "{line}");
    assert!(
        line.contains("latency=0ms ") && !line.contains("0ns"),
        "{line}"
    );
}
