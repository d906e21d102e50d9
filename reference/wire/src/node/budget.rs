//! The batch's response budget as its drains meet it (§5.4).
//!
//! The rule: **first come, first served, and drains that happen together go in op order.**
//! A drain reserves `min(drain cap, budget left)` when it drains and gives back what it did not
//! use. The batch's phase-2 drains happen together, after its wait, so they reserve in op order
//! ([`super::plan::Phase2::drains`] is sorted by slot). A seq'd op drains when it holds its
//! session's turn (§7.4), which an earlier op of the batch may not reach until much later, so
//! it reserves when it gets there: ordering it after earlier ops would make it wait for them,
//! and an earlier op of the same session waiting for it would deadlock until the seq timeout.
//! Nothing is lost either way: a drain without allowance answers `{"sid":S,"eof":false}` and
//! keeps its bytes for the next poll.

use crate::drain::Budget;
use crate::rules::Spent;

/// The shared budget of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    budget: Budget,
    cap: usize,
}

impl Ledger {
    /// A batch budget of `total` bytes; one TCP drain takes at most `cap`.
    pub fn new(total: usize, cap: usize) -> Self {
        Self {
            budget: Budget::new(total),
            cap,
        }
    }

    /// The allowance of a drain that happens now; `None` when the budget is spent and the
    /// drain leaves no entry at all (a deployed divergence, [`Spent::NoEntry`]).
    pub fn grant(&mut self, spent: Spent) -> Option<usize> {
        if spent == Spent::NoEntry && self.budget.remaining() == 0 {
            return None;
        }
        Some(self.budget.reserve(self.cap))
    }

    /// A drain granted `granted` bytes used `used` of them.
    pub fn settle(&mut self, granted: usize, used: usize) {
        self.budget.refund(granted.saturating_sub(used));
    }

    /// Bytes the batch's drains may still return.
    pub fn remaining(&self) -> usize {
        self.budget.remaining()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn drains_in_op_order_take_what_is_left() {
        // The node test `spent_budget_still_answers_every_op_and_keeps_the_bytes`: a 60-byte
        // cap, a 100-byte budget, three sessions holding 60 bytes each.
        let mut l = Ledger::new(100, 60);
        let mut took = Vec::new();
        for _ in 0..3 {
            let g = l.grant(Spent::Placeholder).unwrap();
            let used = g.min(60);
            l.settle(g, used);
            took.push(used);
        }
        assert_eq!(took, vec![60, 40, 0]);
    }

    #[test]
    fn unused_allowance_goes_to_later_drains() {
        let mut l = Ledger::new(100, 60);
        let g = l.grant(Spent::Placeholder).unwrap();
        l.settle(g, 10);
        assert_eq!(l.grant(Spent::Placeholder), Some(60));
        assert_eq!(l.grant(Spent::Placeholder), Some(30));
    }

    #[test]
    fn a_spent_budget_is_a_placeholder_or_no_entry() {
        let mut l = Ledger::new(10, 60);
        assert_eq!(l.grant(Spent::NoEntry), Some(10));
        assert_eq!(l.grant(Spent::Placeholder), Some(0));
        assert_eq!(l.grant(Spent::NoEntry), None);
    }

    proptest! {
        #[test]
        fn never_more_than_the_budget(
            total in 0usize..500,
            cap in 1usize..200,
            used in proptest::collection::vec(0usize..300, 0..12),
        ) {
            let mut l = Ledger::new(total, cap);
            let mut out = 0;
            for u in used {
                let g = l.grant(Spent::Placeholder).unwrap();
                prop_assert!(g <= cap);
                let u = u.min(g);
                l.settle(g, u);
                out += u;
            }
            prop_assert!(out <= total);
            prop_assert_eq!(out + l.remaining(), total);
        }
    }
}
