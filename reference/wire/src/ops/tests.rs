use serde_json::json;

use super::*;
use crate::rules::NodeFaults;

fn op(v: Value) -> Op {
    Op::from_value(v)
}

fn action(v: Value) -> Action {
    op(v).action(&Rules::seqtun())
}

fn answer(v: Value) -> Reply {
    match action(v) {
        Action::Answer(r) => r,
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn target_rules() {
    let open = |v| match action(v) {
        Action::Open(o) => o.target,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        open(json!({"op":"connect","host":"[::1]","port":80})),
        Target {
            host: "::1".into(),
            port: 80
        }
    );
    let e = |v| answer(v).e.unwrap();
    assert_eq!(
        e(json!({"op":"connect","host":"h","port":0})),
        "missing or invalid port"
    );
    assert_eq!(
        e(json!({"op":"connect","host":"h"})),
        "missing or invalid port"
    );
    assert_eq!(
        e(json!({"op":"connect","host":"","port":1})),
        "missing host"
    );
    assert_eq!(e(json!({"op":"connect","port":1})), "missing host");
}

#[test]
fn errors_surface_in_the_deployed_order() {
    // connect_data checks its payload first, udp_open its target first.
    let e = |v| answer(v).e.unwrap();
    let cd = e(json!({"op":"connect_data","port":1,"d":"@@"}));
    assert!(cd.starts_with("bad base64: "), "{cd}");
    assert_eq!(
        e(json!({"op":"udp_open","port":1,"d":"@@"})),
        "missing host"
    );
}

#[test]
fn a_bad_payload_on_data_waits_for_its_session() {
    match action(json!({"op":"data","sid":"s","d":"@@"})) {
        Action::Write(w) => {
            assert_eq!(w.sid, "s");
            assert!(w.touch, "the op meant to write: it touches its session");
            assert!(matches!(w.bytes, Err(OpError::BadBase64(_))));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn seqd_data_is_a_job_and_legacy_nodes_ignore_seq() {
    let v = json!({"op":"data","sid":"s","seq":4,"d":"eA=="});
    assert!(matches!(action(v.clone()), Action::Job(Job { seq: 4, .. })));
    let legacy = Rules::new(true, &NodeFaults::default());
    assert!(matches!(op(v).action(&legacy), Action::Write(_)));
}

#[test]
fn missing_sid_echoes_seq_unless_the_deployed_fault_says_not() {
    let v = json!({"op":"data","seq":4});
    assert_eq!(
        serde_json::to_value(answer(v.clone())).unwrap(),
        json!({"e":"missing sid","seq":4})
    );
    let deployed = Rules::new(
        false,
        &NodeFaults {
            no_seq_on_missing_sid: true,
            ..NodeFaults::default()
        },
    );
    let Action::Answer(r) = op(v).action(&deployed) else {
        panic!()
    };
    assert_eq!(serde_json::to_value(r).unwrap(), json!({"e":"missing sid"}));
}

#[test]
fn malformed_ops_keep_their_seq_and_kind() {
    let m = op(json!({"op":"data","sid":"s","seq":7,"port":"x","d":"AAAA"}));
    assert_eq!(m.kind(), OpKind::Data);
    assert_eq!(m.uplink_bytes(), 3);
    let Action::Answer(r) = m.action(&Rules::seqtun()) else {
        panic!()
    };
    assert!(r.e.as_deref().unwrap().starts_with("bad op: "), "{r:?}");
    assert_eq!(r.seq, Some(7));
    let not_an_object = op(json!(12));
    assert_eq!(not_an_object.kind(), OpKind::Unknown(""));
}

#[test]
fn unknown_ops_say_unsupported() {
    let r = answer(json!({"op":"frob"}));
    assert_eq!(
        serde_json::to_value(r).unwrap(),
        json!({"e":"unknown op: frob","code":"UNSUPPORTED_OP"})
    );
}

#[test]
fn close_and_udp_data_need_a_sid() {
    assert_eq!(answer(json!({"op":"close"})).e.unwrap(), "missing sid");
    assert_eq!(answer(json!({"op":"udp_data"})).e.unwrap(), "missing sid");
    assert_eq!(
        action(json!({"op":"close","sid":"s"})),
        Action::Close { sid: "s".into() }
    );
}

#[test]
fn activity_follows_kind_and_payload_not_validity() {
    let r = Rules::seqtun();
    let active = |v| op(v).is_active(&r);
    assert!(active(json!({"op":"connect"})), "a connect, even a bad one");
    assert!(active(
        json!({"op":"connect_data","host":"h","port":1,"d":""})
    ));
    assert!(active(json!({"op":"udp_open","d":"eA=="})));
    assert!(!active(json!({"op":"udp_open","host":"h","port":1})));
    // seq'd: the op meant to write, even undecodable bytes; un-seq'd: decoded bytes only.
    assert!(active(json!({"op":"data","sid":"s","seq":0,"d":"@@"})));
    assert!(!active(json!({"op":"data","sid":"s","d":"@@"})));
    assert!(active(json!({"op":"data","sid":"s","d":"eA=="})));
    assert!(!active(json!({"op":"data","sid":"s","seq":0})));
    assert!(active(json!({"op":"udp_data","sid":"s","d":"eA=="})));
    assert!(!active(json!({"op":"close","sid":"s"})));
    assert!(!active(json!({"op":"frob","d":"eA=="})));
}

#[test]
fn payload_presence_and_bytes() {
    let p = |d: Option<&str>| Payload::parse(d);
    assert!(!p(None).is_present() && !p(Some("")).is_present());
    assert!(p(Some("@@")).is_present() && !p(Some("@@")).has_bytes());
    assert!(p(Some("eA==")).has_bytes());
    assert_eq!(p(Some("eA==")).decoded().unwrap(), b"x");
}

#[test]
fn polls_touch_unless_the_fault_says_not() {
    let quiet = Rules::new(
        false,
        &NodeFaults {
            tcp_polls_do_not_refresh: true,
            udp_polls_do_not_refresh: true,
            ..NodeFaults::default()
        },
    );
    for v in [
        json!({"op":"data","sid":"s"}),
        json!({"op":"udp_data","sid":"s"}),
    ] {
        let Action::Write(w) = op(v.clone()).action(&quiet) else {
            panic!()
        };
        assert!(!w.touch, "{v}");
        let Action::Write(w) = op(v.clone()).action(&Rules::seqtun()) else {
            panic!()
        };
        assert!(w.touch, "{v}");
    }
}
