//! Helpers for the packaging tests: the binaries under test, zip inspection, `scfrt invoke`.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo target dir these tests were built into (`<target>/debug/deps/<test>` -> `<target>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps")
        .to_owned()
}

/// `<target>/debug`, with scfrt and the bootstraps built (once per test binary).
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", target_dir())
            .args(["build", "-q", "-p", "scfrt", "-p", "scf-bootstrap-c"])
            .args(["-p", "scf-bootstrap-shell", "-p", "scf-bootstrap-python"])
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of scfrt and the bootstraps failed"
        );
        target_dir().join("debug")
    })
}

/// The scfrt binary.
pub fn scfrt() -> PathBuf {
    bin_dir().join("scfrt")
}

/// Runs scfrt with `args`, prebuilt bootstraps from the debug build. Those need this machine's
/// glibc, not SCF's 2.17: the packages these tests make run here, so scfrt is told to allow
/// that (`SCFRT_ALLOW_NEWER_GLIBC=1`); [`run_scfrt_strict`] does not.
pub fn run_scfrt(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(scfrt())
        .args(args)
        .env("SCFRT_BOOTSTRAP_DIR", bin_dir())
        .env("SCFRT_ALLOW_NEWER_GLIBC", "1")
        .output()
        .expect("run scfrt")
}

/// `scfrt package DIR -o ZIP` as a user runs it: no bootstrap directory, no glibc allowance
/// (whatever this process's environment holds); callers add the rest.
pub fn package_strict(dir: &Path, zip: &Path) -> Command {
    let mut cmd = Command::new(scfrt());
    cmd.args([
        "package".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        zip.as_os_str(),
    ])
    .env_remove("SCFRT_BOOTSTRAP_DIR")
    .env_remove("SCFRT_ALLOW_NEWER_GLIBC");
    cmd
}

/// The CPython the Python packaging tests vendor for: the interpreter `.venv` was made from
/// (outside the venv, so only what a package carries is importable), and its `X.Y`.
pub fn base_python() -> (PathBuf, String) {
    let py = scf_test_support::tools::venv_python_with("sys", "python3 -m venv .venv");
    let out = Command::new(py)
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys._base_executable)); print('%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .expect("run the venv's python");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let exe = PathBuf::from(lines.next().expect("executable"));
    let version = lines.next().expect("version").to_owned();
    (exe, version)
}

/// `scfrt package <dir> -o <zip> [extra...]`.
pub fn package(dir: &Path, zip: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["package".as_ref(), dir.as_ref()];
    args.push("-o".as_ref());
    args.push(zip.as_ref());
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    run_scfrt(&args)
}

/// `scfrt invoke <pkg> --event <event> [extra...]`: (exit code, Invoke JSON, stderr).
pub fn invoke(pkg: &Path, event: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["invoke".as_ref(), pkg.as_ref()];
    args.push("--event".as_ref());
    args.push(event.as_ref());
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    let out = run_scfrt(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_str(stdout.lines().next().unwrap_or("null"))
        .unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// `Response.Result` of an Invoke JSON.
pub fn result(json: &serde_json::Value) -> &serde_json::Value {
    &json["Response"]["Result"]
}

/// One zip entry: name, Unix mode (type and permission bits), whether it is a symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    pub name: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// Every entry of a zip, read with the zip crate (external attributes' high 16 bits).
pub fn zip_entries(zip: &Path) -> Vec<ZipEntry> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut e = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push(ZipEntry {
            name: e.name().unwrap().into_owned(),
            mode: e.unix_mode().unwrap_or(0),
            data,
        });
    }
    out
}

/// The zip entry named `name`.
pub fn entry<'a>(entries: &'a [ZipEntry], name: &str) -> &'a ZipEntry {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {entries:?}"))
}

/// `zipinfo <zip>` output (`zipinfo` comes from ./test.sh's tools step; see
/// `scf_test_support::tools::require`).
pub fn zipinfo(zip: &Path) -> String {
    let out = Command::new(scf_test_support::tools::require("zipinfo"))
        .arg(zip)
        .output()
        .expect("run zipinfo");
    assert!(out.status.success(), "zipinfo {}: {out:?}", zip.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `zipinfo` line of entry `name` (its last column).
pub fn zipinfo_line<'a>(listing: &'a str, name: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in zipinfo:\n{listing}"))
}

/// Fails the test, naming the ./test.sh step, when curl (the seed's bash bootstrap uses it) is
/// missing.
pub fn require_curl() {
    scf_test_support::tools::require("curl");
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Writes `text` to `path` with mode `mode`.
pub fn write_file(path: &Path, text: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The newest `GLIBC_x.y` an ELF image needs, read with binutils' `readelf` (not scfrt's own
/// reader, which is what is being checked).
pub fn elf_max_glibc(data: &[u8]) -> Vec<u32> {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), data).unwrap();
    let out = Command::new(scf_test_support::tools::require("readelf"))
        .arg("--version-info")
        .arg("--wide")
        .arg(f.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace())
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            v.split('.')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<_>, _>>()
                .ok()
        })
        .max()
        .unwrap_or_default()
}

/// `PATH` with ./test.sh's `.venv/bin` first, checked to hold the glibc-2.17 cross toolchain
/// (`cargo-zigbuild`, `ziglang`): a missing one fails naming the step that installs it.
pub fn zig_path() -> std::ffi::OsString {
    use scf_test_support::tools;
    let bin = tools::venv_bin("cargo-zigbuild", "cargo-zigbuild");
    tools::venv_python_with("ziglang", "pip install ziglang into .venv");
    let venv_bin = bin.parent().expect(".venv/bin").to_owned();
    std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH")
}

/// Runs one of `scripts/` (portable-build.sh, build-wheels.sh) as ./test.sh does: this target
/// dir, the venv's cross toolchain, nothing installed; `env` adds variables. Fails the test,
/// with the script's stderr, unless it succeeds; returns its stdout.
pub fn run_build_script(script: &str, args: &[&Path], env: &[(&str, &Path)]) -> String {
    let started = std::time::Instant::now();
    let mut cmd = Command::new(workspace().join("scripts").join(script));
    cmd.args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("SCF_ZIG_VENV", scf_test_support::tools::venv())
        .env("SCF_NO_INSTALL", "1")
        .env("PATH", zig_path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{script} took {:?}\n{stderr}", started.elapsed());
    assert!(out.status.success(), "scripts/{script} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
