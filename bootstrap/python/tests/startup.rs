//! How the embedded interpreter starts, run under scfrt's in-process SCF emulator: the `site`
//! opt-out (`SCFRUNTIME_PYTHON_NO_SITE`), the code and layer directories on `sys.path`, the
//! UTF-8 locale without `LANG`, and the standard library of the libpython that is linked,
//! whatever `python3` comes first on `PATH`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scf_emulator::{Function, FunctionConfig, InvokeResult};
use serde_json::Value;

/// `major.minor` of the Python the bootstrap links (from build.rs).
const PY_VERSION: &str = env!("SCF_BUILD_PYTHON_VERSION");

/// What the probe handler reports about the interpreter it runs in.
const PROBE: &str = r#"
import builtins
import os
import sys

import layer_only
import shadowed
import vendored


def handler(event, context):
    import encodings
    return {
        "site_imported": "site" in sys.modules,
        "no_site_flag": sys.flags.no_site,
        "pth_ran": os.environ.get("PROBE_PTH_RAN"),
        "path": sys.path,
        "prefix": sys.prefix,
        "encodings_file": encodings.__file__,
        "vendored": vendored.WHERE,
        "layer_only": layer_only.WHERE,
        "shadowed": shadowed.WHERE,
        "exit_defined": callable(getattr(builtins, "exit", None)),
        "libpython": sorted({line.split()[-1] for line in open("/proc/self/maps")
                             if "/libpython" in line}),
    }
"#;

/// A function package: the bootstrap, the probe and a vendored module in the code directory;
/// beside it a layer directory and a user base whose site-packages has a `.pth` with a side
/// effect (an environment variable), which only the `site` import executes.
struct Fixture {
    _tmp: tempfile::TempDir,
    code: PathBuf,
    layer: PathBuf,
    user_site: PathBuf,
    user_base: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let code = tmp.path().join("code");
        let layer = tmp.path().join("layer");
        let user_base = tmp.path().join("userbase");
        let user_site = user_base
            .join("lib")
            .join(format!("python{PY_VERSION}"))
            .join("site-packages");
        for dir in [&code, &layer, &user_site] {
            fs::create_dir_all(dir).expect("mkdir");
        }
        fs::copy(
            env!("CARGO_BIN_EXE_scf-python-bootstrap"),
            code.join("bootstrap"),
        )
        .expect("copy the bootstrap");
        write(&code.join("probe.py"), PROBE);
        write(&code.join("vendored.py"), "WHERE = 'code'\n");
        write(&code.join("shadowed.py"), "WHERE = 'code'\n");
        write(&layer.join("layer_only.py"), "WHERE = 'layer'\n");
        write(&layer.join("shadowed.py"), "WHERE = 'layer'\n");
        write(
            &user_site.join("probe_side_effect.pth"),
            "import os; os.environ['PROBE_PTH_RAN'] = '1'\n",
        );
        Fixture {
            _tmp: tmp,
            code,
            layer,
            user_site,
            user_base,
        }
    }

    /// One invocation of `handler` with the layer and user base configured, plus `env`.
    fn invoke(&self, handler: &str, env: &[(&str, &str)]) -> InvokeResult {
        let mut cfg = FunctionConfig::new(&self.code);
        cfg.handler = handler.into();
        cfg.timeout = Duration::from_secs(30);
        cfg.init_timeout = Duration::from_secs(60);
        cfg.env = vec![
            (
                "SCFRUNTIME_PYTHON_LAYER_PATH".into(),
                self.layer.to_string_lossy().into_owned(),
            ),
            (
                "PYTHONUSERBASE".into(),
                self.user_base.to_string_lossy().into_owned(),
            ),
        ];
        cfg.env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut f = Function::new(cfg).expect("function");
        let r = f.invoke(b"{}");
        f.shutdown();
        r
    }

    fn probe(&self, env: &[(&str, &str)]) -> Value {
        let r = self.invoke("probe.handler", env);
        assert!(r.succeeded(), "probe failed: {r:#?}");
        serde_json::from_str(&r.ret_msg).expect("the probe returns JSON")
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn path_of(v: &Value) -> Vec<String> {
    v["path"]
        .as_array()
        .expect("path")
        .iter()
        .map(|p| p.as_str().expect("str").to_owned())
        .collect()
}

/// `<prefix>/lib/pythonX.Y/site-packages`, where `site` (or the bootstrap without it) puts the
/// interpreter's packages.
fn prefix_site_packages(v: &Value) -> PathBuf {
    Path::new(v["prefix"].as_str().expect("prefix"))
        .join("lib")
        .join(format!("python{PY_VERSION}"))
        .join("site-packages")
}

#[test]
fn site_runs_by_default() {
    let fx = Fixture::new();
    let v = fx.probe(&[]);
    assert_eq!(v["site_imported"], true, "{v}");
    assert_eq!(v["no_site_flag"], 0, "{v}");
    assert_eq!(v["pth_ran"], "1", "the user site's .pth ran: {v}");
    let path = path_of(&v);
    let user_site = fx.user_site.to_string_lossy().into_owned();
    assert!(path.contains(&user_site), "{path:?}");
    assert_eq!(v["vendored"], "code");
    assert_eq!(v["layer_only"], "layer");
}

#[test]
fn no_site_skips_site_and_pth_but_keeps_code_layer_and_site_packages() {
    let fx = Fixture::new();
    for value in ["1", "true"] {
        let v = fx.probe(&[("SCFRUNTIME_PYTHON_NO_SITE", value)]);
        assert_eq!(v["site_imported"], false, "{value}: {v}");
        assert_eq!(v["no_site_flag"], 1, "{value}: {v}");
        assert_eq!(v["pth_ran"], Value::Null, "{value}: no .pth ran: {v}");
        let path = path_of(&v);
        let user_site = fx.user_site.to_string_lossy().into_owned();
        assert!(!path.contains(&user_site), "no user site: {path:?}");
        // Imports from the code directory and from a layer still work.
        assert_eq!(v["vendored"], "code");
        assert_eq!(v["layer_only"], "layer");
        assert_eq!(v["exit_defined"], true, "exit() as with site: {v}");
        let site_packages = prefix_site_packages(&v);
        if site_packages.is_dir() {
            let sp = site_packages.to_string_lossy().into_owned();
            assert!(path.contains(&sp), "{sp} on sys.path: {path:?}");
        } else {
            println!(
                "not checked: {} does not exist on this Python",
                site_packages.display()
            );
        }
    }
    // "0" keeps site.
    let v = fx.probe(&[("SCFRUNTIME_PYTHON_NO_SITE", "0")]);
    assert_eq!(v["site_imported"], true, "{v}");
}

#[test]
fn code_dir_first_then_layers() {
    let fx = Fixture::new();
    for env in [&[][..], &[("SCFRUNTIME_PYTHON_NO_SITE", "1")][..]] {
        let v = fx.probe(env);
        let path = path_of(&v);
        let code = fs::canonicalize(&fx.code).expect("canonical code dir");
        assert_eq!(path[0], code.to_string_lossy(), "{path:?}");
        assert_eq!(path[1], fx.layer.to_string_lossy(), "{path:?}");
        assert_eq!(v["shadowed"], "code", "the code directory wins: {v}");
    }
}

#[test]
fn a_malformed_no_site_value_is_an_init_error_naming_the_variable() {
    let fx = Fixture::new();
    let r = fx.invoke(
        "probe.handler",
        &[("SCFRUNTIME_PYTHON_NO_SITE", "sometimes")],
    );
    assert!(!r.succeeded(), "{r:#?}");
    assert!(
        r.err_msg
            .contains("SCFRUNTIME_PYTHON_NO_SITE=sometimes is not understood"),
        "{}",
        r.err_msg
    );
    assert!(r.err_msg.contains("exit code 2"), "{}", r.err_msg);
}

#[test]
fn utf8_output_without_lang() {
    let fx = Fixture::new();
    write(
        &fx.code.join("say.py"),
        "import sys\n\ndef handler(event, context):\n    print('h\\u00e9llo \\u4f60\\u597d')\n    return sys.stdout.encoding\n",
    );
    // Empty values: the C locale, as a function environment without LANG has.
    let r = fx.invoke(
        "say.handler",
        &[("LANG", ""), ("LC_ALL", ""), ("LC_CTYPE", "")],
    );
    assert!(r.succeeded(), "{r:#?}");
    // A str result is JSON-encoded, as the built-in runtime sends it (docs/python.md).
    assert_eq!(r.ret_msg, "\"utf-8\"");
    assert!(r.log.contains("h\u{e9}llo \u{4f60}\u{597d}\n"), "{}", r.log);
}

#[test]
fn the_standard_library_is_the_linked_libpythons_not_the_first_python3_on_path() {
    let fx = Fixture::new();
    // A python3 first on PATH with a "standard library" of the same version beside it: CPython's
    // own search (from the program name `python3`) would take its prefix and fail to start.
    let fake = fx.code.parent().expect("tmp").join("fakepython");
    let bin = fake.join("bin");
    let stdlib = fake.join("lib").join(format!("python{PY_VERSION}"));
    fs::create_dir_all(&bin).expect("mkdir");
    fs::create_dir_all(&stdlib).expect("mkdir");
    write(&bin.join("python3"), "#!/bin/sh\nexit 3\n");
    fs::set_permissions(bin.join("python3"), fs::Permissions::from_mode(0o755)).expect("chmod");
    write(
        &stdlib.join("os.py"),
        "raise ImportError('the fake standard library')\n",
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let v = fx.probe(&[("PATH", &path)]);
    let prefix = v["prefix"].as_str().expect("prefix");
    assert!(
        !Path::new(prefix).starts_with(&fake),
        "sys.prefix {prefix} is the fake python3's"
    );
    let encodings = v["encodings_file"].as_str().expect("encodings.__file__");
    assert!(
        encodings.starts_with(prefix),
        "encodings from {encodings}, not under {prefix}"
    );
}

#[test]
fn a_libpython_moved_with_its_standard_library_needs_no_pythonhome() {
    let fx = Fixture::new();
    let v = fx.probe(&[]);
    let libs = v["libpython"].as_array().expect("libpython");
    assert_eq!(libs.len(), 1, "one libpython mapped: {libs:?}");
    let real_lib = PathBuf::from(libs[0].as_str().expect("path"));
    let real_stdlib = Path::new(v["prefix"].as_str().expect("prefix"))
        .join("lib")
        .join(format!("python{PY_VERSION}"));
    // The layout of a Python shipped in the package (python/ beside the bootstrap) or in a
    // layer at another prefix than it was built for: lib/libpython + lib/python3.X.
    let moved = fx.code.parent().expect("tmp").join("moved-python");
    let lib = moved.join("lib");
    fs::create_dir_all(&lib).expect("mkdir");
    std::os::unix::fs::symlink(&real_lib, lib.join(real_lib.file_name().expect("name")))
        .expect("symlink libpython");
    std::os::unix::fs::symlink(&real_stdlib, lib.join(format!("python{PY_VERSION}")))
        .expect("symlink the standard library");
    // The loader takes libpython from LD_LIBRARY_PATH before the bootstrap's RUNPATH.
    let v = fx.probe(&[("LD_LIBRARY_PATH", &lib.to_string_lossy())]);
    // (/proc/self/maps shows the symlink resolved; the loader opened it by this name, and only
    // that name leads to `moved` as the prefix.)
    assert_eq!(v["prefix"].as_str(), Some(&*moved.to_string_lossy()), "{v}");
    let encodings = v["encodings_file"].as_str().expect("encodings.__file__");
    assert!(
        Path::new(encodings).starts_with(&moved),
        "encodings from {encodings}"
    );
}
