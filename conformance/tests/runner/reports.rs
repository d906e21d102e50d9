//! The reports a CI and a person read: soft failures counted as what they are everywhere, JUnit
//! grouped by target and area, the JSON report against its schema, `--format json`, and outputs
//! checked before the run.

use crate::cli::node_run as node;
use crate::support::{report, text};

/// A node on the fast profile that answers a missing key with `bad json` as deployed nodes do:
/// the `should` case `node/auth/missing-key-nginx-404-runs-nothing` fails, nothing else.
fn soft_failing_node() -> (tokio::runtime::Runtime, String) {
    crate::cli::start_tweaked(false, |cfg| cfg.faults.missing_key_is_bad_json = true)
}

const SOFT: &str = "node/auth/missing-key-nginx-404-runs-nothing";

/// One run, every view of it: the console line, the result line, the JSON totals and the JUnit
/// element all call the failed `should` case a soft failure, never a skip; the run passes, and
/// with `--strict` it fails and the result line says so.
#[test]
fn a_should_failure_is_a_soft_failure_everywhere() {
    let (_rt, url) = soft_failing_node();
    let dir = tempfile::tempdir().unwrap();
    let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = node(
        &url,
        &[
            "node/auth/",
            "--report-json",
            json.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let line = t
        .lines()
        .find(|l| l.contains(SOFT) && l.starts_with("test "))
        .unwrap();
    assert!(
        line.ends_with("SOFT-FAIL (should; fails the run only with --strict)"),
        "{t}"
    );
    assert!(t.contains("soft failures (should-level"), "{t}");
    let last = t
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))
        .unwrap();
    assert!(
        last.starts_with("test result: ok.")
            && last.contains("1 soft-failed; 0 informational; 2 ignored"),
        "{t}"
    );
    let r = report(&json);
    assert_eq!(r["totals"]["soft_fail"], 1, "{r}");
    assert_eq!(
        (r["verdict"].as_str(), r["exit_code"].as_u64()),
        (Some("pass"), Some(0))
    );
    let junit = std::fs::read_to_string(&xml).unwrap();
    let case = junit
        .split("<testcase")
        .find(|c| c.contains("missing-key-nginx-404-runs-nothing"))
        .unwrap();
    assert!(
        case.contains("<failure") && case.contains("type=\"soft-fail\""),
        "{case}"
    );
    assert!(case.contains("name=\"level\" value=\"should\""), "{case}");
    assert!(!case.contains("<skipped"), "{case}");
    let strict = node(&url, &["node/auth/", "--strict"]);
    let t = text(&strict);
    assert_eq!(strict.status.code(), Some(1), "{t}");
    assert!(
        t.contains("test result: FAILED. ") && t.contains("1 failed; 0 soft-failed"),
        "{t}"
    );
}

/// JUnit: a suite per target, `classname` target + area (CI groups by it), the level a
/// property, timestamps, and `--expect` honoured: an expected failure is not a failure.
#[test]
fn junit_groups_by_target_and_area_and_honours_expect() {
    let (_rt, url) = soft_failing_node();
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known.json");
    let reason = format!(
        "{{\"{SOFT}\": {{\"result\": \"soft-fail\", \"reason\": \"deployed nodes answer bad json\"}}}}"
    );
    std::fs::write(&known, reason).unwrap();
    let xml = dir.path().join("r.xml");
    let out = node(
        &url,
        &[
            "node/auth/",
            "--expect",
            known.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let junit = std::fs::read_to_string(&xml).unwrap();
    assert!(
        junit.contains(&format!("<testsuite name=\"{url}\"")),
        "{junit}"
    );
    assert!(
        junit.contains(&format!("classname=\"{url}.node/auth\"")),
        "{junit}"
    );
    assert!(junit.contains("timestamp=\"20"), "{junit}");
    let case = junit
        .split("<testcase")
        .find(|c| c.contains("missing-key-nginx-404-runs-nothing"))
        .unwrap();
    assert!(
        !case.contains("<failure"),
        "expected, so not a failure: {case}"
    );
    assert!(
        case.contains("name=\"expected\" value=\"soft-fail\""),
        "{case}"
    );
}

/// The positions of the top-level keys in pretty-printed JSON.
fn top_level_keys(raw: &str) -> Vec<String> {
    raw.lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split_once("\":").map(|(k, _)| k.to_string()))
        .collect()
}

/// The JSON report: totals, verdict, exit code, start and duration with units, the profile's
/// values with units, keys in a stable order, and the documented schema holds.
#[test]
fn the_json_report_matches_its_schema_and_keeps_its_key_order() {
    let (_rt, url) = soft_failing_node();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = node(
        &url,
        &[
            "node/auth/",
            "node/seq/hold",
            "--report-json",
            json.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let raw = std::fs::read_to_string(&json).unwrap();
    let r: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(seqtun_conform::report::json::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&r)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let order: Vec<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(top_level_keys(&raw), order);
    assert_eq!(r["totals"]["cases"], r["cases"].as_array().unwrap().len());
    assert!(r["started"].as_str().unwrap().ends_with('Z'), "{r}");
    assert!(r["duration_ms"].as_u64().unwrap() > 0);
    let t = &r["targets"][0];
    assert_eq!(
        (
            t["profile"].as_str(),
            t["params"]["longpoll_deadline"].as_f64()
        ),
        (Some("fast"), Some(1500.0))
    );
    assert_eq!(t["param_units"]["longpoll_deadline"], "ms");
    assert_eq!(t["param_units"]["drain_max"], "bytes");
    // A report that breaks the schema is caught: the check can fail.
    let mut broken = r.clone();
    broken["totals"]["soft_fail"] = serde_json::json!("one");
    assert!(!validator.is_valid(&broken));
}

/// `--format json`: stdout is JSON lines only (the probe and summary lines go to stderr), ending
/// with the suite event that carries the exit code.
#[test]
fn format_json_prints_only_json_on_stdout() {
    let (_rt, url) = soft_failing_node();
    let out = node(&url, &["node/auth/", "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.trim().is_empty(), "{}", text(&out));
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let last = events.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["exit_code"].as_u64()),
        (Some("suite"), Some(0))
    );
    assert_eq!(last["soft_failed"], 1);
    assert!(
        events
            .iter()
            .any(|e| e["grade"] == "soft-fail" && e["event"] == "failed")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("seqtun-conform report"));
}

/// A bad report path or a malformed `--expect` file fails before the probe and the first case,
/// not after a ten-minute run.
#[test]
fn outputs_and_expect_files_are_checked_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad_expect = dir.path().join("bad.json");
    std::fs::write(
        &bad_expect,
        "{\"node/x\": {\"result\": \"broken\", \"reason\": \"r\"}}",
    )
    .unwrap();
    let not_json = dir.path().join("nj.json");
    std::fs::write(&not_json, "{").unwrap();
    let missing_dir = dir.path().join("no/such/dir/r.json");
    // Nothing listens here: a probe would fail with another message.
    let url = "http://127.0.0.1:9";
    for (flag, path, says) in [
        (
            "--report-json",
            missing_dir.to_str().unwrap(),
            "cannot write --report-json",
        ),
        ("--junit", dir.path().to_str().unwrap(), "is a directory"),
        (
            "--report-html",
            missing_dir.to_str().unwrap(),
            "cannot write --report-html",
        ),
        (
            "--expect",
            bad_expect.to_str().unwrap(),
            "`broken` for node/x is not a result",
        ),
        ("--expect", not_json.to_str().unwrap(), "is not valid"),
    ] {
        let out = node(url, &[flag, path]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {t}");
        assert!(t.contains(says), "{flag}: {t}");
        assert!(
            !t.contains("dialect probe"),
            "checked before the probe: {t}"
        );
    }
}
