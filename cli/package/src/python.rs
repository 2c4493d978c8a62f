//! `scfrt package --lang python`: the handler's requirements and `scfruntime` vendored into the
//! package for SCF's machine, and a `bootstrap` script that runs `python3 -m scfruntime`.
//!
//! As `sam build` does, pip installs into a staging directory for the target platform, not this
//! machine's: `--platform manylinux2014_x86_64` (glibc 2.17, SCF's CentOS 7), `--python-version`
//! (3.9 by default), `--implementation cp` and binary wheels only (`--only-binary=:all:`: SCF
//! builds nothing). The staged files go to the zip root, beside the handler, the way SCF's own
//! Python functions carry their packages. docs/python.md, "Packaging for SCF", has the contract
//! and the interpreter the bootstrap looks for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::pack::PackError;

/// The Python version packages are vendored for unless `--python-version` says otherwise.
pub const DEFAULT_PYTHON_VERSION: &str = "3.9";

/// The pip platform tag: manylinux2014 is glibc 2.17 on x86-64, SCF's CentOS 7.
pub const PIP_PLATFORM: &str = "manylinux2014_x86_64";

/// The environment variable naming the Python interpreter the bootstrap runs, overriding its
/// search.
pub const PYTHON_ENV: &str = "SCFRUNTIME_PYTHON";

/// What to vendor.
#[derive(Debug, Clone)]
pub struct PythonOptions {
    /// `MAJOR.MINOR` of the CPython the package is for.
    pub version: String,
    /// Directories (or URLs) pip also looks in for wheels (`--find-links`).
    pub find_links: Vec<PathBuf>,
}

impl Default for PythonOptions {
    fn default() -> PythonOptions {
        PythonOptions {
            version: DEFAULT_PYTHON_VERSION.to_owned(),
            find_links: Vec::new(),
        }
    }
}

/// Checks a `--python-version` value: `3.N` with N from 9 (scfruntime's floor).
///
/// # Errors
///
/// A message naming the value and the accepted form.
pub fn parse_version(s: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!("`{s}` is not a Python version scfruntime supports; expected 3.9 or newer, as 3.N")
    };
    let (major, minor) = s.split_once('.').ok_or_else(bad)?;
    let major: u32 = major.parse().map_err(|_| bad())?;
    let minor: u32 = minor.parse().map_err(|_| bad())?;
    if major != 3 || !(9..=99).contains(&minor) {
        return Err(bad());
    }
    Ok((major, minor))
}

/// The `bootstrap` of a Python package vendored for `major.minor`.
///
/// The interpreter: `$SCFRUNTIME_PYTHON` when set; else `pythonX.Y` from a layer (`/opt/bin`,
/// `/opt/python/bin`, with the layer's `lib` on `LD_LIBRARY_PATH`) or from SCF's own images
/// (`/var/lang/pythonXY/bin`); else `pythonX.Y` on `PATH`; else `python3` on `PATH` when it is
/// X.Y. None of them: exit 127 with a message saying what to do.
pub fn bootstrap_script(major: u32, minor: u32) -> String {
    format!(
        r#"#!/bin/sh
# Written by `scfrt package --lang python`: runs the handler named by $_HANDLER with scfruntime
# (`python{major}.{minor} -m scfruntime`). The packages vendored for CPython {major}.{minor} lie
# beside this file, put first on sys.path.
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here${{PYTHONPATH:+:$PYTHONPATH}}"
py=${{{PYTHON_ENV}:-}}
if [ -z "$py" ]; then
  for c in /opt/bin/python{major}.{minor} /opt/python/bin/python{major}.{minor} /var/lang/python{major}{minor}/bin/python{major}.{minor}; do
    if [ -x "$c" ]; then
      py=$c
      case $c in /opt/*) export LD_LIBRARY_PATH="${{c%/bin/*}}/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" ;; esac
      break
    fi
  done
fi
[ -n "$py" ] || py=$(command -v python{major}.{minor} 2>/dev/null) || py=
if [ -z "$py" ] && command -v python3 >/dev/null 2>&1 &&
  python3 -c 'import sys; sys.exit(sys.version_info[:2] != ({major}, {minor}))' 2>/dev/null; then
  py=$(command -v python3)
fi
if [ -z "$py" ]; then
  echo "bootstrap: no Python {major}.{minor} found (looked for \${PYTHON_ENV}, /opt/bin, /opt/python/bin, /var/lang/python{major}{minor}/bin, then python{major}.{minor} and python3 on PATH)." >&2
  echo "bootstrap: the packages here were installed for CPython {major}.{minor} (scfrt package --python-version); bring that interpreter as a layer under /opt, or repackage for the one the function has." >&2
  exit 127
fi
exec "$py" -m scfruntime "$_HANDLER"
"#
    )
}

/// The Python that runs pip: the one beside the running `scfrt` (a venv it was installed into
/// with pip), else `python3` on `PATH`.
fn pip_python() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("python3")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Installs `scfruntime` (this scfrt's version) and `requirements` (a requirements file, when
/// the function has one) into `staging` for SCF's platform and `opts.version`, looking for
/// wheels in `opts.find_links` and `wheel_dirs` (where the scfrt wheel keeps the scfruntime
/// wheel) before the package index.
///
/// # Errors
///
/// [`PackError::Refused`] naming a requirement without a binary wheel for the target, pip's own
/// message otherwise, or how to get pip.
pub fn vendor(
    requirements: Option<&Path>,
    opts: &PythonOptions,
    wheel_dirs: &[PathBuf],
    staging: &Path,
) -> Result<(), PackError> {
    let python = pip_python();
    let scfruntime = format!("scfruntime=={}", env!("CARGO_PKG_VERSION"));
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
    ])
    .args([
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
    ])
    .args([
        "--platform",
        PIP_PLATFORM,
        "--python-version",
        &opts.version,
    ])
    .arg("--target")
    .arg(staging);
    for d in opts
        .find_links
        .iter()
        .chain(wheel_dirs.iter().filter(|d| d.is_dir()))
    {
        cmd.arg("--find-links").arg(d);
    }
    cmd.arg(&scfruntime);
    if let Some(r) = requirements {
        cmd.arg("-r").arg(r);
    }
    let shown = format!("{} -m pip install ...", python.display());
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        PackError::Refused(format!(
            "cannot run {shown} to install the function's Python packages ({e}); \
                 scfrt needs a python3 with pip on PATH (or installed in scfrt's venv)"
        ))
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(PackError::Refused(explain_pip_failure(
        &stderr,
        &opts.version,
        requirements,
        wheel_dirs,
    )))
}

/// A clear message for pip's failure: which requirement has no wheel for the target, or pip's
/// last lines.
fn explain_pip_failure(
    stderr: &str,
    version: &str,
    requirements: Option<&Path>,
    wheel_dirs: &[PathBuf],
) -> String {
    let missing = stderr.lines().find_map(|l| {
        l.split_once("No matching distribution found for ")
            .map(|(_, name)| name.trim().to_owned())
    });
    if let Some(name) = missing {
        if name.starts_with("scfruntime") {
            let searched: Vec<String> =
                wheel_dirs.iter().map(|d| d.display().to_string()).collect();
            return format!(
                "no scfruntime wheel for CPython {version} on {PIP_PLATFORM} ({name}): it comes with \
                 the scfrt wheel (installed under share/scfrt/bootstrap beside scfrt), or from \
                 `scripts/build-wheels.sh`; searched {} and the package index. Pass --find-links DIR \
                 to point at one",
                searched.join(", ")
            );
        }
        let from = requirements.map_or(String::new(), |r| format!(" (from {})", r.display()));
        return format!(
            "the requirement `{name}`{from} has no binary wheel for CPython {version} on \
             {PIP_PLATFORM} (SCF's x86-64 Linux, glibc 2.17), and scfrt installs binary wheels only: \
             SCF cannot build it. Pin a version of it that publishes such a wheel, pick the \
             --python-version it has wheels for, or build the wheel yourself and pass --find-links DIR"
        );
    }
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "pip could not install the function's Python packages for CPython {version} on \
         {PIP_PLATFORM}:\n{}",
        tail.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("3.9"), Ok((3, 9)));
        assert_eq!(parse_version("3.13"), Ok((3, 13)));
        for bad in ["3", "3.8", "2.7", "4.0", "3.x", "", "3.9.1", " 3.9"] {
            let e = parse_version(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn pip_failures_name_the_package() {
        let e = explain_pip_failure(
            "ERROR: Could not find a version that satisfies the requirement pyyaml==5.3 (from versions: none)\nERROR: No matching distribution found for pyyaml==5.3\n",
            "3.9",
            Some(Path::new("requirements.txt")),
            &[],
        );
        assert!(e.contains("the requirement `pyyaml==5.3` (from requirements.txt) has no binary wheel for CPython 3.9 on manylinux2014_x86_64"), "{e}");
        let e = explain_pip_failure(
            "ERROR: No matching distribution found for scfruntime==0.1.0\n",
            "3.9",
            None,
            &[PathBuf::from("/x/share/scfrt/bootstrap")],
        );
        assert!(e.contains("no scfruntime wheel for CPython 3.9"), "{e}");
        assert!(e.contains("/x/share/scfrt/bootstrap"), "{e}");
        let e = explain_pip_failure("boom\nERROR: disk full\n", "3.11", None, &[]);
        assert!(e.contains("ERROR: disk full"), "{e}");
    }

    #[test]
    fn bootstrap_names_the_version() {
        let s = bootstrap_script(3, 11);
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("/var/lang/python311/bin/python3.11"), "{s}");
        assert!(s.contains("sys.version_info[:2] != (3, 11)"), "{s}");
        assert!(s.contains("${SCFRUNTIME_PYTHON:-}"), "{s}");
        assert!(
            s.ends_with("exec \"$py\" -m scfruntime \"$_HANDLER\"\n"),
            "{s}"
        );
    }
}
