//! Measuring a node's long-poll deadline after the dialect probe, to pick the profile its cases
//! run with.
//!
//! Timing cases are written against target parameters (§5.3): a 2 s NODE-MAIN run with the 15 s
//! profile fails every long-poll case for a reason the report cannot show, and nothing told the
//! user to pass `--profile node-main`. One pure poll on an idle session shows the deadline
//! directly; an immediate request (`close` of an unknown session) measures the round trip, which
//! a relay adds and which is taken off.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::dialect::one;
use crate::fixtures::Fixtures;
use crate::http::Http;
use crate::params::{DEFAULT_PROFILE, PROFILES, profile};
use crate::target::NodeTarget;

/// A measured deadline within this share of a profile's (or this close) matches it.
const TOLERANCE: f64 = 0.15;
const TOLERANCE_FLOOR: Duration = Duration::from_millis(300);
/// A pure poll answered sooner than this was not held at all.
const NO_LONG_POLL: Duration = Duration::from_millis(200);
/// Measured deadlines are suggested rounded to this much.
const STEP_MS: u64 = 100;

/// What the measurement suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A built-in profile with this long-poll.
    Profile(&'static str),
    /// No built-in profile has it: the default profile with this `longpoll_deadline` (ms).
    Param(u64),
    /// The node answers pure polls at once.
    NoLongPoll,
}

/// Picks the built-in profile whose long-poll is closest to `measured`, within the tolerance.
pub fn choose(measured: Duration) -> Choice {
    if measured < NO_LONG_POLL {
        return Choice::NoLongPoll;
    }
    let m = measured.as_secs_f64() * 1000.0;
    let close = |p: f64| (m - p).abs() <= (p * TOLERANCE).max(TOLERANCE_FLOOR.as_millis() as f64);
    PROFILES
        .iter()
        .filter_map(|name| Some((*name, profile(name)?.get("longpoll_deadline").copied()?)))
        .filter(|(_, p)| close(*p))
        .min_by(|a, b| (m - a.1).abs().total_cmp(&(m - b.1).abs()))
        .map_or_else(
            || Choice::Param((m as u64 + STEP_MS / 2) / STEP_MS * STEP_MS),
            |(name, _)| Choice::Profile(name),
        )
}

async fn ask(
    http: &Http,
    target: &NodeTarget,
    op: serde_json::Value,
) -> Result<serde_json::Value, String> {
    one(http, target, op).await.map_err(|e| e.to_string())
}

/// Holds one pure poll on a session to a silent fixture and times it, minus the round trip of
/// an immediate request.
pub async fn measure(target: &NodeTarget, http: &Http) -> Result<Duration, String> {
    let mut fixtures = Fixtures::default();
    let port = fixtures
        .sink("longpoll", target.fixture_ip, &target.params)
        .await
        .map_err(|e| e.to_string())?
        .addr
        .port();
    let host = target.fixture_ip.to_string();
    let reply = ask(
        http,
        target,
        json!({"op":"connect","host":host,"port":port}),
    )
    .await?;
    let sid = reply
        .get("sid")
        .and_then(|s| s.as_str())
        .ok_or_else(|| format!("connect to a fixture failed: {reply}"))?
        .to_string();
    let started = Instant::now();
    ask(
        http,
        target,
        json!({"op":"close","sid":"seqtun-conform-rtt"}),
    )
    .await?;
    let rtt = started.elapsed();
    let started = Instant::now();
    let polled = ask(http, target, json!({"op":"data","sid":sid})).await;
    let held = started.elapsed();
    let _ = ask(http, target, json!({"op":"close","sid":sid})).await;
    polled?;
    Ok(held.saturating_sub(rtt))
}

/// Measures the target's long-poll and moves it to the matching profile (then `overrides`
/// again, so a user's `--param` still wins); returns the line that says what was done and the
/// profile chosen.
pub async fn fit(target: &mut NodeTarget, http: &Http, overrides: &[String]) -> (String, String) {
    let measured = match measure(target, http).await {
        Ok(m) => m,
        Err(e) => {
            return (
                format!("long-poll not measured ({e}); keeping --profile {DEFAULT_PROFILE}"),
                DEFAULT_PROFILE.into(),
            );
        }
    };
    let choice = choose(measured);
    let mut params = match &choice {
        Choice::Profile(name) => profile(name),
        Choice::Param(_) | Choice::NoLongPoll => profile(DEFAULT_PROFILE),
    }
    .unwrap_or_else(|| target.params.clone());
    if let Choice::Param(ms) = choice {
        params.insert("longpoll_deadline".into(), ms as f64);
    }
    // The overrides were applied once already, so they are known to be valid.
    let _ = crate::params::apply(&mut params, overrides);
    target.params = params;
    let name = match &choice {
        Choice::Profile(name) => (*name).to_string(),
        Choice::Param(ms) => format!("{DEFAULT_PROFILE} with longpoll_deadline={ms}ms"),
        Choice::NoLongPoll => DEFAULT_PROFILE.to_string(),
    };
    (describe(measured, &choice, DEFAULT_PROFILE), name)
}

/// The line the runner prints about it.
pub fn describe(measured: Duration, choice: &Choice, default: &str) -> String {
    let secs = measured.as_secs_f64();
    match choice {
        Choice::Profile(name) if *name == default => format!(
            "long-poll measured {secs:.1} s: the default profile {name} fits (pass --profile to choose another)"
        ),
        Choice::Profile(name) => format!(
            "long-poll measured {secs:.1} s: using --profile {name} (pass --profile to choose another)"
        ),
        Choice::Param(ms) => format!(
            "long-poll measured {secs:.1} s, which no built-in profile has: using --profile {default} --param longpoll_deadline={ms}ms (pass them yourself to choose)"
        ),
        Choice::NoLongPoll => format!(
            "long-poll measured {secs:.1} s: the node answers pure polls at once, so long-poll cases will fail; keeping --profile {default}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(f64) -> Duration = Duration::from_secs_f64;

    #[test]
    fn the_closest_profile_within_tolerance_wins() {
        assert_eq!(choose(S(15.2)), Choice::Profile("seqtun"));
        assert_eq!(choose(S(2.05)), Choice::Profile("node-main"));
        assert_eq!(choose(S(1.8)), Choice::Profile("node-main"));
        assert_eq!(choose(S(1.55)), Choice::Profile("fast"));
        assert_eq!(choose(S(4.0)), Choice::Param(4000));
        assert_eq!(choose(S(4.03)), Choice::Param(4000));
        assert_eq!(choose(S(4.06)), Choice::Param(4100));
        assert_eq!(choose(S(0.05)), Choice::NoLongPoll);
    }

    #[test]
    fn the_line_says_what_was_done() {
        let t = describe(S(2.0), &Choice::Profile("node-main"), "seqtun");
        assert!(t.contains("using --profile node-main"), "{t}");
        let t = describe(S(4.0), &Choice::Param(4000), "seqtun");
        assert!(
            t.contains("--profile seqtun --param longpoll_deadline=4000ms"),
            "{t}"
        );
    }
}
