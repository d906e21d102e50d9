//! Case outcomes, graded like Autobahn|Testsuite: a failed `must` case fails, a failed `should`
//! case is a *soft failure* (Autobahn's NON-STRICT; a failure under `--strict`), a failed `may`
//! case is informational.
//!
//! One vocabulary everywhere: the words of [`Grade::word`] are what the console, the summary,
//! `--report-json`, `--junit`, `--report-html` and `--expect` files use. A soft failure is shown
//! and counted as a failure that does not decide the exit code, never as a skip: CI dashboards
//! hide skips.

use serde::Serialize;

use crate::case::Level;

/// Why a case failed, with everything a maintainer needs to act.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    pub what: String,
    pub expected: String,
    pub seen: String,
    /// A command that replays the request the failing check was about.
    pub curl: Option<String>,
    pub note: Option<String>,
}

impl Failure {
    /// One line: `step 3: reply: expected 1 byte, seen 5 bytes "hello"`.
    pub fn line(&self) -> String {
        format!(
            "step {}: {}: expected {}, seen {}",
            self.step, self.what, self.expected, self.seen
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "step {}: {}", self.step, self.what)?;
        writeln!(f, "  expected: {}", self.expected)?;
        write!(f, "  seen:     {}", self.seen)?;
        if let Some(n) = &self.note {
            write!(f, "\n  note:     {n}")?;
        }
        if let Some(c) = &self.curl {
            write!(f, "\n  replay:   {c}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail(Failure),
    /// The target lacks a feature the case needs.
    Ignored {
        reason: String,
    },
    /// A client said (exit code 89) that it does not implement what the case needs.
    Unsupported {
        reason: String,
    },
}

/// The graded result reports and exit codes are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    #[serde(rename = "pass")]
    Ok,
    #[serde(rename = "fail")]
    Failed,
    /// A failed `should` case without `--strict`: shown and counted as a failure that does not
    /// fail the run.
    SoftFail,
    Informational,
    Ignored,
    Unsupported,
}

impl Grade {
    pub fn of(outcome: &Outcome, level: Level, strict: bool) -> Self {
        match outcome {
            Outcome::Pass => Grade::Ok,
            Outcome::Ignored { .. } => Grade::Ignored,
            Outcome::Unsupported { .. } => Grade::Unsupported,
            Outcome::Fail(_) => match level {
                Level::Must => Grade::Failed,
                Level::Should if strict => Grade::Failed,
                Level::Should => Grade::SoftFail,
                Level::May => Grade::Informational,
            },
        }
    }

    /// Every grade, in report order.
    pub const ALL: [Grade; 6] = [
        Grade::Ok,
        Grade::Failed,
        Grade::SoftFail,
        Grade::Informational,
        Grade::Ignored,
        Grade::Unsupported,
    ];

    /// The grade a word names (`--expect` files); `non-strict`, this grade's old name, too.
    pub fn from_word(word: &str) -> Option<Grade> {
        if word == "non-strict" {
            return Some(Grade::SoftFail);
        }
        Grade::ALL.into_iter().find(|g| g.word() == word)
    }

    /// Whether the case failed in any degree (the failures lists show these).
    pub fn is_failure(self) -> bool {
        matches!(self, Grade::Failed | Grade::SoftFail | Grade::Informational)
    }

    /// The short word used in `--expect` files and reports.
    pub fn word(self) -> &'static str {
        match self {
            Grade::Ok => "pass",
            Grade::Failed => "fail",
            Grade::SoftFail => "soft-fail",
            Grade::Informational => "informational",
            Grade::Ignored => "ignored",
            Grade::Unsupported => "unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading() {
        let fail = Outcome::Fail(Failure {
            step: 1,
            what: String::new(),
            expected: String::new(),
            seen: String::new(),
            curl: None,
            note: None,
        });
        assert_eq!(Grade::of(&fail, Level::Must, false), Grade::Failed);
        assert_eq!(Grade::of(&fail, Level::Should, false), Grade::SoftFail);
        assert_eq!(Grade::of(&fail, Level::Should, true), Grade::Failed);
        assert_eq!(Grade::of(&fail, Level::May, true), Grade::Informational);
        assert_eq!(Grade::of(&Outcome::Pass, Level::Must, false), Grade::Ok);
    }

    #[test]
    fn reports_use_the_same_words_as_expect_files() {
        for g in Grade::ALL {
            assert_eq!(
                serde_json::to_value(g).unwrap(),
                serde_json::json!(g.word())
            );
            assert_eq!(Grade::from_word(g.word()), Some(g));
        }
        assert_eq!(Grade::from_word("non-strict"), Some(Grade::SoftFail));
    }
}
