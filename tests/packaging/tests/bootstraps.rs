//! The ready-made bootstraps: init failures of the C and shell bootstraps, handler errors, no
//! libpython in the C bootstrap, and the glibc floor of the portable builds.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A function dir with `bootstrap` copied from the prebuilt `name`, plus `files`.
fn fn_dir(name: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(bin_dir().join(name), d.path().join("bootstrap")).unwrap();
    for (rel, data) in files {
        write_file(&d.path().join(rel), data, 0o644);
    }
    d
}

/// Builds `src` into `<dir>/<so>` as a handler object.
fn build_so(dir: &Path, so: &str, src: &str) {
    let c = dir.join("handler.c");
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(cc)
        .args(["-std=c11", "-Wall", "-Werror", "-shared", "-fPIC", "-I"])
        .arg(workspace().join("include"))
        .arg(&c)
        .arg("-o")
        .arg(dir.join(so))
        .status()
        .expect("run cc");
    assert!(status.success());
}

const HANDLER_C: &str = r#"
#include <scfruntime.h>
#include <string.h>
int handle(void *u, const scf_invocation *inv, scf_response *resp) {
    (void)u; size_t len = 0;
    const uint8_t *b = scf_invocation_body(inv, &len);
    if (len >= 6 && memcmp(b, "\"fail\"", 6) == 0) {
        scf_response_set_error(resp, "Boom", "asked to fail");
        return 1;
    }
    return scf_response_set_body(resp, b, len);
}
int scf_init(void *u) { (void)u; return 0; }
int bad_init(void *u) { (void)u; return 7; }
int bad(void *u, const scf_invocation *inv, scf_response *resp) { return handle(u, inv, resp); }
"#;

fn init_failed(json: &serde_json::Value) -> String {
    let r = result(json);
    assert_ne!(r["InvokeResult"], 0, "{json}");
    format!("{} {}", r["ErrMsg"], r["Log"])
}

#[test]
fn c_bootstrap_serves_a_dlopened_handler() {
    let d = fn_dir("scf-c-bootstrap", &[]);
    build_so(d.path(), "libecho.so", HANDLER_C);
    let (code, json, err) = invoke(d.path(), r#"{"a":1}"#, &["--handler", "libecho.handle"]);
    assert_eq!(code, 0, "{json}\n{err}");
    assert_eq!(result(&json)["RetMsg"], r#"{"a":1}"#);
    // A handler error reaches the error endpoint; the same warm instance goes on.
    let (code, json, _) = invoke(d.path(), r#""fail""#, &["--handler", "libecho.handle"]);
    assert_eq!(code, 1);
    let msg = result(&json)["RetMsg"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
        + result(&json)["ErrMsg"].as_str().unwrap_or_default();
    assert!(msg.contains("asked to fail"), "{json}");
}

#[test]
fn c_bootstrap_init_failures_name_file_and_symbol() {
    let d = fn_dir("scf-c-bootstrap", &[]);
    build_so(d.path(), "libecho.so", HANDLER_C);
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "libmissing.handle"]);
    let text = init_failed(&json);
    assert!(
        text.contains("libmissing.so") && text.contains("handle"),
        "{text}"
    );
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "libecho.nope"]);
    let text = init_failed(&json);
    assert!(text.contains("libecho.so has no symbol nope"), "{text}");
    // `<symbol>_init` returning non-zero fails the init.
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "libecho.bad"]);
    init_failed(&json);
    // A malformed handler string names the expected form.
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "libecho"]);
    let text = init_failed(&json);
    assert!(text.contains("expected '<file>.<function>'"), "{text}");
}

/// The `NEEDED` entries of an ELF file, from `readelf -d`.
fn needed(path: &Path) -> Vec<String> {
    let out = Command::new(scf_test_support::tools::require("readelf"))
        .arg("-d")
        .arg(path)
        .output()
        .expect("run readelf -d");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| {
            l.split('[')
                .nth(1)
                .map(|s| s.trim_end_matches(']').to_owned())
        })
        .collect()
}

#[test]
fn c_and_shell_bootstraps_do_not_need_libpython() {
    for name in ["scf-c-bootstrap", "scf-shell-bootstrap"] {
        let libs = needed(&bin_dir().join(name));
        assert!(
            !libs.is_empty(),
            "{name}: dynamically linked, NEEDED listed"
        );
        assert!(
            libs.iter().all(|l| !l.contains("python")),
            "{name} needs {libs:?}"
        );
    }
}

#[test]
fn shell_bootstrap_runs_index_sh_handlers() {
    let d = fn_dir(
        "scf-shell-bootstrap",
        &[(
            "src/app.sh",
            b"handler() {\n  echo \"log: $1\" >&2\n  [ \"$1\" = '\"fail\"' ] && return 3\n  printf 'got %s\\n\\n' \"$1\"\n}\n",
        )],
    );
    for spelling in ["src/app.handler", "src.app.handler"] {
        let (code, json, err) = invoke(d.path(), r#"{"a": 1}"#, &["--handler", spelling]);
        assert_eq!(code, 0, "{json}\n{err}");
        let r = result(&json);
        assert_eq!(r["RetMsg"], r#"got {"a": 1}"#, "trailing newlines removed");
        assert!(
            r["Log"].as_str().unwrap().contains(r#"log: {"a": 1}"#),
            "stderr in the log"
        );
    }
    let (code, json, _) = invoke(d.path(), r#""fail""#, &["--handler", "src/app.handler"]);
    assert_eq!(code, 1, "{json}");
    let text = format!("{} {}", result(&json)["RetMsg"], result(&json)["ErrMsg"]);
    assert!(text.contains("exit status 3"), "{text}");
}

#[test]
fn shell_bootstrap_init_failures() {
    let d = fn_dir("scf-shell-bootstrap", &[("index.sh", b"other() { :; }\n")]);
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "index.main_handler"]);
    let text = init_failed(&json);
    assert!(
        text.contains("does not define the bash function main_handler"),
        "{text}"
    );
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "nofile.main_handler"]);
    let text = init_failed(&json);
    assert!(
        text.contains("./nofile.sh") && text.contains("not found"),
        "{text}"
    );
    let (_, json, _) = invoke(d.path(), "{}", &["--handler", "../index.main_handler"]);
    let text = init_failed(&json);
    assert!(text.contains("expected '<file>.<function>'"), "{text}");
}

/// The newest `GLIBC_x.y` an ELF file needs, via scfrt's own ELF reader.
fn max_glibc(path: &Path) -> Option<Vec<u32>> {
    let data = std::fs::read(path).unwrap();
    let info = scf_package::elf::inspect(&data).expect("an ELF file");
    assert!(
        info.is_x86_64(),
        "{}: {}",
        path.display(),
        info.machine_name()
    );
    info.max_glibc.map(|(v, _)| v)
}

#[test]
fn portable_builds_need_at_most_glibc_2_17() {
    let out_dir = target_dir().join("portable");
    // The cross toolchain comes from ./test.sh (ziglang and cargo-zigbuild in .venv); the script
    // is told to use it and to install nothing.
    run_build_script("portable-build.sh", &[], &[("SCF_PORTABLE_DIR", &out_dir)]);
    let bin: PathBuf = out_dir.join("bin");
    for f in [
        "scf-c-bootstrap",
        "scf-shell-bootstrap",
        "rust-echo-bootstrap",
        "libscfruntime.so",
    ] {
        let v = max_glibc(&bin.join(f)).unwrap_or_default();
        assert!(v.as_slice() <= [2, 17].as_slice(), "{f} needs GLIBC_{v:?}");
        eprintln!("{f}: GLIBC_{v:?}");
    }
    // And scfrt package takes the portable bootstrap without a glibc warning.
    let d = tempfile::tempdir().unwrap();
    write_file(
        &d.path().join("index.sh"),
        b"main_handler() { echo \"$1\"; }\n",
        0o644,
    );
    let zip = d.path().join("fn.zip");
    let out = Command::new(scfrt())
        .args([
            "package".as_ref(),
            d.path().as_os_str(),
            "-o".as_ref(),
            zip.as_os_str(),
        ])
        .args(["--lang", "bash", "--bootstrap-bin"])
        .arg(&bin)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let (code, json, err) = invoke(&zip, r#"{"x":1}"#, &[]);
    assert_eq!(code, 0, "{json}\n{err}");
    assert_eq!(result(&json)["RetMsg"], r#"{"x":1}"#);
}
