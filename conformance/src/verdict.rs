//! Case outcomes, graded like Autobahn|Testsuite: a failed `must` case is FAILED, a failed
//! `should` case is NON-STRICT (FAILED under `--strict`), a failed `may` case is INFORMATIONAL.

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
    NonStrict,
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
                Level::Should => Grade::NonStrict,
                Level::May => Grade::Informational,
            },
        }
    }

    /// The short word used in `--expect` files and reports.
    pub fn word(self) -> &'static str {
        match self {
            Grade::Ok => "pass",
            Grade::Failed => "fail",
            Grade::NonStrict => "non-strict",
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
        assert_eq!(Grade::of(&fail, Level::Should, false), Grade::NonStrict);
        assert_eq!(Grade::of(&fail, Level::Should, true), Grade::Failed);
        assert_eq!(Grade::of(&fail, Level::May, true), Grade::Informational);
        assert_eq!(Grade::of(&Outcome::Pass, Level::Must, false), Grade::Ok);
    }

    #[test]
    fn reports_use_the_same_words_as_expect_files() {
        for g in [
            Grade::Ok,
            Grade::Failed,
            Grade::NonStrict,
            Grade::Informational,
            Grade::Ignored,
            Grade::Unsupported,
        ] {
            assert_eq!(
                serde_json::to_value(g).unwrap(),
                serde_json::json!(g.word())
            );
        }
    }
}
