//! Payload encoding: RFC 4648 standard alphabet with mandatory padding (§3.4).
//!
//! Deployed peers decode with a strict engine, so we encode and decode with the same strict
//! rules; anything looser here would let our client emit payloads an old node rejects.
//!
//! Almost every byte the tunnel moves passes through here twice (encoded by one peer, decoded
//! by the other), and the `base64` crate's scalar engine was the largest single cost left in
//! the node's profile (bench/README.md). `base64-simd` does the same strict work with SIMD
//! where the CPU has it. The `base64` crate stays the reference for what is valid: it decides
//! every input the fast path refuses (and writes the error text peers see), and a differential
//! test below holds the two engines to the same answers on arbitrary text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as REFERENCE;
use base64_simd::STANDARD as FAST;

/// Why a `d` (or `data`, or `pkts` entry) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Base64Error(String);

/// Encodes bytes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    FAST.encode_to_string(bytes)
}

/// Decodes padded standard base64; rejects the URL-safe alphabet, missing padding and
/// non-canonical trailing bits.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    match FAST.decode_to_vec(text) {
        Ok(bytes) => Ok(bytes),
        // The fast engine's error says nothing about where or why; the reference engine
        // decides again and names the offending symbol, as the error text always did.
        Err(_) => REFERENCE
            .decode(text)
            .map_err(|e| Base64Error(e.to_string())),
    }
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

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // "aGk=" is "hi"; "aGl=" carries the same bytes with a non-zero bit in the padding.
        assert!(decode("aGl=").is_err());
        assert!(decode("aR==").is_err());
        assert_eq!(decode("aQ==").unwrap(), b"i");
    }

    #[test]
    fn the_error_text_names_the_symbol() {
        let e = decode("aG!=").unwrap_err().to_string();
        assert!(e.contains("Invalid symbol 33, offset 2"), "{e}");
    }

    /// Text close to base64: the alphabet, padding, and a few bytes that are not base64.
    fn near_base64() -> impl Strategy<Value = String> {
        let symbol = prop_oneof![
            8 => proptest::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()
            ),
            2 => Just(b'='),
            1 => proptest::sample::select(b"-_ \n\r.\x00\xff".to_vec()),
        ];
        proptest::collection::vec(symbol, 0..80)
            .prop_map(|b| b.into_iter().map(char::from).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        #[test]
        fn both_engines_agree_on_every_text(text in near_base64()) {
            let reference = REFERENCE.decode(&text).ok();
            prop_assert_eq!(decode(&text).ok(), reference.clone());
            prop_assert_eq!(FAST.decode_to_vec(&text).ok(), reference);
        }

        #[test]
        fn both_engines_agree_on_valid_text_with_one_symbol_changed(
            bytes in proptest::collection::vec(any::<u8>(), 1..200),
            at in any::<proptest::sample::Index>(),
            with in near_base64().prop_filter("one symbol", |t| !t.is_empty()),
        ) {
            let mut text = REFERENCE.encode(&bytes).into_bytes();
            let at = at.index(text.len());
            text[at] = with.as_bytes()[0];
            let text = String::from_utf8_lossy(&text).into_owned();
            prop_assert_eq!(decode(&text).ok(), REFERENCE.decode(&text).ok());
        }

        #[test]
        fn both_engines_encode_alike(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(encode(&bytes), REFERENCE.encode(&bytes));
        }

        #[test]
        fn round_trip_and_length(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text).unwrap(), bytes);
        }
    }
}
