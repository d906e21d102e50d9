//! The main job: every vector against the in-process reference node (pipelined, `--legacy`,
//! behind seqtun-relay) and client (pipelined, through an Apps Script URL, `--no-pipelining`),
//! then the compatibility matrix.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::Cli;
use crate::console::Console;

use super::session::{After, Session, Targets};
use super::setup;

pub fn run(rt: &tokio::runtime::Runtime, cli: &Cli, console: Arc<Console>) -> ExitCode {
    let common = &cli.common;
    super::session::mark_start();
    let params = match setup::params("fast", &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if common.list_params {
        setup::list_params(
            &console,
            "fast",
            &params,
            " (the built-in targets run with it)",
        );
        console.line(&format!(
            "\nseqtun-node with these values: seqtun-node --key KEY {}",
            crate::builtin::node_flags(&params)
        ));
        return ExitCode::SUCCESS;
    }
    let cases = match setup::load(common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let expect = match setup::outputs(common, &cases) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut session = Session::new(rt, Arc::clone(&console), common, &cases, expect);
    session.compare_differences = true;
    if cli.matrix_only {
        return session.matrix_only(Box::new(|console: &Console| {
            Some(crate::matrix::after_builtin(rt, &params, console))
        }));
    }
    let (nodes, targets) = match rt.block_on(start(&params, &session.http, &console)) {
        Ok(started) => started,
        Err(code) => return code,
    };
    // A filter or a listing asks for particular cases; the matrix is for the whole job, unless
    // --matrix asks for it.
    let matrix = !common.test.list && (common.test.filters.is_empty() || cli.matrix);
    let after: Option<After<'_>> = matrix.then(|| -> After<'_> {
        let params = params.clone();
        Box::new(move |console: &Console| Some(crate::matrix::after_builtin(rt, &params, console)))
    });
    let code = session.run(targets, after);
    rt.block_on(async {
        for n in nodes {
            n.shutdown().await;
        }
    });
    code
}

/// Starts the in-process nodes and probes them and the in-process clients, as any target is.
async fn start(
    params: &crate::expr::Params,
    http: &crate::http::Http,
    console: &Console,
) -> Result<(Vec<crate::builtin::BuiltinNode>, Targets), ExitCode> {
    let started = async {
        let pipelined = crate::builtin::start_node("seqtun-node", params, false).await?;
        let legacy = crate::builtin::start_node("seqtun-node-legacy", params, true).await?;
        let relayed =
            crate::builtin::relay::start_node_behind_relay("seqtun-node-via-relay", params).await?;
        Ok::<_, std::io::Error>(vec![pipelined, legacy, relayed])
    };
    let nodes = started
        .await
        .map_err(|e| setup::error(format!("cannot start the reference nodes on loopback: {e}")))?;
    let mut targets = Targets::default();
    for n in &nodes {
        let (t, mut info) =
            super::node::probe_dialect(n.target.clone(), http, &[], console).await?;
        info.profile = "fast".into();
        targets.nodes.push(Arc::new(t));
        targets.infos.push(info);
    }
    for t in crate::builtin::client_targets(params) {
        let (t, info) = super::client::probe(t, &[], console, "fast").await?;
        targets.clients.push(Arc::new(t));
        targets.infos.push(info);
    }
    Ok((nodes, targets))
}
