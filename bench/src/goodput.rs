//! Goodput under lost replies (issue 14): what a user gets from a 64 MiB download when some
//! relay calls lose their reply, with replay-safe seq (§7.10) and without it.
//!
//! Throughput tables time transfers that complete. Here a transfer may not: against a node
//! without `caps` bit 1 the client sends nothing again, so a lost reply ends the session and
//! the app starts the download again from zero, as browsers and curl do. Goodput is therefore
//! the useful bytes (a whole download, or nothing) over the time until one attempt completed or
//! the run gave up, and the table also shows the attempts and the bytes delivered and thrown
//! away on the way.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::{AppError, read_pattern};
use crate::origin::{Ask, Origin};
use crate::report::Table;
use crate::stack::Stack;
use crate::workload::{Sample, open};

/// Bytes read per check of how far an attempt got, so a broken attempt's delivered bytes are
/// counted to within this much.
const STEP: u64 = 64 << 10;

/// What the attempts of one run came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts that broke before the last byte.
    pub broken: u32,
    /// Bytes the broken attempts had delivered (the app throws them away).
    pub wasted: u64,
    /// One attempt delivered every byte before the run gave up.
    pub complete: bool,
}

/// Downloads `size` until one attempt completes or `give_up` has passed. A wrong byte is an
/// error, never a broken attempt: a fast wrong answer must not become a number.
pub async fn run(
    stack: &Stack,
    origin: &Origin,
    size: u64,
    give_up: Duration,
) -> Result<Sample, AppError> {
    let calls = stack.relay_calls();
    let started = Instant::now();
    let mut attempts = Attempts::default();
    while let Some(left) = give_up.checked_sub(started.elapsed()) {
        let mut got = 0;
        match tokio::time::timeout(left, attempt(stack, origin, size, &mut got)).await {
            Ok(Ok(())) => {
                attempts.complete = true;
                break;
            }
            Ok(Err(e @ AppError::Corrupt { .. })) => return Err(e),
            Ok(Err(_)) => {
                attempts.broken += 1;
                attempts.wasted += got;
            }
            Err(_) => {
                attempts.broken += 1;
                attempts.wasted += got;
                break;
            }
        }
    }
    Ok(Sample {
        elapsed: if attempts.complete {
            started.elapsed()
        } else {
            give_up
        },
        bytes: if attempts.complete { size } else { 0 },
        calls: stack.relay_calls() - calls,
        attempts: Some(attempts),
        ..Sample::default()
    })
}

/// One attempt; `got` says how far it came, also when it breaks.
async fn attempt(stack: &Stack, origin: &Origin, size: u64, got: &mut u64) -> Result<(), AppError> {
    let mut s = open(stack, origin, Ask::Source { total: size }).await?;
    let mut buf = Vec::new();
    while *got < size {
        let n = STEP.min(size - *got);
        read_pattern(&mut s, &mut buf, *got, n, "goodput").await?;
        *got += n;
    }
    Ok(())
}

/// The rows of a goodput table.
pub fn rows(table: &Table, out: &mut String) {
    let _ = writeln!(
        out,
        "| mode | runs | completed | median time to a whole download | goodput MB/s | broken attempts per run | MiB delivered and thrown away per run | relay calls per run |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (mode, samples) in &table.rows {
        let n = samples.len();
        if n == 0 {
            continue;
        }
        let tries: Vec<Attempts> = samples.iter().filter_map(|s| s.attempts).collect();
        let done: Vec<f64> = samples
            .iter()
            .filter(|s| s.attempts.is_some_and(|a| a.complete))
            .map(|s| s.elapsed.as_secs_f64())
            .collect();
        let total_secs: f64 = samples.iter().map(|s| s.elapsed.as_secs_f64()).sum();
        let useful: u64 = samples.iter().map(|s| s.bytes).sum();
        let per_run = |f: &dyn Fn(&Attempts) -> f64| tries.iter().map(f).sum::<f64>() / n as f64;
        let _ = writeln!(
            out,
            "| {mode} | {n} | {} of {n} | {} | {:.2} | {:.1} | {:.1} | {:.0} |",
            done.len(),
            median(done).map_or("none within the run's limit".into(), crate::report::secs),
            useful as f64 / 1e6 / total_secs,
            per_run(&|a| f64::from(a.broken)),
            per_run(&|a| a.wasted as f64 / f64::from(1 << 20)),
            samples.iter().map(|s| s.calls as f64).sum::<f64>() / n as f64,
        );
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}
