//! The performance model each workload is measured against (field notes, "Why a single
//! session is slow"), as numbers a table can print next to the measurement.
//!
//! R = relay round trip, B = most bytes one reply may carry, d = ops a session keeps out.

use std::time::Duration;

use seqtun_client::ClientParams;

use crate::mode::Mode;

/// base64 carries 3 payload bytes in 4 characters.
pub const BASE64_EFFICIENCY: f64 = 0.75;

/// Ops a mode keeps out while downlink flows.
pub fn depth(mode: Mode) -> usize {
    match mode {
        Mode::Legacy => 1,
        Mode::Depth(d) => d,
        Mode::NoPreemption | Mode::Plain903 => ClientParams::default().depth,
    }
}

/// The ceiling a table compares each mode with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Reply-capped download: at most d·B per round trip.
    RepliesPerTrip { reply: u64, rtt: Duration },
    /// Every call moves its bytes at `kbps`; a session has at most d calls out, so at most
    /// d times the payload rate of one call.
    CallBandwidth { kbps: u64 },
    /// Uploads: d ops of `op` bytes per round trip, but the node holds each write's turn for
    /// its active drain deadline `hold` (nothing answers a sink), so at most `op / hold`.
    Uploads {
        op: u64,
        rtt: Duration,
        hold: Duration,
    },
    /// One window per round trip per session, whatever the depth.
    WindowPerTrip {
        window: u64,
        rtt: Duration,
        sessions: usize,
    },
    /// A request's answer takes at least one round trip.
    Latency { rtt: Duration },
    /// No ceiling; the table reports CPU.
    None,
}

impl Model {
    /// Bytes per second a mode can reach at most (`None` for latency and CPU tables).
    pub fn limit(&self, mode: Mode) -> Option<f64> {
        let d = depth(mode) as f64;
        match *self {
            Model::RepliesPerTrip { reply, rtt } => {
                (!rtt.is_zero()).then(|| d * reply as f64 / rtt.as_secs_f64())
            }
            Model::CallBandwidth { kbps } => {
                Some(d * kbps as f64 * 1000.0 / 8.0 * BASE64_EFFICIENCY)
            }
            Model::Uploads { op, rtt, hold } => {
                let pipe = d * op as f64 / (rtt + hold).as_secs_f64();
                Some(pipe.min(op as f64 / hold.as_secs_f64()))
            }
            Model::WindowPerTrip {
                window,
                rtt,
                sessions,
            } => Some(sessions as f64 * window as f64 / rtt.as_secs_f64()),
            Model::Latency { .. } | Model::None => None,
        }
    }

    /// The model in words, for the table's heading.
    pub fn describe(&self) -> String {
        let ms = |d: Duration| d.as_millis();
        match *self {
            Model::RepliesPerTrip { reply, rtt } => {
                format!("d·B/R with B = {} KiB, R = {} ms", reply >> 10, ms(rtt))
            }
            Model::CallBandwidth { kbps } => format!(
                "d × (payload rate of one call) = d × {kbps} kbit/s × 3/4 (base64); one call's \
                 reply is at most the 16 MiB drain cap"
            ),
            Model::Uploads { op, rtt, hold } => format!(
                "min(d·op/(R + A), op/A) with op = {} KiB, R = {} ms, A = {} ms (the node's \
                 active drain wait per write, which a sink never cuts short)",
                op >> 10,
                ms(rtt),
                ms(hold)
            ),
            Model::WindowPerTrip {
                window,
                rtt,
                sessions,
            } => format!(
                "sessions·W/R with W = {} KiB, R = {} ms, {sessions} session(s): each window \
                 costs a round trip",
                window >> 10,
                ms(rtt)
            ),
            Model::Latency { rtt } => format!("one round trip, R = {} ms", ms(rtt)),
            Model::None => "none: node CPU per GiB moved is the measure".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let r = Duration::from_millis(200);
        let m = Model::RepliesPerTrip {
            reply: 256 << 10,
            rtt: r,
        };
        assert_eq!(m.limit(Mode::Legacy), Some(1_310_720.0));
        assert_eq!(m.limit(Mode::Depth(4)), Some(4.0 * 1_310_720.0));
        let up = Model::Uploads {
            op: 1 << 20,
            rtt: r,
            hold: Duration::from_millis(50),
        };
        let (one, eight) = (
            up.limit(Mode::Legacy).unwrap(),
            up.limit(Mode::Depth(8)).unwrap(),
        );
        assert!((one - 1_048_576.0 / 0.25).abs() < 1.0);
        assert!(
            (eight - 1_048_576.0 / 0.05).abs() < 1.0,
            "the node's hold bounds it"
        );
        assert_eq!(Model::Latency { rtt: r }.limit(Mode::Legacy), None);
    }
}
