//! What the relay script does with one request, as plain values: outer dialect in, either an
//! answer or one node fetch out (§1.5).
//!
//! This is the part of an Apps Script relay that a JavaScript engine runs; keeping it free of
//! I/O means the emulator's behaviour can be checked line by line against `Relay.gs` and
//! unit-tested without a node. Timing, limits and faults are the platform's business and live
//! in `exec`.
//!
//! It deliberately does not parse ops into `seqtun_wire`'s typed ops: a relay forwards what
//! `JSON.parse` and `JSON.stringify` make of a body (numbers as doubles, unknown fields kept,
//! keys reordered, [`crate::js_json`]), and a typed model would validate, normalise and drop
//! exactly what the conformance suite must see pass through. It takes only shared constants
//! from the wire crate: op names, `UNSUPPORTED_OP` and the decoy sentence.

use seqtun_wire::{CODE_UNSUPPORTED_OP, OpKind};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::js_json::probe::Top;
use crate::js_json::{self, JsObject, JsValue};
use crate::pages::DIAG_UNAUTHORIZED;

/// Single ops the single-op path knows (§1.5); anything else is `UNSUPPORTED_OP`.
pub const SINGLE_OPS: [&str; 4] = [
    OpKind::Connect.name(),
    OpKind::ConnectData.name(),
    OpKind::Data.name(),
    OpKind::Close.name(),
];

/// The op fields a relay that rebuilds ops knows; `--strip-unknown-fields` keeps only these,
/// so `seq`, `wseq` and padding never reach the node (the old-relay behaviour).
pub const LEGACY_OP_FIELDS: [&str; 5] = ["op", "sid", "host", "port", "d"];

/// The relay script's settings.
#[derive(Debug, Clone)]
pub struct Script {
    pub relay_key: String,
    pub node_key: String,
    pub diagnostic: bool,
}

/// What the script returns to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `ContentService` JSON text.
    Json(String),
    /// The Apps Script decoy page.
    Decoy,
}

/// Which node endpoint a fetch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Batch,
    Single,
}

impl Route {
    pub fn path(self) -> &'static str {
        match self {
            Route::Batch => "/tunnel/batch",
            Route::Single => "/tunnel",
        }
    }
}

/// A POST the script makes to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub route: Route,
    /// The inner-dialect JSON body.
    pub body: String,
}

/// The script's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Answer(Answer),
    Fetch(Fetch),
}

impl Script {
    /// Runs `doPost` up to the node fetch. `strip_unknown` drops op fields outside
    /// [`LEGACY_OP_FIELDS`] on the batch path.
    pub fn run(&self, body: &[u8], strip_unknown: bool) -> Outcome {
        // The same decisions in the same order as below, made without building the body's
        // values: a request without the key costs its raw bytes and nothing more.
        match js_json::probe::probe(body) {
            Err(e) => return Outcome::Answer(self.exception(&e.to_string())),
            Ok(Top::NotObject) => {
                return Outcome::Answer(
                    self.exception("TypeError: request body is not a JSON object"),
                );
            }
            Ok(Top::Object { k }) => {
                let k = k.map(JsValue::String);
                if !self.key_matches(k.as_ref()) {
                    return Outcome::Answer(self.unauthorized());
                }
            }
        }
        let req = match js_json::parse(body) {
            Ok(v) => v,
            Err(e) => return Outcome::Answer(self.exception(&e.to_string())),
        };
        let JsValue::Object(req) = req else {
            return Outcome::Answer(self.exception("TypeError: request body is not a JSON object"));
        };
        if !self.key_matches(req.get("k")) {
            return Outcome::Answer(self.unauthorized());
        }
        let t = match req.get("t") {
            Some(t) if t.is_truthy() => t,
            _ => {
                return Outcome::Answer(self.exception(
                    "Error: no tunnel op (t): this relay only forwards tunnel requests",
                ));
            }
        };
        if t.as_str() == Some("batch") {
            return Outcome::Fetch(self.batch(&req, strip_unknown));
        }
        let op = t.to_js_string();
        if SINGLE_OPS.contains(&op.as_str()) {
            return Outcome::Fetch(self.single(&req, op));
        }
        let mut reply = JsObject::default();
        reply.set("e", JsValue::String(format!("unknown tunnel op: {op}")));
        reply.set("code", JsValue::String(CODE_UNSUPPORTED_OP.into()));
        Outcome::Answer(Answer::Json(js_json::stringify(&JsValue::Object(reply))))
    }

    /// What a thrown exception turns into: the decoy, or `{"e": String(err)}` when
    /// diagnosing.
    pub fn exception(&self, text: &str) -> Answer {
        if self.diagnostic {
            Answer::Json(error_json(text))
        } else {
            Answer::Decoy
        }
    }

    /// A wrong key: the decoy, or `unauthorized` when diagnosing.
    fn unauthorized(&self) -> Answer {
        if self.diagnostic {
            Answer::Json(DIAG_UNAUTHORIZED.into())
        } else {
            Answer::Decoy
        }
    }

    /// The node's answer to a fetch: its body verbatim on 200, else an error naming the status.
    pub fn node_reply(&self, route: Route, status: u16, body: String) -> Answer {
        if status == 200 {
            return Answer::Json(body);
        }
        let what = match route {
            Route::Batch => "tunnel batch",
            Route::Single => "tunnel node",
        };
        Answer::Json(error_json(&format!("{what} HTTP {status}")))
    }

    /// `req.k === RELAY_KEY`, comparing SHA-256 digests in constant time, so neither the
    /// content nor the length of the key shows in the time taken.
    fn key_matches(&self, k: Option<&JsValue>) -> bool {
        k.and_then(JsValue::as_str).is_some_and(|k| {
            let a = Sha256::digest(k.as_bytes());
            let b = Sha256::digest(self.relay_key.as_bytes());
            bool::from(a.as_slice().ct_eq(b.as_slice()))
        })
    }

    /// `{k: NODE_KEY, ops: req.ops || []}`.
    fn batch(&self, req: &JsObject, strip_unknown: bool) -> Fetch {
        let mut ops = match req.get("ops") {
            Some(ops) if ops.is_truthy() => ops.clone(),
            _ => JsValue::Array(Vec::new()),
        };
        if strip_unknown {
            strip_unknown_op_fields(&mut ops);
        }
        let mut inner = JsObject::default();
        inner.set("k", JsValue::String(self.node_key.clone()));
        inner.set("ops", ops);
        Fetch {
            route: Route::Batch,
            body: js_json::stringify(&JsValue::Object(inner)),
        }
    }

    /// `{k, op: t, host: req.h, port: req.p, sid: req.sid, data: req.d if truthy}`; absent
    /// fields stay absent and every other field is dropped.
    fn single(&self, req: &JsObject, op: String) -> Fetch {
        let mut inner = JsObject::default();
        inner.set("k", JsValue::String(self.node_key.clone()));
        inner.set("op", JsValue::String(op));
        for (from, to) in [("h", "host"), ("p", "port"), ("sid", "sid")] {
            if let Some(v) = req.get(from) {
                inner.set(to, v.clone());
            }
        }
        if let Some(d) = req.get("d").filter(|d| d.is_truthy()) {
            inner.set("data", d.clone());
        }
        Fetch {
            route: Route::Single,
            body: js_json::stringify(&JsValue::Object(inner)),
        }
    }
}

/// Drops every op field an old relay would not know; non-object ops are left alone.
pub fn strip_unknown_op_fields(ops: &mut JsValue) {
    if let JsValue::Array(items) = ops {
        for item in items {
            if let JsValue::Object(op) = item {
                op.retain(|k| LEGACY_OP_FIELDS.contains(&k));
            }
        }
    }
}

/// `JSON.stringify({e: text})`.
pub fn error_json(text: &str) -> String {
    let mut o = JsObject::default();
    o.set("e", JsValue::String(text.into()));
    js_json::stringify(&JsValue::Object(o))
}

#[cfg(test)]
mod tests;
