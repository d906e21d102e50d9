//! The client's reading of a relay's answer (`seqtun_wire::client::relay_body`).

use seqtun_wire::body::{gzip, is_gzip};
use seqtun_wire::client::relay_body::{DECOY_TEXT, RelayError, parse_reply_body};

const LIMIT: usize = 1 << 20;

/// The first byte picks the HTTP status (200, 404, 500 or 302); the rest is the body. The
/// body is read as sent, and if it holds a valid batch reply, also wrapped in HTML, gzipped and
/// padded with whitespace: all must read the same.
pub fn reply_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let status = [200u16, 404, 500, 302][usize::from(pick % 4)];
    let plain = parse_reply_body(status, body, LIMIT);
    if status != 200 {
        assert!(plain.is_err(), "status {status} read as a reply");
    }
    let starts_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // (A body that starts with the gzip magic is inflated first: the decoy text inside a
    // corrupt gzip stream is not the decoy page. The fuzzer found this gap in the check.)
    if !starts_json && !is_gzip(body) && contains(body, DECOY_TEXT.as_bytes()) {
        assert_eq!(plain, Err(RelayError::Decoy));
    }
    let Ok(reply) = &plain else {
        return;
    };
    if starts_json && status == 200 {
        let mut html = b"<html><body><pre>".to_vec();
        html.extend_from_slice(body);
        html.extend_from_slice(b"</pre></body></html>");
        // HTML around a JSON object reads as the object (the page has no braces of its own).
        if !contains(body, DECOY_TEXT.as_bytes()) {
            let around = parse_reply_body(200, &html, LIMIT);
            assert_eq!(around.as_ref().ok(), Some(reply), "HTML around JSON");
        }
        let gz = gzip(body);
        assert_eq!(
            parse_reply_body(200, &gz, LIMIT).as_ref().ok(),
            Some(reply),
            "gzip"
        );
        let mut padded = b"\r\n  ".to_vec();
        padded.extend_from_slice(body);
        assert_eq!(
            parse_reply_body(200, &padded, LIMIT).as_ref().ok(),
            Some(reply),
            "padding"
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
