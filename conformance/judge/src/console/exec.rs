//! Running the selected cases, many at once: cases mostly wait on timers (a long-poll case
//! holds a request for the target's long-poll deadline), so the runner keeps many in flight on
//! one async runtime rather than one per thread.
//!
//! A case still running after [`NOTICE_AFTER`] is announced with the step it is in and how long
//! that step waits, and again every [`NOTICE_EVERY`], so a run against deployed timings is never
//! silent for minutes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Console;
use super::estimate::human;
use crate::progress::Progress;
use crate::verdict::{Failure, Outcome};

/// A case still running this long gets a notice.
pub const NOTICE_AFTER: Duration = Duration::from_secs(30);
/// ... and another one this often while it keeps running.
pub const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// A case ready to run.
pub struct Job {
    /// Index into the plan.
    pub index: usize,
    pub name: String,
    pub progress: Progress,
    pub run: Pin<Box<dyn Future<Output = Outcome> + Send>>,
}

/// How a job ended.
pub struct Done {
    pub index: usize,
    pub outcome: Outcome,
    pub elapsed: Duration,
    pub started: SystemTime,
}

struct Running {
    name: String,
    since: Instant,
    progress: Progress,
    last_notice: Option<Instant>,
}

type Board = Arc<Mutex<BTreeMap<usize, Running>>>;

/// Runs `jobs`, at most `lanes` at once, calling `done` as each finishes (on the caller's task,
/// so it may print).
pub async fn run(jobs: Vec<Job>, lanes: usize, console: Arc<Console>, mut done: impl FnMut(Done)) {
    let gate = Arc::new(Semaphore::new(lanes.max(1)));
    let board: Board = Arc::default();
    let mut set = JoinSet::new();
    let mut ids = HashMap::new();
    for job in jobs {
        let (gate, board, console) = (Arc::clone(&gate), Arc::clone(&board), Arc::clone(&console));
        let index = job.index;
        let handle = set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let (since, started) = (Instant::now(), SystemTime::now());
            console.test_started(&job.name);
            if let Ok(mut b) = board.lock() {
                b.insert(
                    job.index,
                    Running {
                        name: job.name.clone(),
                        since,
                        progress: job.progress.clone(),
                        last_notice: None,
                    },
                );
            }
            let outcome = job.run.await;
            if let Ok(mut b) = board.lock() {
                b.remove(&job.index);
            }
            Done {
                index: job.index,
                outcome,
                elapsed: since.elapsed(),
                started,
            }
        });
        ids.insert(handle.id(), index);
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            joined = set.join_next_with_id() => match joined {
                None => break,
                Some(Ok((_, d))) => done(d),
                Some(Err(e)) => {
                    let index = ids.get(&e.id()).copied().unwrap_or_default();
                    if let Ok(mut b) = board.lock() {
                        b.remove(&index);
                    }
                    done(Done { index, outcome: panicked(&e), elapsed: Duration::ZERO, started: SystemTime::now() });
                }
            },
            _ = tick.tick() => notices(&board, &console),
        }
    }
}

fn panicked(e: &tokio::task::JoinError) -> Outcome {
    Outcome::Fail(Failure {
        step: 0,
        what: "the runner itself".into(),
        expected: "the case to finish".into(),
        seen: format!("the case's task ended abnormally: {e} (a runner bug; please report it)"),
        curl: None,
        note: None,
    })
}

/// Announces cases running longer than [`NOTICE_AFTER`], once and then every [`NOTICE_EVERY`].
fn notices(board: &Board, console: &Console) {
    let now = Instant::now();
    let Ok(mut b) = board.lock() else {
        return;
    };
    for r in b.values_mut() {
        let ran = now - r.since;
        let due = match r.last_notice {
            None => ran >= NOTICE_AFTER,
            Some(last) => now - last >= NOTICE_EVERY,
        };
        if due {
            r.last_notice = Some(now);
            console.notice(&r.name, &notice_text(ran, &r.progress, now));
        }
    }
}

/// `still running after 30.0 s: step 5 of 14, sleep 0.5*tcp_idle (2m 30s), 2m 10s to go`.
pub fn notice_text(ran: Duration, progress: &Progress, now: Instant) -> String {
    let mut text = format!("still running after {}", human(ran));
    if let Some(step) = progress.now() {
        text.push_str(&format!(
            ": step {} of {}, {}",
            step.index, step.of, step.what
        ));
        if let Some(wait) = step.wait {
            let left = wait.saturating_sub(now - step.since);
            text.push_str(&format!(", {} to go", human(left)));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;

    fn job(index: usize, secs: u64) -> Job {
        let progress = Progress::default();
        let p = progress.clone();
        Job {
            index,
            name: format!("case-{index}"),
            progress,
            run: Box::pin(async move {
                p.step(
                    2,
                    3,
                    "sleep 0.5*tcp_idle (45.0 s)".into(),
                    Some(Duration::from_secs(secs)),
                );
                tokio::time::sleep(Duration::from_secs(secs)).await;
                Outcome::Pass
            }),
        }
    }

    /// On the paused clock: a 100 s case gets a notice at 30 s naming its step and what is
    /// left, and another 60 s later; a 10 s case gets none. Four cases on two lanes take as
    /// long as the two longest back to back.
    #[tokio::test(start_paused = true)]
    async fn long_cases_are_announced_with_their_step() {
        let (console, buf) = Console::capture(Format::Pretty);
        let console = Arc::new(console);
        let started = Instant::now();
        let mut finished = Vec::new();
        let jobs = vec![job(0, 100), job(1, 10), job(2, 10), job(3, 10)];
        run(jobs, 2, Arc::clone(&console), |d| finished.push(d.index)).await;
        assert_eq!(finished.len(), 4);
        assert!(
            started.elapsed() < Duration::from_secs(102),
            "{:?}",
            started.elapsed()
        );
        let text = buf.text();
        let notices: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("still running"))
            .collect();
        assert_eq!(notices.len(), 2, "{text}");
        assert!(notices[0].contains("case-0 still running after 30.0 s: step 2 of 3, sleep 0.5*tcp_idle (45.0 s), 1m 10s to go"), "{text}");
        assert!(notices[1].contains("after 1m 30s"), "{text}");
        assert!(!text.contains("case-1 still"), "{text}");
    }
}
