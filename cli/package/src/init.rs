//! `scfrt init`: a starter function that `scfrt package` packs and `scfrt invoke` runs.
//!
//! The templates are in `cli/package/templates/`, compiled in with `include_str!`.

use std::path::{Path, PathBuf};

use crate::pack::Lang;

const README: &str = include_str!("../templates/README.md.in");
const C_INDEX: &str = include_str!("../templates/c/index.c");
const C_MAKEFILE: &str = include_str!("../templates/c/Makefile");
const C_HEADER: &str = include_str!("../../../include/scfruntime.h");
const PY_INDEX: &str = include_str!("../templates/python/index.py");
const SH_INDEX: &str = include_str!("../templates/bash/index.sh");
const RS_CARGO: &str = include_str!("../templates/rust/Cargo.toml");
const RS_MAIN: &str = include_str!("../templates/rust/src/main.rs");

/// The handler string every template answers to (SCF's default).
pub const TEMPLATE_HANDLER: &str = "index.main_handler";

/// How the Rust template depends on scf-core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScfCoreSource {
    /// `scf-core = { path = "..." }`.
    Path(PathBuf),
    /// `scf-core = "<version>"` from crates.io.
    Version(String),
}

impl ScfCoreSource {
    /// The scf-core of the source tree scfrt was built from, when it is still there; else the
    /// crates.io version matching this scfrt.
    pub fn default_for_this_build() -> ScfCoreSource {
        let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../core");
        match std::fs::canonicalize(&core) {
            Ok(p) if p.join("Cargo.toml").is_file() => ScfCoreSource::Path(p),
            _ => ScfCoreSource::Version(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    fn toml(&self) -> String {
        match self {
            ScfCoreSource::Path(p) => format!(
                "{{ path = {} }}",
                serde_json::Value::String(p.to_string_lossy().into_owned())
            ),
            ScfCoreSource::Version(v) => format!("\"{v}\""),
        }
    }
}

/// Writes the starter function for `lang` into `dir` (created when missing) and returns the
/// files written, relative to `dir`.
///
/// # Errors
///
/// A message when `dir` exists and is not an empty directory, or a file cannot be written.
pub fn init(lang: Lang, dir: &Path, scf_core: &ScfCoreSource) -> Result<Vec<PathBuf>, String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} is not empty; `scfrt init` only writes into a new or empty directory",
                    dir.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let name = crate_name(dir);
    let readme = |title: &str, about: &str, build: &str, bootstrap: &str| {
        README
            .replace("{{name}}", &name)
            .replace("{{lang_title}}", title)
            .replace("{{lang}}", lang.name())
            .replace("{{about}}", about)
            .replace("{{build}}", build)
            .replace("{{bootstrap}}", bootstrap)
            .replace("{{handler}}", TEMPLATE_HANDLER)
    };
    let files: Vec<(&str, String)> = match lang {
        Lang::C => vec![
            ("index.c", C_INDEX.to_owned()),
            ("Makefile", C_MAKEFILE.to_owned()),
            ("scfruntime.h", C_HEADER.to_owned()),
            (
                "README.md",
                readme(
                    "C",
                    "`index.c` defines `main_handler`; `make` builds `index.so`.",
                    "make                                   # index.so\n",
                    "scfruntime's C bootstrap (`scf-c-bootstrap`, which dlopens `./index.so`)",
                ),
            ),
        ],
        Lang::Python => vec![
            ("index.py", PY_INDEX.to_owned()),
            (
                "README.md",
                readme(
                    "Python",
                    "`index.py` defines `main_handler(event, context)` as for SCF's Python runtime.",
                    "",
                    "a script running `python3 -m scfruntime`, with scfruntime and the \
                     packages of an optional `requirements.txt` installed beside the handler for \
                     SCF's platform and `--python-version` (default 3.9; the interpreter: see \
                     docs/python.md in scfruntime, \"Packaging for SCF\")",
                ),
            ),
        ],
        Lang::Bash => vec![
            ("index.sh", SH_INDEX.to_owned()),
            (
                "README.md",
                readme(
                    "bash",
                    "`index.sh` defines `main_handler` as in Tencent's custom-runtime guide.",
                    "",
                    "scfruntime's shell bootstrap (`scf-shell-bootstrap`)",
                ),
            ),
        ],
        Lang::Rust => vec![
            (
                "Cargo.toml",
                RS_CARGO
                    .replace("{{name}}", &name)
                    .replace("{{scf_core}}", &scf_core.toml()),
            ),
            ("src/main.rs", RS_MAIN.to_owned()),
            (
                "README.md",
                readme(
                    "Rust",
                    "`src/main.rs` serves the handler with scf-core; the binary is named `bootstrap`.",
                    "",
                    "the release build of the `bootstrap` binary (`--portable` builds it with \
                     `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17`)",
                ),
            ),
        ],
    };
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(PathBuf::from(rel));
    }
    Ok(written)
}

/// A Cargo package name from the directory name.
fn crate_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "scf-fn-");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(crate_name(Path::new("/nonexistent/My Fn")), "scf-fn-");
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("Hello World.1");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(crate_name(&sub), "hello-world-1");
    }

    #[test]
    fn refuses_non_empty() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("x"), "").unwrap();
        let e = init(
            Lang::Bash,
            d.path(),
            &ScfCoreSource::Version("0.1.0".into()),
        )
        .unwrap_err();
        assert!(e.contains("not empty"), "{e}");
        assert!(!d.path().join("index.sh").exists());
    }
}
