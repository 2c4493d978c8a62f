//! The install path a user takes (README, "Install"): both wheels built with
//! `scripts/build-wheels.sh`, their tags checked, installed into a fresh venv, and from a
//! directory outside the repository, with no Rust on PATH, `scfrt init` + `package` + `invoke`
//! for C, bash and Python (one pure-Python and one binary requirement). Every ELF in each zip
//! needs glibc <= 2.17 and is x86-64, and each zip answers its event; `python -m scfruntime`
//! from the installed wheel serves a handler; the wheel's `scfrt serve` takes a `scfrt deploy`
//! and answers `scfrt remote-invoke`.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use scf_test_support::tools;

/// Runs `scripts/build-wheels.sh OUT` with the tools of ./test.sh's venv; returns the wheels.
fn build_wheels(out: &Path) -> Vec<PathBuf> {
    tools::venv_bin("maturin", "maturin");
    let stdout = run_build_script("build-wheels.sh", &[out], &[]);
    stdout.lines().map(PathBuf::from).collect()
}

/// A command run as a user with only the venv (and the system's tools) on PATH: no cargo, no
/// repository binaries, no test-only settings, in `cwd`.
fn user(venv: &Path, cwd: &Path, program: &str) -> Command {
    let mut c = Command::new(venv.join("bin").join(program));
    c.env_clear()
        .env(
            "PATH",
            format!(
                "{}:/usr/local/bin:/usr/bin:/bin",
                venv.join("bin").display()
            ),
        )
        .env("HOME", cwd)
        .env("LANG", "C.UTF-8")
        .current_dir(cwd);
    c
}

/// `scfrt ARGS` as a user, in `cwd`, which must succeed; returns its stderr.
fn scfrt_ok(venv: &Path, cwd: &Path, args: &[&str], what: &str) -> String {
    ok(user(venv, cwd, "scfrt").args(args).output().unwrap(), what)
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
    stderr
}

/// Each ELF entry of `zip`: x86-64, glibc <= 2.17. Returns how many there were.
fn check_elves(zip: &Path) -> usize {
    let mut n = 0;
    for e in zip_entries(zip)
        .iter()
        .filter(|e| e.data.starts_with(b"\x7fELF"))
    {
        assert_eq!(e.data.get(4), Some(&2), "{}: 64-bit ELF", e.name);
        assert_eq!(
            e.data.get(18..20),
            Some(&62u16.to_le_bytes()[..]),
            "{}: x86-64",
            e.name
        );
        let v = elf_max_glibc(&e.data);
        assert!(
            v.as_slice() <= [2, 17].as_slice(),
            "{} in {} needs GLIBC_{v:?}",
            e.name,
            zip.display()
        );
        n += 1;
    }
    n
}

fn invoke_ok(
    venv: &Path,
    cwd: &Path,
    zip: &Path,
    event: &str,
    extra: &[&str],
) -> serde_json::Value {
    let out = user(venv, cwd, "scfrt")
        .args([
            "invoke".as_ref(),
            zip.as_os_str(),
            "--event".as_ref(),
            event.as_ref(),
        ])
        .args(extra.iter().map(OsStr::new))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "invoke {}: {stdout}\n{stderr}",
        zip.display()
    );
    let json: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(json["Response"]["Result"]["InvokeResult"], 0, "{json}");
    serde_json::from_str(json["Response"]["Result"]["RetMsg"].as_str().unwrap()).unwrap()
}

#[test]
fn wheels_install_and_package_functions_that_run_on_scf() {
    let target = target_dir();
    let wheelhouse = tools::wheelhouse(&target);
    let (python, version) = base_python();
    let tmp = tempfile::tempdir().unwrap();
    assert!(!tmp.path().starts_with(workspace().canonicalize().unwrap()));

    // 1. The wheels, and their tags.
    let wheels = build_wheels(&tmp.path().join("wheels"));
    let names: Vec<String> = wheels
        .iter()
        .map(|w| w.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let py_wheel = names
        .iter()
        .find(|n| n.starts_with("scfruntime-"))
        .expect("scfruntime wheel");
    let cli_wheel = names
        .iter()
        .find(|n| n.starts_with("scfrt-"))
        .expect("scfrt wheel");
    for n in [py_wheel, cli_wheel] {
        assert!(
            n.contains("manylinux_2_17_x86_64")
                && n.contains("manylinux2014_x86_64")
                && n.ends_with(".whl"),
            "{n}: manylinux2014 tags"
        );
    }
    assert!(
        py_wheel.contains("-cp39-abi3-"),
        "one abi3 wheel for CPython >= 3.9: {py_wheel}"
    );
    assert!(cli_wheel.contains("-py3-none-"), "{cli_wheel}");

    // 2. A fresh venv with both, from the files alone.
    let venv = tmp.path().join("venv");
    let out = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap();
    ok(out, "python -m venv");
    let out = user(&venv, tmp.path(), "python")
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--disable-pip-version-check",
        ])
        .args(&wheels)
        .output()
        .unwrap();
    ok(out, "pip install the wheels");
    // What the wheels installed runs on glibc 2.17: scfrt itself, the bootstraps, the extension.
    let share = venv.join("share/scfrt/bootstrap");
    let site = std::fs::read_dir(venv.join("lib"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("site-packages/scfruntime/_scfruntime.abi3.so");
    for f in [
        venv.join("bin/scfrt"),
        share.join("scf-c-bootstrap"),
        share.join("scf-shell-bootstrap"),
        site,
    ] {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let v = elf_max_glibc(&data);
        assert!(
            v.as_slice() <= [2, 17].as_slice(),
            "{} needs GLIBC_{v:?}",
            f.display()
        );
    }
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();

    // 3. C (scfrt runs the starter's `make`) and 4. bash: the starters packed with the wheel's
    // bootstraps and invoked.
    let event = r#"{"key1": "test value 1"}"#;
    for (lang, bootstrap, elves) in [
        ("c", "scf-c-bootstrap", 2),
        ("bash", "scf-shell-bootstrap", 1),
    ] {
        let (dir, zip) = (format!("fn-{lang}"), format!("{lang}.zip"));
        scfrt_ok(&venv, &work, &["init", "--lang", lang, &dir], "init");
        let stderr = scfrt_ok(
            &venv,
            &work,
            &["package", &dir, "-o", &zip, "--lang", lang],
            "package",
        );
        let from = share.join(bootstrap);
        assert!(
            stderr.contains(&format!("bootstrap from {}", from.display())),
            "{stderr}"
        );
        assert!(!stderr.contains("warning"), "{stderr}");
        // C: the bootstrap and index.so; bash: the bootstrap.
        assert_eq!(check_elves(&work.join(&zip)), elves, "{zip}");
        let ret = invoke_ok(&venv, &work, &work.join(&zip), event, &[]);
        assert_eq!(
            ret["echo"],
            serde_json::json!({"key1": "test value 1"}),
            "{ret}"
        );
    }

    // 5. Python with requirements (six; MarkupSafe, a C extension), vendored offline from the
    // wheelhouse and the scfruntime wheel the scfrt wheel carries.
    scfrt_ok(
        &venv,
        &work,
        &["init", "--lang", "python", "fn-py"],
        "init python",
    );
    for f in ["index.py", "requirements.txt"] {
        std::fs::copy(
            workspace().join("tests/packaging/python-fn").join(f),
            work.join("fn-py").join(f),
        )
        .unwrap();
    }
    let stderr = ok(
        user(&venv, &work, "scfrt")
            .args([
                "package",
                "fn-py",
                "-o",
                "py.zip",
                "--lang",
                "python",
                "--python-version",
                &version,
            ])
            .arg("--find-links")
            .arg(&wheelhouse)
            .env("PIP_NO_INDEX", "1")
            .output()
            .unwrap(),
        "package python",
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(
        check_elves(&work.join("py.zip")) >= 2,
        "scfruntime's and MarkupSafe's extensions"
    );
    let env = format!("SCFRUNTIME_PYTHON={}", python.display());
    let ret = invoke_ok(
        &venv,
        &work,
        &work.join("py.zip"),
        r#"{"html": "<a>"}"#,
        &["--env", &env],
    );
    assert_eq!(ret["escaped"], "&lt;a&gt;", "{ret}");
    assert_eq!(ret["six"], "1.17.0", "{ret}");

    // 6. `python -m scfruntime` from the installed wheel, as a hand-written bootstrap runs it.
    let own = work.join("fn-own");
    std::fs::create_dir(&own).unwrap();
    std::fs::write(
        own.join("index.py"),
        "def main_handler(event, context):\n    return {\"got\": event}\n",
    )
    .unwrap();
    write_file(
        &own.join("bootstrap"),
        format!(
            "#!/bin/sh\nexec '{}' -m scfruntime \"$_HANDLER\"\n",
            venv.join("bin/python").display()
        )
        .as_bytes(),
        0o755,
    );
    scfrt_ok(
        &venv,
        &work,
        &["package", "fn-own", "-o", "own.zip"],
        "package own",
    );
    let ret = invoke_ok(&venv, &work, &work.join("own.zip"), r#"{"a": 1}"#, &[]);
    assert_eq!(ret, serde_json::json!({"got": {"a": 1}}));

    // 7. `scfrt serve` from the wheel, and `scfrt deploy` + `remote-invoke` of the bash zip.
    let mut serve = Killed(
        user(&venv, &work, "scfrt")
            .args(["serve", "--port", "0", "--state-dir", "state"])
            .args(["--secret-id", "AKIDwheel", "--secret-key", "wheelkey"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let creds = [
        "--endpoint",
        endpoint,
        "--secret-id",
        "AKIDwheel",
        "--secret-key",
        "wheelkey",
    ];
    ok(
        user(&venv, &work, "scfrt")
            .args(["deploy", "bash.zip", "--name", "hello-sh"])
            .args(creds)
            .output()
            .unwrap(),
        "deploy",
    );
    let out = user(&venv, &work, "scfrt")
        .args([
            "remote-invoke",
            "--name",
            "hello-sh",
            "--event",
            r#"{"b": 2}"#,
        ])
        .args(creds)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let ret: serde_json::Value =
        serde_json::from_str(json["Response"]["Result"]["RetMsg"].as_str().unwrap()).unwrap();
    assert_eq!(ret["echo"], serde_json::json!({"b": 2}), "{json}");
}

/// A child process killed (and reaped) when dropped, pass or fail.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
