//! `scfrt package --lang python` with a `requirements.txt`: the requirements and scfruntime
//! installed into the package by pip for manylinux2014 and the target CPython, binary wheels
//! only; what it refuses, and the bootstrap's answer when no matching interpreter is there.
//!
//! Offline: pip reads `<target>/wheelhouse` (./test.sh downloads it) and the scfruntime wheel
//! in `<target>/portable/bin`, with `PIP_NO_INDEX=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use scf_test_support::tools;

fn function_dir() -> PathBuf {
    workspace().join("tests/packaging/python-fn")
}

/// A copy of tests/packaging/python-fn (index.py, requirements.txt) in `dest`.
fn copy_function(dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for f in ["index.py", "requirements.txt"] {
        std::fs::copy(function_dir().join(f), dest.join(f)).unwrap();
    }
}

/// `scfrt package DIR -o ZIP --lang python --python-version V --find-links <wheelhouse> extra...`
/// as a user runs it, offline.
fn package_python(dir: &Path, zip: &Path, version: &str, extra: &[&str]) -> Output {
    let target = target_dir();
    tools::portable_bin(&target);
    package_strict(dir, zip)
        .args([
            "--lang",
            "python",
            "--python-version",
            version,
            "--find-links",
        ])
        .arg(tools::wheelhouse(&target))
        .args(extra)
        .env("PIP_NO_INDEX", "1")
        .output()
        .expect("run scfrt package")
}

#[test]
fn requirements_are_vendored_and_imported_from_the_package() {
    let (python, version) = base_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    copy_function(&dir);
    let zip = tmp.path().join("fn.zip");
    let out = package_python(&dir, &zip, &version, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // Nothing was written into the function directory itself.
    let mut own: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    own.sort();
    assert_eq!(own, ["index.py", "requirements.txt"]);

    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for want in [
        "bootstrap",
        "index.py",
        "requirements.txt",
        "six.py",
        "markupsafe/__init__.py",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    let tag = format!("cpython-{}-x86_64-linux-gnu.so", version.replace('.', ""));
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("markupsafe/_speedups.") && n.ends_with(&tag)),
        "the C extension for CPython {version}: {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("scfruntime/_scfruntime") && n.ends_with(".so")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.ends_with(".pyc")), "{names:?}");
    // Every ELF in the zip needs glibc <= 2.17: what pip took is manylinux2014.
    for e in entries.iter().filter(|e| e.data.starts_with(b"\x7fELF")) {
        let v = elf_max_glibc(&e.data);
        assert!(
            v.as_slice() <= [2, 17].as_slice(),
            "{} needs GLIBC_{v:?}",
            e.name
        );
    }

    let env = format!("SCFRUNTIME_PYTHON={}", python.display());
    let (code, json, stderr) = invoke(
        &zip,
        r#"{"html": "<b>&</b>"}"#,
        &["--timeout", "20", "--env", &env],
    );
    assert_eq!(code, 0, "{json}\n{stderr}");
    let ret: serde_json::Value =
        serde_json::from_str(result(&json)["RetMsg"].as_str().unwrap()).unwrap();
    assert_eq!(ret["escaped"], "&lt;b&gt;&amp;&lt;/b&gt;", "{ret}");
    assert!(ret["speedups"].as_str().unwrap().ends_with(&tag), "{ret}");
    assert_eq!(ret["six"], "1.17.0", "{ret}");
    // Imported from the unpacked package, not from any site-packages of this machine.
    assert!(
        !ret["markupsafe_from"]
            .as_str()
            .unwrap()
            .contains("site-packages"),
        "{ret}"
    );
}

#[test]
fn a_requirement_without_a_binary_wheel_is_named() {
    let (_, version) = base_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    copy_function(&dir);
    std::fs::write(
        dir.join("requirements.txt"),
        "six==1.17.0\nno-wheel-anywhere==1.0\n",
    )
    .unwrap();
    let zip = tmp.path().join("fn.zip");
    let out = package_python(&dir, &zip, &version, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the requirement `no-wheel-anywhere==1.0`")
            && stderr.contains("has no binary wheel for CPython")
            && stderr.contains("manylinux2014_x86_64"),
        "{stderr}"
    );
    assert!(!zip.exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["fn"], "nothing half-written");
}

#[test]
fn a_file_shadowing_a_vendored_package_is_refused() {
    let (_, version) = base_python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    copy_function(&dir);
    std::fs::write(dir.join("six.py"), "# mine\n").unwrap();
    let zip = tmp.path().join("fn.zip");
    let out = package_python(&dir, &zip, &version, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("six.py is both in the function directory and among the Python packages"),
        "{stderr}"
    );
    assert!(!zip.exists());
}

#[test]
fn bad_python_versions_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["3.8", "2.7", "3", "three"] {
        let out = run_scfrt(&[
            "package".as_ref(),
            tmp.path().as_os_str(),
            "-o".as_ref(),
            tmp.path().join("x.zip").as_os_str(),
            "--lang".as_ref(),
            "python".as_ref(),
            "--python-version".as_ref(),
            bad.as_ref(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "`{bad}` is not a Python version scfruntime supports"
            )),
            "{stderr}"
        );
    }
}

/// Packaged for a CPython the machine lacks: the bootstrap exits 127 saying which it looked
/// for and what to do, and the invocation fails with that message.
#[test]
fn the_bootstrap_says_when_its_python_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fn");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("index.py"),
        "def main_handler(event, context):\n    return 1\n",
    )
    .unwrap();
    let zip = tmp.path().join("fn.zip");
    // scfruntime is one abi3 wheel: pip takes it for any CPython 3.N.
    let out = package_python(&dir, &zip, "3.99", &[]);
    assert!(out.status.success(), "{out:?}");
    let (code, json, stderr) = invoke(&zip, "{}", &["--timeout", "5"]);
    assert_ne!(code, 0, "{json}\n{stderr}");
    let all = format!("{json}\n{stderr}");
    assert!(all.contains("bootstrap: no Python 3.99 found"), "{all}");
    assert!(
        all.contains("bring that interpreter as a layer under /opt"),
        "{all}"
    );
}
