use super::*;

fn script(diagnostic: bool) -> Script {
    Script {
        relay_key: "R".into(),
        node_key: "N".into(),
        diagnostic,
    }
}

fn fetch(body: &str, strip: bool) -> Fetch {
    match script(false).run(body.as_bytes(), strip) {
        Outcome::Fetch(f) => f,
        other => panic!("{body}: {other:?}"),
    }
}

fn answer(body: &str, diagnostic: bool) -> Answer {
    match script(diagnostic).run(body.as_bytes(), false) {
        Outcome::Answer(a) => a,
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn batch_swaps_the_key_and_keeps_unknown_op_fields() {
    let f = fetch(
        r#"{"k":"R","t":"batch","_pad":"xx","ops":[{"op":"data","sid":"s","seq":3,"wseq":1,"d":"YQ=="}]}"#,
        false,
    );
    assert_eq!(f.route, Route::Batch);
    assert_eq!(f.route.path(), "/tunnel/batch");
    assert_eq!(
        f.body,
        r#"{"k":"N","ops":[{"op":"data","sid":"s","seq":3,"wseq":1,"d":"YQ=="}]}"#
    );
}

#[test]
fn batch_numbers_pass_through_doubles() {
    let f = fetch(
        r#"{"k":"R","t":"batch","ops":[{"op":"data","sid":"s","seq":9007199254740993},{"op":"data","sid":"s","seq":1e21}]}"#,
        false,
    );
    assert_eq!(
        f.body,
        r#"{"k":"N","ops":[{"op":"data","sid":"s","seq":9007199254740992},{"op":"data","sid":"s","seq":1e+21}]}"#
    );
}

#[test]
fn strip_keeps_only_legacy_op_fields() {
    let f = fetch(
        r#"{"k":"R","t":"batch","ops":[{"op":"data","sid":"s","seq":3,"wseq":1,"d":"YQ==","host":"h","port":1,"x":null},7]}"#,
        true,
    );
    assert_eq!(
        f.body,
        r#"{"k":"N","ops":[{"op":"data","sid":"s","d":"YQ==","host":"h","port":1},7]}"#
    );
}

#[test]
fn falsy_ops_become_an_empty_list_and_others_pass_as_they_are() {
    for ops in ["", r#","ops":null"#, r#","ops":0"#, r#","ops":"""#] {
        let f = fetch(&format!(r#"{{"k":"R","t":"batch"{ops}}}"#), false);
        assert_eq!(f.body, r#"{"k":"N","ops":[]}"#, "{ops}");
    }
    let f = fetch(r#"{"k":"R","t":"batch","ops":{"a":1}}"#, false);
    assert_eq!(f.body, r#"{"k":"N","ops":{"a":1}}"#);
}

#[test]
fn single_op_is_remapped_and_drops_everything_else() {
    let f = fetch(
        r#"{"k":"R","t":"connect_data","h":"example.com","p":443,"d":"aGk=","seq":0,"_pad":"x"}"#,
        false,
    );
    assert_eq!(f.route, Route::Single);
    assert_eq!(f.route.path(), "/tunnel");
    assert_eq!(
        f.body,
        r#"{"k":"N","op":"connect_data","host":"example.com","port":443,"data":"aGk="}"#
    );
    let f = fetch(r#"{"sid":"s","d":"","k":"R","t":"data"}"#, false);
    assert_eq!(f.body, r#"{"k":"N","op":"data","sid":"s"}"#);
    let f = fetch(r#"{"k":"R","t":"close","sid":null,"h":null}"#, false);
    assert_eq!(f.body, r#"{"k":"N","op":"close","host":null,"sid":null}"#);
}

#[test]
fn other_single_ops_are_unsupported() {
    assert_eq!(
        answer(r#"{"k":"R","t":"udp_open","h":"x","p":53}"#, false),
        Answer::Json(r#"{"e":"unknown tunnel op: udp_open","code":"UNSUPPORTED_OP"}"#.into())
    );
    assert_eq!(
        answer(r#"{"k":"R","t":12}"#, false),
        Answer::Json(r#"{"e":"unknown tunnel op: 12","code":"UNSUPPORTED_OP"}"#.into())
    );
}

#[test]
fn wrong_key_broken_json_and_no_t_are_the_decoy() {
    for body in [
        r#"{"k":"r","t":"batch","ops":[]}"#,
        r#"{"t":"batch","ops":[]}"#,
        r#"{"k":1,"t":"batch","ops":[]}"#,
        r#"{"k":"R","t":"batch","ops":["#,
        "null",
        "[]",
        r#"{"k":"R"}"#,
        r#"{"k":"R","t":""}"#,
    ] {
        assert_eq!(answer(body, false), Answer::Decoy, "{body}");
    }
}

#[test]
fn diagnostic_mode_says_what_went_wrong() {
    assert_eq!(
        answer(r#"{"k":"r","t":"batch"}"#, true),
        Answer::Json(r#"{"e":"unauthorized"}"#.into())
    );
    let Answer::Json(text) = answer("{", true) else {
        panic!("decoy in diagnostic mode")
    };
    assert!(text.starts_with(r#"{"e":"SyntaxError: "#), "{text}");
    let Answer::Json(text) = answer(r#"{"k":"R"}"#, true) else {
        panic!("decoy in diagnostic mode")
    };
    assert!(text.contains("no tunnel op"), "{text}");
}

#[test]
fn node_status_other_than_200_is_named() {
    let s = script(false);
    assert_eq!(
        s.node_reply(Route::Batch, 200, r#"{"r":[]}"#.into()),
        Answer::Json(r#"{"r":[]}"#.into())
    );
    assert_eq!(
        s.node_reply(Route::Batch, 404, "<html>".into()),
        Answer::Json(r#"{"e":"tunnel batch HTTP 404"}"#.into())
    );
    assert_eq!(
        s.node_reply(Route::Single, 502, String::new()),
        Answer::Json(r#"{"e":"tunnel node HTTP 502"}"#.into())
    );
}
