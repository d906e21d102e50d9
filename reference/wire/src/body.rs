//! Request bodies: plain JSON or gzip (§1.3).
//!
//! A gzip body is a decompression bomb waiting to happen, so the inflated size is bounded by the
//! same limit as a plain body; the caller learns which limit it hit and can name the flag.

use std::borrow::Cow;
use std::io::Read as _;

/// gzip magic bytes; a body that starts with them is inflated before parsing.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a request body could not be turned into JSON text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// The gzip stream is corrupt; the reply text keeps the deployed `gzip decode: ` prefix.
    #[error("gzip decode: {0}")]
    Gzip(String),
    /// Inflating would exceed the body limit.
    #[error("gzip decode: inflated body exceeds {limit} bytes (raise --max-body-bytes)")]
    TooLarge { limit: usize },
}

/// True when `body` starts with the gzip magic bytes.
pub fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&GZIP_MAGIC)
}

/// Returns the JSON bytes of a request body, inflating gzip up to `limit` bytes. A plain body
/// is borrowed, not copied: replies run to tens of MiB.
pub fn decode_body(body: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, BodyError> {
    if !is_gzip(body) {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Gzip(e.to_string()))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

/// Gzips `bytes` (used by clients and tests that exercise the gzip path).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_passes_through() {
        let body = decode_body(b"{}", 10).unwrap();
        assert_eq!(&*body, b"{}");
        assert!(
            matches!(body, Cow::Borrowed(_)),
            "a plain body is not copied"
        );
    }

    #[test]
    fn gzip_round_trips_at_the_limit() {
        let json = br#"{"k":"x","ops":[]}"#;
        let gz = gzip(json);
        assert_eq!(&*decode_body(&gz, json.len()).unwrap(), json);
        assert_eq!(
            decode_body(&gz, json.len() - 1),
            Err(BodyError::TooLarge {
                limit: json.len() - 1
            })
        );
    }

    #[test]
    fn corrupt_gzip_is_an_error_with_the_deployed_prefix() {
        let err = decode_body(&[0x1f, 0x8b, 0, 0, 1, 2, 3], 100).unwrap_err();
        assert!(err.to_string().starts_with("gzip decode: "), "{err}");
    }
}
