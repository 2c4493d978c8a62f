//! Hostile input the existing tests do not cover (see the report for which test covers what):
//! zips with duplicate names, a 0-byte entry, a 0-byte file, a zip bomb; events that are not
//! UTF-8 or over 6 MB through `scfrt invoke`; an oversized API body to `scfrt serve`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use scf_package::extract::extract_zip;
use scf_reliability::api_client::{SECRET_ID, SECRET_KEY, call};
use scf_reliability::summary::{self, Section};

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn record(name: &str, line: &str) {
    summary::write(
        tmpdir(),
        name,
        &Section {
            run: 1,
            passed: 1,
            lines: vec![format!("ok   {line}")],
            ..Section::default()
        },
    );
}

fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let f = std::fs::File::create(path).expect("create zip");
    let mut z = zip::ZipWriter::new(f);
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(data.len() > u32::MAX as usize / 2);
        z.start_file(*name, opts).expect("entry");
        z.write_all(data).expect("write");
    }
    z.finish().expect("finish");
}

/// Entries of `dir` relative to it, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    out
}

#[test]
fn zero_byte_entry_extracts_and_zero_byte_file_is_not_a_zip() {
    let root = tempfile::tempdir().expect("tempdir");
    let z = root.path().join("empty-entry.zip");
    write_zip(&z, &[("bootstrap", b"#!/bin/sh\n"), ("empty.txt", b"")]);
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).expect("mkdir");
    extract_zip(&z, &dest).expect("a 0-byte entry is a valid file");
    assert_eq!(std::fs::read(dest.join("empty.txt")).expect("read"), b"");

    let zero = root.path().join("zero.zip");
    std::fs::write(&zero, b"").expect("write");
    let dest2 = root.path().join("dest2");
    std::fs::create_dir(&dest2).expect("mkdir");
    let err = extract_zip(&zero, &dest2).expect_err("a 0-byte file is not a zip");
    assert!(err.to_string().contains("zero.zip"), "{err}");
    assert!(listing(&dest2).is_empty());
    record(
        "hostile-zip-zero-bytes",
        &format!("0-byte entry extracted empty; 0-byte file refused: {err}"),
    );
}

/// Two entries with the same name: the result must not depend on silently overwriting. Either
/// the archive is refused, or exactly one file results and nothing escapes.
#[test]
fn duplicate_names_do_not_escape_or_mix() {
    let root = tempfile::tempdir().expect("tempdir");
    let z = root.path().join("dup.zip");
    // The zip crate refuses to write a duplicate name: write "index.sX", then rename it in the
    // raw bytes (local header and central directory; the CRC does not cover names).
    write_zip(&z, &[("index.sh", b"first\n"), ("index.sX", b"second\n")]);
    let raw = std::fs::read(&z).expect("read zip");
    let mut patched = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"index.sX") {
            patched.extend_from_slice(b"index.sh");
            i += 8;
        } else {
            patched.push(raw[i]);
            i += 1;
        }
    }
    std::fs::write(&z, patched).expect("write zip");
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).expect("mkdir");
    let outcome = match extract_zip(&z, &dest) {
        Err(e) => format!("refused: {e}"),
        Ok(()) => {
            let got = std::fs::read(dest.join("index.sh")).expect("the file");
            assert!(got == b"first\n" || got == b"second\n", "{got:?}");
            assert_eq!(listing(&dest), ["index.sh"]);
            format!(
                "accepted, index.sh holds the {} entry",
                if got == b"first\n" { "first" } else { "last" }
            )
        }
    };
    assert_eq!(listing(root.path()), ["dest", "dup.zip"]);
    record("hostile-zip-duplicate-names", &outcome);
}

/// A zip bomb: 1 GiB of zeros in a ~1 MB archive. The platform caps a package at 50 MB zipped
/// and 500 MB unzipped; extraction must stop with a clear error instead of filling the disk.
#[test]
fn zip_bomb_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let z = root.path().join("bomb.zip");
    {
        let f = std::fs::File::create(&z).expect("create");
        let mut w = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("bootstrap", opts).expect("entry");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&zeros).expect("write");
        }
        w.finish().expect("finish");
    }
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).expect("mkdir");
    let err = extract_zip(&z, &dest).expect_err("a 1 GiB entry must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains("bootstrap") && msg.contains("524288000 bytes"),
        "{msg}"
    );
    let written = std::fs::metadata(dest.join("bootstrap"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        written <= 512 << 20,
        "{written} bytes written before refusing"
    );
}

fn scfrt_invoke(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
        .arg("invoke")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scfrt invoke")
}

fn echo_package(dir: &Path) -> std::path::PathBuf {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::copy(
        scf_reliability::bootstraps::c_bootstrap(tmpdir()),
        pkg.join("bootstrap"),
    )
    .expect("copy bootstrap");
    pkg
}

#[test]
fn invalid_utf8_event_is_a_usage_error_and_starts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = echo_package(dir.path());
    let ev = dir.path().join("event.bin");
    std::fs::write(&ev, b"{\"a\":\"\xff\xfe\"}").expect("write");
    let out = scfrt_invoke(&[pkg.as_os_str(), "--event-file".as_ref(), ev.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not valid JSON") || err.contains("UTF-8"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    record(
        "hostile-event-invalid-utf8",
        &format!("exit 2: {}", err.lines().next().unwrap_or_default()),
    );
}

#[test]
fn event_over_six_mb_is_406_through_scfrt_invoke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = echo_package(dir.path());
    let ev = dir.path().join("big.json");
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(6 * 1024 * 1024));
    std::fs::write(&ev, big).expect("write");
    let out = scfrt_invoke(&[pkg.as_os_str(), "--event-file".as_ref(), ev.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let res = &v["Response"]["Result"];
    assert_eq!(res["InvokeResult"], 406, "{res}");
    assert_eq!(out.status.code(), Some(1));
    record(
        "hostile-event-over-6mb",
        &format!("406, ErrMsg {}", res["ErrMsg"]),
    );
}

/// An API body over `--max-body-mb` gets a precise error, and the server keeps serving.
#[test]
fn oversized_api_body_is_refused_and_the_server_keeps_serving() {
    let state = tempfile::tempdir().expect("state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
        .args(["serve", "--port", "0", "--max-body-mb", "1", "--state-dir"])
        .arg(state.path())
        .args(["--secret-id", SECRET_ID, "--secret-key", SECRET_KEY])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let big =
        serde_json::json!({"FunctionName": "x", "ClientContext": "y".repeat(2 << 20)}).to_string();
    let r = call(port, "Invoke", &big);
    let code = r["Response"]["Error"]["Code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let after = call(port, "ListFunctions", "{}");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        code.contains("TooLarge") || code.contains("LimitExceeded"),
        "{r}"
    );
    assert!(after["Response"]["Error"].is_null(), "{after}");
    let outside: Vec<String> = listing(state.path());
    record(
        "hostile-api-oversized-body",
        &format!(
            "2 MiB body with --max-body-mb 1: {code}; ListFunctions still served; state dir holds {outside:?}"
        ),
    );
}
