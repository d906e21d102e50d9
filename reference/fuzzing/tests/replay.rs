//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the targets' checks
//! on the stable toolchain, so CI runs every seed without nightly or libFuzzer. A crash found
//! while fuzzing is fixed and its input added to the corpus, where this test keeps it fixed.

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_seed_passes_its_target() {
    let mut ran = 0;
    for (name, check) in seqtun_fuzzing::TARGETS {
        let dir = corpus().join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {name}");
        for path in files {
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{name}: {} fails", path.display());
            ran += 1;
        }
    }
    assert!(ran >= 5);
}
