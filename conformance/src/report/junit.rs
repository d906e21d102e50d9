//! `--junit`: one test suite per target, one test case per vector, for CI dashboards.

use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::results::CaseResult;
use crate::verdict::{Grade, Outcome};

pub fn write(path: &Path, cases: &[CaseResult]) -> std::io::Result<()> {
    let mut report = Report::new("seqtun-conform");
    let mut targets: Vec<&str> = cases.iter().map(|c| c.target.as_str()).collect();
    targets.dedup();
    for target in targets {
        let mut suite = TestSuite::new(target);
        for c in cases.iter().filter(|c| c.target == target) {
            let status = match (&c.outcome, c.grade) {
                (Outcome::Pass, _) => TestCaseStatus::success(),
                (Outcome::Fail(f), Grade::Failed) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("§{} {}", c.section, f.what))
                        .set_description(f.to_string());
                    s
                }
                (Outcome::Fail(f), grade) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!("{}: {}", grade.word(), f.what))
                        .set_description(f.to_string());
                    s
                }
                (Outcome::Ignored { reason } | Outcome::Unsupported { reason }, _) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.clone());
                    s
                }
            };
            let mut tc = TestCase::new(c.id.clone(), status);
            tc.set_classname(format!("{:?}", c.level).to_lowercase())
                .set_time(c.duration);
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    let xml = report.to_string().map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}
