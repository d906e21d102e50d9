//! Drain arithmetic: how many bytes one reply may carry, when `eof` may be reported, and when
//! the straggler settle stops (§5.3, §5.4).
//!
//! These three rules are where deployed nodes lost bytes or reported a false `eof`, so they
//! are kept here as plain functions that property tests can hammer.

use std::time::{Duration, Instant};

/// A batch's shared response budget, in raw bytes. Every TCP drain of the batch (legacy and
/// seq'd) reserves from it, drains at most what it got, and refunds the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    remaining: usize,
}

impl Budget {
    pub fn new(total: usize) -> Self {
        Self { remaining: total }
    }

    /// Takes up to `cap` bytes of allowance; 0 when the budget is spent.
    pub fn reserve(&mut self, cap: usize) -> usize {
        let got = cap.min(self.remaining);
        self.remaining -= got;
        got
    }

    /// Gives back allowance a drain did not use.
    pub fn refund(&mut self, unused: usize) {
        self.remaining += unused;
    }

    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

/// What one drain of a TCP session's buffer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainPlan {
    /// Bytes to take from the front of the buffer.
    pub take: usize,
    /// Whether this reply reports `eof:true`.
    pub eof: bool,
}

/// Plans a drain: take what the allowance permits, and report `eof` only when the upstream is
/// finished **and** this drain empties the buffer, so no byte is ever stranded behind an eof.
pub fn plan_drain(buffered: usize, upstream_done: bool, allowance: usize) -> DrainPlan {
    let take = buffered.min(allowance);
    DrainPlan {
        take,
        eof: upstream_done && take == buffered,
    }
}

/// Outcome of one settle observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleStep {
    /// Look again at this instant.
    WaitUntil(Instant),
    /// Stop settling and drain.
    Done,
}

/// Straggler settle after an active batch wakes: keep looking every `step` while the buffered
/// total still grows, for at most `max`, so a multi-packet upstream answer lands in one reply.
#[derive(Debug, Clone)]
pub struct Settle {
    step: Duration,
    until: Instant,
    last_total: usize,
}

impl Settle {
    pub fn start(now: Instant, total: usize, step: Duration, max: Duration) -> Self {
        Self {
            step,
            until: now + max,
            last_total: total,
        }
    }

    /// The first instant to look again.
    pub fn first_check(&self, now: Instant) -> SettleStep {
        self.next(now)
    }

    /// Records the buffered total seen at `now` and says whether to keep waiting.
    pub fn observe(&mut self, now: Instant, total: usize) -> SettleStep {
        let grew = total > self.last_total;
        self.last_total = total;
        if !grew {
            return SettleStep::Done;
        }
        self.next(now)
    }

    fn next(&self, now: Instant) -> SettleStep {
        if now >= self.until {
            SettleStep::Done
        } else {
            SettleStep::WaitUntil((now + self.step).min(self.until))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn sixteen_mib_plus_a_page_takes_two_drains() {
        let first = plan_drain(16 * MIB + 4096, true, 16 * MIB);
        assert_eq!(
            first,
            DrainPlan {
                take: 16 * MIB,
                eof: false
            }
        );
        let second = plan_drain(4096, true, 16 * MIB);
        assert_eq!(
            second,
            DrainPlan {
                take: 4096,
                eof: true
            }
        );
    }

    #[test]
    fn spent_budget_never_reports_eof_with_bytes_left() {
        assert_eq!(
            plan_drain(10, true, 0),
            DrainPlan {
                take: 0,
                eof: false
            }
        );
        assert_eq!(plan_drain(0, true, 0), DrainPlan { take: 0, eof: true });
    }

    #[test]
    fn three_sessions_share_thirty_two_mib() {
        let mut budget = Budget::new(32 * MIB);
        let grants: Vec<_> = (0..3).map(|_| budget.reserve(16 * MIB)).collect();
        assert_eq!(grants, vec![16 * MIB, 16 * MIB, 0]);
        budget.refund(MIB);
        assert_eq!(budget.reserve(16 * MIB), MIB);
    }

    #[test]
    fn settle_stops_when_nothing_grows() {
        let t0 = Instant::now();
        let step = Duration::from_millis(10);
        let mut s = Settle::start(t0, 5, step, Duration::from_millis(1000));
        assert_eq!(s.first_check(t0), SettleStep::WaitUntil(t0 + step));
        assert_eq!(
            s.observe(t0 + step, 9),
            SettleStep::WaitUntil(t0 + 2 * step)
        );
        assert_eq!(s.observe(t0 + 2 * step, 9), SettleStep::Done);
    }

    #[test]
    fn settle_never_exceeds_its_max() {
        let t0 = Instant::now();
        let max = Duration::from_millis(25);
        let mut s = Settle::start(t0, 0, Duration::from_millis(10), max);
        let mut now = t0;
        let mut total = 0;
        loop {
            total += 1;
            match s.observe(now, total) {
                SettleStep::WaitUntil(at) => {
                    assert!(at <= t0 + max);
                    now = at;
                }
                SettleStep::Done => break,
            }
        }
        assert_eq!(now, t0 + max);
    }

    proptest! {
        #[test]
        fn drains_conserve_bytes(buffered in 0usize..10_000, allowance in 0usize..10_000, done: bool) {
            let plan = plan_drain(buffered, done, allowance);
            prop_assert!(plan.take <= buffered && plan.take <= allowance);
            prop_assert!(!plan.eof || plan.take == buffered);
            prop_assert_eq!(plan.take, buffered.min(allowance));
        }

        #[test]
        fn budget_never_overdraws(total in 0usize..1000, asks in proptest::collection::vec(0usize..400, 0..10)) {
            let mut budget = Budget::new(total);
            let granted: usize = asks.iter().map(|&a| budget.reserve(a)).sum();
            prop_assert!(granted <= total);
            prop_assert_eq!(granted + budget.remaining(), total);
        }
    }
}
