//! What a cell's client and node agreed on, read from the tap's raw JSON alone.
//!
//! Only facts visible on the wire count: whether `data` ops carried `seq`, whether each reply
//! echoed it, and whether a connect reply offered `caps` bit 0. Ordering itself cannot be seen
//! in one exchange; PROTOCOL.md §11.4 is why "echoed without caps" is reported as its own kind,
//! since an echo promises nothing about order.

use serde::Serialize;
use serde_json::Value;

use super::tap::Exchange;

/// Counts over every op that crossed the tap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WireFacts {
    /// POSTs forwarded to the node.
    pub posts: usize,
    pub data_ops: usize,
    /// `data` ops carrying `seq`.
    pub seq_ops: usize,
    /// Seq'd ops whose reply carried the same `seq`.
    pub echoed: usize,
    /// Seq'd ops whose reply had no `seq` (or no reply at all).
    pub not_echoed: usize,
    /// Seq'd ops answered with a different `seq`.
    pub wrong_echo: usize,
    /// A `connect` / `connect_data` reply had `caps` bit 0.
    pub caps_offered: bool,
    /// A connect reply had `caps` bits 0 and 1: replay-safe seq offered (§7.10).
    pub replay_offered: bool,
    /// `data` ops carrying `ack`: the client took the offer.
    pub acked_ops: usize,
}

/// The kind of conversation a cell had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wire {
    /// `seq` sent and echoed, and the node offered `caps` bit 0.
    Pipelined,
    /// No `data` op carried `seq`.
    Legacy,
    /// `seq` sent and echoed without `caps`: an echo, not an ordering promise.
    EchoOnly,
    /// `seq` sent, and some reply did not echo it (or echoed another).
    NoEcho,
    /// No `data` op reached the node.
    NoTraffic,
}

impl Wire {
    pub fn word(self) -> &'static str {
        match self {
            Wire::Pipelined => "pipelined",
            Wire::Legacy => "legacy",
            Wire::EchoOnly => "echo-only",
            Wire::NoEcho => "no-echo",
            Wire::NoTraffic => "no-traffic",
        }
    }
}

impl WireFacts {
    pub fn from_exchanges(exchanges: &[Exchange]) -> Self {
        let mut f = WireFacts::default();
        for x in exchanges {
            f.posts += 1;
            let Some(req) = &x.request else { continue };
            if let Some(ops) = req.get("ops").and_then(Value::as_array) {
                let replies = x
                    .reply
                    .as_ref()
                    .and_then(|r| r.get("r"))
                    .and_then(Value::as_array);
                for (i, op) in ops.iter().enumerate() {
                    f.note(op, replies.and_then(|r| r.get(i)));
                }
            } else if req.get("op").is_some() {
                // The single-op path: the body is the op, the answer is its reply.
                f.note(req, x.reply.as_ref());
            }
        }
        f
    }

    fn note(&mut self, op: &Value, reply: Option<&Value>) {
        match op.get("op").and_then(Value::as_str) {
            Some("connect" | "connect_data") => {
                let caps = reply
                    .and_then(|r| r.get("caps"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                self.caps_offered |= caps & 1 == 1;
                self.replay_offered |= caps & 3 == 3;
            }
            Some("data") => {
                self.data_ops += 1;
                self.acked_ops += usize::from(op.get("ack").is_some());
                let Some(seq) = op.get("seq") else { return };
                self.seq_ops += 1;
                match reply.and_then(|r| r.get("seq")) {
                    None => self.not_echoed += 1,
                    Some(echo) if echo == seq => self.echoed += 1,
                    Some(_) => self.wrong_echo += 1,
                }
            }
            _ => {}
        }
    }

    pub fn kind(&self) -> Wire {
        if self.data_ops == 0 {
            Wire::NoTraffic
        } else if self.seq_ops == 0 {
            Wire::Legacy
        } else if self.not_echoed > 0 || self.wrong_echo > 0 {
            Wire::NoEcho
        } else if self.caps_offered {
            Wire::Pipelined
        } else {
            Wire::EchoOnly
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn x(request: Value, reply: Value) -> Exchange {
        Exchange {
            path: "/tunnel/batch".into(),
            request: Some(request),
            status: Some(200),
            reply: Some(reply),
        }
    }

    fn connect(caps: Option<u64>) -> Exchange {
        let mut reply = json!({"sid": "s", "eof": false});
        if let Some(c) = caps {
            reply["caps"] = json!(c);
        }
        x(
            json!({"k": "k", "ops": [{"op": "connect", "host": "h", "port": 1}]}),
            json!({"r": [reply]}),
        )
    }

    fn data(seq: Option<u64>, echo: Option<u64>) -> Exchange {
        let mut op = json!({"op": "data", "sid": "s"});
        let mut reply = json!({"sid": "s", "eof": false});
        if let Some(s) = seq {
            op["seq"] = json!(s);
        }
        if let Some(e) = echo {
            reply["seq"] = json!(e);
        }
        x(json!({"k": "k", "ops": [op]}), json!({"r": [reply]}))
    }

    #[test]
    fn each_kind_from_its_wire_shape() {
        let kind = |xs: Vec<Exchange>| WireFacts::from_exchanges(&xs).kind();
        assert_eq!(kind(vec![connect(Some(1))]), Wire::NoTraffic);
        assert_eq!(kind(vec![connect(Some(1)), data(None, None)]), Wire::Legacy);
        assert_eq!(
            kind(vec![connect(Some(3)), data(Some(0), Some(0))]),
            Wire::Pipelined
        );
        assert_eq!(
            kind(vec![connect(Some(2)), data(Some(0), Some(0))]),
            Wire::EchoOnly,
            "caps without bit 0 offers nothing"
        );
        assert_eq!(kind(vec![connect(None), data(Some(0), None)]), Wire::NoEcho);
        assert_eq!(
            kind(vec![connect(Some(1)), data(Some(0), Some(1))]),
            Wire::NoEcho
        );
    }

    #[test]
    fn single_op_bodies_and_missing_replies_count() {
        let single = Exchange {
            path: "/tunnel".into(),
            request: Some(json!({"k": "k", "op": "data", "sid": "s", "seq": 4})),
            status: Some(200),
            reply: Some(json!({"sid": "s", "eof": false, "seq": 4})),
        };
        let lost = Exchange {
            reply: None,
            status: None,
            ..data(Some(5), None)
        };
        let f = WireFacts::from_exchanges(&[single, lost]);
        assert_eq!((f.posts, f.seq_ops, f.echoed, f.not_echoed), (2, 2, 1, 1));
    }
}
