//! The HTML report in a real browser, and several targets side by side (the comparison the
//! console, the JSON and the HTML report all show).

use std::path::Path;

use crate::support::{conform, report, text};
use seqtun_conform::builtin::KEY;

/// Several targets side by side: a pipelined and a legacy node (and the pipelined one behind a
/// relay, with its own key) run the same cases, and one table shows case × target with each
/// column's dialect; the JSON report carries it too.
#[test]
fn several_targets_are_compared_case_by_case() {
    let (rt, pipelined) = crate::cli::start(false);
    let (_rt2, legacy) = crate::cli::start(true);
    let mut cfg = seqtun_relay::RelayConfig::new(pipelined.clone(), KEY, "relay-key");
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let relay = rt.block_on(seqtun_relay::spawn(cfg)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = conform(&[
        "node",
        "--url",
        &pipelined,
        "--url",
        &legacy,
        "--relay-url",
        &relay.url_for("dep1"),
        "--key",
        KEY,
        "--key",
        KEY,
        "--key",
        "relay-key",
        "--label",
        "pipelined",
        "--label",
        "legacy",
        "--label",
        "relayed",
        "--profile",
        "fast",
        "node/seq/hold-later-seq",
        "node/transport/health",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("comparison of 3 node targets"), "{t}");
    let header = t
        .lines()
        .find(|l| l.trim_start().starts_with("case "))
        .unwrap();
    assert!(
        header.contains("pipelined") && header.contains("legacy") && header.contains("relayed"),
        "{t}"
    );
    let dialects = t.lines().skip_while(|l| *l != header).nth(1).unwrap();
    assert!(
        dialects.contains("#903") && dialects.contains("legacy"),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("* node/seq/hold-later-seq"))
        .unwrap();
    assert!(
        row.starts_with('*') && row.contains("pass") && row.contains("ignored"),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("* node/transport/health"))
        .unwrap();
    assert!(
        row.contains("pass") && row.contains("ignored"),
        "health is direct-only: {t}"
    );
    let r = report(&json);
    let c = &r["comparisons"][0];
    assert_eq!(c["columns"][1]["dialect"], "legacy", "{c}");
    assert_eq!(c["rows"].as_array().unwrap().len(), 2, "{c}");
}

/// Renders `html` in headless Chromium and returns the DOM it built, or `None` when Chromium
/// is not installed (CI installs it).
pub fn chromium_dom(html: &Path) -> Option<String> {
    let chromium = "chromium";
    if std::process::Command::new(chromium)
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: chromium is not installed (CI installs it with apt)");
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The page has loaded nothing from the network and runs no script.
fn self_contained(html: &Path) {
    let page = std::fs::read_to_string(html).unwrap();
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http") && !page.contains("<script"),
        "self-contained"
    );
}

/// The HTML report of two targets in a real browser: each target's card shows its counts as
/// the JSON report has them (a soft failure among them), the failure is there with its replay
/// command, and the comparison table has a column per target.
#[test]
fn the_html_report_renders_counts_failures_and_comparison_in_chromium() {
    let (_rt, soft) = crate::cli::start_tweaked(false, |c| c.faults.missing_key_is_bad_json = true);
    let (_rt2, legacy) = crate::cli::start(true);
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    let out = conform(&[
        "node",
        "--url",
        &soft,
        "--url",
        &legacy,
        "--key",
        KEY,
        "--profile",
        "fast",
        "node/auth/",
        "node/seq/hold-later-seq",
        "--report-html",
        html.to_str().unwrap(),
        "--report-json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    self_contained(&html);
    let Some(dom) = chromium_dom(&html) else {
        return;
    };
    let r = report(&json);
    for t in r["targets"].as_array().unwrap() {
        let label = t["label"].as_str().unwrap();
        let card = dom
            .split("data-target=\"")
            .find(|c| c.starts_with(label))
            .unwrap_or_else(|| panic!("{label}: {dom}"));
        let card = &card[..card.find("</div>").unwrap()];
        for (grade, key) in [
            ("pass", "pass"),
            ("soft-fail", "soft_fail"),
            ("ignored", "ignored"),
            ("fail", "fail"),
        ] {
            let want = format!("data-grade=\"{grade}\">{} {grade}</span>", t["totals"][key]);
            assert!(card.contains(&want), "{label}: {want} in {card}");
        }
    }
    assert_eq!(r["totals"]["soft_fail"], 1, "{r}");
    let failures = &dom[dom.find("id=\"failures\"").unwrap()..];
    assert!(
        failures.starts_with("id=\"failures\">Failures (1)"),
        "{failures}"
    );
    assert!(
        failures.contains("missing-key-nginx-404-runs-nothing") && failures.contains("replay:"),
        "{failures}"
    );
    assert!(dom.contains("Comparison of 2 targets (node role)"), "{dom}");
}

/// The matrix of a `--matrix-only` report, in a real browser: a coloured table with every cell.
pub fn matrix_renders(html: &Path) {
    self_contained(html);
    let Some(dom) = chromium_dom(html) else {
        return;
    };
    let matrix = &dom[dom.find("id=\"matrix\"").expect("the matrix table")..];
    let matrix = &matrix[..matrix.find("</table>").unwrap()];
    assert_eq!(matrix.matches("class=\"cell ").count(), 12, "{matrix}");
    assert!(matrix.contains("class=\"cell ok\""), "coloured: {matrix}");
}
