use super::*;
use proptest::prelude::*;

const T: Duration = Duration::from_secs(30);

fn gate() -> SeqGate {
    SeqGate::new(T, 64)
}

#[test]
fn fresh_session_runs_seq_zero() {
    let mut g = gate();
    assert_eq!(g.arrive(0, Instant::now()), Arrival::Run);
    assert_eq!(g.running(), Some(0));
}

#[test]
fn later_seq_waits_then_runs_after_its_predecessor() {
    let t0 = Instant::now();
    let mut g = gate();
    assert_eq!(
        g.arrive(1, t0),
        Arrival::Wait {
            deadline: t0 + T,
            preempt: false
        }
    );
    assert_eq!(g.poll(1, t0), Turn::Wait { deadline: t0 + T });
    assert_eq!(g.arrive(0, t0), Arrival::Run);
    assert_eq!(g.poll(1, t0), Turn::Wait { deadline: t0 + T });
    assert!(g.finish(0), "successor 1 is waiting");
    assert_eq!(g.poll(1, t0), Turn::Run);
    assert!(!g.finish(1));
    assert_eq!(g.expected(), 2);
}

#[test]
fn duplicates_are_rejected_without_running() {
    let t0 = Instant::now();
    let mut g = gate();
    for s in 0..5 {
        assert_eq!(g.arrive(s, t0), Arrival::Run);
        g.finish(s);
    }
    assert_eq!(g.arrive(3, t0), Arrival::Duplicate { expected: 5 });
    assert_eq!(g.arrive(5, t0), Arrival::Run);
    assert_eq!(g.arrive(5, t0), Arrival::InProgress { expected: 5 });
    assert!(matches!(g.arrive(7, t0), Arrival::Wait { .. }));
    assert_eq!(g.arrive(7, t0), Arrival::InProgress { expected: 5 });
}

#[test]
fn timeout_leaves_expected_where_it_was() {
    let t0 = Instant::now();
    let mut g = gate();
    assert!(matches!(g.arrive(3, t0), Arrival::Wait { .. }));
    assert_eq!(
        g.poll(3, t0 + T - Duration::from_millis(1)),
        Turn::Wait { deadline: t0 + T }
    );
    assert_eq!(
        g.poll(3, t0 + T),
        Turn::TimedOut {
            expected: 0,
            waited: T
        }
    );
    assert_eq!(g.waiting(), 0);
    assert_eq!(
        g.arrive(0, t0 + T),
        Arrival::Run,
        "a later seq 0 still runs"
    );
}

#[test]
fn backlog_is_bounded_at_its_edge() {
    let t0 = Instant::now();
    let mut g = SeqGate::new(T, 2);
    assert!(matches!(g.arrive(1, t0), Arrival::Wait { .. }));
    assert!(matches!(g.arrive(2, t0), Arrival::Wait { .. }));
    assert_eq!(g.arrive(3, t0), Arrival::Backlog { limit: 2 });
    assert_eq!(
        g.arrive(0, t0),
        Arrival::Run,
        "the turn itself never counts as backlog"
    );
}

#[test]
fn a_parked_idle_poll_is_preempted_by_its_successor() {
    let t0 = Instant::now();
    let mut g = gate();
    assert_eq!(g.arrive(0, t0), Arrival::Run);
    assert!(g.park(0));
    assert_eq!(
        g.arrive(1, t0),
        Arrival::Wait {
            deadline: t0 + T,
            preempt: true
        }
    );
    // Preemption is signalled once; another arrival does not signal again.
    assert_eq!(
        g.arrive(2, t0),
        Arrival::Wait {
            deadline: t0 + T,
            preempt: false
        }
    );
}

#[test]
fn an_active_op_is_not_preempted() {
    let t0 = Instant::now();
    let mut g = gate();
    assert_eq!(g.arrive(0, t0), Arrival::Run);
    assert!(matches!(
        g.arrive(1, t0),
        Arrival::Wait { preempt: false, .. }
    ));
}

#[test]
fn a_poll_does_not_park_when_a_successor_already_waits() {
    let t0 = Instant::now();
    let mut g = gate();
    assert!(matches!(g.arrive(1, t0), Arrival::Wait { .. }));
    assert_eq!(g.arrive(0, t0), Arrival::Run);
    assert!(!g.park(0));
}

#[test]
fn unparked_op_is_not_preempted() {
    let t0 = Instant::now();
    let mut g = gate();
    assert_eq!(g.arrive(0, t0), Arrival::Run);
    assert!(g.park(0));
    g.unpark(0);
    assert!(matches!(
        g.arrive(1, t0),
        Arrival::Wait { preempt: false, .. }
    ));
}

#[derive(Debug, Clone)]
enum Step {
    Deliver,
    Finish,
}

proptest! {
    /// Whatever order ops (and duplicated copies) arrive in, and however arrivals interleave
    /// with completions, the gate runs each seq exactly once and in order.
    #[test]
    fn releases_in_order_under_any_arrival_permutation(
        order in Just((0u64..24).collect::<Vec<_>>()).prop_shuffle(),
        dup_mask in proptest::collection::vec(any::<bool>(), 24),
        steps in proptest::collection::vec(prop_oneof![Just(Step::Deliver), Just(Step::Finish)], 0..200),
    ) {
        let t0 = Instant::now();
        let mut g = gate();
        let mut arrivals: Vec<u64> = Vec::new();
        for (i, s) in order.iter().enumerate() {
            arrivals.push(*s);
            if dup_mask[i] {
                arrivals.push(*s);
            }
        }
        let mut next_arrival = 0;
        let mut waiting: Vec<u64> = Vec::new();
        let mut ran: Vec<u64> = Vec::new();
        let mut running: Option<u64> = None;
        let finish = |g: &mut SeqGate, running: &mut Option<u64>, waiting: &mut Vec<u64>, ran: &mut Vec<u64>| {
            if let Some(s) = running.take() {
                g.finish(s);
                ran.push(s);
                // Every waiter looks again; at most one gets the turn.
                for w in waiting.clone() {
                    if g.poll(w, t0) == Turn::Run {
                        waiting.retain(|x| *x != w);
                        *running = Some(w);
                    }
                }
            }
        };
        let mut steps = steps.into_iter();
        loop {
            let step = steps.next();
            let deliver = match step {
                Some(Step::Deliver) => next_arrival < arrivals.len(),
                Some(Step::Finish) => running.is_none() && next_arrival < arrivals.len(),
                None => next_arrival < arrivals.len(),
            };
            if deliver {
                let s = arrivals[next_arrival];
                next_arrival += 1;
                match g.arrive(s, t0) {
                    Arrival::Run => {
                        prop_assert!(running.is_none());
                        running = Some(s);
                    }
                    Arrival::Wait { .. } => waiting.push(s),
                    Arrival::Duplicate { .. } | Arrival::InProgress { .. } => {}
                    Arrival::Backlog { .. } => prop_assert!(false, "backlog of 64 not reachable"),
                }
            } else if running.is_some() {
                finish(&mut g, &mut running, &mut waiting, &mut ran);
            } else if step.is_none() {
                break;
            }
        }
        prop_assert_eq!(ran, (0u64..24).collect::<Vec<_>>());
        prop_assert!(waiting.is_empty());
    }
}
