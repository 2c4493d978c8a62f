//! What `scfrt package` and `scfrt invoke <zip>` refuse, and that a refusal writes nothing.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use zip::write::SimpleFileOptions;

/// Packs `dir` into `<out>/fn.zip` expecting a refusal mentioning `needle`; checks that `out` is
/// left as it was (no zip, no temporary file).
fn refused(dir: &Path, extra: &[&str], needle: &str) {
    let out_dir = tempfile::tempdir().unwrap();
    let zip = out_dir.path().join("fn.zip");
    let out = package(dir, &zip, extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(
        listing(out_dir.path()).is_empty(),
        "{:?}",
        listing(out_dir.path())
    );
}

#[test]
fn dir_without_bootstrap() {
    let d = tempfile::tempdir().unwrap();
    write_file(
        &d.path().join("index.sh"),
        b"main_handler() { echo; }\n",
        0o644,
    );
    refused(d.path(), &[], "no `bootstrap`");
}

#[test]
fn non_executable_bootstrap() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o644);
    refused(d.path(), &[], "not executable");
}

#[test]
fn crlf_interpreter_line() {
    let d = tempfile::tempdir().unwrap();
    write_file(
        &d.path().join("bootstrap"),
        b"#!/bin/bash\r\necho\r\n",
        0o755,
    );
    refused(d.path(), &[], "CRLF");
}

#[test]
fn script_without_interpreter_line() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"echo hello\n", 0o755);
    refused(d.path(), &[], "interpreter line");
}

#[test]
fn symlink_out_of_the_dir() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o755);
    std::os::unix::fs::symlink("../../etc/passwd", d.path().join("passwd")).unwrap();
    refused(d.path(), &[], "outside the function directory");
    std::fs::remove_file(d.path().join("passwd")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.path().join("abs")).unwrap();
    refused(d.path(), &[], "absolute path");
}

#[test]
fn package_over_the_code_limit() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o755);
    // Incompressible: a xorshift stream, 51 MiB.
    let mut data = Vec::with_capacity(51 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while data.len() < 51 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    write_file(&d.path().join("blob.bin"), &data, 0o644);
    refused(d.path(), &[], "50 MB");
}

#[test]
fn symlinks_inside_and_modes_are_kept() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o700);
    write_file(&d.path().join("lib/tool"), b"#!/bin/sh\n", 0o750);
    write_file(&d.path().join("lib/data.txt"), b"x", 0o600);
    std::os::unix::fs::symlink("lib/data.txt", d.path().join("data")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let zip = out_dir.path().join("fn.zip");
    let out = package(d.path(), &zip, &[]);
    assert!(out.status.success(), "{out:?}");
    let entries = zip_entries(&zip);
    assert_eq!(entry(&entries, "bootstrap").mode, 0o100755);
    assert_eq!(entry(&entries, "lib/tool").mode, 0o100750);
    assert_eq!(entry(&entries, "lib/data.txt").mode, 0o100600);
    assert_eq!(
        entry(&entries, "data").mode & 0o170000,
        0o120000,
        "a symlink"
    );
    assert_eq!(entry(&entries, "data").data, b"lib/data.txt");
    assert_eq!(listing(out_dir.path()), ["fn.zip"]);
}

#[test]
fn output_inside_the_dir_is_not_packed_into_itself() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o755);
    let zip = d.path().join("fn.zip");
    for _ in 0..2 {
        let out = package(d.path(), &zip, &[]);
        assert!(out.status.success(), "{out:?}");
    }
    let names: Vec<String> = zip_entries(&zip).into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["bootstrap"]);
}

/// ELF files SCF cannot run stop the package, each named with the fix; `--allow-newer-glibc`
/// packs them with a warning instead.
#[test]
fn elf_files_scf_cannot_run_are_refused_unless_allowed() {
    let d = tempfile::tempdir().unwrap();
    write_file(&d.path().join("bootstrap"), b"#!/bin/bash\necho\n", 0o755);
    // A 64-bit little-endian ELF header for aarch64 (e_machine 183), no sections.
    let mut elf = vec![0u8; 64];
    elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
    elf[18..20].copy_from_slice(&183u16.to_le_bytes());
    write_file(&d.path().join("arm.bin"), &elf, 0o755);
    // This machine's build of the shell bootstrap needs its glibc (2.34 or so), not 2.17.
    let host_built = std::fs::read(bin_dir().join("scf-shell-bootstrap")).unwrap();
    assert!(elf_max_glibc(&host_built).as_slice() > [2, 17].as_slice());
    write_file(&d.path().join("tool"), &host_built, 0o755);
    let out_dir = tempfile::tempdir().unwrap();
    let zip = out_dir.path().join("fn.zip");
    let out = package_strict(d.path(), &zip).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("arm.bin is an ELF for aarch64, not x86-64"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tool needs GLIBC_2.") && stderr.contains("newer than the glibc 2.17"),
        "{stderr}"
    );
    assert!(
        stderr.contains("zig cc -target x86_64-linux-gnu.2.17"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-newer-glibc"), "{stderr}");
    assert!(!zip.exists(), "no zip after a refusal");
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );

    let out = package_strict(d.path(), &zip)
        .arg("--allow-newer-glibc")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: arm.bin is an ELF for aarch64, not x86-64"),
        "{stderr}"
    );
    assert!(stderr.contains("warning: tool needs GLIBC_2."), "{stderr}");
    let names: Vec<String> = zip_entries(&zip).into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["bootstrap", "arm.bin", "tool"]);
}

enum Item<'a> {
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
}

fn make_zip(path: &Path, items: &[Item<'_>]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for item in items {
        match item {
            Item::File(name, data, mode) => {
                w.start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                    .unwrap();
                w.write_all(data).unwrap();
            }
            Item::Symlink(name, target) => w
                .add_symlink(*name, *target, SimpleFileOptions::default())
                .unwrap(),
        }
    }
    w.finish().unwrap();
}

/// `scfrt invoke` of `zip`, with TMPDIR inside a fresh directory: refused with `needle`, and
/// nothing left beside the extraction directory.
fn invoke_refused(zip: &Path, needle: &str) {
    let sandbox = tempfile::tempdir().unwrap();
    let tmp = sandbox.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = std::process::Command::new(scfrt())
        .args([
            "invoke".as_ref(),
            zip.as_os_str(),
            "--event".as_ref(),
            "{}".as_ref(),
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(out.stdout.is_empty(), "nothing invoked");
    assert_eq!(
        listing(sandbox.path()),
        ["tmp"],
        "nothing written beside TMPDIR"
    );
    assert!(
        listing(&tmp).is_empty(),
        "extraction dir removed: {:?}",
        listing(&tmp)
    );
}

const BOOT: &[u8] = b"#!/bin/bash\necho\n";

#[test]
fn zip_with_dotdot_path() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("evil.zip");
    make_zip(
        &zip,
        &[
            Item::File("bootstrap", BOOT, 0o755),
            Item::File("../evil", b"x", 0o644),
        ],
    );
    invoke_refused(&zip, "`..` path component");
}

#[test]
fn zip_with_absolute_path() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("evil.zip");
    let target = d.path().join("abs-evil");
    let name = target.to_string_lossy().into_owned();
    make_zip(
        &zip,
        &[
            Item::File("bootstrap", BOOT, 0o755),
            Item::File(&name, b"x", 0o644),
        ],
    );
    invoke_refused(&zip, "absolute path");
    assert!(!target.exists());
}

#[test]
fn zip_with_escaping_symlink() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("evil.zip");
    make_zip(
        &zip,
        &[
            Item::File("bootstrap", BOOT, 0o755),
            Item::Symlink("link", "../../../etc"),
        ],
    );
    invoke_refused(&zip, "symlink pointing outside the package");
    make_zip(
        &zip,
        &[
            Item::File("bootstrap", BOOT, 0o755),
            Item::Symlink("link", "/etc/passwd"),
        ],
    );
    invoke_refused(&zip, "symlink to an absolute path");
}

#[test]
fn empty_zip_file() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("empty.zip");
    std::fs::write(&zip, b"").unwrap();
    invoke_refused(&zip, "empty (0 bytes), not a zip archive");
}

#[test]
fn zip_over_the_code_limit() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("big.zip");
    let f = std::fs::File::create(&zip).unwrap();
    // Size is all that is checked before unpacking: a sparse file over 50 MiB.
    f.set_len((50 << 20) + 1).unwrap();
    invoke_refused(&zip, "over SCF's 50 MB");
}

/// A ready-made bootstrap built for this machine's glibc is refused like any other ELF: the
/// message names where it came from.
#[test]
fn a_host_built_ready_made_bootstrap_is_refused() {
    let d = tempfile::tempdir().unwrap();
    write_file(
        &d.path().join("index.sh"),
        b"main_handler() { echo hi; }\n",
        0o644,
    );
    let zip = d.path().join("fn.zip");
    let out = package_strict(d.path(), &zip)
        .args(["--lang", "bash", "--bootstrap-bin"])
        .arg(bin_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let from = bin_dir().join("scf-shell-bootstrap");
    assert!(
        stderr.contains(&format!(
            "bootstrap (from {}) needs GLIBC_2.",
            from.display()
        )),
        "{stderr}"
    );
    assert!(!zip.exists());
}
