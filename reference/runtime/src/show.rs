//! Values as a person reads them in a startup summary: `15s`, `350ms`, `16MiB`, `-` for
//! nothing, instead of Rust's `Debug` (`Some(..)`, `15s` next to `0ns`).

use std::time::Duration;

/// `1500ms` → `1.5s`; whole seconds and milliseconds print without a fraction.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && d.as_nanos() > 0 {
        format!("{}us", d.as_micros())
    } else if ms < 1000 || !ms.is_multiple_of(100) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// Bytes in the largest binary unit that divides them exactly: `16MiB`, `65536` → `64KiB`.
pub fn bytes(n: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{}{unit}", n / size);
        }
    }
    format!("{n}B")
}

/// An optional value, `-` when absent.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_written() {
        assert_eq!(duration(Duration::from_secs(15)), "15s");
        assert_eq!(duration(Duration::from_millis(350)), "350ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::ZERO), "0ms");
        assert_eq!(bytes(16 << 20), "16MiB");
        assert_eq!(bytes(65536), "64KiB");
        assert_eq!(bytes(1000), "1000B");
        assert_eq!(opt(None::<u8>), "-");
        assert_eq!(opt(Some("127.0.0.1:1")), "127.0.0.1:1");
    }
}
