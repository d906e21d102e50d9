//! Where the vectors are, so a copied or installed `seqtun-conform` still finds them: the
//! `--vectors` flag, else `SEQTUN_VECTORS`, else a `vectors/` directory next to the binary
//! (how a release archive ships them), else the repository's `vectors/` compiled in at build
//! time (how `cargo run` finds them).

use std::path::{Path, PathBuf};

/// Which rule found the directory (for the error when it is unusable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    NextToBinary,
    CompiledIn,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--vectors",
            Source::Env => "SEQTUN_VECTORS",
            Source::NextToBinary => "vectors/ next to the binary",
            Source::CompiledIn => "the source tree's vectors/ (compiled in)",
        }
    }
}

/// The rules applied to explicit inputs (unit-testable without touching the process).
pub fn resolve(
    flag: Option<&Path>,
    env: Option<&Path>,
    exe_dir: Option<&Path>,
    compiled_in: &Path,
) -> (PathBuf, Source) {
    if let Some(p) = flag {
        return (p.to_path_buf(), Source::Flag);
    }
    if let Some(p) = env.filter(|p| !p.as_os_str().is_empty()) {
        return (p.to_path_buf(), Source::Env);
    }
    if let Some(dir) = exe_dir.map(|d| d.join("vectors")).filter(|d| d.is_dir()) {
        return (dir, Source::NextToBinary);
    }
    (compiled_in.to_path_buf(), Source::CompiledIn)
}

/// The rules applied to this process.
pub fn find(flag: Option<&Path>) -> (PathBuf, Source) {
    let env = std::env::var_os("SEQTUN_VECTORS").map(PathBuf::from);
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors");
    resolve(flag, env.as_deref(), exe_dir.as_deref(), &compiled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_env_then_next_to_the_binary_then_compiled_in() {
        let tmp = std::env::temp_dir().join(format!("seqtun-vdir-{}", std::process::id()));
        let bin = tmp.join("bin");
        std::fs::create_dir_all(bin.join("vectors")).unwrap();
        let c = Path::new("/compiled/vectors");
        let (f, e) = (Path::new("/flag"), Path::new("/env"));
        assert_eq!(
            resolve(Some(f), Some(e), Some(&bin), c),
            (f.into(), Source::Flag)
        );
        assert_eq!(
            resolve(None, Some(e), Some(&bin), c),
            (e.into(), Source::Env)
        );
        assert_eq!(
            resolve(None, None, Some(&bin), c),
            (bin.join("vectors"), Source::NextToBinary)
        );
        assert_eq!(
            resolve(None, Some(Path::new("")), Some(&tmp), c),
            (c.into(), Source::CompiledIn),
            "no vectors/ next to it, empty env"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
