//! The console: case lines as `cargo test` prints them, notices for long-running cases, the
//! failures, and the result line, in one vocabulary with the reports (see [`crate::verdict`]).
//!
//! libtest-mimic printed the cases before, but its console cannot say "soft failure", counted
//! those as ignored, printed `ok` on its result line while the run went on to fail, and could
//! not announce a case that had been waiting for minutes. The flags stay libtest's, so `cargo
//! test` and muscle memory keep working.

pub mod estimate;
pub mod exec;
pub mod list;
pub mod select;

use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{Color, Format};
use crate::report::model::Totals;
use crate::results::CaseResult;
use crate::verdict::{Grade, Outcome};

type Sink = Mutex<Box<dyn Write + Send>>;

/// Where the console writes; in `--format json` everything for people goes to stderr.
pub struct Console {
    format: Format,
    color: bool,
    out: Sink,
    err: Sink,
    /// Padding of case lines: level tag, name.
    width: (AtomicUsize, AtomicUsize),
}

/// A buffer a test can read back what a console printed.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Console {
    /// The process's stdout and stderr.
    pub fn stdio(format: Format, color: Color) -> Self {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => format == Format::Pretty && std::io::stdout().is_terminal(),
        };
        Self {
            format,
            color,
            out: Mutex::new(Box::new(std::io::stdout())),
            err: Mutex::new(Box::new(std::io::stderr())),
            width: Default::default(),
        }
    }

    /// A console writing stdout and stderr into one buffer, for tests.
    pub fn capture(format: Format) -> (Self, Captured) {
        let buf = Captured::default();
        let c = Self {
            format,
            color: false,
            out: Mutex::new(Box::new(buf.clone())),
            err: Mutex::new(Box::new(buf.clone())),
            width: Default::default(),
        };
        (c, buf)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Pads case lines to these widths (level tag, name).
    pub fn set_widths(&self, level: usize, name: usize) {
        self.width.0.store(level, Ordering::Relaxed);
        self.width.1.store(name, Ordering::Relaxed);
    }

    fn write(&self, sink: &Sink, text: &str) {
        if let Ok(mut w) = sink.lock() {
            let _ = w.write_all(text.as_bytes());
            let _ = w.flush();
        }
    }

    /// Text for people: stdout, or stderr when stdout is reserved for JSON.
    pub fn info(&self, text: &str) {
        let sink = if self.format == Format::Json {
            &self.err
        } else {
            &self.out
        };
        self.write(sink, text);
    }

    /// One line for people.
    pub fn line(&self, text: &str) {
        self.info(&format!("{text}\n"));
    }

    /// A JSON event on stdout (`--format json` only).
    pub fn event(&self, v: Value) {
        if self.format == Format::Json {
            self.write(&self.out, &format!("{v}\n"));
        }
    }

    fn paint(&self, colour: &str, word: &str) -> String {
        if self.color {
            format!("{colour}{word}{RESET}")
        } else {
            word.to_string()
        }
    }

    /// `running N tests`, or the suite's start event.
    pub fn started(&self, count: usize) {
        match self.format {
            Format::Json => {
                self.event(json!({"type": "suite", "event": "started", "test_count": count}))
            }
            _ => self.line(&format!(
                "\nrunning {count} test{}",
                if count == 1 { "" } else { "s" }
            )),
        }
    }

    pub fn test_started(&self, name: &str) {
        self.event(json!({"type": "test", "event": "started", "name": name}));
    }

    /// The line (or character, or event) for one finished case.
    pub fn result(&self, r: &CaseResult) {
        let reason = match &r.outcome {
            Outcome::Ignored { reason } | Outcome::Unsupported { reason } => Some(reason.clone()),
            _ => None,
        };
        match self.format {
            Format::Json => {
                let event = match r.grade {
                    Grade::Ok => "ok",
                    Grade::Ignored | Grade::Unsupported => "ignored",
                    Grade::Failed | Grade::SoftFail | Grade::Informational => "failed",
                };
                let mut e = json!({"type": "test", "name": r.name, "event": event,
                    "grade": r.grade.word(), "level": r.level.word(), "section": r.section});
                if let Outcome::Fail(f) = &r.outcome {
                    e["stdout"] = json!(f.to_string());
                }
                if let Some(why) = reason {
                    e["reason"] = json!(why);
                }
                self.event(e);
            }
            Format::Terse => {
                let c = match r.grade {
                    Grade::Ok => ".",
                    Grade::Failed => "F",
                    Grade::SoftFail => "f",
                    Grade::Informational => "m",
                    Grade::Ignored => "i",
                    Grade::Unsupported => "u",
                };
                self.info(c);
            }
            Format::Pretty => {
                let word = match r.grade {
                    Grade::Ok => self.paint(GREEN, "ok"),
                    Grade::Failed => self.paint(RED, "FAILED"),
                    Grade::SoftFail => self.paint(
                        YELLOW,
                        "SOFT-FAIL (should; fails the run only with --strict)",
                    ),
                    Grade::Informational => self.paint(CYAN, "informational (may)"),
                    Grade::Ignored => {
                        self.paint(YELLOW, &format!("ignored ({})", reason.unwrap_or_default()))
                    }
                    Grade::Unsupported => self.paint(
                        YELLOW,
                        &format!("unsupported ({})", reason.unwrap_or_default()),
                    ),
                };
                let tag = format!("[{}]", r.level.word());
                self.line(&format!(
                    "test {tag:<tw$} {name:<nw$} ... {word}",
                    name = r.name,
                    tw = self.width.0.load(Ordering::Relaxed),
                    nw = self.width.1.load(Ordering::Relaxed),
                ));
            }
        }
    }

    /// A case has been running for a long time.
    pub fn notice(&self, name: &str, text: &str) {
        match self.format {
            Format::Json => self.event(json!({"type": "notice", "name": name, "text": text})),
            Format::Terse => self.line(&format!("\nnotice: {name} {text}")),
            Format::Pretty => self.line(&format!("notice: {name} {text}")),
        }
    }

    /// The failures, hard ones first, each with everything needed to act on it.
    pub fn failures(&self, results: &[CaseResult]) {
        if self.format == Format::Terse {
            self.line("");
        }
        for (grade, title) in [
            (Grade::Failed, "failures:"),
            (
                Grade::SoftFail,
                "soft failures (should-level; --strict fails the run on them):",
            ),
            (Grade::Informational, "informational failures (may-level):"),
        ] {
            let mine: Vec<&CaseResult> = results.iter().filter(|r| r.grade == grade).collect();
            if mine.is_empty() {
                continue;
            }
            let mut text = format!("\n{title}\n");
            for r in &mine {
                if let Outcome::Fail(f) = &r.outcome {
                    text.push_str(&format!(
                        "\n---- {} ----\n[§{} {}] {}\n{f}\n",
                        r.name, r.section, r.id, r.title
                    ));
                }
            }
            self.info(&text);
        }
    }

    /// The last line: libtest's result line, with the soft failures counted as what they are,
    /// and `ok` only when the process exits 0.
    pub fn conclusion(&self, t: &Totals, filtered_out: usize, elapsed: Duration, exit_code: u8) {
        let ok = exit_code == 0;
        match self.format {
            Format::Json => self.event(json!({
                "type": "suite", "event": if ok { "ok" } else { "failed" },
                "passed": t.pass, "failed": t.fail, "soft_failed": t.soft_fail,
                "informational": t.informational, "ignored": t.ignored,
                "unsupported": t.unsupported, "measured": 0, "filtered_out": filtered_out,
                "exec_time": elapsed.as_secs_f64(), "exit_code": exit_code,
            })),
            _ => {
                let word = if ok {
                    self.paint(GREEN, "ok")
                } else {
                    self.paint(RED, "FAILED")
                };
                self.line(&format!(
                    "\ntest result: {word}. {} passed; {} failed; {} soft-failed; {} informational; {} ignored; {} unsupported; {filtered_out} filtered out; finished in {:.2}s\n",
                    t.pass, t.fail, t.soft_fail, t.informational, t.ignored, t.unsupported,
                    elapsed.as_secs_f64()
                ));
            }
        }
    }
}
