//! What the binary does: set up targets, probe their dialects, run the trials, write reports
//! and choose the exit code (non-zero on any must-level failure or unexpected result).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::case::{Case, load_dir};
use crate::cli::{Cli, ClientArgs, Cmd, Common, NodeArgs};
use crate::client::ClientTarget;
use crate::client::launch::Launcher;
use crate::http::Http;
use crate::node::detect;
use crate::report::json::TargetInfo;
use crate::results::CaseResult;
use crate::target::{NodeTarget, features};
use crate::verdict::Grade;

/// Exit code for a usage or setup error (bad flags, unreadable vectors, target unreachable).
pub const EXIT_SETUP: u8 = 2;

pub fn main_with(cli: Cli) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return setup_error(format!("cannot start the async runtime: {e}")),
    };
    match cli.cmd {
        None => run_builtin(&rt, &cli.common),
        Some(Cmd::Node(args)) => run_node(&rt, &args),
        Some(Cmd::Client(args)) => run_client(&rt, &args),
        Some(Cmd::Completions { shell }) => {
            seqtun_runtime::completions::print(<Cli as clap::CommandFactory>::command(), shell);
            ExitCode::SUCCESS
        }
    }
}

fn setup_error(msg: String) -> ExitCode {
    eprintln!("seqtun-conform: {msg}");
    ExitCode::from(EXIT_SETUP)
}

fn load(common: &Common) -> Result<Vec<Case>, ExitCode> {
    if common.list_params {
        for (k, what) in crate::params::KNOWN {
            println!("{k:<24} {what}");
        }
        return Err(ExitCode::SUCCESS);
    }
    let (dir, source) = crate::vectors_dir::find(common.vectors.as_deref());
    load_dir(&dir).map_err(|e| {
        setup_error(format!(
            "{e} (found by {}; point --vectors or SEQTUN_VECTORS at the vectors/ directory, or put it next to the binary)",
            source.describe()
        ))
    })
}

fn run_builtin(rt: &tokio::runtime::Runtime, common: &Common) -> ExitCode {
    let cases = match load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(params) = crate::params::profile("fast") else {
        return setup_error("the fast profile is missing".into());
    };
    let http = Http::new(Duration::from_secs(common.request_timeout));
    let started = rt.block_on(async {
        let pipelined = crate::builtin::start_node("seqtun-node", &params, false).await?;
        let legacy = crate::builtin::start_node("seqtun-node-legacy", &params, true).await?;
        let relayed =
            crate::builtin::relay::start_node_behind_relay("seqtun-node-via-relay", &params)
                .await?;
        Ok::<_, std::io::Error>(vec![pipelined, legacy, relayed])
    });
    let nodes = match started {
        Ok(n) => n,
        Err(e) => return setup_error(format!("cannot start the reference nodes on loopback: {e}")),
    };
    let mut targets = Vec::new();
    let mut infos = Vec::new();
    for n in &nodes {
        let (t, info) = match rt.block_on(probe_node(n.target.clone(), &http, &[])) {
            Ok(probed) => probed,
            Err(code) => return code,
        };
        targets.push(Arc::new(t));
        infos.push(info);
    }
    let mut clients = Vec::new();
    for t in crate::builtin::client_targets(&params) {
        let (t, info) = rt.block_on(probe_client(t, &[]));
        clients.push(Arc::new(t));
        infos.push(info);
    }
    let code = run_trials(rt, &cases, &targets, &clients, &http, common, &infos);
    rt.block_on(async {
        for n in nodes {
            n.shutdown().await;
        }
    });
    crate::matrix::after_builtin(rt, &params, common, code)
}

/// Probes a node's dialect and settles its features: base features as given, plus what the
/// dialect implies, minus what the user denied.
async fn probe_node(
    mut t: NodeTarget,
    http: &Http,
    denied: &[String],
) -> Result<(NodeTarget, TargetInfo), ExitCode> {
    let dialect = detect(&t, http).await.map_err(|e| {
        setup_error(format!(
            "nothing answered the dialect probe: {e} (is the node running, and are --url / \
             --relay-url and the port right?)"
        ))
    })?;
    for f in dialect.features() {
        t.features.insert((*f).to_string());
    }
    for f in denied {
        t.features.remove(f);
    }
    println!("target {}: {}", t.label, dialect.describe());
    let info = TargetInfo {
        label: t.label.clone(),
        role: "node",
        dialect: dialect.describe(),
        features: t.features.iter().cloned().collect(),
        params: t.params.clone(),
    };
    Ok((t, info))
}

fn run_node(rt: &tokio::runtime::Runtime, args: &NodeArgs) -> ExitCode {
    let common = &args.common;
    let cases = match load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let profile = args
        .profile
        .as_deref()
        .unwrap_or(crate::params::DEFAULT_PROFILE);
    let Some(mut params) = crate::params::profile(profile) else {
        return setup_error(format!(
            "unknown --profile {profile} (use one of {})",
            crate::params::PROFILES.join(", ")
        ));
    };
    if let Err(e) = crate::params::apply(&mut params, &args.params) {
        return setup_error(e.to_string());
    }
    let (url, via) = match (&args.url, &args.relay_url) {
        (Some(u), None) => (u.trim_end_matches('/').to_string(), features::DIRECT),
        (None, Some(r)) => (r.clone(), features::VIA_RELAY),
        _ => {
            return setup_error(
                "give exactly one of --url (a node) or --relay-url (a relay in front of one)"
                    .into(),
            );
        }
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
    let target = NodeTarget {
        label: args.label.clone().unwrap_or_else(|| url.clone()),
        url: url.clone(),
        relay_url: args.relay_url.clone(),
        key: args.key.clone(),
        diagnostic_url: args.diagnostic_url.clone(),
        features: feats,
        params,
        fixture_ip: args.fixture_addr,
    };
    let http = Http::new(Duration::from_secs(common.request_timeout));
    let (mut target, mut info) = match rt.block_on(probe_node(target, &http, &args.no_features)) {
        Ok(probed) => probed,
        Err(code) => return code,
    };
    // After the dialect: the long-poll picks the profile, unless the user chose (§5.3).
    let chosen = args.profile.is_some()
        || args
            .params
            .iter()
            .any(|p| p.starts_with("longpoll_deadline="));
    if chosen || common.test.list {
        let how = if args.profile.is_some() {
            "as given"
        } else {
            "long-poll as given by --param"
        };
        println!("target {}: profile {profile}, {how}", target.label);
    } else {
        let line = rt.block_on(crate::node::longpoll::fit(&mut target, &http, &args.params));
        println!("target {}: {line}", target.label);
        info.params = target.params.clone();
    }
    run_trials(rt, &cases, &[Arc::new(target)], &[], &http, common, &[info])
}

fn run_client(rt: &tokio::runtime::Runtime, args: &ClientArgs) -> ExitCode {
    let common = &args.common;
    let cases = match load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(mut params) = crate::params::profile(&args.profile) else {
        return setup_error(format!(
            "unknown --profile {} (use one of {})",
            args.profile,
            crate::params::PROFILES.join(", ")
        ));
    };
    if let Err(e) = crate::params::apply(&mut params, &args.params) {
        return setup_error(e.to_string());
    }
    let launcher = Launcher::Command(args.cmd.clone());
    let (socks, http_front) = launcher.offers();
    if !socks && !http_front {
        return setup_error(
            "--cmd has neither {socks} nor {http}: the runner needs a front end to play the app"
                .into(),
        );
    }
    let mut feats: BTreeSet<String> = [features::CONNECT_DATA, features::HALF_CLOSE]
        .into_iter()
        .map(String::from)
        .collect();
    if socks {
        feats.insert(features::SOCKS5.into());
    }
    if http_front {
        feats.insert(features::HTTP_CONNECT.into());
    }
    feats.insert(
        if args.outer {
            features::VIA_RELAY
        } else {
            features::DIRECT
        }
        .to_string(),
    );
    feats.extend(args.features.iter().cloned());
    let target = ClientTarget {
        label: args.label.clone().unwrap_or_else(|| {
            args.cmd
                .split_whitespace()
                .next()
                .unwrap_or("client")
                .to_string()
        }),
        launcher,
        key: args.key.clone(),
        outer: args.outer,
        features: feats,
        params,
    };
    let (target, info) = rt.block_on(probe_client(target, &args.no_features));
    let http = Http::new(Duration::from_secs(common.request_timeout));
    run_trials(rt, &cases, &[], &[Arc::new(target)], &http, common, &[info])
}

/// Probes a client's dialect and settles its features.
async fn probe_client(mut t: ClientTarget, denied: &[String]) -> (ClientTarget, TargetInfo) {
    let dialect = crate::client::detect(&t).await;
    for f in dialect.features() {
        t.features.insert((*f).to_string());
    }
    for f in denied {
        t.features.remove(f);
    }
    println!("target {}: {}", t.label, dialect.describe());
    let info = TargetInfo {
        label: t.label.clone(),
        role: "client",
        dialect: dialect.describe(),
        features: t.features.iter().cloned().collect(),
        params: t.params.clone(),
    };
    (t, info)
}

fn run_trials(
    rt: &tokio::runtime::Runtime,
    cases: &[Case],
    nodes: &[Arc<NodeTarget>],
    clients: &[Arc<ClientTarget>],
    http: &Http,
    common: &Common,
    infos: &[TargetInfo],
) -> ExitCode {
    let results: crate::run::Results = Arc::new(Mutex::new(Vec::new()));
    let set = crate::run::TrialSet {
        rt: rt.handle(),
        args: &common.test,
        strict: common.strict,
        results: &results,
        prefixed: nodes.len() + clients.len() > 1,
    };
    let mut trials = set.node(cases, nodes, http);
    trials.extend(set.client(cases, clients));
    let _ = libtest_mimic::run(&common.test, trials);
    if common.test.list {
        return ExitCode::SUCCESS;
    }
    let mut results: Vec<CaseResult> = results.lock().map(|r| r.clone()).unwrap_or_default();
    results.sort_by(|a, b| a.name.cmp(&b.name));
    finish(infos, &results, common)
}

fn finish(infos: &[TargetInfo], results: &[CaseResult], common: &Common) -> ExitCode {
    print!("{}", crate::report::summary::render(infos, results));
    if let Some(p) = &common.report_json
        && let Err(e) = crate::report::json::write(p, infos, results, common.strict)
    {
        return setup_error(format!("cannot write {}: {e}", p.display()));
    }
    if let Some(p) = &common.junit
        && let Err(e) = crate::report::junit::write(p, results)
    {
        return setup_error(format!("cannot write {}: {e}", p.display()));
    }
    let failed = results.iter().filter(|r| r.grade == Grade::Failed).count();
    if let Some(p) = &common.expect {
        let expected = match crate::report::expect::load(p) {
            Ok(e) => e,
            Err(e) => return setup_error(e.to_string()),
        };
        for name in crate::report::expect::unused(results, &expected) {
            println!("warning: {name} is listed in --expect but did not run");
        }
        let surprises = crate::report::expect::surprises(results, &expected);
        for s in &surprises {
            println!("UNEXPECTED {s}");
        }
        println!(
            "{} unexpected result(s) against {}",
            surprises.len(),
            p.display()
        );
        return if surprises.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
