//! The node under test: `seqtun-node` in-process on a runtime of its own (so its CPU time can
//! be read apart from the load generator's), or any node reached by URL.

use std::net::SocketAddr;
use std::time::Duration;

use seqtun_node::{NodeConfig, NodeHandle};
use tokio::runtime::Runtime;

use crate::cpu::{self, ThreadSet};
use crate::mode::Mode;
use crate::settings::{ExternalNode, NODE_KEY, NodeTiming};

/// Worker threads of the in-process node's runtime: the machine's two cores.
pub const NODE_WORKERS: usize = 2;

/// How the in-process node differs from its defaults in one regime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeSetup {
    /// The most bytes one drain returns (`--drain-max-bytes`); `None`: the default 16 MiB.
    pub drain_max: Option<usize>,
}

/// A running node under test.
pub enum Node {
    InProcess {
        handle: Option<NodeHandle>,
        runtime: Option<Runtime>,
        threads: ThreadSet,
    },
    External(ExternalNode),
}

impl Node {
    /// Starts the in-process node for `mode` with the bench's scaled timing; must not be
    /// called from inside a runtime.
    pub fn start(mode: Mode, timing: &NodeTiming, setup: NodeSetup) -> std::io::Result<Self> {
        let threads = ThreadSet::default();
        let record = threads.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(NODE_WORKERS)
            .thread_name("node-under-test")
            .on_thread_start(move || record.record_current())
            .enable_all()
            .build()?;
        let mut cfg = NodeConfig::new(NODE_KEY);
        timing.apply(&mut cfg.params);
        if let Some(max) = setup.drain_max {
            cfg.params.tcp_drain_max = max;
        }
        mode.node(&mut cfg);
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = runtime.block_on(seqtun_node::spawn(cfg, listen))?;
        // Worker threads start on their own schedule; wait until they are recorded, so the
        // first CPU reading already covers every thread.
        let started = std::time::Instant::now();
        while threads.len() < NODE_WORKERS && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Node::InProcess {
            handle: Some(handle),
            runtime: Some(runtime),
            threads,
        })
    }

    /// The node at `ext.url`, left as it is.
    pub fn external(ext: &ExternalNode) -> Self {
        Node::External(ext.clone())
    }

    pub fn url(&self) -> String {
        match self {
            Node::InProcess { handle, .. } => {
                handle.as_ref().map(NodeHandle::url).unwrap_or_default()
            }
            Node::External(ext) => ext.url.clone(),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Node::InProcess { .. } => NODE_KEY.to_owned(),
            Node::External(ext) => ext.key.clone(),
        }
    }

    pub fn is_external(&self) -> bool {
        matches!(self, Node::External(_))
    }

    /// The node's CPU time so far, where it can be read.
    pub fn cpu(&self) -> Option<Duration> {
        match self {
            Node::InProcess { threads, .. } => threads.cpu(),
            Node::External(ext) => {
                let pid = ext
                    .pid
                    .or_else(|| port_of(&ext.url).and_then(cpu::pid_listening_on))?;
                cpu::process_cpu(pid)
            }
        }
    }

    /// Stops the in-process node (an external one is left running).
    pub fn stop(mut self) {
        if let Node::InProcess {
            handle, runtime, ..
        } = &mut self
            && let (Some(handle), Some(runtime)) = (handle.take(), runtime.take())
        {
            runtime.block_on(handle.shutdown());
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn port_of(url: &str) -> Option<u16> {
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_come_from_base_urls() {
        assert_eq!(super::port_of("http://127.0.0.1:8080"), Some(8080));
        assert_eq!(super::port_of("http://[::1]:9/"), Some(9));
        assert_eq!(super::port_of("http://host"), None);
    }
}
