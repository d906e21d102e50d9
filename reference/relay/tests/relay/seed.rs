//! A seed makes a fault sequence repeat exactly, observed from the client side.

use hyper::StatusCode;
use seqtun_relay::faults::{Action, FaultPlan, FaultRates};
use serde_json::json;

use crate::common::*;

const CALLS: u64 = 24;

fn rates() -> FaultRates {
    FaultRates {
        drop_request: 0.15,
        drop_reply: 0.15,
        decoy: 0.15,
        server_error: 0.15,
        ..FaultRates::default()
    }
}

/// What the client saw for each of `CALLS` sequential calls.
async fn observe(seed: u64) -> Vec<&'static str> {
    let c = chain(
        |_| {},
        |r| {
            r.faults = FaultPlan {
                rates: rates(),
                ..FaultPlan::new(seed)
            }
        },
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..CALLS {
        // A fresh client each time: a dropped connection must not affect the next call.
        let body = json!({"k": RELAY_KEY, "t": "batch", "ops": [{"op":"close","sid":"s"}]});
        let outcome = match post(&http(), &c.relay.url_for(DEP), body.to_string()).await {
            Err(_) => "dropped",
            Ok(a) if a.is_decoy() => "decoy",
            Ok(a) if a.status == StatusCode::INTERNAL_SERVER_ERROR => "5xx",
            Ok(a) if a.status == StatusCode::OK && a.json()["r"][0]["eof"] == true => "ok",
            Ok(a) => panic!("unexpected answer {} {}", a.status, a.text()),
        };
        seen.push(outcome);
    }
    seen
}

/// What the plan says the client should see.
fn predicted(seed: u64) -> Vec<&'static str> {
    let plan = FaultPlan {
        rates: rates(),
        ..FaultPlan::new(seed)
    };
    (0..CALLS)
        .map(|n| match plan.decide(n).action {
            Action::DropRequest | Action::DropReply => "dropped",
            Action::Decoy => "decoy",
            Action::ServerError { .. } => "5xx",
            Action::Pass => "ok",
            other => panic!("not in the rates: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_faults_other_seed_other_faults() {
    let first = observe(1234).await;
    assert_eq!(first, predicted(1234));
    assert!(
        first.contains(&"ok") && first.iter().any(|o| *o != "ok"),
        "{first:?}"
    );
    assert_eq!(observe(1234).await, first);
    assert_ne!(observe(999).await, first);
}
