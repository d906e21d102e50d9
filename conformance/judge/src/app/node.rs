//! `seqtun-conform node`: one or more nodes (or relays in front of them) started by someone
//! else, each probed for its dialect and long-poll before any case runs.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::NodeArgs;
use crate::console::Console;
use crate::console::select::{Plan, Planned};
use crate::http::Http;
use crate::params::DEFAULT_PROFILE;
use crate::report::model::TargetInfo;
use crate::target::{NodeTarget, features};

use super::session::{Session, Targets};
use super::setup;

/// How long one exchange of the dialect probe may take: every probe request is answered at
/// once by a working node, so a target that does not answer fails the run here, not after each
/// case has waited its request timeout.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

pub fn run(rt: &tokio::runtime::Runtime, args: &NodeArgs, console: Arc<Console>) -> ExitCode {
    super::session::mark_start();
    let common = &args.common;
    let profile = args.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let params = match setup::params(profile, &args.params) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if common.list_params {
        let note = if args.profile.is_some() {
            ""
        } else {
            " (the default; without --profile the runner measures each node's long-poll)"
        };
        setup::list_params(&console, profile, &params, note);
        return ExitCode::SUCCESS;
    }
    let cases = match setup::load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let urls: Vec<(String, bool)> = args
        .url
        .iter()
        .map(|u| (u.trim_end_matches('/').to_string(), false))
        .chain(args.relay_url.iter().map(|r| (r.clone(), true)))
        .collect();
    if urls.is_empty() && common.test.list {
        return list_without_target(&console, &cases, &common.test);
    }
    let built = match build(args, &urls, params) {
        Ok(t) => t,
        Err(msg) => return setup::error(msg),
    };
    let expect = match setup::outputs(common, &cases) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let session = Session::new(rt, Arc::clone(&console), common, &cases, expect);
    let mut targets = Targets::default();
    for t in built {
        match rt.block_on(probe(t, args, &session.http, &console)) {
            Ok((t, info)) => {
                targets.nodes.push(Arc::new(t));
                targets.infos.push(info);
            }
            Err(code) => return code,
        }
    }
    session.run(targets, None)
}

/// `node --list` without a target: every node case with its level and title.
fn list_without_target(
    console: &Console,
    cases: &[crate::case::Case],
    args: &crate::cli::TestArgs,
) -> ExitCode {
    let all: Vec<Planned> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.file.role == crate::case::Role::Node)
        .map(|(i, c)| Planned {
            name: c.id.clone(),
            id: c.id.clone(),
            target_label: String::new(),
            target: crate::console::select::TargetRef::Node(0),
            case: i,
            level: c.file.level,
            title: c.file.title.clone(),
            skip: None,
            estimate: Duration::ZERO,
            quick: None,
        })
        .collect();
    let plan: Plan = match crate::console::select::choose(all, args) {
        Ok(p) => p,
        Err(e) => return setup::error(e.to_string()),
    };
    crate::console::list::print(console, &plan, false);
    ExitCode::SUCCESS
}

/// One target per URL, with its key and label.
fn build(
    args: &NodeArgs,
    urls: &[(String, bool)],
    params: crate::expr::Params,
) -> Result<Vec<NodeTarget>, String> {
    if urls.is_empty() {
        return Err("give a target: --url (a node) or --relay-url (a relay in front of one), each repeatable".into());
    }
    let n = urls.len();
    let pick = |list: &[String], what: &str, i: usize| -> Result<Option<String>, String> {
        match list.len() {
            0 => Ok(None),
            1 => Ok(Some(list[0].clone())),
            m if m == n => Ok(Some(list[i].clone())),
            m => Err(format!(
                "{m} {what} for {n} targets: give one for all, or one per target in the order --url then --relay-url"
            )),
        }
    };
    if n > 1 && args.diagnostic_url.is_some() {
        return Err("--diagnostic-url works with one target only".into());
    }
    let mut out = Vec::new();
    for (i, (url, relay)) in urls.iter().enumerate() {
        let key = pick(&args.key, "--key values", i)?.ok_or(
            "no key: pass --key (or set SEQTUN_KEY) with the key the node (or the relay, with --relay-url) checks",
        )?;
        let label = match pick(&args.label, "--label values", i)? {
            Some(l) if args.label.len() == n => l,
            _ => url.clone(),
        };
        out.push(target(args, url, *relay, key, label, params.clone()));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = out.iter().find(|t| !seen.insert(t.label.clone())) {
        return Err(format!(
            "two targets are labelled {}: give each its own --label",
            dup.label
        ));
    }
    Ok(out)
}

fn target(
    args: &NodeArgs,
    url: &str,
    relay: bool,
    key: String,
    label: String,
    params: crate::expr::Params,
) -> NodeTarget {
    let via = if relay {
        features::VIA_RELAY
    } else {
        features::DIRECT
    };
    let mut feats: BTreeSet<String> = [features::UDP, features::SINGLE_OP, features::GZIP, via]
        .into_iter()
        .map(String::from)
        .collect();
    feats.insert(
        if args.diagnostic {
            features::DIAGNOSTIC
        } else {
            features::DECOY_404
        }
        .to_string(),
    );
    if args.diagnostic_url.is_some() {
        feats.insert(features::DIAGNOSTIC.to_string());
    }
    feats.extend(args.features.iter().cloned());
    NodeTarget {
        label,
        url: url.to_string(),
        relay_url: relay.then(|| url.to_string()),
        key,
        diagnostic_url: args.diagnostic_url.clone(),
        features: feats,
        params,
        fixture_ip: args.fixture_addr,
        in_process: false,
    }
}

/// Probes one node's dialect, then (unless the user chose) its long-poll, and says what it
/// found. A failed probe is a setup error: nothing after it could be trusted.
async fn probe(
    t: NodeTarget,
    args: &NodeArgs,
    http: &Http,
    console: &Console,
) -> Result<(NodeTarget, TargetInfo), ExitCode> {
    let (mut t, mut info) = probe_dialect(t, http, &args.no_features, console).await?;
    let chosen = args.profile.is_some()
        || args
            .params
            .iter()
            .any(|p| p.starts_with("longpoll_deadline="));
    let profile = args.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    if chosen || args.common.test.list {
        let how = if args.profile.is_some() {
            "as given"
        } else {
            "long-poll as given by --param"
        };
        console.line(&format!("target {}: profile {profile}, {how}", t.label));
        info.profile = profile.to_string();
    } else {
        let (line, picked) = crate::node::longpoll::fit(&mut t, http, &args.params).await;
        console.line(&format!("target {}: {line}", t.label));
        info.params = t.params.clone();
        info.profile = picked;
    }
    Ok((t, info))
}

/// Probes a node's dialect and settles its features: base features as given, plus what the
/// dialect implies, minus what the user denied.
pub async fn probe_dialect(
    mut t: NodeTarget,
    http: &Http,
    denied: &[String],
    console: &Console,
) -> Result<(NodeTarget, TargetInfo), ExitCode> {
    let dialect = crate::node::detect(&t, &http.at_most(PROBE_TIMEOUT))
        .await
        .map_err(|e| setup::error(format!("target {}: {e}", t.label)))?;
    let mut info = super::settle(
        console,
        (&t.label, "node"),
        (dialect.describe(), dialect.short(), dialect.features()),
        denied,
        &mut t.features,
        &t.params,
    );
    info.url = Some(t.relay_url.clone().unwrap_or_else(|| t.url.clone()));
    info.in_process = t.in_process;
    Ok((t, info))
}
