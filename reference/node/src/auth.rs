//! The key check and what a prober sees when it fails.
//!
//! A node on the open internet should look like an ordinary web server to anyone without the
//! key, so a wrong key gets nginx's 404 page; `--diagnostic` trades that disguise for a JSON
//! `unauthorized` that makes setup mistakes obvious (§1.4).

use subtle::ConstantTimeEq as _;

/// nginx's stock 404 page.
pub const NGINX_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Compares keys in time independent of where they differ.
pub fn key_matches(expected: &str, got: Option<&str>) -> bool {
    got.is_some_and(|got| bool::from(expected.as_bytes().ct_eq(got.as_bytes())))
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
}
