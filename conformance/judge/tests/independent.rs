//! The judge depends on no seqtun crate, normal, dev or build (issue 13): it grades raw JSON and
//! bytes, and the crate graph is what keeps it from leaning on the reference's types. Its
//! dependencies must also all come from a registry: a registry crate cannot depend on the
//! workspace's unpublished crates, so then none can reach the judge through another crate either.
//!
//! Read from `cargo metadata --no-deps`: the manifests only, nothing downloaded or built.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn metadata() -> Value {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The dependencies of `package` that lean on this workspace: a seqtun crate, or anything not
/// from a registry (a path or git dependency), each as `name (kind)`.
fn workspace_deps(meta: &Value, package: &str) -> Vec<String> {
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("{package} is not a workspace member"));
    pkg["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            let name = d["name"].as_str().unwrap_or_default();
            let source = d["source"].as_str().unwrap_or_default();
            name.starts_with("seqtun") || !source.starts_with("registry+")
        })
        .map(|d| {
            let kind = d["kind"].as_str().unwrap_or("normal");
            format!("{} ({kind})", d["name"].as_str().unwrap_or_default())
        })
        .collect()
}

#[test]
fn the_judge_depends_on_no_seqtun_crate_and_nothing_local() {
    let found = workspace_deps(&metadata(), "seqtun-judge");
    assert!(
        found.is_empty(),
        "conformance/judge/Cargo.toml must not depend on {found:?}: the reference targets and \
         whatever needs them belong in seqtun-conform (conformance/)"
    );
}

/// The same check on the crate that does start the reference names every reference crate, so
/// the one above cannot pass because the check sees nothing.
#[test]
fn the_check_finds_the_reference_where_it_is_used() {
    let found = workspace_deps(&metadata(), "seqtun-conform");
    for krate in [
        "seqtun-judge",
        "seqtun-node",
        "seqtun-client",
        "seqtun-relay",
        "seqtun-runtime",
    ] {
        assert!(
            found.contains(&format!("{krate} (normal)")),
            "{krate} not seen in {found:?}"
        );
    }
}
