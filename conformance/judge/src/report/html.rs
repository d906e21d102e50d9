//! `--report-html`: one self-contained page (inline CSS, no scripts, no network) a person can
//! open from a CI artifact: per target its dialect and graded counts, the compatibility matrix
//! as a coloured table, every failure with its section, expected and seen, and the command that
//! replays it, the comparison of several targets, then every result. Autobahn|Testsuite's
//! report is the model.
//!
//! The page is written with `format!` and one escaping function rather than a template engine:
//! it is a few tables, and every interpolated string goes through [`esc`].

use std::fmt::Write as _;
use std::path::Path;

use super::model::{Comparison, MatrixView, Report, TargetInfo};
use super::summary::counts;
use crate::results::CaseResult;
use crate::verdict::{Grade, Outcome};

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.meta{color:#555}.card{display:inline-block;width:300px;border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:4px 8px 4px 0;vertical-align:top}\
.g{font-weight:600;white-space:nowrap}.pass,.ok{background:#c8f0c8}.fail,.bad{background:#f6b8b8}.soft-fail,.warn{background:#fde7a6}\
.informational{background:#cde8f6}.ignored,.unsupported,.none{background:#e8e8e8;color:#555}.badge{padding:1px 5px;border-radius:4px;margin:2px 4px 2px 0;display:inline-block;font-size:12px}\
pre{background:#f7f7f7;padding:6px;white-space:pre-wrap;word-break:break-all;margin:4px 0}.failure{border-left:4px solid #d33;padding-left:10px;margin:12px 0}\
.failure.soft{border-color:#d9a400}.verdict-pass{color:#187a18}.verdict-fail{color:#b31b1b}";

/// The page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>seqtun-conform report</title><style>{STYLE}</style></head><body>"
    );
    let verdict = if r.exit_code == 0 { "pass" } else { "fail" };
    let _ = write!(
        h,
        "<h1>seqtun-conform report: <span id=\"verdict\" class=\"verdict-{verdict}\">{}</span></h1>\
         <p class=\"meta\">seqtun-conform {} · started {} · {:.1} s · exit code {}{}{}</p>",
        verdict.to_uppercase(),
        esc(r.version),
        esc(&r.started),
        r.duration_ms as f64 / 1000.0,
        r.exit_code,
        if r.strict { " · --strict" } else { "" },
        if r.quick { " · --quick" } else { "" },
    );
    targets(&mut h, r);
    if let Some(m) = &r.matrix {
        matrix(&mut h, m);
    }
    failures(&mut h, &r.cases);
    for c in &r.comparisons {
        comparison(&mut h, c);
    }
    results(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

fn badges(h: &mut String, t: &super::model::Totals) {
    for g in Grade::ALL {
        let _ = write!(
            h,
            "<span class=\"badge g {w}\" data-grade=\"{w}\">{} {w}</span>",
            t.get(g),
            w = g.word()
        );
    }
}

fn targets(h: &mut String, r: &Report) {
    let _ = write!(h, "<h2>Targets</h2><p id=\"totals\">All targets: ");
    badges(h, &r.totals);
    h.push_str("</p>");
    for t in &r.targets {
        target_card(h, t);
    }
}

fn target_card(h: &mut String, t: &TargetInfo) {
    let place = match (&t.url, t.in_process) {
        (_, true) => "in-process".to_string(),
        (Some(u), false) => esc(u),
        (None, false) => "command".into(),
    };
    let _ = write!(
        h,
        "<div class=\"card target\" data-target=\"{l}\"><b>{l}</b> ({} role, {place})<br>dialect: <b>{}</b><br>profile: {}<br><span class=\"counts\" title=\"{}\">",
        t.role,
        esc(&t.dialect),
        esc(&t.profile),
        esc(&counts(&t.totals)),
        l = esc(&t.label),
    );
    badges(h, &t.totals);
    h.push_str("</span></div>");
}

fn comparison(h: &mut String, c: &Comparison) {
    let _ = write!(
        h,
        "<h2>Comparison of {} targets ({} role)</h2><table class=\"comparison\"><tr><th>case</th><th>level</th>",
        c.columns.len(),
        c.role
    );
    for col in &c.columns {
        let _ = write!(
            h,
            "<th>{}<br><small>{}</small></th>",
            esc(&col.label),
            esc(&col.dialect)
        );
    }
    h.push_str("</tr>");
    for row in &c.rows {
        let _ = write!(
            h,
            "<tr{}><td title=\"{}\">{}</td><td>{}</td>",
            if row.differs {
                " class=\"differs\""
            } else {
                ""
            },
            esc(&row.title),
            esc(&row.id),
            esc(&row.level)
        );
        for g in &row.results {
            let w = g.as_deref().unwrap_or("none");
            let _ = write!(
                h,
                "<td class=\"g {w}\">{}</td>",
                if g.is_some() { w } else { "–" }
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn matrix(h: &mut String, m: &MatrixView) {
    let _ = write!(
        h,
        "<h2>{}</h2><table id=\"matrix\"><tr><th>client \\ node</th>",
        esc(&m.title)
    );
    for n in &m.nodes {
        let _ = write!(h, "<th>{}</th>", esc(n));
    }
    h.push_str("</tr>");
    for c in &m.clients {
        let _ = write!(h, "<tr><th>{}</th>", esc(c));
        for n in &m.nodes {
            let Some(cell) = m.cells.iter().find(|x| &x.client == c && &x.node == n) else {
                h.push_str("<td class=\"none\">–</td>");
                continue;
            };
            let class = match (cell.delivery.as_str(), cell.wire.as_str()) {
                ("ok", "echo-only") => "warn",
                ("ok", _) => "ok",
                _ => "bad",
            };
            let _ = write!(
                h,
                "<td class=\"cell {class}\" title=\"{}\">{} <b>{}</b>{}</td>",
                esc(cell.detail.as_deref().unwrap_or("")),
                esc(&cell.wire),
                esc(&cell.delivery),
                if cell.required { " *" } else { "" }
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    for c in m.cells.iter().filter(|c| c.detail.is_some()) {
        let _ = write!(
            h,
            "<p class=\"meta\">{} × {}: {}</p>",
            esc(&c.client),
            esc(&c.node),
            esc(c.detail.as_deref().unwrap_or(""))
        );
    }
    for l in &m.legend {
        let _ = write!(h, "<div class=\"meta\">{}</div>", esc(l));
    }
}

fn failures(h: &mut String, cases: &[CaseResult]) {
    let failed: Vec<&CaseResult> = cases.iter().filter(|c| c.grade.is_failure()).collect();
    let _ = write!(h, "<h2 id=\"failures\">Failures ({})</h2>", failed.len());
    if failed.is_empty() {
        h.push_str("<p>None.</p>");
    }
    for c in failed {
        let Outcome::Fail(f) = &c.outcome else {
            continue;
        };
        let soft = if c.grade == Grade::Failed {
            ""
        } else {
            " soft"
        };
        let _ = write!(
            h,
            "<div class=\"failure{soft}\"><b>{}</b> <span class=\"badge g {g}\">{g}</span> {} · §{}<br>{}\
             <table><tr><th>step {}</th><td>{}</td></tr><tr><th>expected</th><td>{}</td></tr><tr><th>seen</th><td>{}</td></tr>",
            esc(&c.name),
            c.level.word(),
            esc(&c.section),
            esc(&c.title),
            f.step,
            esc(&f.what),
            esc(&f.expected),
            esc(&f.seen),
            g = c.grade.word(),
        );
        if let Some(n) = &f.note {
            let _ = write!(h, "<tr><th>note</th><td>{}</td></tr>", esc(n));
        }
        h.push_str("</table>");
        if let Some(curl) = &f.curl {
            let _ = write!(h, "replay:<pre>{}</pre>", esc(curl));
        }
        h.push_str("</div>");
    }
}

fn results(h: &mut String, r: &Report) {
    for t in &r.targets {
        let _ = write!(
            h,
            "<h2>All results: {}</h2><table class=\"results\"><tr><th>case</th><th>level</th><th>§</th><th>result</th><th>ms</th><th>title</th></tr>",
            esc(&t.label)
        );
        for c in r.cases.iter().filter(|c| c.target == t.label) {
            let why = match &c.outcome {
                Outcome::Ignored { reason } | Outcome::Unsupported { reason } => {
                    format!(" ({})", esc(reason))
                }
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"g {g}\">{g}{why}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.id),
                c.level.word(),
                esc(&c.section),
                c.duration_ms,
                esc(&c.title),
                g = c.grade.word()
            );
        }
        h.push_str("</table>");
    }
}

pub fn write(path: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::write(path, render(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_interpolated_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
