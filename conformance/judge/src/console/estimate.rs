//! How long cases take, known before they run: the waits a vector prescribes (sleeps, lower
//! bounds on reply times, "still true N later") evaluated against the target's parameters.
//!
//! Against a node with deployed timings a full run takes minutes, most of it in a few reaping
//! and seq-wait cases; the estimate says so up front, `--quick` skips those cases, and the
//! notice for a long-running case names the wait it is in.

use std::time::Duration;

use crate::case::{Case, Step};
use crate::expr::{Params, eval_u64};

/// What each step costs beyond its prescribed waits (a request or two on loopback).
const STEP_COST: Duration = Duration::from_millis(20);

/// The deployed timeouts `--quick` avoids waiting for: idle reaping and seq-wait timeouts.
pub const TIMEOUT_PARAMS: [&str; 4] = ["tcp_idle", "udp_idle", "reap_interval", "seq_wait_timeout"];

/// `--quick` skips a case that waits for a deployed timeout only when the case takes at least
/// this long with the target's parameters (with the fast profile nothing is skipped).
pub const QUICK_MIN: Duration = Duration::from_secs(10);

/// A wait a step takes at least, or at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// `sleep`, `reply not before`, `unchanged for`, `no op for`; `up to` for upper bounds.
    pub what: &'static str,
    pub expr: String,
    pub ms: u64,
}

fn wait(what: &'static str, expr: &str, params: &Params) -> Option<Wait> {
    let ms = eval_u64(expr, params).ok()?;
    Some(Wait {
        what,
        expr: expr.to_string(),
        ms,
    })
}

/// The waits a step is sure to take (lower bounds).
pub fn waits(step: &Step, params: &Params) -> Vec<Wait> {
    let found = match step {
        Step::Sleep(e) => vec![wait("sleep", e, params)],
        Step::Expect(s) => vec![
            s.not_before
                .as_deref()
                .and_then(|e| wait("reply not before", e, params)),
        ],
        Step::ExpectUpstream(s) => vec![
            s.stays
                .as_deref()
                .and_then(|e| wait("unchanged for", e, params)),
        ],
        Step::AppExpect(s) => vec![
            s.stays
                .as_deref()
                .and_then(|e| wait("unchanged for", e, params)),
        ],
        Step::ExpectNoOp(s) => vec![wait("no op for", &s.during, params)],
        _ => Vec::new(),
    };
    found.into_iter().flatten().collect()
}

/// The longest a step may wait for something that should happen (upper bounds).
fn limit(step: &Step, params: &Params) -> Option<Wait> {
    let within = match step {
        Step::Expect(s) => s.within.as_deref(),
        Step::ExpectUpstream(s) => s.within.as_deref(),
        Step::AppExpect(s) => s.within.as_deref(),
        Step::AppExpectClosed(s) => s.within.as_deref(),
        Step::AppOpened(s) => s.within.as_deref(),
        Step::ExpectOp(s) => s.within.as_deref(),
        Step::Uploads(s) => s.within.as_deref(),
        _ => None,
    }?;
    wait("up to", within, params)
}

/// The step's name as a vector spells it.
pub fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Upstream(_) => "upstream",
        Step::Send(_) => "send",
        Step::Single(_) => "single",
        Step::Get(_) => "get",
        Step::Await(_) => "await",
        Step::Expect(_) => "expect",
        Step::Collect(_) => "collect",
        Step::ExpectUpstream(_) => "expect_upstream",
        Step::UpstreamSend(_) => "upstream_send",
        Step::UpstreamClose(_) => "upstream_close",
        Step::UdpSend(_) => "udp_send",
        Step::Sleep(_) => "sleep",
        Step::AppOpen(_) => "app_open",
        Step::AppOpened(_) => "app_opened",
        Step::AppSend(_) => "app_send",
        Step::AppExpect(_) => "app_expect",
        Step::AppHalfClose(_) => "app_half_close",
        Step::AppClose(_) => "app_close",
        Step::AppExpectClosed(_) => "app_expect_closed",
        Step::ExpectOp(_) => "expect_op",
        Step::ExpectNoOp(_) => "expect_no_op",
        Step::Reply(_) => "reply",
        Step::Respond(_) => "respond",
        Step::ExpectBatch(_) => "expect_batch",
        Step::Release(_) => "release",
        Step::BodyLimit(_) => "body_limit",
        Step::Uploads(_) => "uploads",
        Step::ExpectBodies(_) => "expect_bodies",
    }
}

/// What a step does and how long it is known to wait, for the long-running notice:
/// `sleep tcp_idle - longpoll_deadline - 2*reap_interval (3m 45s)`.
pub fn describe(step: &Step, params: &Params) -> (String, Option<Duration>) {
    let name = step_name(step);
    let sure = waits(step, params);
    if !sure.is_empty() {
        let total: u64 = sure.iter().map(|w| w.ms).sum();
        let parts: Vec<String> = sure
            .iter()
            .map(|w| {
                let head = if w.what == "sleep" { "" } else { w.what };
                let sep = if head.is_empty() { "" } else { " " };
                format!("{head}{sep}{} ({})", w.expr, human(ms(w.ms)))
            })
            .collect();
        return (format!("{name} {}", parts.join(", ")), Some(ms(total)));
    }
    match limit(step, params) {
        Some(w) => (
            format!("{name}, up to {} ({})", w.expr, human(ms(w.ms))),
            None,
        ),
        None if matches!(step, Step::Send(_) | Step::Single(_) | Step::Await(_)) => (
            format!("{name}: waiting for the target's reply (up to --request-timeout)"),
            None,
        ),
        None => (name.to_string(), None),
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// The least time a case takes with these parameters.
pub fn case_time(case: &Case, params: &Params) -> Duration {
    let steps = &case.file.steps;
    let waited: u64 = steps
        .iter()
        .flat_map(|s| waits(s, params))
        .map(|w| w.ms)
        .sum();
    ms(waited) + STEP_COST * steps.len() as u32
}

/// Why `--quick` skips this case with these parameters, if it does: it waits at least
/// [`QUICK_MIN`] in all, partly for a deployed timeout.
pub fn quick_reason(case: &Case, params: &Params) -> Option<String> {
    let mut named: Vec<&str> = Vec::new();
    for w in case.file.steps.iter().flat_map(|s| waits(s, params)) {
        for p in TIMEOUT_PARAMS {
            if mentions(&w.expr, p) && !named.contains(&p) {
                named.push(p);
            }
        }
    }
    let total = case_time(case, params);
    if named.is_empty() || total < QUICK_MIN {
        return None;
    }
    Some(format!(
        "--quick: waits {} for {}",
        human(total),
        named.join(", ")
    ))
}

/// Whether an expression uses parameter `name`.
fn mentions(expr: &str, name: &str) -> bool {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|t| t == name)
}

/// How long `times` take on `lanes` cases at once, longest first onto the least loaded lane
/// (within 4/3 of the best schedule, which is all an estimate needs).
pub fn makespan(times: &[Duration], lanes: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| b.cmp(a));
    let mut load = vec![Duration::ZERO; lanes.max(1)];
    for t in sorted {
        if let Some(min) = load.iter_mut().min() {
            *min += t;
        }
    }
    load.into_iter().max().unwrap_or_default()
}

/// `420 ms`, `14.9 s`, `6m 15s`, `1h 05m`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::profile;

    fn case(steps: serde_json::Value) -> Case {
        let file = serde_json::json!({
            "title": "t", "section": "5.1", "role": "node", "level": "must", "steps": steps
        });
        Case {
            id: "node/x/y".into(),
            file: serde_json::from_value(file).unwrap(),
        }
    }

    #[test]
    fn a_reaping_case_waits_minutes_on_the_seqtun_profile_and_is_quick_on_fast() {
        let c = case(serde_json::json!([
            {"sleep": "0.5*tcp_idle"},
            {"expect": {"not_before": "longpoll_deadline - 100ms"}},
            {"sleep": "tcp_idle - longpoll_deadline - 2*reap_interval"}
        ]));
        let seqtun = profile("seqtun").unwrap();
        let t = case_time(&c, &seqtun);
        assert!(t >= Duration::from_secs(150 + 14 + 225), "{t:?}");
        let why = quick_reason(&c, &seqtun).unwrap();
        assert_eq!(why, "--quick: waits 6m 29s for tcp_idle, reap_interval");
        assert_eq!(quick_reason(&c, &profile("fast").unwrap()), None);
    }

    #[test]
    fn a_long_poll_case_is_long_but_not_a_timeout_case() {
        let c = case(serde_json::json!([
            {"expect": {"not_before": "longpoll_deadline - 100ms"}},
            {"expect": {"not_before": "longpoll_deadline - 100ms"}}
        ]));
        assert_eq!(quick_reason(&c, &profile("seqtun").unwrap()), None);
    }

    #[test]
    fn steps_say_what_they_wait_for() {
        let c = case(serde_json::json!([{"sleep": "0.5*tcp_idle"}, {"send": {"ops": []}}]));
        let p = profile("seqtun").unwrap();
        let (what, wait) = describe(&c.file.steps[0], &p);
        assert_eq!(what, "sleep 0.5*tcp_idle (2m 30s)");
        assert_eq!(wait, Some(Duration::from_secs(150)));
        let (what, wait) = describe(&c.file.steps[1], &p);
        assert!(
            what.starts_with("send: waiting for the target's reply"),
            "{what}"
        );
        assert_eq!(wait, None);
    }

    #[test]
    fn makespan_and_human() {
        let s = Duration::from_secs;
        assert_eq!(makespan(&[s(10), s(1), s(1), s(1)], 2), s(10));
        assert_eq!(makespan(&[s(3), s(3), s(3), s(3)], 2), s(6));
        assert_eq!(makespan(&[s(3); 4], 1), s(12));
        assert_eq!(human(Duration::from_millis(420)), "420 ms");
        assert_eq!(human(Duration::from_millis(14_900)), "14.9 s");
        assert_eq!(human(s(375)), "6m 15s");
        assert_eq!(human(s(3900)), "1h 05m");
    }
}
