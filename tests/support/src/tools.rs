//! The external tools the tests run, and what a test does when one is missing.
//!
//! `./test.sh` installs every tool the suite needs before the first test runs: apt packages in
//! its step [`APT_STEP`], Python packages into the repository's `.venv` in its step
//! [`VENV_STEP`]. No test installs anything: a test whose tool is missing fails with a message
//! naming the step that installs it, never passes or skips. The few tests that may skip call
//! [`skip`], which says why and, under `CI=true`, fails unless the test is in
//! [`OPTIONAL_SKIPS`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo;

/// The heading `./test.sh` prints for its step that installs the apt packages (keep equal).
pub const APT_STEP: &str = "== tools (apt-get install what is missing)";

/// The heading `./test.sh` prints for its step that creates `.venv` and installs into it
/// (maturin, pytest, ziglang, cargo-zigbuild; keep equal).
pub const VENV_STEP: &str = "== python venv (.venv)";

/// The heading `./test.sh` prints for its step that builds the two wheels with
/// `scripts/build-wheels.sh` (the glibc-2.17 bootstraps in `<target>/portable/bin`, the scfruntime
/// wheel copied there) and downloads the wheelhouse of the Python packaging tests (keep equal).
pub const WHEELS_STEP: &str = "== wheels (scripts/build-wheels.sh) and the tests' wheelhouse";

/// Tools on PATH and the apt package of each, as `./test.sh` installs them (its `need_apt` list).
const APT: &[(&str, &str)] = &[
    ("curl", "curl"),
    ("valgrind", "valgrind"),
    ("pkg-config", "pkgconf"),
    ("make", "make"),
    ("cc", "gcc"),
    ("readelf", "binutils"),
    ("zipinfo", "unzip"),
    ("taskset", "util-linux"),
    ("ip", "iproute2"),
];

/// The tests that may skip, each with when: a skip of any other test fails under `CI=true`.
pub const OPTIONAL_SKIPS: &[(&str, &str)] = &[(
    "injected_panics_are_caught",
    "ffi/tests/c_programs.rs, every variant: in builds without debug assertions (cargo test \
     --release), where the panic-injection hook of libscfruntime is compiled out; ./test.sh \
     runs debug builds, where it always runs",
)];

/// The path of `tool` on PATH. A missing tool fails the test, naming the `./test.sh` step and
/// the apt package that provide it.
pub fn require(tool: &str) -> PathBuf {
    let package = apt_package(tool);
    on_path(tool).unwrap_or_else(|| panic!("{}", missing_apt_tool(tool, package)))
}

fn apt_package(tool: &str) -> &'static str {
    APT.iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, p)| *p)
        .unwrap_or_else(|| panic!("{tool} is not in the APT list of tests/support/src/tools.rs"))
}

fn missing_apt_tool(tool: &str, package: &str) -> String {
    format!(
        "`{tool}` is not installed (not on PATH), and the tests do not install anything. \
         ./test.sh installs it before any test runs, in its step \"{APT_STEP}\" (apt package \
         `{package}`): run ./test.sh once, or `apt-get install {package}`"
    )
}

/// The C compiler the tests build with: `$CC` as given, else `cc` (see [`require`]).
pub fn c_compiler() -> PathBuf {
    match std::env::var_os("CC") {
        Some(cc) if !cc.is_empty() => PathBuf::from(cc),
        _ => require("cc"),
    }
}

/// The repository's `.venv` (created by `./test.sh`).
pub fn venv() -> PathBuf {
    repo().join(".venv")
}

/// `.venv/bin/<name>`, an executable a Python package put there (`cargo-zigbuild`, `maturin`).
/// A missing one fails the test, naming the `./test.sh` step that installs `package`.
pub fn venv_bin(name: &str, package: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        is_executable(&path),
        "{} is missing, and the tests do not install anything. ./test.sh installs it before \
         any test runs, in its step \"{VENV_STEP}\" (pip install {package} into .venv): run \
         ./test.sh once, or `.venv/bin/python -m pip install {package}`",
        path.display()
    );
    path
}

/// The venv's Python, checked to import `module`. A missing venv or module fails the test,
/// naming the `./test.sh` step that provides it (`how`: the command of that step that does).
pub fn venv_python_with(module: &str, how: &str) -> PathBuf {
    let py = venv().join("bin/python");
    let why = if !is_executable(&py) {
        format!("{} is missing", py.display())
    } else {
        match Command::new(&py)
            .args(["-c", &format!("import {module}")])
            .output()
        {
            Ok(out) if out.status.success() => return py,
            Ok(out) => format!(
                "`import {module}` fails in {}: {}",
                py.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => format!("cannot run {}: {e}", py.display()),
        }
    };
    panic!(
        "{why}, and the tests do not install anything. ./test.sh provides it before any test \
         runs, in its step \"{VENV_STEP}\" ({how}): run ./test.sh once"
    )
}

/// The glibc-2.17 ready-made things of `target` (`<target>/portable/bin`): the bootstraps and the
/// scfruntime wheel that `scfrt package` finds there. Missing ones fail the test, naming the
/// `./test.sh` step that builds them.
pub fn portable_bin(target: &Path) -> PathBuf {
    let bin = target.join("portable/bin");
    let has_wheel = std::fs::read_dir(&bin).is_ok_and(|d| {
        d.flatten().any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("scfruntime-") && n.ends_with(".whl")
        })
    });
    assert!(
        has_wheel
            && bin.join("scf-c-bootstrap").is_file()
            && bin.join("scf-shell-bootstrap").is_file(),
        "{} lacks the glibc-2.17 bootstraps or the scfruntime wheel, and the tests build them \
         only once, up front: ./test.sh's step \"{WHEELS_STEP}\" does (scripts/build-wheels.sh \
         with CARGO_TARGET_DIR={}); run ./test.sh once",
        bin.display(),
        target.display()
    );
    bin
}

/// `<target>/wheelhouse`: the wheels of `tests/packaging/python-fn/requirements.txt` for this
/// machine's CPython on manylinux2014, which the Python packaging tests install from with
/// `PIP_NO_INDEX=1`. Missing, it fails the test naming the `./test.sh` step that downloads it.
pub fn wheelhouse(target: &Path) -> PathBuf {
    let dir = target.join("wheelhouse");
    let n = std::fs::read_dir(&dir).map_or(0, |d| d.flatten().count());
    assert!(
        n >= 2,
        "{} is missing or incomplete, and the tests download nothing. ./test.sh's step \
         \"{WHEELS_STEP}\" fills it (pip download of tests/packaging/python-fn/requirements.txt): \
         run ./test.sh once",
        dir.display()
    );
    dir
}

/// Skip the rest of the calling test, which returns right after: prints `SKIPPED <test>:
/// <reason>` on stderr. Under `CI=true` this fails instead unless `test` is in
/// [`OPTIONAL_SKIPS`], so that CI never passes a test it did not run.
pub fn skip(test: &str, reason: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match skip_line(test, reason, ci) {
        Ok(line) => eprintln!("{line}"),
        Err(msg) => panic!("{msg}"),
    }
}

/// The line [`skip`] prints, or why the skip is a failure.
fn skip_line(test: &str, reason: &str, ci: bool) -> Result<String, String> {
    let optional = OPTIONAL_SKIPS.iter().any(|(t, _)| *t == test);
    if ci && !optional {
        return Err(format!(
            "{test} would be skipped ({reason}); under CI=true a skip is a failure unless the \
             test is listed in OPTIONAL_SKIPS (tests/support/src/tools.rs)"
        ));
    }
    let kind = if optional {
        "optional"
    } else {
        "a failure under CI=true"
    };
    Ok(format!("SKIPPED {test} ({kind}): {reason}"))
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_found_on_path_and_a_missing_one_names_the_test_sh_step() {
        assert!(on_path("sh").is_some());
        assert!(on_path("surely-no-such-tool-here").is_none());
        let msg = missing_apt_tool("valgrind", apt_package("valgrind"));
        assert!(
            msg.contains(&format!("\"{APT_STEP}\"")) && msg.contains("`valgrind`"),
            "{msg}"
        );
    }

    #[test]
    #[should_panic(expected = "not in the APT list")]
    fn every_required_tool_is_in_the_apt_list() {
        require("surely-no-such-tool-here");
    }

    #[test]
    fn test_sh_prints_the_step_headings_and_installs_every_tool() {
        let sh = std::fs::read_to_string(repo().join("test.sh")).expect("test.sh");
        for step in [APT_STEP, VENV_STEP, WHEELS_STEP] {
            assert!(
                sh.contains(&format!("echo \"{step}\"")),
                "test.sh lacks {step:?}"
            );
        }
        for (tool, package) in APT {
            assert!(
                sh.contains(&format!(" {tool}:{package}")),
                "test.sh does not install {tool} ({package})"
            );
        }
        for package in ["ziglang", "cargo-zigbuild"] {
            assert!(
                sh.contains(package),
                "test.sh does not pip install {package}"
            );
        }
    }

    #[test]
    fn a_skip_prints_its_reason_and_fails_under_ci_unless_listed() {
        let line = skip_line("some_test", "no reason", false).unwrap();
        assert_eq!(
            line,
            "SKIPPED some_test (a failure under CI=true): no reason"
        );
        let err = skip_line("some_test", "no reason", true).unwrap_err();
        assert!(
            err.contains("some_test would be skipped (no reason)"),
            "{err}"
        );
        let (listed, _) = OPTIONAL_SKIPS[0];
        let line = skip_line(listed, "why", true).unwrap();
        assert_eq!(line, format!("SKIPPED {listed} (optional): why"));
    }
}
