//! Payload encoding: RFC 4648 standard alphabet with mandatory padding (§3.4).
//!
//! Deployed peers decode with a strict engine, so we encode and decode with the same strict
//! rules; anything looser here would let our client emit payloads an old node rejects.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a `d` (or `data`, or `pkts` entry) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Base64Error(String);

/// Encodes bytes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes padded standard base64; rejects the URL-safe alphabet, missing padding and
/// non-canonical trailing bits.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    STANDARD
        .decode(text)
        .map_err(|e| Base64Error(e.to_string()))
}

/// Length of the padded encoding of `n` raw bytes: `ceil(n / 3) * 4`.
pub const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Raw bytes a padded encoding carries, without decoding it: what counters need. Exact for
/// valid padded base64; a malformed text gets an estimate (it is refused elsewhere).
pub fn decoded_len(text: &str) -> usize {
    let pad = text.bytes().rev().take(2).filter(|&b| b == b'=').count();
    (text.len() / 4 * 3).saturating_sub(pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decoded_len_counts_without_decoding() {
        for n in 0..10 {
            let raw = vec![7u8; n];
            assert_eq!(decoded_len(&encode(&raw)), n);
        }
    }

    #[test]
    fn padding_is_required() {
        assert_eq!(decode("aGk=").unwrap(), b"hi");
        assert!(decode("aGk").is_err());
    }

    #[test]
    fn url_safe_alphabet_is_rejected() {
        // 0xfb 0xff encodes to "+/8=" in the standard alphabet and "-_8=" in the URL-safe one.
        assert_eq!(decode("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert!(decode("-_8=").is_err());
    }

    #[test]
    fn empty_is_empty() {
        assert_eq!(encode(b""), "");
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    proptest! {
        #[test]
        fn round_trip_and_length(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text).unwrap(), bytes);
        }
    }
}
