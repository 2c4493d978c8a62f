//! `scfrt init` for every language, built, packed with `scfrt package`, inspected and run with
//! `scfrt invoke` on the zip; and the seed's own bash example packed and invoked.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const EVENT: &str = r#"{"key1": "test value 1", "key2": "test value 2"}"#;

fn init(lang: &str, dir: &Path) {
    let out = run_scfrt(&[
        "init".as_ref(),
        "--lang".as_ref(),
        lang.as_ref(),
        dir.as_ref(),
    ]);
    assert!(out.status.success(), "scfrt init --lang {lang}: {out:?}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("CreateFunction"), "{readme}");
    assert!(readme.contains(&format!("scfrt package . -o fn.zip --lang {lang}")));
}

/// Packs `dir` with `--lang`, checks the bootstrap's mode and the listed files, invokes the zip,
/// and returns `RetMsg` parsed as JSON.
fn pack_and_invoke(lang: &str, dir: &Path, zip: &Path, files: &[&str]) -> serde_json::Value {
    let out = package(dir, zip, &["--lang", lang]);
    assert!(out.status.success(), "scfrt package --lang {lang}: {out:?}");
    let entries = zip_entries(zip);
    assert_eq!(entries[0].name, "bootstrap", "bootstrap first: {entries:?}");
    assert_eq!(entries[0].mode, 0o100755, "bootstrap mode");
    for f in files {
        let e = entry(&entries, f);
        assert_eq!(e.mode & 0o777, 0o644, "{f} keeps its mode");
    }
    let info = zipinfo(zip);
    assert!(
        zipinfo_line(&info, "bootstrap").starts_with("-rwxr-xr-x"),
        "{info}"
    );
    let (code, json, stderr) = invoke(zip, EVENT, &["--timeout", "20"]);
    assert_eq!(code, 0, "invoke {lang}: {json}\n{stderr}");
    let r = result(&json);
    assert_eq!(r["InvokeResult"], 0, "{json}");
    assert_eq!(r["ErrMsg"], "", "{json}");
    serde_json::from_str(r["RetMsg"].as_str().unwrap()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn expected_echo() -> serde_json::Value {
    serde_json::json!({ "echo": serde_json::from_str::<serde_json::Value>(EVENT).unwrap() })
}

#[test]
fn bash_template() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    init("bash", &dir);
    let zip = tmp.path().join("fn.zip");
    let ret = pack_and_invoke("bash", &dir, &zip, &["index.sh", "README.md"]);
    assert_eq!(ret, expected_echo());
}

#[test]
fn c_template() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    init("c", &dir);
    let cc = scf_test_support::tools::c_compiler();
    let status = Command::new(scf_test_support::tools::require("make"))
        .arg("-s")
        .arg(format!("CC={}", cc.display()))
        .current_dir(&dir)
        .status()
        .expect("run make");
    assert!(status.success(), "make in the C template");
    let zip = tmp.path().join("fn.zip");
    let ret = pack_and_invoke("c", &dir, &zip, &["index.c", "scfruntime.h", "Makefile"]);
    assert_eq!(ret, expected_echo());
    let entries = zip_entries(&zip);
    assert_eq!(
        entry(&entries, "index.so").mode & 0o111,
        0o111,
        "index.so stays executable"
    );
}

/// `scfrt package --lang c` runs the starter's `make` itself: a fresh `scfrt init` packs and runs
/// without a build step; a directory whose handler library is missing and cannot be built is
/// refused before any zip is written, naming the library; a failing `--build` names itself.
#[test]
fn c_package_builds_the_handler_library_or_refuses() {
    scf_test_support::tools::require("make");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    init("c", &dir);
    assert!(!dir.join("index.so").exists());
    let zip = tmp.path().join("fn.zip");
    let ret = pack_and_invoke("c", &dir, &zip, &["index.c", "scfruntime.h", "Makefile"]);
    assert_eq!(ret, expected_echo());
    assert!(dir.join("index.so").is_file(), "make ran in the directory");

    // No Makefile and no library: refused, nothing written.
    std::fs::remove_file(dir.join("Makefile")).unwrap();
    std::fs::remove_file(dir.join("index.so")).unwrap();
    let missing = tmp.path().join("missing.zip");
    let out = package(&dir, &missing, &["--lang", "c"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "the handler library index.so (from _HANDLER `index.main_handler`) is not in"
        ),
        "{stderr}"
    );
    assert!(!missing.exists());
    // Another handler names another library.
    let out = package(
        &dir,
        &missing,
        &[
            "--lang",
            "c",
            "--handler",
            "libecho.handle",
            "--build",
            "true",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the handler library libecho.so (from _HANDLER `libecho.handle`)"),
        "{stderr}"
    );
    // A build command that fails: its status and output.
    let out = package(
        &dir,
        &missing,
        &["--lang", "c", "--build", "echo broken >&2; exit 3"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the build command `echo broken >&2; exit 3` failed"),
        "{stderr}"
    );
    assert!(stderr.contains("broken"), "{stderr}");
    assert!(!missing.exists());
}

/// `--lang python`: scfruntime vendored from the wheel `scripts/build-wheels.sh` left in
/// `<target>/portable/bin` (the index is off), a bootstrap script, run by this machine's CPython
/// outside any venv.
#[test]
fn python_template() {
    scf_test_support::tools::portable_bin(&target_dir());
    let (python, version) = base_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    init("python", &dir);
    let zip = tmp.path().join("fn.zip");
    let out = package_strict(&dir, &zip)
        .args(["--lang", "python", "--python-version", &version])
        .env("PIP_NO_INDEX", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let entries = zip_entries(&zip);
    assert_eq!(entries[0].name, "bootstrap");
    assert_eq!(entries[0].mode, 0o100755);
    let boot = String::from_utf8_lossy(&entries[0].data);
    assert!(boot.starts_with("#!/bin/sh\n"), "{boot}");
    assert!(
        boot.contains(&format!(
            "/var/lang/python{}/bin/python{version}",
            version.replace('.', "")
        )),
        "{boot}"
    );
    assert_eq!(entry(&entries, "index.py").mode & 0o777, 0o644);
    entry(&entries, "scfruntime/__init__.py");
    assert!(
        entries
            .iter()
            .any(|e| e.name.starts_with("scfruntime/_scfruntime") && e.name.ends_with(".so")),
        "{:?}",
        entries.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    let env = format!("SCFRUNTIME_PYTHON={}", python.display());
    let (code, json, stderr) = invoke(&zip, EVENT, &["--timeout", "20", "--env", &env]);
    assert_eq!(code, 0, "{json}\n{stderr}");
    let ret: serde_json::Value =
        serde_json::from_str(result(&json)["RetMsg"].as_str().unwrap()).unwrap();
    assert_eq!(ret, expected_echo());
}

#[test]
fn rust_template() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    init("rust", &dir);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("scf-core = { path ="), "{manifest}");
    // Resolve to the versions the workspace already uses (and has compiled), offline-friendly.
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let zip = tmp.path().join("fn.zip");
    // A host build needs this machine's glibc and is refused; --portable builds for 2.17 with
    // cargo zigbuild (from ./test.sh's .venv).
    let host = package_strict(&dir, &zip)
        .args(["--lang", "rust"])
        .env("CARGO_TARGET_DIR", target_dir().join("packaging-rust"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&host.stderr);
    assert_eq!(host.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("newer than the glibc 2.17") && stderr.contains("cargo zigbuild"),
        "{stderr}"
    );
    assert!(!zip.exists());
    let path = zig_path();
    let out = package_strict(&dir, &zip)
        .args(["--lang", "rust", "--portable"])
        .env("CARGO_TARGET_DIR", target_dir().join("packaging-rust"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scfrt package --lang rust --portable: {out:?}"
    );
    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["bootstrap"], "only the binary is packed");
    assert_eq!(entries[0].mode, 0o100755);
    assert!(entries[0].data.starts_with(b"\x7fELF"));
    let v = elf_max_glibc(&entries[0].data);
    assert!(v.as_slice() <= [2, 17].as_slice(), "GLIBC_{v:?}");
    let info = zipinfo(&zip);
    assert!(zipinfo_line(&info, "bootstrap").starts_with("-rwxr-xr-x"));
    let (code, json, stderr) = invoke(&zip, EVENT, &[]);
    assert_eq!(code, 0, "{json}\n{stderr}");
    let ret: serde_json::Value =
        serde_json::from_str(result(&json)["RetMsg"].as_str().unwrap()).unwrap();
    assert_eq!(ret, expected_echo());
}

#[test]
fn init_refuses_a_non_empty_dir() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let out = run_scfrt(&[
        "init".as_ref(),
        "--lang".as_ref(),
        "bash".as_ref(),
        tmp.path().as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(listing(tmp.path()), ["keep.txt"]);
}

#[test]
fn seed_bash_echo_packed_and_invoked() {
    require_curl();
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("fn.zip");
    let src = workspace().join("examples/bash-echo");
    let out = package(&src, &zip, &[]);
    assert!(out.status.success(), "{out:?}");
    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["bootstrap", "index.sh"]);
    assert_eq!(entries[0].mode, 0o100755);
    assert_eq!(
        entries[0].data,
        std::fs::read(src.join("bootstrap")).unwrap()
    );
    assert_eq!(
        entries[1].data,
        std::fs::read(src.join("index.sh")).unwrap()
    );
    let info = zipinfo(&zip);
    assert!(
        zipinfo_line(&info, "bootstrap").starts_with("-rwxr-xr-x"),
        "{info}"
    );
    let (code, json, stderr) = invoke(&zip, EVENT, &[]);
    assert_eq!(code, 0, "{json}\n{stderr}");
    assert_eq!(
        result(&json)["RetMsg"],
        format!("Echoing request: '{EVENT}'"),
        "{json}"
    );
}
