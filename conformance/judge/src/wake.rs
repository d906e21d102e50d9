//! Waiting for "something changed" without missing a change: `Notify::notify_waiters` only wakes
//! waiters that are already registered, so a waiter must register before it looks.

use std::pin::Pin;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// A registered wait on `n`: create it, then check the condition, then await it.
pub fn armed(n: &Notify) -> Pin<Box<Notified<'_>>> {
    let mut w = Box::pin(n.notified());
    w.as_mut().enable();
    w
}
