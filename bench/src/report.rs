//! Tables: each mode's medians, its ratio to legacy, its share of the model, and the relay
//! calls it spent, as Markdown printed once a workload is done and written to
//! `target/seqtun-bench/<id>.md` (criterion's own HTML stays under `target/criterion`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::mode::Mode;
use crate::model::Model;
use crate::workload::{Sample, Workload};

const MIB: f64 = (1 << 20) as f64;
const GIB: f64 = (1 << 30) as f64;

/// One table under construction.
#[derive(Debug, Clone)]
pub struct Table {
    /// File name and heading, e.g. `bulk_down-capped`.
    pub id: String,
    pub title: String,
    pub workload: Workload,
    pub model: Model,
    /// Lines printed under the heading (settings, regime).
    pub notes: Vec<String>,
    pub rows: Vec<(Mode, Vec<Sample>)>,
    load_before: Option<String>,
}

impl Table {
    pub fn new(id: &str, title: &str, workload: Workload, model: Model) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            workload,
            model,
            notes: Vec::new(),
            rows: Vec::new(),
            load_before: load_average(),
        }
    }

    /// The median sample of `mode` (by elapsed time) and the median of each field.
    fn medians(samples: &[Sample]) -> Option<Medians> {
        if samples.is_empty() {
            return None;
        }
        let mid = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        let of = |f: &dyn Fn(&Sample) -> Option<f64>| {
            let v: Vec<f64> = samples.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| mid(v))
        };
        let slowest = samples
            .iter()
            .map(|s| s.elapsed.as_secs_f64())
            .fold(0.0, f64::max);
        Some(Medians {
            n: samples.len(),
            secs: of(&|s| Some(s.elapsed.as_secs_f64()))?,
            slowest,
            bytes: of(&|s| Some(s.bytes as f64))?,
            calls: of(&|s| Some(s.calls as f64))?,
            steady: of(&|s| s.steady.map(|(b, d)| b as f64 / d.as_secs_f64())),
            idle_calls: of(&|s| s.idle_calls_per_min),
            cpu_per_gib: of(&|s| s.node_cpu.map(|c| c.as_secs_f64() / (s.bytes as f64 / GIB))),
        })
    }

    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        let _ = writeln!(out, "Model: {}.", self.model.describe());
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        let load_after = load_average();
        let _ = writeln!(
            out,
            "Load average (1/5/15 min) before: {}; after: {}.\n",
            self.load_before.as_deref().unwrap_or("n/a"),
            load_after.as_deref().unwrap_or("n/a")
        );
        let legacy = self
            .rows
            .iter()
            .find(|(m, _)| *m == Mode::Legacy)
            .and_then(|(_, s)| Self::medians(s));
        match self.workload {
            Workload::RpcAfterIdle { .. } => self.latency_rows(&mut out, legacy.as_ref()),
            Workload::Capacity { .. } => self.cpu_rows(&mut out),
            Workload::Goodput { .. } => crate::goodput::rows(self, &mut out),
            _ => self.transfer_rows(&mut out, legacy.as_ref()),
        }
        out
    }

    fn transfer_rows(&self, out: &mut String, legacy: Option<&Medians>) {
        let steady = matches!(self.workload, Workload::BulkDown { .. });
        let _ = write!(
            out,
            "| mode | runs | median time | MB/s | × legacy | model limit MB/s | share of model |"
        );
        if steady {
            let _ = write!(out, " steady MB/s (2nd half) | steady share |");
        }
        let rounds = match self.model {
            Model::RepliesPerTrip { reply, rtt } => Some((reply as f64, rtt.as_secs_f64())),
            _ => None,
        };
        if rounds.is_some() {
            let _ = write!(out, " round (d·B / steady rate) | above R |");
        }
        let _ = writeln!(out, " relay calls / MiB |");
        let cols = 8 + 2 * usize::from(steady) + 2 * usize::from(rounds.is_some());
        let _ = writeln!(out, "|{}", "---|".repeat(cols));
        for (mode, samples) in &self.rows {
            let Some(m) = Self::medians(samples) else {
                continue;
            };
            let rate = m.bytes / m.secs;
            let limit = self.model.limit(*mode);
            let _ = write!(
                out,
                "| {mode} | {} | {} | {} | {} | {} | {} |",
                m.n,
                secs(m.secs),
                mbs(rate),
                ratio(legacy.map(|l| rate / (l.bytes / l.secs))),
                limit.map_or("–".into(), mbs),
                percent(limit.map(|l| rate / l)),
            );
            if steady {
                let s = m.steady;
                let _ = write!(
                    out,
                    " {} | {} |",
                    s.map_or("–".into(), mbs),
                    percent(s.zip(limit).map(|(s, l)| s / l))
                );
            }
            if let Some((reply, rtt)) = rounds {
                let round = m
                    .steady
                    .map(|s| crate::model::depth(*mode) as f64 * reply / s);
                let _ = write!(
                    out,
                    " {} | {} |",
                    round.map_or("–".into(), secs),
                    round.map_or("–".into(), |r| secs(r - rtt)),
                );
            }
            let _ = writeln!(out, " {:.1} |", m.calls / (m.bytes / MIB));
        }
    }

    fn latency_rows(&self, out: &mut String, legacy: Option<&Medians>) {
        let rtt = match self.model {
            Model::Latency { rtt } => rtt.as_secs_f64(),
            _ => f64::NAN,
        };
        let _ = writeln!(
            out,
            "| mode | runs | median answer time | × R | × legacy | slowest | relay calls per idle session-minute | relay calls per request |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for (mode, samples) in &self.rows {
            let Some(m) = Self::medians(samples) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {mode} | {} | {} | {:.2} | {} | {} | {} | {:.1} |",
                m.n,
                secs(m.secs),
                m.secs / rtt,
                ratio(legacy.map(|l| m.secs / l.secs)),
                secs(m.slowest),
                m.idle_calls.map_or("–".into(), |c| format!("{c:.1}")),
                m.calls,
            );
        }
    }

    fn cpu_rows(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| mode | runs | median time | MB/s | node CPU-s per GiB | relay calls / MiB |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for (mode, samples) in &self.rows {
            let Some(m) = Self::medians(samples) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {mode} | {} | {} | {} | {} | {:.2} |",
                m.n,
                secs(m.secs),
                mbs(m.bytes / m.secs),
                m.cpu_per_gib.map_or("n/a".into(), |c| format!("{c:.2}")),
                m.calls / (m.bytes / MIB),
            );
        }
    }

    /// Prints the table and writes it to `target/seqtun-bench/<id>.md`.
    pub fn publish(&self) {
        let text = self.markdown();
        println!("\n{text}");
        let dir = output_dir();
        if std::fs::create_dir_all(&dir).is_ok() {
            let path = dir.join(format!("{}.md", self.id));
            if let Err(e) = std::fs::write(&path, &text) {
                eprintln!("cannot write {}: {e}", path.display());
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Medians {
    n: usize,
    secs: f64,
    slowest: f64,
    bytes: f64,
    calls: f64,
    steady: Option<f64>,
    idle_calls: Option<f64>,
    cpu_per_gib: Option<f64>,
}

/// Where tables go: `$CARGO_TARGET_DIR/seqtun-bench`, else the `target` directory the running
/// bench binary was built into, else `target/seqtun-bench`.
pub fn output_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("seqtun-bench");
    }
    let exe = std::env::current_exe().ok();
    // <target>/<profile>/deps/<bench>-<hash>
    let target = exe.as_deref().and_then(|e| e.parent()?.parent()?.parent());
    match target {
        Some(t) if t.file_name().is_some_and(|n| n == "target") => t.join("seqtun-bench"),
        _ => PathBuf::from("target/seqtun-bench"),
    }
}

/// `/proc/loadavg`'s three averages.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" / "),
    )
}

/// Seconds as `850 ms` or `2.50 s`.
pub fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn mbs(bytes_per_sec: f64) -> String {
    format!("{:.2}", bytes_per_sec / 1e6)
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}×"))
}

fn percent(p: Option<f64>) -> String {
    p.map_or("–".into(), |p| format!("{:.0} %", p * 100.0))
}

/// Formats a duration for settings lines.
pub fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
