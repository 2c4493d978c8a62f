//! Safe extraction of code zips.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use scf_package::extract::{PackageError, extract_zip};
use zip::write::SimpleFileOptions;

enum Item<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

fn make_zip(path: &Path, items: &[Item<'_>]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for item in items {
        match item {
            Item::File(name, data, mode) => {
                let opts = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .unix_permissions(*mode);
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            Item::Dir(name) => w
                .add_directory(*name, SimpleFileOptions::default())
                .unwrap(),
            Item::Symlink(name, target) => w
                .add_symlink(*name, *target, SimpleFileOptions::default())
                .unwrap(),
        }
    }
    w.finish().unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Lists everything under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn extracts_files_dirs_modes_and_inner_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("fn.zip");
    make_zip(
        &zip,
        &[
            Item::File("bootstrap", b"#!/bin/sh\n", 0o755),
            Item::File("index.sh", b"echo hi\n", 0o644),
            Item::Dir("lib/"),
            Item::File("lib/deep/data.txt", b"data", 0o600),
            Item::Symlink("lib/link.txt", "deep/data.txt"),
            Item::Symlink("lib/deep/up.sh", "../../index.sh"),
            Item::File("./dot/x", b"x", 0o644),
        ],
    );
    let dest = tmp.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    extract_zip(&zip, &dest).unwrap();
    assert_eq!(
        std::fs::read(dest.join("bootstrap")).unwrap(),
        b"#!/bin/sh\n"
    );
    assert_eq!(mode(&dest.join("bootstrap")), 0o755);
    assert_eq!(mode(&dest.join("index.sh")), 0o644);
    assert_eq!(mode(&dest.join("lib/deep/data.txt")), 0o600);
    assert_eq!(std::fs::read(dest.join("lib/link.txt")).unwrap(), b"data");
    assert_eq!(
        std::fs::read(dest.join("lib/deep/up.sh")).unwrap(),
        b"echo hi\n"
    );
    assert!(
        std::fs::symlink_metadata(dest.join("lib/link.txt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(dest.join("dot/x")).unwrap(), b"x");
}

fn assert_refused(items: &[Item<'_>], expect_reason: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("evil.zip");
    make_zip(&zip, items);
    let dest = tmp.path().join("a").join("b");
    std::fs::create_dir_all(&dest).unwrap();
    let before = listing(tmp.path());
    match extract_zip(&zip, &dest) {
        Err(e @ PackageError::UnsafeEntry { .. }) => {
            assert!(e.to_string().contains(expect_reason), "{e}")
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    // Nothing outside `dest` was created (and for name checks, nothing at all).
    let after: Vec<String> = listing(tmp.path())
        .into_iter()
        .filter(|p| !p.starts_with("a/b/"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn refuses_parent_dir_entries_and_writes_nothing() {
    assert_refused(
        &[
            Item::File("bootstrap", b"ok", 0o755),
            Item::File("../evil", b"pwned", 0o644),
        ],
        "`..` path component",
    );
    assert_refused(&[Item::File("x/../../../evil", b"pwned", 0o644)], "`..`");
}

#[test]
fn refuses_absolute_paths() {
    assert_refused(
        &[Item::File("/tmp/scfrt-evil-abs", b"pwned", 0o644)],
        "absolute path",
    );
    assert!(!Path::new("/tmp/scfrt-evil-abs").exists());
}

#[test]
fn refuses_escaping_symlinks() {
    assert_refused(&[Item::Symlink("etc", "/etc")], "absolute path");
    assert_refused(&[Item::Symlink("up", "../../..")], "outside the package");
    assert_refused(&[Item::Symlink("sub/up", "../../x")], "outside the package");
    // Lexically inside, physically outside: `d/u` points at the root, `d/u/..` is above it.
    assert_refused(
        &[
            Item::Dir("d/"),
            Item::Symlink("d/u", ".."),
            Item::Symlink("l", "d/u/../x"),
        ],
        "resolving outside",
    );
}

#[test]
fn not_a_zip_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("junk.zip");
    std::fs::write(&zip, b"this is not a zip").unwrap();
    let err = extract_zip(&zip, tmp.path()).unwrap_err();
    assert!(matches!(err, PackageError::Zip { .. }), "{err:?}");
    assert!(err.to_string().contains("junk.zip"));
}
