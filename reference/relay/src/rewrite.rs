//! What the reply faults do to the node's batch reply before the client sees it: `r` loses
//! entries (`short_reply`), gains one (`extra_entry`) or has two trade places
//! (`swap_entries`). Relays in the field do all three: a task dies, Apps Script's edge-DNS
//! splice rewrites `r`, a third party in the path reorders it (docs/PROTOCOL.md §3.1). A client
//! that trusted positions handed one session's bytes to another app under exactly these.
//!
//! Each works on the JSON as the script holds it ([`js_json`]), so nothing else in the body
//! changes, and answers `None` when there is nothing to rewrite: the fault is counted only when
//! it changed what the client gets.

use crate::faults::Action;
use crate::js_json::{self, JsValue};

/// The entry `extra_entry` adds: another session's reply, the one of the field report.
pub const EXTRA_ENTRY: &str = r#"{"sid":"zz","d":"QUJD","eof":false}"#;

/// The body `action` makes of the batch reply `body`, if it is a reply fault that applies.
pub fn rewrite(action: &Action, body: &str) -> Option<String> {
    let JsValue::Object(mut reply) = js_json::parse(body.as_bytes()).ok()? else {
        return None;
    };
    let Some(JsValue::Array(r)) = reply.get("r") else {
        return None;
    };
    let r = match action {
        Action::ShortReply { keep } => shorten(r, *keep)?,
        Action::ExtraEntry { at } => insert(r, at.unwrap_or(0)),
        Action::SwapEntries { entries } => swap(r, *entries)?,
        _ => return None,
    };
    reply.set("r", JsValue::Array(r));
    Some(js_json::stringify(&JsValue::Object(reply)))
}

/// `keep` entries (default: one fewer); never all of them, or the fault would test nothing.
fn shorten(r: &[JsValue], keep: Option<usize>) -> Option<Vec<JsValue>> {
    let most = r.len().checked_sub(1)?;
    Some(r[..keep.unwrap_or(most).min(most)].to_vec())
}

fn insert(r: &[JsValue], at: usize) -> Vec<JsValue> {
    let mut out = r.to_vec();
    // A constant that parses: a failure here would be a typo in EXTRA_ENTRY, caught by tests.
    let entry = js_json::parse(EXTRA_ENTRY.as_bytes()).unwrap_or(JsValue::Null);
    out.insert(at.min(out.len()), entry);
    out
}

fn swap(r: &[JsValue], entries: Option<[usize; 2]>) -> Option<Vec<JsValue>> {
    let [i, j] = match entries {
        Some(pair) => pair,
        None => default_pair(r)?,
    };
    if i == j || i.max(j) >= r.len() {
        return None;
    }
    let mut out = r.to_vec();
    out.swap(i, j);
    Some(out)
}

/// The first two entries naming different sessions with equal seqs (absent counts as equal),
/// else the first two naming different sessions, else the first two.
fn default_pair(r: &[JsValue]) -> Option<[usize; 2]> {
    if r.len() < 2 {
        return None;
    }
    let field = |i: usize, key: &str| r[i].get(key).map(js_json::stringify);
    let pairs = || (0..r.len()).flat_map(|i| (i + 1..r.len()).map(move |j| [i, j]));
    let differ = |[i, j]: [usize; 2]| {
        field(i, "sid").is_some() && field(j, "sid").is_some() && field(i, "sid") != field(j, "sid")
    };
    pairs()
        .find(|&p| differ(p) && field(p[0], "seq") == field(p[1], "seq"))
        .or_else(|| pairs().find(|&p| differ(p)))
        .or(Some([0, 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str =
        r#"{"r":[{"sid":"a","eof":true},{"sid":"b","eof":true},{"sid":"c","eof":true}]}"#;

    fn short(keep: Option<usize>) -> Action {
        Action::ShortReply { keep }
    }

    #[test]
    fn short_reply_drops_trailing_entries() {
        assert_eq!(
            rewrite(&short(None), THREE).unwrap(),
            r#"{"r":[{"sid":"a","eof":true},{"sid":"b","eof":true}]}"#
        );
        assert_eq!(rewrite(&short(Some(0)), THREE).unwrap(), r#"{"r":[]}"#);
        // Never as long as the original: a short reply that is not short would test nothing.
        assert_eq!(
            rewrite(&short(Some(9)), THREE).unwrap(),
            r#"{"r":[{"sid":"a","eof":true},{"sid":"b","eof":true}]}"#
        );
        assert_eq!(rewrite(&short(None), r#"{"r":[]}"#), None);
        assert_eq!(rewrite(&short(None), r#"{"e":"x"}"#), None);
        assert_eq!(rewrite(&short(None), "{\"r\":["), None);
        assert_eq!(rewrite(&Action::Pass, THREE), None);
    }

    #[test]
    fn extra_entry_goes_where_it_is_told() {
        let one = r#"{"r":[{"sid":"a","eof":false}]}"#;
        let extra = |at| rewrite(&Action::ExtraEntry { at }, one).unwrap();
        assert_eq!(
            extra(None),
            format!(r#"{{"r":[{EXTRA_ENTRY},{{"sid":"a","eof":false}}]}}"#)
        );
        assert_eq!(
            extra(Some(1)),
            format!(r#"{{"r":[{{"sid":"a","eof":false}},{EXTRA_ENTRY}]}}"#)
        );
        assert_eq!(extra(Some(7)), extra(Some(1)), "past the end appends");
        assert_eq!(
            rewrite(&Action::ExtraEntry { at: None }, r#"{"r":[]}"#).unwrap(),
            format!(r#"{{"r":[{EXTRA_ENTRY}]}}"#)
        );
        assert_eq!(
            rewrite(&Action::ExtraEntry { at: None }, r#"{"e":"x"}"#),
            None
        );
    }

    #[test]
    fn swap_entries_prefers_different_sessions_with_equal_seqs() {
        let swap = |entries, body: &str| rewrite(&Action::SwapEntries { entries }, body);
        let body = r#"{"r":[{"sid":"a","seq":0},{"sid":"a","seq":1},{"sid":"b","seq":1},{"sid":"c","seq":0}]}"#;
        assert_eq!(
            swap(None, body).unwrap(),
            r#"{"r":[{"sid":"c","seq":0},{"sid":"a","seq":1},{"sid":"b","seq":1},{"sid":"a","seq":0}]}"#
        );
        // No equal seqs: the first two of different sessions.
        let body = r#"{"r":[{"sid":"a","seq":0},{"sid":"a","seq":1},{"sid":"b","seq":2}]}"#;
        assert_eq!(
            swap(None, body).unwrap(),
            r#"{"r":[{"sid":"b","seq":2},{"sid":"a","seq":1},{"sid":"a","seq":0}]}"#
        );
        // One session only: the first two; absent seqs count as equal.
        let body = r#"{"r":[{"sid":"a"},{"e":"x"},{"sid":"b"}]}"#;
        assert_eq!(
            swap(None, body).unwrap(),
            r#"{"r":[{"sid":"b"},{"e":"x"},{"sid":"a"}]}"#
        );
        assert_eq!(
            swap(None, r#"{"r":[{"sid":"a"},{"sid":"a"}]}"#).unwrap(),
            r#"{"r":[{"sid":"a"},{"sid":"a"}]}"#
        );
        assert_eq!(
            swap(Some([2, 0]), THREE).unwrap(),
            r#"{"r":[{"sid":"c","eof":true},{"sid":"b","eof":true},{"sid":"a","eof":true}]}"#
        );
        for (entries, body) in [
            (None, r#"{"r":[{"sid":"a"}]}"#),
            (Some([0, 3]), THREE),
            (Some([1, 1]), THREE),
            (None, r#"{"e":"x"}"#),
        ] {
            assert_eq!(swap(entries, body), None, "{entries:?} {body}");
        }
    }
}
