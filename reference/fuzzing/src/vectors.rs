//! The vector loader (`seqtun_judge::case`).

use seqtun_judge::case::CaseFile;
use serde_json::Value;

/// A case that loads from its text loads the same from its JSON value (key order and
/// whitespace do not matter); loading never panics.
pub fn case(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(case) = serde_json::from_str::<CaseFile>(text) else {
        return;
    };
    let value: Value = serde_json::from_str(text).expect("a loaded case is JSON");
    let again = serde_json::from_value::<CaseFile>(value).expect("the same case from its value");
    assert_eq!(format!("{case:?}"), format!("{again:?}"));
}
