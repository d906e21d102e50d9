//! The key check and what a prober sees when it fails.
//!
//! A node on the open internet should look like an ordinary web server to anyone without the
//! key, so a wrong key gets nginx's 404 page; `--diagnostic` trades that disguise for a JSON
//! `unauthorized` that makes setup mistakes obvious (§1.4).
//!
//! The key is compared as SHA-256 digests in constant time: comparing the bytes directly would
//! return early on a length mismatch, and the time that takes tells a prober the key's length.
//! Hashing costs time proportional to what the prober sent, which it knows already.

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// nginx's stock 404 page.
pub const NGINX_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// nginx's stock page for `status` (`413 Request Entity Too Large`, ...).
pub fn nginx_page(status: u16) -> String {
    let reason = match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Not Allowed",
        408 => "Request Time-out",
        413 => "Request Entity Too Large",
        503 => "Service Temporarily Unavailable",
        _ => "Internal Server Error",
    };
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// Compares keys in time independent of the expected key's length and content.
pub fn key_matches(expected: &str, got: Option<&str>) -> bool {
    got.is_some_and(|got| {
        let a = Sha256::digest(expected.as_bytes());
        let b = Sha256::digest(got.as_bytes());
        bool::from(a.as_slice().ct_eq(b.as_slice()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(key_matches("k", Some("k")));
        assert!(!key_matches("k", Some("K")));
        assert!(!key_matches("k", Some("k2")));
        assert!(!key_matches("k", Some("")));
        assert!(!key_matches("k", None));
    }

    #[test]
    fn the_404_page_is_the_generic_page_for_404() {
        assert_eq!(nginx_page(404), NGINX_404);
    }
}
