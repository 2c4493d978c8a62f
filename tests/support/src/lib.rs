//! What the workspace's Rust tests share, in one place:
//!
//! - [`faults`]: a scripted SCF runtime API that injects transport faults (the tests in
//!   `tests/rust/` and the reliability suite, `tests/reliability/`);
//! - [`static_libs`]: the `-l` flags a program linking `libscfruntime.a` needs, read from the
//!   pkg-config template `ffi/scfruntime.pc.in`, the one place they are written;
//! - [`tools`]: the external tools the tests run, found where `./test.sh` installs them, and a
//!   test's failure naming the `./test.sh` step when one is missing (no test installs anything).

pub mod faults;
pub mod tools;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// The `-l` flags a program linking `libscfruntime.a` statically also needs (the output of
/// `rustc --print native-static-libs`), exactly as users get them: the `static_libs` variable of
/// `ffi/scfruntime.pc.in`, which its `Libs.private` field expands and `make install` copies into
/// `scfruntime.pc`.
pub fn static_libs() -> Vec<String> {
    let pc = repo().join("ffi/scfruntime.pc.in");
    let text = std::fs::read_to_string(&pc).unwrap_or_else(|e| panic!("{}: {e}", pc.display()));
    parse_static_libs(&text)
        .unwrap_or_else(|| panic!("{} has no `static_libs=` line with -l flags", pc.display()))
}

fn parse_static_libs(pc: &str) -> Option<Vec<String>> {
    let libs: Vec<String> = pc
        .lines()
        .find_map(|l| l.strip_prefix("static_libs="))?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (!libs.is_empty() && libs.iter().all(|l| l.starts_with("-l"))).then_some(libs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pc_template_lists_the_libs_once_and_libs_private_expands_them() {
        let text = std::fs::read_to_string(repo().join("ffi/scfruntime.pc.in")).unwrap();
        let libs = static_libs();
        assert!(libs.contains(&"-lc".to_owned()), "{libs:?}");
        let private: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Libs.private:"))
            .collect();
        assert_eq!(private, [" ${static_libs}"], "{text}");
        assert_eq!(
            text.matches(libs.join(" ").as_str()).count(),
            1,
            "the list is written once:\n{text}"
        );
    }

    #[test]
    fn parse_wants_l_flags() {
        assert_eq!(
            parse_static_libs("a=1\nstatic_libs=-lm -lc\n"),
            Some(vec!["-lm".to_owned(), "-lc".to_owned()])
        );
        assert_eq!(parse_static_libs("static_libs=\n"), None);
        assert_eq!(parse_static_libs("static_libs=${x}\n"), None);
        assert_eq!(parse_static_libs("Libs: -lscfruntime\n"), None);
    }
}
