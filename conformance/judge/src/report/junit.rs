//! `--junit`: one test suite per target, one test case per vector, for CI dashboards.
//!
//! CI tools group test cases by `classname`, so it is the target and the case's area
//! (`seqtun-node.node/seq`), not the level; the level, grade, section and any `--expect` entry
//! are properties. A soft failure (a failed `should` case) is a `<failure type="soft-fail">`,
//! never a `<skipped>`: dashboards hide skips. A result `--expect` expected is a success (with
//! the expectation in the properties); a surprise is a failure saying what was expected.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::model::Report;
use crate::results::CaseResult;
use crate::verdict::{Grade, Outcome};

fn status(c: &CaseResult) -> TestCaseStatus {
    let expected = c.expected.is_some() && c.unexpected.is_none();
    match (&c.outcome, c.grade) {
        (_, _) if c.unexpected.is_some() && !matches!(c.outcome, Outcome::Fail(_)) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("unexpected")
                .set_message(c.unexpected.clone().unwrap_or_default());
            s
        }
        (Outcome::Pass, _) => TestCaseStatus::success(),
        (Outcome::Fail(_), _) if expected => TestCaseStatus::success(),
        (Outcome::Fail(f), grade) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let mut message = format!("§{} {}", c.section, f.line());
            if grade != Grade::Failed {
                message = format!("{} ({} level): {message}", grade.word(), c.level.word());
            }
            if let Some(u) = &c.unexpected {
                message = format!("{u}: {message}");
            }
            s.set_type(grade.word())
                .set_message(message)
                .set_description(f.to_string());
            s
        }
        (Outcome::Ignored { reason } | Outcome::Unsupported { reason }, _) => {
            let mut s = TestCaseStatus::skipped();
            s.set_type(c.grade.word()).set_message(reason.clone());
            s
        }
    }
}

fn case(c: &CaseResult) -> TestCase {
    let leaf = c.id.rsplit_once('/').map_or(c.id.as_str(), |(_, l)| l);
    let mut tc = TestCase::new(leaf.to_string(), status(c));
    tc.set_classname(format!("{}.{}", c.target, c.area))
        .set_time(std::time::Duration::from_millis(c.duration_ms));
    if let Some(t) = c
        .started
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    {
        tc.set_timestamp(t);
    }
    tc.add_property(("id", c.id.as_str()))
        .add_property(("level", c.level.word()))
        .add_property(("grade", c.grade.word()))
        .add_property(("section", c.section.as_str()));
    if let Some(e) = &c.expected {
        tc.add_property(("expected", e.result.as_str()))
            .add_property(("expected-reason", e.reason.as_str()));
    }
    tc
}

pub fn write(path: &Path, report: &Report) -> std::io::Result<()> {
    let mut junit = Junit::new("seqtun-conform");
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&report.started) {
        junit.set_timestamp(t);
    }
    junit.set_time(std::time::Duration::from_millis(report.duration_ms));
    for target in &report.targets {
        let mut suite = TestSuite::new(target.label.clone());
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&report.started) {
            suite.set_timestamp(t);
        }
        suite.add_property(("role", target.role));
        suite.add_property(("dialect", target.dialect.as_str()));
        suite.add_property(("profile", target.profile.as_str()));
        for c in report.cases.iter().filter(|c| c.target == target.label) {
            suite.add_test_case(case(c));
        }
        junit.add_test_suite(suite);
    }
    let xml = junit.to_string().map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}
