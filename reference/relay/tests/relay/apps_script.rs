//! `apps-script/Relay.gs`, the script users deploy, run for real: Node.js executes it under
//! a shim of the Apps Script services it uses, in front of a live seqtun-node. Skipped, with
//! the reason printed, when Node.js is not installed (CI installs it).

use std::process::Stdio;
use std::time::Duration;

use seqtun_node::{NodeConfig, NodeHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::common::*;

const SERVE_JS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/apps-script/test/serve.js");

/// Relay.gs served by Node.js; the child dies with this value.
struct Gs {
    url: String,
    _child: Child,
}

async fn node() -> NodeHandle {
    seqtun_node::spawn(NodeConfig::new(NODE_KEY), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Starts Relay.gs with the given settings; `None` (after saying why) without Node.js.
async fn start_gs(node_url: &str, relay_key: Option<&str>, diagnostic: bool) -> Option<Gs> {
    start_gs_with(node_url, relay_key, diagnostic, None).await
}

/// The same, with `paste` (script text) run before Relay.gs in the same project.
async fn start_gs_with(
    node_url: &str,
    relay_key: Option<&str>,
    diagnostic: bool,
    paste: Option<&str>,
) -> Option<Gs> {
    let Some(program) = node_js() else {
        eprintln!("skipped: node (Node.js) is not installed; CI installs it via .ci/run");
        return None;
    };
    let mut cmd = Command::new(program);
    cmd.arg(SERVE_JS)
        .env("GS_NODE_URL", node_url)
        .env("GS_DIAGNOSTIC", diagnostic.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if let Some(key) = relay_key {
        cmd.env("GS_RELAY_KEY", key).env("GS_NODE_KEY", NODE_KEY);
    }
    if let Some(paste) = paste {
        cmd.env("GS_PASTE", paste);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve.js did not start")
        .unwrap()
        .unwrap_or_default();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    Some(Gs {
        url: format!("http://{addr}/macros/s/{DEP}/exec"),
        _child: child,
    })
}

async fn call(url: &str, body: &str) -> Answer {
    post(&http(), url, body.to_owned()).await.unwrap()
}

async fn json_call(url: &str, body: Value) -> Value {
    call(url, &body.to_string()).await.json()
}

#[tokio::test]
async fn batch_connect_data_close_round_trip() {
    let node = node().await;
    let Some(gs) = start_gs(&node.url(), Some(RELAY_KEY), false).await else {
        return;
    };
    let up = echo().await;
    let batch = |ops: Value| json!({"k": RELAY_KEY, "t": "batch", "ops": ops});
    let v = json_call(
        &gs.url,
        batch(json!([{"op":"connect","host":"127.0.0.1","port":up.port()}])),
    )
    .await;
    let sid = v["r"][0]["sid"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned();
    assert_eq!(v["r"][0]["caps"], json!(node.state.rules.caps), "{v}");
    let v = json_call(
        &gs.url,
        batch(json!([{"op":"data","sid":sid,"seq":0,"d":b64(b"through apps script")}])),
    )
    .await;
    assert_eq!(d(&v["r"][0]), b"through apps script", "{v}");
    assert_eq!(v["r"][0]["seq"], 0, "seq must pass the batch path: {v}");
    let v = json_call(&gs.url, batch(json!([{"op":"close","sid":sid}]))).await;
    assert_eq!(v["r"][0]["eof"], true, "{v}");
    assert_eq!(node.state.table.len(), 0);
}

#[tokio::test]
async fn single_op_connect_data_close_round_trip() {
    let node = node().await;
    let Some(gs) = start_gs(&node.url(), Some(RELAY_KEY), false).await else {
        return;
    };
    let up = echo().await;
    let k = RELAY_KEY;
    let v = json_call(
        &gs.url,
        json!({"k":k,"t":"connect","h":"127.0.0.1","p":up.port()}),
    )
    .await;
    let sid = v["sid"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned();
    let v = json_call(
        &gs.url,
        json!({"k":k,"t":"data","sid":sid,"d":b64(b"single")}),
    )
    .await;
    assert_eq!(d(&v), b"single", "{v}");
    let v = json_call(&gs.url, json!({"k":k,"t":"close","sid":sid})).await;
    assert_eq!(v["eof"], true, "{v}");
    assert_eq!(node.state.table.len(), 0);
}

#[tokio::test]
async fn wrong_key_get_and_unset_keys_get_the_decoy() {
    let node = node().await;
    let Some(gs) = start_gs(&node.url(), Some(RELAY_KEY), false).await else {
        return;
    };
    let a = call(&gs.url, r#"{"k":"wrong","t":"batch","ops":[]}"#).await;
    assert!(a.is_decoy(), "{} {}", a.status, a.text());
    assert!(get(&http(), &gs.url).await.unwrap().is_decoy());
    assert!(call(&gs.url, "not json").await.is_decoy());

    let Some(diag) = start_gs(&node.url(), Some(RELAY_KEY), true).await else {
        return;
    };
    let a = call(&diag.url, r#"{"k":"wrong","t":"batch","ops":[]}"#).await;
    assert_eq!(a.text(), r#"{"e":"unauthorized"}"#);

    // As pasted, before the settings are edited: it must not relay anything.
    let Some(unset) = start_gs(&node.url(), None, true).await else {
        return;
    };
    let a = call(&unset.url, r#"{"k":"CHANGE_ME","t":"batch","ops":[]}"#).await;
    let e = a.json()["e"].as_str().unwrap().to_owned();
    assert!(e.contains("RELAY_KEY and NODE_KEY are not set"), "{e}");
}

/// The emulator claims to behave as the relay script; this holds it to that, request by
/// request, against the same node.
#[tokio::test]
async fn the_emulator_answers_as_the_script_does() {
    let c = plain().await;
    let Some(gs) = start_gs(&c.node.url(), Some(RELAY_KEY), false).await else {
        return;
    };
    let Some(gs_diag) = start_gs(&c.node.url(), Some(RELAY_KEY), true).await else {
        return;
    };
    let diag = seqtun_relay::spawn({
        let mut cfg = seqtun_relay::RelayConfig::new(c.node.url(), NODE_KEY, RELAY_KEY);
        cfg.diagnostic = true;
        cfg
    })
    .await
    .unwrap();
    let k = RELAY_KEY;
    let cases = [
        json!({"k":k,"t":"batch","ops":[{"op":"close","sid":"fixed"}]}).to_string(),
        r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"gone","seq":9007199254740993}]}"#.into(),
        r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"gone","seq":1e21}]}"#.into(),
        r#"{"k":"relay-key","t":"batch","ops":[{"op":"data","sid":"gone","x":{"b":1,"2":0,"a":[1.0,-0]}}]}"#.into(),
        json!({"k":k,"t":"batch"}).to_string(),
        json!({"k":k,"t":"batch","ops":null}).to_string(),
        json!({"k":k,"t":"batch","ops":{"op":"close"}}).to_string(),
        json!({"k":k,"t":"batch","ops":[{"op":"frobnicate"}]}).to_string(),
        json!({"k":k,"t":"udp_open","h":"127.0.0.1","p":53}).to_string(),
        json!({"k":k,"t":7}).to_string(),
        json!({"k":k,"t":"close","sid":"fixed","seq":3}).to_string(),
        json!({"k":k,"t":"data","sid":"gone","d":""}).to_string(),
        json!({"k":k,"t":"connect","h":"127.0.0.1"}).to_string(),
        json!({"k":k}).to_string(),
        json!({"k":"wrong","t":"batch","ops":[]}).to_string(),
        json!({"t":"batch","ops":[]}).to_string(),
        "[]".into(),
        "null".into(),
    ];
    for body in &cases {
        let ours = call(&c.relay.url_for(DEP), body).await;
        let theirs = call(&gs.url, body).await;
        assert_eq!(
            ours.is_decoy(),
            theirs.is_decoy(),
            "{body}: {} vs {}",
            ours.text(),
            theirs.text()
        );
        if !ours.is_decoy() {
            assert_eq!(ours.text(), theirs.text(), "{body}");
        }
        let ours = call(&diag.url_for(DEP), body).await;
        let theirs = call(&gs_diag.url, body).await;
        assert_eq!(ours.text(), theirs.text(), "diagnostic: {body}");
    }
}

#[tokio::test]
async fn pasted_mhrv_settings_work_and_relay_gs_names_win_where_set() {
    let node = node().await;
    // Everything from CodeFull.gs; Relay.gs's own settings left as shipped.
    let paste = format!(
        "const AUTH_KEY = 'mhrv-key'; const TUNNEL_SERVER_URL = '{}'; \
         const TUNNEL_AUTH_KEY = '{NODE_KEY}'; const DIAGNOSTIC_MODE = true;",
        node.url()
    );
    let Some(gs) = start_gs_with("http://203.0.113.7:8080", None, false, Some(&paste)).await else {
        return;
    };
    let close = |k: &str| json!({"k": k, "t": "batch", "ops": [{"op":"close","sid":"s"}]});
    assert_eq!(
        json_call(&gs.url, close("mhrv-key")).await,
        json!({"r":[{"sid":"s","eof":true}]})
    );
    assert_eq!(
        json_call(&gs.url, close("other")).await,
        json!({"e":"unauthorized"}),
        "DIAGNOSTIC_MODE turns diagnostic answers on"
    );
    drop(gs);
    // RELAY_KEY set in Relay.gs wins over a pasted AUTH_KEY.
    let Some(gs) = start_gs_with(&node.url(), Some(RELAY_KEY), true, Some(&paste)).await else {
        return;
    };
    assert_eq!(
        json_call(&gs.url, close(RELAY_KEY)).await,
        json!({"r":[{"sid":"s","eof":true}]})
    );
    assert_eq!(
        json_call(&gs.url, close("mhrv-key")).await,
        json!({"e":"unauthorized"})
    );
}
