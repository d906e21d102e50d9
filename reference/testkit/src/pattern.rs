//! The bytes tests send through a tunnel and check on the other side.

/// Deterministic bytes of stream `seed` (xorshift64): different per stream and per position, so
/// a byte from another stream or another offset never matches by accident.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(pattern(7, 1000), pattern(7, 1000));
        assert_eq!(pattern(7, 13), pattern(7, 1000)[..13]);
        assert_ne!(pattern(7, 64), pattern(8, 64));
        assert_eq!(pattern(0, 0), Vec::<u8>::new());
    }
}
