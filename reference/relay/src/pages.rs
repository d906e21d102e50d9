//! The fixed texts a client can meet on the relay hop.
//!
//! Clients recognise some of these by their text (the decoy, §1.5) and users paste the others
//! into bug reports, so they are written once here and documented in PROTOCOL.md §1.6. The HTML
//! is ours; only the sentences a client matches on are Apps Script platform facts.

use std::sync::LazyLock;

/// The sentence Apps Script shows when a web app returned nothing; clients look for it, so it
/// is the one clients match on (`seqtun_wire::DECOY_TEXT`), not a copy.
pub use seqtun_wire::DECOY_TEXT;

/// The decoy page: what a wrong key, a broken body or any exception in the script produces.
pub static DECOY_HTML: LazyLock<String> = LazyLock::new(|| {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Google Apps Script</title></head><body><div style=\"font-family:Arial,sans-serif;margin:16px\">{DECOY_TEXT}</div></body></html>"
    )
});

/// The diagnostic answer to a wrong key.
pub const DIAG_UNAUTHORIZED: &str = r#"{"e":"unauthorized"}"#;

/// What `UrlFetchApp.fetch` throws once the day's calls are spent (field issues #872, #877,
/// #1193). The relay script catches it like any exception: the decoy, or this text as `e` in
/// diagnostic mode.
pub const QUOTA_EXCEPTION: &str =
    "Exception: Service invoked too many times for one day: urlfetch.";

/// Google's front end refusing a call over the concurrent-execution limit (§1.6).
pub const TOO_MANY_HTML: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error 429 (Too Many Requests)</title></head><body><p><b>429.</b> That\u{2019}s an error.</p><p>We're sorry, but you have sent too many requests to us recently. Please try again later. That\u{2019}s all we know.</p></body></html>";

/// Google's front end failing a call (the `server_error` fault).
pub fn server_error_html(status: u16) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error {status} (Server Error)</title></head><body><p><b>{status}.</b> That\u{2019}s an error.</p><p>The server encountered an error and could not complete your request. Please try again later. That\u{2019}s all we know.</p></body></html>"
    )
}

/// An unknown path, an unknown deployment beyond the limit, or a spent one-time URL.
pub const NOT_FOUND_HTML: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error 404 (Not Found)</title></head><body><p><b>404.</b> That\u{2019}s an error.</p><p>Sorry, unable to open the file at this time.</p></body></html>";

/// The body of the 302 that points to a one-time URL.
pub const MOVED_HTML: &str = "<HTML><HEAD><TITLE>Moved Temporarily</TITLE></HEAD><BODY>The document has moved.</BODY></HTML>";
