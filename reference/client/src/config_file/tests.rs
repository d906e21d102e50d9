use super::*;

fn load(json: &str) -> Result<FileConfig, ConfigError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("seqtun-client-cfg-{}-{n}.json", std::process::id()));
    std::fs::write(&path, json).unwrap();
    let cfg = FileConfig::load(&path);
    let _ = std::fs::remove_file(&path);
    cfg
}

fn write(json: &str) -> FileConfig {
    load(json).unwrap()
}

#[test]
fn an_mhrv_full_mode_config_maps_onto_relays_key_front_and_listeners() {
    let c = write(
        r#"{"mode":"full","script_ids":["AAA","BBB"],"auth_key":"secret","google_ip":"216.239.38.121",
            "front_domain":"mail.google.com","listen_host":"127.0.0.1","listen_port":8085,"socks5_port":1080,
            "request_timeout_secs":45,"log_level":"info","upstream_socks5":null}"#,
    );
    let relays = c.relays().unwrap();
    assert_eq!(relays.len(), 2);
    assert_eq!(relays[1].url, "https://script.google.com/macros/s/BBB/exec");
    assert_eq!(relays[1].front, Some("216.239.38.121".parse().unwrap()));
    assert_eq!(relays[1].sni.as_deref(), Some("mail.google.com"));
    assert_eq!(c.key().as_deref(), Some("secret"));
    assert_eq!(c.http().unwrap(), Some("127.0.0.1:8085".parse().unwrap()));
    assert_eq!(c.socks().unwrap(), Some("127.0.0.1:1080".parse().unwrap()));
    assert_eq!(c.request_timeout_secs, Some(45));
    assert_eq!(c.log_level.as_deref(), Some("info"));
    assert!(c.unknown_keys().is_empty(), "{:?}", c.unknown_keys());
    assert_eq!(c.ignored_mhrv_keys(), ["upstream_socks5"]);
}

#[test]
fn mhrv_defaults_fill_the_fronting_and_ports_it_leaves_out() {
    let c = write(r#"{"mode":"full","script_id":"X","auth_key":"k"}"#);
    let r = &c.relays().unwrap()[0];
    assert_eq!(r.front, Some(MHRV_GOOGLE_IP.parse().unwrap()));
    assert_eq!(r.sni.as_deref(), Some(MHRV_FRONT_DOMAIN));
    assert_eq!(c.http().unwrap(), Some("127.0.0.1:8085".parse().unwrap()));
    assert_eq!(c.socks().unwrap(), Some("127.0.0.1:8086".parse().unwrap()));
    let c = write(r#"{"mode":"full","script_id":"X","auth_key":"k","listen_port":9000}"#);
    assert_eq!(c.socks().unwrap(), Some("127.0.0.1:9001".parse().unwrap()));
    let c = write(r#"{"mode":"full","script_id":"X","auth_key":"k","listen_port":65535}"#);
    assert!(c.socks().unwrap_err().to_string().contains("socks5_port"));
}

#[test]
fn account_groups_give_each_deployment_its_groups_key() {
    let c = write(
        r#"{"mode":"full","auth_key":"top","script_id":"S0",
            "account_groups":[{"auth_key":"ka","script_ids":["A1","A2"]},
                              {"auth_key":"kb","script_ids":"B1","label":"x"},
                              {"script_ids":["C1","A1"]}]}"#,
    );
    let relays = c.relays().unwrap();
    let got: Vec<(&str, Option<&str>)> = relays
        .iter()
        .map(|r| (r.url.as_str(), r.key.as_deref()))
        .collect();
    let url = |id: &str| format!("https://script.google.com/macros/s/{id}/exec");
    assert_eq!(
        got,
        [
            (url("S0").as_str(), None),
            (url("A1").as_str(), Some("ka")),
            (url("A2").as_str(), Some("ka")),
            (url("B1").as_str(), Some("kb")),
            (url("C1").as_str(), None),
        ]
    );
    assert_eq!(c.unknown_keys(), ["account_groups[1].label"]);
}

#[test]
fn seqtun_names_need_no_mode_fronting_or_ports() {
    let c = write(r#"{"relays":["http://127.0.0.1:9"],"key":"k","socks":"127.0.0.1:0","depth":3}"#);
    let r = &c.relays().unwrap()[0];
    assert_eq!(r.endpoint, "http://127.0.0.1:9/tunnel/batch");
    assert_eq!((r.front, r.sni.as_deref()), (None, None));
    assert_eq!(c.http().unwrap(), None);
    assert_eq!(c.depth, Some(3));
}

#[test]
fn unknown_keys_are_named() {
    let c = write(
        r#"{"relays":["http://127.0.0.1:9"],"key":"k","sock":"127.0.0.1:1","block_quic":true}"#,
    );
    assert_eq!(c.unknown_keys(), ["sock"]);
    assert_eq!(c.ignored_mhrv_keys(), ["block_quic"]);
}

#[test]
fn absent_or_other_modes_and_bad_files_are_refused_with_the_fix() {
    let err = load(r#"{"mode":"apps_script","script_id":"X"}"#).unwrap_err();
    assert!(err.to_string().contains("\"mode\": \"full\""), "{err}");
    let err = load(r#"{"script_id":"X","auth_key":"k"}"#).unwrap_err();
    assert!(matches!(err, ConfigError::ModeAbsent { .. }), "{err}");
    assert!(err.to_string().contains("apps_script"), "{err}");
    assert!(err.to_string().contains("\"mode\": \"full\""), "{err}");
    assert!(matches!(
        load("{not json"),
        Err(ConfigError::ConfigFile { .. })
    ));
    assert!(FileConfig::load(Path::new("/nonexistent/seqtun.json")).is_err());
}
