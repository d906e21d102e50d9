//! Reading a relay's answer to a batch (§1.5).
//!
//! Apps Script is not a clean JSON endpoint: it may gzip, wrap the JSON in HTML, or answer with
//! its decoy page when anything went wrong. Users cannot tell these apart from "the tunnel is
//! broken", so each failure becomes an error that says what probably happened and what to check.

use crate::body::{BodyError, decode_body};
use crate::envelope::BatchResponse;

pub use crate::DECOY_TEXT;

/// How much of an unexpected body an error quotes.
const SNIPPET_CHARS: usize = 200;

/// Why a relay's answer could not be read as `{"r":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error(
        "the relay answered with the Apps Script decoy page (\"{DECOY_TEXT}\"): the relay key does \
         not match AUTH_KEY in the script (check --key), an Apps Script timeout or quota tear, a \
         transient Apps Script fault, or a response truncated on the path"
    )]
    Decoy,
    #[error(
        "the relay answered HTTP 404: a node answers a wrong key with 404 (check --key against \
         TUNNEL_AUTH_KEY), or the URL path is wrong: {snippet}"
    )]
    NotFound { snippet: String },
    #[error("the relay answered HTTP {status}: {snippet}")]
    Status { status: u16, snippet: String },
    #[error("the relay's answer holds no JSON object: {snippet}")]
    NotJson { snippet: String },
    #[error("the relay's answer is not a batch reply: {0}")]
    BadJson(String),
    #[error("the relay's gzip answer is corrupt: {0}")]
    Gzip(String),
    #[error("the relay's answer exceeds {limit} bytes (raise --max-reply-bytes)")]
    TooLarge { limit: usize },
}

/// The start of a body on one line, for an error message: an HTML page is reduced to its
/// text (a 404 page is `404 Not Found nginx`, not eight lines of markup), whitespace runs
/// become one space.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut plain = String::with_capacity(text.len().min(4096));
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c => plain.push(c),
        }
    }
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

/// The JSON object inside `text`: all of it when it starts with `{`, else from the first `{`
/// to the last `}` (Apps Script may put HTML around it).
pub fn json_slice(text: &[u8]) -> Option<&[u8]> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let trimmed = &text[start..];
    if trimmed.first() == Some(&b'{') {
        return Some(trimmed);
    }
    let first = trimmed.iter().position(|&b| b == b'{')?;
    let last = trimmed.iter().rposition(|&b| b == b'}')?;
    (last > first).then(|| &trimmed[first..=last])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Parses the final answer to a batch: `status` after redirects, `body` as received (plain or
/// gzip, at most `limit` bytes inflated).
pub fn parse_reply_body(
    status: u16,
    body: &[u8],
    limit: usize,
) -> Result<BatchResponse, RelayError> {
    let body = decode_body(body, limit).map_err(|e| match e {
        BodyError::TooLarge { limit } => RelayError::TooLarge { limit },
        BodyError::Gzip(detail) => RelayError::Gzip(detail),
    })?;
    // A JSON body cannot be the decoy page; only scan bodies that are not plain JSON.
    let plain_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !plain_json && contains(&body, DECOY_TEXT.as_bytes()) {
        return Err(RelayError::Decoy);
    }
    match status {
        200 => {}
        404 => {
            return Err(RelayError::NotFound {
                snippet: snippet(&body),
            });
        }
        _ => {
            return Err(RelayError::Status {
                status,
                snippet: snippet(&body),
            });
        }
    }
    let json = json_slice(&body).ok_or_else(|| RelayError::NotJson {
        snippet: snippet(&body),
    })?;
    serde_json::from_slice(json).map_err(|e| RelayError::BadJson(e.to_string()))
}

/// True for the statuses whose `Location` a client follows, re-issued as `GET` (§1.5).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::gzip;
    use crate::reply::Reply;

    const LIMIT: usize = 1 << 20;

    #[test]
    fn html_pages_are_summarised_on_one_line() {
        let page = b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert_eq!(snippet(page), "404 Not Found 404 Not Found nginx");
        assert_eq!(snippet(b"plain\n text"), "plain text");
        assert_eq!(snippet(&[b'x'; 500]).len(), SNIPPET_CHARS);
    }

    #[test]
    fn plain_json() {
        let r = parse_reply_body(200, br#"{"r":[{"sid":"s","eof":true}]}"#, LIMIT).unwrap();
        assert_eq!(r.r, vec![Reply::gone("s")]);
    }

    #[test]
    fn html_around_the_json_is_tolerated() {
        let body = br#"<html><body><pre>{"r":[{"sid":"s","eof":true}]}</pre></body></html>"#;
        assert_eq!(
            parse_reply_body(200, body, LIMIT).unwrap().r,
            vec![Reply::gone("s")]
        );
    }

    #[test]
    fn gzip_is_inflated_within_the_limit() {
        let json = br#"{"r":[{"sid":"s","eof":true}]}"#;
        let gz = gzip(json);
        assert_eq!(parse_reply_body(200, &gz, json.len()).unwrap().r.len(), 1);
        assert_eq!(
            parse_reply_body(200, &gz, json.len() - 1),
            Err(RelayError::TooLarge {
                limit: json.len() - 1
            })
        );
    }

    #[test]
    fn the_decoy_names_the_likely_causes() {
        let page = format!("<!DOCTYPE html><html><body>{DECOY_TEXT}</body></html>");
        let err = parse_reply_body(200, page.as_bytes(), LIMIT).unwrap_err();
        assert_eq!(err, RelayError::Decoy);
        let text = err.to_string();
        for cause in ["key", "timeout", "quota", "transient", "truncated"] {
            assert!(text.contains(cause), "{text} lacks {cause}");
        }
    }

    #[test]
    fn statuses_and_garbage() {
        let err = parse_reply_body(404, b"<center>nginx</center>", LIMIT).unwrap_err();
        assert!(err.to_string().contains("--key"), "{err}");
        assert!(matches!(
            parse_reply_body(500, b"oops", LIMIT),
            Err(RelayError::Status { status: 500, .. })
        ));
        assert!(matches!(
            parse_reply_body(200, b"<html>no</html>", LIMIT),
            Err(RelayError::NotJson { .. })
        ));
        assert!(matches!(
            parse_reply_body(200, b"{oops}", LIMIT),
            Err(RelayError::BadJson(_))
        ));
        assert!(matches!(
            parse_reply_body(200, &[0x1f, 0x8b, 1, 2], LIMIT),
            Err(RelayError::Gzip(_))
        ));
    }

    #[test]
    fn json_slice_edges() {
        assert_eq!(json_slice(b"  {}  "), Some(&b"{}  "[..]));
        assert_eq!(json_slice(b"x}{"), None);
        assert_eq!(json_slice(b""), None);
        assert_eq!(json_slice(b"a{b}c"), Some(&b"{b}"[..]));
    }

    #[test]
    fn redirects() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_redirect(s));
        }
        assert!(!is_redirect(200) && !is_redirect(304));
    }
}
