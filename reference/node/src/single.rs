//! The single-op path `/tunnel` (§3.6): performs what `seqtun_wire::node::single` decides.
//! Old relays use this dialect for one op at a time.

use std::sync::Arc;

use seqtun_wire::node::{SingleAction, SingleStep, SingleWait};
use seqtun_wire::{Op, Reply};
use tokio::time::{Instant, sleep_until};

use crate::NodeState;
use crate::batch::open;
use crate::tcp::TcpSession;

pub async fn run_single(state: &NodeState, op: Op) -> Reply {
    match SingleAction::of(op, &state.rules) {
        SingleAction::Answer(reply) => reply,
        SingleAction::Connect { target, caps } => match open::tcp(state, &target, &[]).await {
            Ok(s) => Reply::drained(&s.sid, b"", false).with_caps(caps),
            Err(e) => e.into(),
        },
        SingleAction::ConnectData {
            target,
            first,
            caps,
        } => match open::tcp(state, &target, &first).await {
            Ok(s) => drain_after_wait(state, &s).await.with_caps(caps),
            Err(e) => e.into(),
        },
        SingleAction::Data(d) => {
            let Some(s) = state.table.tcp(&d.sid) else {
                return d.unknown_session();
            };
            s.touch();
            let bytes = match &d.bytes {
                Ok(bytes) => bytes,
                Err(e) => return e.clone().into(),
            };
            if !bytes.is_empty()
                && let Err(e) = s.write(bytes).await
            {
                state.table.close(&d.sid).await;
                return d.write_failed(e.to_string());
            }
            drain_after_wait(state, &s).await
        }
        SingleAction::Close { sid } => {
            state.table.close(&sid).await;
            Reply::gone(&sid)
        }
    }
}

/// Waits as [`SingleWait`] says, then drains (capped, unlike deployed nodes).
async fn drain_after_wait(state: &NodeState, s: &Arc<TcpSession>) -> Reply {
    let params = &state.cfg.params;
    let mut wait = SingleWait::start(Instant::now().into_std(), s.buffered(), params);
    loop {
        let more = s.readable.notified();
        tokio::pin!(more);
        more.as_mut().enable();
        let look = wait.look(Instant::now().into_std(), s.buffered(), s.upstream_done());
        match look {
            SingleStep::Drain => break,
            SingleStep::WaitUntil(at) => tokio::select! {
                () = more => {}
                () = sleep_until(Instant::from_std(at)) => {}
            },
        }
    }
    let (bytes, eof) = s.drain(params.tcp_drain_max);
    if eof {
        state.table.finish_tcp(s).await;
    }
    Reply::drained(&s.sid, &bytes, eof)
}
