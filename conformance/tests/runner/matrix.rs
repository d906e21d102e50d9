//! The compatibility matrix: the pairings PROTOCOL.md §11 predicts, a required cell that breaks
//! failing the matrix, a hung cell ending as a timeout, and the main job printing it last.

use std::time::Duration;

use seqtun_client::ClientFaults;
use seqtun_conform::matrix::exchange::Delivery;
use seqtun_conform::matrix::wire::Wire;
use seqtun_conform::matrix::{
    CELL_TIMEOUT, ClientSide, Matrix, NodeSide, render, run, standard_clients, standard_nodes,
};
use seqtun_conform::params::profile;
use seqtun_node::{Deployed, Faults};

use crate::support::{conform, report, text};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn matrix(clients: &[&str], nodes: &[NodeSide], limit: Duration) -> Matrix {
    let rows: Vec<_> = standard_clients()
        .into_iter()
        .filter(|c| clients.contains(&c.label.as_str()))
        .collect();
    assert_eq!(rows.len(), clients.len(), "unknown client label");
    rt().block_on(run(&profile("fast").unwrap(), &rows, nodes, limit))
}

fn expect(m: &Matrix, client: &str, node: &str, wire: Wire, ok: bool) {
    let c = m
        .cell(client, node)
        .unwrap_or_else(|| panic!("no cell {client} × {node}"));
    assert_eq!(
        (c.wire, c.delivery.is_ok()),
        (wire, ok),
        "{client} × {node}: {c:?}\n{}",
        render::text(m)
    );
}

const C903: &str = "seqtun-client (#903)";
const CLEGACY: &str = "seqtun-client --no-pipelining";
const C1115: &str = "#1115-like (seq, no wseq)";
const N903: &str = "seqtun-node (#903)";
const NLEGACY: &str = "seqtun-node --legacy";
const NMAIN: &str = "NODE-MAIN-like node";
const N903LIKE: &str = "NODE-903-like node";

#[test]
fn the_standard_matrix_shows_what_each_pairing_agrees_on() {
    let m = matrix(&[C903, CLEGACY, C1115], &standard_nodes(), CELL_TIMEOUT);
    expect(&m, C903, N903, Wire::Pipelined, true);
    expect(&m, C903, NLEGACY, Wire::Legacy, true);
    // No caps: a #903 client stays legacy even though this node would echo seq; its uploads
    // stay under the node's 2 MiB body limit (the stand-in has the deployed 32 MiB budget, so
    // its gap, E-1, is out of a cell's reach as it is in the field).
    expect(&m, C903, NMAIN, Wire::Legacy, true);
    // The deployed #903 node's divergences (2 MiB bodies, no poll preemption, ...) do not
    // break a seqtun client, nor three sessions uploading full ops at once.
    expect(&m, C903, N903LIKE, Wire::Pipelined, true);
    for node in [N903, NLEGACY, N903LIKE, NMAIN] {
        expect(&m, CLEGACY, node, Wire::Legacy, true);
    }
    // A #1115 client's seq is ordered by a #903 node (§11.3).
    expect(&m, C1115, N903, Wire::Pipelined, true);
    expect(&m, C1115, N903LIKE, Wire::Pipelined, true);
    // A legacy node drops seq; the client notices the missing echo and closes the session.
    expect(&m, C1115, NLEGACY, Wire::NoEcho, false);
    // Echoed without caps; whether the bytes survive is up to timing, so only the wire counts.
    assert_eq!(m.cell(C1115, NMAIN).unwrap().wire, Wire::EchoOnly);
    assert!(m.broken().is_empty(), "{}", render::text(&m));
    let text = render::text(&m);
    assert!(!text.contains("MATRIX FAILED"), "{text}");
    let lines: Vec<&str> = text.lines().skip_while(|l| l.is_empty()).collect();
    assert_eq!(lines[0], render::TITLE);
    for (i, client) in [C903, CLEGACY, C1115].iter().enumerate() {
        assert!(lines[2 + i].starts_with(client), "{text}");
    }
    assert!(lines[2].contains("pipelined ok*"), "{text}");
    assert!(lines.last().unwrap().contains("must work"), "{text}");
}

#[test]
fn a_required_cell_that_breaks_fails_the_matrix_and_says_why() {
    // A node that claims #903 (caps bit 0) but drops the echo: the client must give up.
    let broken = NodeSide {
        label: "seqtun-node without seq echo".into(),
        legacy: false,
        faults: Faults {
            no_seq_echo: true,
            ..Faults::default()
        },
        deployed: None,
        required: true,
    };
    let m = matrix(&[C903], &[broken], CELL_TIMEOUT);
    let c = &m.cells[0];
    assert_eq!(c.wire, Wire::NoEcho, "{c:?}");
    assert!(matches!(c.delivery, Delivery::Failed { .. }), "{c:?}");
    assert_eq!(m.broken().len(), 1);
    let text = render::text(&m);
    assert!(
        text.lines().last().unwrap().starts_with(
            "MATRIX FAILED: seqtun-client (#903) × seqtun-node without seq echo must work"
        ),
        "{text}"
    );
    assert!(text.contains("no-echo FAILED* [1]"), "{text}");
}

#[test]
fn a_cell_that_cannot_finish_in_time_is_a_timeout_not_a_hang() {
    // Four echo rounds, 256 KiB and three 2 MiB uploads each way, one relay round trip per op
    // of a legacy loop, cannot fit in 20 ms.
    let m = matrix(
        &[CLEGACY],
        &standard_nodes()[..1],
        Duration::from_millis(20),
    );
    assert_eq!(m.cells[0].delivery, Delivery::Timeout { ms: 20 });
    assert!(m.cells[0].broken());
    let text = render::text(&m);
    assert!(text.contains("TIMEOUT* [1]"), "{text}");
    assert!(
        text.contains(
            "[1] seqtun-client --no-pipelining × seqtun-node (#903): no result within 20 ms"
        ),
        "{text}"
    );
}

/// `--matrix-only` runs the matrix without the cases, prints it and adds it to the JSON and
/// HTML reports (the page is rendered in headless Chromium).
#[test]
fn the_main_job_prints_the_matrix_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let out = conform(&[
        "--matrix-only",
        "--report-json",
        json.to_str().unwrap(),
        "--report-html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l == render::TITLE), "{stdout}");
    assert!(
        stdout.contains("* = must work, else the run fails"),
        "{stdout}"
    );
    assert!(!stdout.contains("running"), "no case ran: {stdout}");
    let report = report(&json);
    let cells = report["matrix"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 12, "{report}");
    assert_eq!(report["matrix"]["broken"], 0);
    assert!(report["cases"].is_array(), "the case report is still there");
    crate::html::matrix_renders(&html);
}

/// The break the field run found (seqtun-client's uploads through both deployed nodes), which
/// the matrix missed while its columns were seqtun-only: the client before the body cap fails
/// against the NODE-903-like and NODE-MAIN-like columns, the client with it does not.
#[test]
fn the_matrix_shows_the_upload_break_before_the_body_cap_and_not_after() {
    let fixed = standard_clients().remove(0);
    let before = ClientSide {
        label: "seqtun-client before the body cap".into(),
        faults: ClientFaults {
            ignore_body_limit: true,
            ..ClientFaults::default()
        },
        ..fixed.clone()
    };
    let nodes = [
        NodeSide::standin(Deployed::Node903),
        NodeSide::standin(Deployed::NodeMain),
    ];
    let m = rt().block_on(run(
        &profile("fast").unwrap(),
        &[before, fixed],
        &nodes,
        CELL_TIMEOUT,
    ));
    let text = render::text(&m);
    for node in [N903LIKE, NMAIN] {
        let broken = m.cell("seqtun-client before the body cap", node).unwrap();
        assert!(
            matches!(&broken.delivery, Delivery::Failed { reason } if reason.contains("upload")),
            "{node}: {text}"
        );
        assert!(text.contains(node), "{text}");
    }
    expect(&m, C903, N903LIKE, Wire::Pipelined, true);
    expect(&m, C903, NMAIN, Wire::Legacy, true);
}
