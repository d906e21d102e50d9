//! The compatibility matrix the main job prints last: each client dialect against each node
//! dialect, through `seqtun-relay`, with real bytes.
//!
//! The vectors test one implementation at a time against the runner; they cannot show what
//! happens when two real peers of different dialects meet, which is what users actually run
//! (PROTOCOL.md §11). Each cell therefore wires up a real client, relay and node, moves bytes
//! through them, and reports two things: what the pair agreed on, judged from the raw JSON a
//! runner-owned tap recorded between relay and node (never from the reference's types), and
//! whether every byte arrived exactly.
//!
//! The #1115-like client sends `seq` but no `wseq`, so a NODE-MAIN-like node writes its ops in
//! arrival order, as a real #1115 node does with ops that lack `wseq`; that cell can show
//! uplink corruption a real #1115 client would avoid, while the drain hazard (§11.3) is the same.
//!
//! The NODE-903-like and NODE-MAIN-like columns are the reference node with every deployed
//! divergence it can reproduce switched on (`seqtun_node::Deployed`: the 2 MiB body limit, no
//! poll preemption, ...), so a cell breaks where the real node would: seqtun-client's uploads
//! broke on the body limit while every seqtun-only cell was fine. Every node runs on the fast
//! profile's timing; a stand-in keeps its dialect's long-poll in proportion to #903's
//! (NODE-MAIN's 2 s against 15 s).
//!
//! The matrix is informational, with one exception: a cell between two plain seqtun builds
//! (`seqtun-client` with or without `--no-pipelining`, against `seqtun-node` with or without
//! `--legacy`) must work, because those are the combinations seqtun promises. If one of them
//! delivers wrong bytes, fails or times out, the main job fails. The #1115-like sides are
//! stand-ins built from deliberate faults; their cells are reported as they are and never fail
//! the run.

pub mod cell;
pub mod exchange;
pub mod render;
pub mod tap;
pub mod uploads;
pub mod wire;

use std::time::Duration;

use seqtun_client::ClientFaults;
use seqtun_node::{Deployed, Faults};

pub use cell::{Cell, ClientSide, NodeSide};

use crate::expr::Params;

/// The bound on one cell, setup to verdict; a healthy cell takes a few seconds.
pub const CELL_TIMEOUT: Duration = Duration::from_secs(60);

/// Every cell, row by row.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub clients: Vec<String>,
    pub nodes: Vec<String>,
    pub cells: Vec<Cell>,
}

impl Matrix {
    pub fn cell(&self, client: &str, node: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.client == client && c.node == node)
    }

    /// Cells that must work and did not.
    pub fn broken(&self) -> Vec<&Cell> {
        self.cells.iter().filter(|c| c.broken()).collect()
    }
}

/// The rows of the main job: the reference client as #903, as legacy, and as a #1115-like
/// client (which sends `seq` whether or not `caps` was offered).
pub fn standard_clients() -> Vec<ClientSide> {
    vec![
        ClientSide {
            label: "seqtun-client (#903)".into(),
            no_pipelining: false,
            faults: ClientFaults::default(),
            required: true,
        },
        ClientSide {
            label: "seqtun-client --no-pipelining".into(),
            no_pipelining: true,
            faults: ClientFaults::default(),
            required: true,
        },
        ClientSide {
            label: "#1115-like (seq, no wseq)".into(),
            no_pipelining: false,
            faults: ClientFaults {
                seq_without_caps: true,
                ..ClientFaults::default()
            },
            required: false,
        },
    ]
}

/// The columns of the main job: the reference node as #903 and as legacy, and stand-ins for
/// the deployed NODE-903 and NODE-MAIN (echoes `seq`, orders nothing, offers no `caps`).
pub fn standard_nodes() -> Vec<NodeSide> {
    let plain = |label: &str, legacy| NodeSide {
        label: label.into(),
        legacy,
        faults: Faults::default(),
        deployed: None,
        required: true,
    };
    let mut nodes = vec![
        plain("seqtun-node (#903)", false),
        plain("seqtun-node --legacy", true),
    ];
    nodes.extend(Deployed::ALL.map(NodeSide::standin));
    nodes
}

/// Runs every cell concurrently, each bounded by `limit`.
pub async fn run(
    params: &Params,
    clients: &[ClientSide],
    nodes: &[NodeSide],
    limit: Duration,
) -> Matrix {
    let runs = clients
        .iter()
        .flat_map(|row| nodes.iter().map(move |col| (row, col)))
        .map(|(row, col)| cell::run(params, row, col, limit));
    Matrix {
        clients: clients.iter().map(|c| c.label.clone()).collect(),
        nodes: nodes.iter().map(|n| n.label.clone()).collect(),
        cells: futures_util::future::join_all(runs).await,
    }
}

/// The main job's last step: runs the standard matrix, prints it, and gives the reports their
/// view of it and whether a cell that must work did not.
pub fn after_builtin(
    rt: &tokio::runtime::Runtime,
    params: &Params,
    console: &crate::console::Console,
) -> (crate::report::model::MatrixView, bool) {
    let m = rt.block_on(run(
        params,
        &standard_clients(),
        &standard_nodes(),
        CELL_TIMEOUT,
    ));
    console.info(&render::text(&m));
    (render::view(&m), !m.broken().is_empty())
}
