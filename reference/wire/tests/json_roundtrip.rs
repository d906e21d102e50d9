//! JSON rules hold for every value, not just the examples: what we emit parses back to the
//! same value, never contains `null`, and survives unknown fields added by newer peers.

use proptest::prelude::*;
use seqtun_wire::{BatchOp, Reply};
use serde_json::Value;

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn batch_op() -> impl Strategy<Value = BatchOp> {
    (
        "[a-z_]{1,12}",
        opt("[0-9a-f-]{0,36}"),
        opt("[a-z0-9.:]{0,20}"),
        opt(any::<u16>()),
        opt("[A-Za-z0-9+/]{0,8}"),
        opt(any::<u64>()),
        opt(any::<u64>()),
    )
        .prop_map(|(op, sid, host, port, d, seq, ack)| BatchOp {
            op,
            sid,
            host,
            port,
            d,
            seq,
            ack,
        })
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        opt("[0-9a-f-]{0,36}"),
        opt("[A-Za-z0-9+/=]{0,8}"),
        opt(proptest::collection::vec("[A-Za-z0-9+/=]{0,8}", 0..3)),
        opt(any::<bool>()),
        opt(".{0,20}"),
        opt("[A-Z_]{0,14}"),
        opt(any::<u64>()),
        opt(any::<u32>()),
    )
        .prop_map(|(sid, d, pkts, eof, e, code, seq, caps)| Reply {
            sid,
            d,
            pkts,
            eof,
            e,
            code,
            seq,
            caps,
        })
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(has_null),
        Value::Object(o) => o.values().any(has_null),
        _ => false,
    }
}

proptest! {
    #[test]
    fn batch_op_round_trips_without_nulls(op in batch_op()) {
        let v = serde_json::to_value(&op).unwrap();
        prop_assert!(!has_null(&v), "{v}");
        prop_assert_eq!(serde_json::from_value::<BatchOp>(v).unwrap(), op);
    }

    #[test]
    fn reply_round_trips_without_nulls(r in reply()) {
        let text = serde_json::to_string(&r).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        prop_assert!(!has_null(&v), "{v}");
        prop_assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), r);
    }

    #[test]
    fn unknown_fields_change_nothing(r in reply(), extra in "[a-z]{3,8}", n in any::<i64>()) {
        let mut v = serde_json::to_value(&r).unwrap();
        let key = format!("x_{extra}");
        v.as_object_mut().unwrap().insert(key, Value::from(n));
        prop_assert_eq!(serde_json::from_value::<Reply>(v).unwrap(), r);
    }

    #[test]
    fn seq_survives_the_full_u64_range(seq in any::<u64>()) {
        let text = serde_json::to_string(&BatchOp::data("s", b"", Some(seq))).unwrap();
        let want = format!("\"seq\":{seq}");
        prop_assert!(text.contains(&want), "{}", text);
        prop_assert_eq!(serde_json::from_str::<BatchOp>(&text).unwrap().seq, Some(seq));
    }
}
