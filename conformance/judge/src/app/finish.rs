//! After the cases: `--expect`, the exit code, the report every format is rendered from, the
//! console summary and the report files, then the result line.

use std::process::ExitCode;

use super::session::{Session, start};
use crate::console::select::Plan;
use crate::report::expect;
use crate::report::model::{ExpectReport, MatrixView, Report, TargetInfo, Totals, timestamp};
use crate::results::CaseResult;
use crate::verdict::Grade;

/// Writes one report format.
type Writer = fn(&std::path::Path, &Report) -> std::io::Result<()>;

impl Session<'_> {
    pub(super) fn finish(
        &self,
        plan: &Plan,
        mut infos: Vec<TargetInfo>,
        mut results: Vec<CaseResult>,
        matrix: Option<(MatrixView, bool)>,
    ) -> ExitCode {
        let surprises = self.expect.as_ref().map(|e| expect::apply(&mut results, e));
        let failed = results.iter().any(|r| r.grade == Grade::Failed);
        let broken = matrix.as_ref().is_some_and(|(_, b)| *b);
        let code: u8 = match &surprises {
            Some(s) => u8::from(!s.is_empty() || broken),
            None => u8::from(failed || broken),
        };
        for t in &mut infos {
            t.totals = Totals::of(results.iter().filter(|r| r.target == t.label));
        }
        let (wall, mono) = start();
        let report = Report {
            tool: "seqtun-conform",
            version: env!("CARGO_PKG_VERSION"),
            started: timestamp(wall),
            duration_ms: mono.elapsed().as_millis() as u64,
            verdict: if code == 0 { "pass" } else { "fail" },
            exit_code: code,
            strict: self.common.strict,
            quick: self.common.quick,
            totals: Totals::of(&results),
            expect: self.common.expect.as_ref().map(|p| ExpectReport {
                file: p.display().to_string(),
                unexpected: surprises.clone().unwrap_or_default(),
                unused: self
                    .expect
                    .as_ref()
                    .map(|e| {
                        expect::unused(&results, e)
                            .into_iter()
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            comparisons: crate::report::compare::build(&infos, &results),
            targets: infos,
            cases: results,
            matrix: matrix.map(|(m, _)| m),
        };
        self.print(&report);
        if let Err(e) = self.write(&report) {
            return super::setup::error(e);
        }
        self.console
            .conclusion(&report.totals, plan.filtered_out, start().1.elapsed(), code);
        ExitCode::from(code)
    }

    fn print(&self, report: &Report) {
        self.console.info(&crate::report::summary::render(report));
        for c in &report.comparisons {
            self.console
                .info(&crate::report::compare::text(c, self.compare_differences));
        }
        if let Some(e) = &report.expect {
            for name in &e.unused {
                self.console.line(&format!(
                    "warning: {name} is listed in --expect but did not run"
                ));
            }
            for s in &e.unexpected {
                self.console.line(&format!("UNEXPECTED {s}"));
            }
            self.console.line(&format!(
                "{} unexpected result(s) against {}",
                e.unexpected.len(),
                e.file
            ));
        }
    }

    fn write(&self, report: &Report) -> Result<(), String> {
        let c = self.common;
        let each: [(&Option<std::path::PathBuf>, Writer); 3] = [
            (&c.report_json, crate::report::json::write),
            (&c.junit, crate::report::junit::write),
            (&c.report_html, crate::report::html::write),
        ];
        for (path, write) in each {
            if let Some(p) = path {
                write(p, report).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            }
        }
        Ok(())
    }
}
