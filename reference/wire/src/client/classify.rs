//! How a failed session open is reported to the app (§6.1).
//!
//! The node's error text is all a client learns about why a connect failed; matching on the
//! deployed prefixes lets a browser show "connection refused" rather than a generic failure.

/// Why a session could not be opened, in the front ends' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    Refused,
    NetworkUnreachable,
    HostUnreachable,
    TimedOut,
    General,
}

const NET_UNREACHABLE: &[&str] = &["network is unreachable", "os error 101"];
const HOST_UNREACHABLE: &[&str] = &[
    "no route to host",
    "host is unreachable",
    "os error 113",
    "no udp address",
    "failed to lookup",
    "resolve",
    "name or service not known",
];
const TIMED_OUT: &[&str] = &["timeout", "timed out"];

impl FailureClass {
    /// Classifies the `e` text of a node's reply (case-insensitive, first match in §6.1 order).
    pub fn of_node_error(text: &str) -> Self {
        let t = text.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
        if t.contains("refused") {
            Self::Refused
        } else if any(NET_UNREACHABLE) {
            Self::NetworkUnreachable
        } else if any(HOST_UNREACHABLE) {
            Self::HostUnreachable
        } else if any(TIMED_OUT) {
            Self::TimedOut
        } else {
            Self::General
        }
    }

    /// Classifies a batch that failed on the way (relay unreachable, decoy, timeout): the
    /// target's fate is unknown, so only a timeout is more specific than a general failure.
    pub fn of_batch_failure(text: &str) -> Self {
        let t = text.to_ascii_lowercase();
        if TIMED_OUT.iter().any(|n| t.contains(n)) {
            Self::TimedOut
        } else {
            Self::General
        }
    }

    /// The SOCKS5 reply code (RFC 1928 §6).
    pub fn socks_reply(self) -> u8 {
        match self {
            Self::General => 0x01,
            Self::NetworkUnreachable => 0x03,
            Self::HostUnreachable => 0x04,
            Self::Refused => 0x05,
            Self::TimedOut => 0x06,
        }
    }

    /// The HTTP status answered to a `CONNECT`.
    pub fn http_status(self) -> u16 {
        match self {
            Self::TimedOut => 504,
            _ => 502,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployed_error_texts_map_as_the_table_says() {
        let cases = [
            (
                "connect failed: Connection refused (os error 111)",
                FailureClass::Refused,
                0x05,
                502,
            ),
            (
                "connect failed: Network is unreachable (os error 101)",
                FailureClass::NetworkUnreachable,
                0x03,
                502,
            ),
            (
                "connect failed: No route to host (os error 113)",
                FailureClass::HostUnreachable,
                0x04,
                502,
            ),
            (
                "connect failed: failed to lookup address information: Name or service not known",
                FailureClass::HostUnreachable,
                0x04,
                502,
            ),
            (
                "udp connect failed: no UDP address resolved",
                FailureClass::HostUnreachable,
                0x04,
                502,
            ),
            (
                "connect failed: connect timeout",
                FailureClass::TimedOut,
                0x06,
                504,
            ),
            (
                "connect failed: operation timed out",
                FailureClass::TimedOut,
                0x06,
                504,
            ),
            (
                "connect failed: session limit reached",
                FailureClass::General,
                0x01,
                502,
            ),
            ("unauthorized", FailureClass::General, 0x01, 502),
        ];
        assert_eq!(
            FailureClass::of_batch_failure("batch timed out after 30s"),
            FailureClass::TimedOut
        );
        assert_eq!(
            FailureClass::of_batch_failure("cannot reach relay http://x: Connection refused"),
            FailureClass::General
        );
        for (text, class, socks, http) in cases {
            let got = FailureClass::of_node_error(text);
            assert_eq!(got, class, "{text}");
            assert_eq!(got.socks_reply(), socks, "{text}");
            assert_eq!(got.http_status(), http, "{text}");
        }
    }
}
