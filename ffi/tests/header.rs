//! The committed header matches a fresh cbindgen run, and its version macros match the crate.
//!
//! `SCF_BLESS=1 cargo test -p scfruntime-ffi --test header` rewrites `include/scfruntime.h`.

use std::ffi::CStr;
use std::fs;
use std::path::{Path, PathBuf};

fn header_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/scfruntime.h")
}

fn generate() -> Vec<u8> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(dir).join("cbindgen.toml"))
        .expect("read ffi/cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut fresh);
    fresh
}

#[test]
fn committed_header_is_current() {
    let fresh = generate();
    let path = header_path();
    if std::env::var_os("SCF_BLESS").is_some() {
        fs::write(&path, &fresh).expect("write include/scfruntime.h");
        return;
    }
    let committed = fs::read(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/scfruntime.h is stale or missing: regenerate it with \
         `SCF_BLESS=1 cargo test -p scfruntime-ffi --test header` and commit the result"
    );
}

fn header_macro(header: &str, name: &str) -> u32 {
    let prefix = format!("#define {name} ");
    let line = header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} missing from the header"));
    line.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name} is not a number: {line:?}: {e}"))
}

#[test]
fn version_macros_match_scf_version_and_the_crate() {
    let header = String::from_utf8(generate()).expect("the header is UTF-8");
    let macros = [
        header_macro(&header, "SCF_VERSION_MAJOR"),
        header_macro(&header, "SCF_VERSION_MINOR"),
        header_macro(&header, "SCF_VERSION_PATCH"),
    ];
    let from_macros = format!("{}.{}.{}", macros[0], macros[1], macros[2]);
    assert_eq!(from_macros, env!("CARGO_PKG_VERSION"));
    // SAFETY: scf_version returns a static NUL-terminated string.
    let from_lib = unsafe { CStr::from_ptr(scfruntime::scf_version()) };
    assert_eq!(from_lib.to_str().expect("UTF-8"), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        [
            scfruntime::SCF_VERSION_MAJOR,
            scfruntime::SCF_VERSION_MINOR,
            scfruntime::SCF_VERSION_PATCH
        ],
        macros
    );
}
