//! `seqtun-conform client`: a client started from a command template for each case, probed for
//! its dialect first.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::ClientArgs;
use crate::client::ClientTarget;
use crate::client::launch::Launcher;
use crate::console::Console;
use crate::report::model::TargetInfo;
use crate::target::features;

use super::session::{Session, Targets};
use super::setup;

pub fn run(rt: &tokio::runtime::Runtime, args: &ClientArgs, console: Arc<Console>) -> ExitCode {
    super::session::mark_start();
    let common = &args.common;
    let params = match setup::params(&args.profile, &args.params) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if common.list_params {
        setup::list_params(&console, &args.profile, &params, "");
        return ExitCode::SUCCESS;
    }
    let cases = match setup::load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let launcher = Launcher::Command(args.cmd.clone());
    let (socks, http_front) = launcher.offers();
    if !socks && !http_front {
        return setup::error(
            "--cmd has neither {socks} nor {http}: the runner needs a front end to play the app"
                .into(),
        );
    }
    let expect = match setup::outputs(common, &cases) {
        Ok(e) => e,
        Err(code) => return code,
    };
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
    let probed = rt.block_on(probe(target, &args.no_features, &console, &args.profile));
    let (target, info) = match probed {
        Ok(p) => p,
        Err(code) => return code,
    };
    let session = Session::new(rt, console, common, &cases, expect);
    let targets = Targets {
        nodes: Vec::new(),
        clients: vec![Arc::new(target)],
        infos: vec![info],
    };
    session.run(targets, None)
}

/// Probes a client's dialect and settles its features; a client that does not start is a
/// setup error.
pub async fn probe(
    mut t: ClientTarget,
    denied: &[String],
    console: &Console,
    profile: &str,
) -> Result<(ClientTarget, TargetInfo), ExitCode> {
    let dialect = crate::client::detect(&t)
        .await
        .map_err(|e| setup::error(format!("target {}: the dialect probe failed: {e}", t.label)))?;
    let mut info = super::settle(
        console,
        (&t.label, "client"),
        (dialect.describe(), dialect.short(), dialect.features()),
        denied,
        &mut t.features,
        &t.params,
    );
    info.in_process = matches!(t.launcher, Launcher::InProcess(_));
    info.profile = profile.into();
    Ok((t, info))
}
