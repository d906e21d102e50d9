use std::time::Duration;

use super::*;

fn limits(max: usize) -> ConnLimits {
    ConnLimits {
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(75),
        max_connections: max,
        body: body::BodyRate::default(),
    }
}

/// A connection that never ends by itself, watched by the registry; resolves with why it was
/// closed.
fn watched(reg: &Arc<Registry>) -> (Arc<ConnState>, tokio::task::JoinHandle<Option<Closed>>) {
    let admitted = reg.admit().expect("admitted");
    let state = Arc::clone(&admitted.state);
    let reg = Arc::clone(reg);
    let task = tokio::spawn(async move { reg.run(&admitted, std::future::pending::<()>()).await });
    (state, task)
}

async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn header_timeout_closes_at_its_edge_not_before() {
    let reg = Registry::new(limits(10));
    let (_s, task) = watched(&reg);
    tokio::time::advance(Duration::from_millis(9_999)).await;
    settle().await;
    assert!(!task.is_finished(), "closed before the header timeout");
    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(task.await.unwrap(), Some(Closed::TimedOut(Phase::Head)));
    assert_eq!(reg.snapshot().header_timeouts, 1);
    assert_eq!(reg.open(), 0, "a closed connection leaves the registry");
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_counts_from_the_answer_and_a_new_byte_restarts_the_head_clock() {
    let reg = Registry::new(limits(10));
    let (s, task) = watched(&reg);
    s.enter(Phase::Body);
    tokio::time::advance(Duration::from_secs(60)).await;
    s.enter(Phase::Busy);
    tokio::time::advance(Duration::from_secs(600)).await;
    settle().await;
    assert!(!task.is_finished(), "a busy connection has no timeout");
    s.enter(Phase::Idle);
    tokio::time::advance(Duration::from_millis(74_999)).await;
    settle().await;
    assert!(!task.is_finished(), "closed before the idle timeout");
    s.saw_bytes();
    assert_eq!(s.phase(), Phase::Head);
    tokio::time::advance(Duration::from_millis(9_999)).await;
    settle().await;
    assert!(
        !task.is_finished(),
        "the head clock restarted at the first byte"
    );
    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(task.await.unwrap(), Some(Closed::TimedOut(Phase::Head)));
}

#[tokio::test(start_paused = true)]
async fn idle_connections_time_out() {
    let reg = Registry::new(limits(10));
    let (s, task) = watched(&reg);
    s.enter(Phase::Idle);
    tokio::time::advance(Duration::from_millis(75_001)).await;
    assert_eq!(task.await.unwrap(), Some(Closed::TimedOut(Phase::Idle)));
    assert_eq!(reg.snapshot().idle_timeouts, 1);
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_the_most_stalled_goes_first_and_busy_ones_never() {
    let reg = Registry::new(limits(3));
    let (busy, busy_task) = watched(&reg);
    busy.enter(Phase::Busy);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (idle, idle_task) = watched(&reg);
    idle.enter(Phase::Idle);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (head, head_task) = watched(&reg);
    tokio::time::advance(Duration::from_millis(5)).await;
    // A byte on the idle connection is progress: the head, silent longer, goes first.
    idle.saw_bytes();
    tokio::time::advance(Duration::from_millis(5)).await;
    let (new1, _t1) = watched(&reg);
    assert_eq!(head_task.await.unwrap(), Some(Closed::Shed));
    new1.enter(Phase::Busy);
    drop(head);
    // Full again: the formerly idle one (now in Head) is the only one not busy.
    let (_new2, t2) = watched(&reg);
    assert_eq!(idle_task.await.unwrap(), Some(Closed::Shed));
    tokio::time::advance(Duration::from_millis(5)).await;
    let (new3, _t3) = watched(&reg);
    new3.enter(Phase::Busy);
    assert_eq!(t2.await.unwrap(), Some(Closed::Shed));
    // Everything busy: the newcomer is refused and nobody is shed.
    assert!(reg.admit().is_none());
    settle().await;
    assert!(!busy_task.is_finished());
    let snap = reg.snapshot();
    assert_eq!((snap.shed, snap.refused, snap.open), (3, 1, 3));
}

#[test]
fn default_cap_is_half_the_descriptors_within_bounds() {
    assert_eq!(default_max_connections(1024), 512);
    assert_eq!(default_max_connections(20_000), MAX_CONNECTIONS_CEILING);
    assert_eq!(default_max_connections(8), 16);
}

#[test]
fn body_deadline_grows_with_the_bytes_received() {
    let l = body::BodyRate::default();
    let t0 = Instant::now();
    assert_eq!(l.deadline(t0, 0), t0 + body::BODY_TIMEOUT);
    assert_eq!(
        l.deadline(t0, body::BODY_MIN_RATE as usize * 2),
        t0 + body::BODY_TIMEOUT + Duration::from_secs(2)
    );
}

#[test]
fn raising_the_descriptor_limit_reaches_the_hard_limit() {
    let lim = fd_limit::raise().unwrap();
    assert!(lim.soft >= lim.before);
    assert_eq!(fd_limit::current(), lim.soft);
}
