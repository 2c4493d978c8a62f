//! `make install PREFIX=...` as a C user runs it: the files land in the prefix, pkg-config finds
//! them, and the c-echo example built both ways against the installed copy serves an event.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use scf_runtime_api::{InvokeOptions, Limits, Outcome, RuntimeApi};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// pkg-config is needed by users of the installed library: a missing one fails the test, naming
/// the ./test.sh step that installs it.
fn ensure_pkg_config() {
    scf_test_support::tools::require("pkg-config");
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .args(args)
        .arg("scfruntime"));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Serve one event to `bootstrap` and return what it answered.
fn echo_once(bootstrap: &Path, event: &[u8]) -> Vec<u8> {
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let mut child = Command::new(bootstrap)
        .env("SCF_RUNTIME_API", "127.0.0.1")
        .env("SCF_RUNTIME_API_PORT", api.port().to_string())
        .env("SCFRUNTIME_MAX_INVOCATIONS", "1")
        .spawn()
        .expect("spawn bootstrap");
    let limit = Duration::from_secs(30);
    let ready = api.wait_ready(limit);
    let outcome = ready.map(|()| {
        api.invoke(
            event,
            &InvokeOptions {
                timeout: limit,
                ..InvokeOptions::default()
            },
        )
    });
    let status = child.wait().expect("wait bootstrap");
    match outcome {
        Ok(Ok(Outcome::Response(body))) => {
            assert!(status.success(), "{status}");
            body
        }
        other => panic!("{}: {other:?} (exit {status})", bootstrap.display()),
    }
}

#[test]
fn make_install_then_build_with_pkg_config() {
    ensure_pkg_config();
    // A target dir of its own: the running `cargo test` holds the lock of the workspace's.
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target dir above debug/deps")
        .join("install-test");
    let prefix = std::env::temp_dir().join(format!("scfruntime-prefix-{}", std::process::id()));
    let _ = fs::remove_dir_all(&prefix);
    run(Command::new("make")
        .arg("-C")
        .arg(repo())
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("CARGO_TARGET_DIR={}", target.display())));

    let lib = prefix.join("lib");
    for f in [
        "libscfruntime.a",
        "libscfruntime.so",
        "libscfruntime.so.0",
        "pkgconfig/scfruntime.pc",
    ] {
        assert!(lib.join(f).exists(), "{f} not installed");
    }
    assert_eq!(
        fs::read_link(lib.join("libscfruntime.so.0")).expect("soname link"),
        PathBuf::from(format!("libscfruntime.so.{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        fs::read(prefix.join("include/scfruntime.h")).expect("installed header"),
        fs::read(repo().join("include/scfruntime.h")).expect("committed header")
    );
    let cflags = pkg_config(&prefix, &["--cflags"]);
    assert_eq!(
        cflags,
        vec![format!("-I{}", prefix.join("include").display())]
    );

    let main_c = repo().join("examples/c-echo/main.c");
    let out = prefix.join("out");
    fs::create_dir_all(&out).expect("out dir");
    let strict = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];

    // Dynamic: exactly the pkg-config line of docs/c-api.md, plus an rpath to the prefix.
    let dynamic = out.join("bootstrap-dynamic");
    run(Command::new("cc")
        .args(strict)
        .arg(&main_c)
        .args(pkg_config(&prefix, &["--cflags", "--libs"]))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&dynamic));
    let ldd = run(Command::new("ldd").arg(&dynamic));
    let ldd = String::from_utf8_lossy(&ldd.stdout);
    assert!(
        ldd.contains(&format!(
            "libscfruntime.so.0 => {}",
            lib.join("libscfruntime.so.0").display()
        )),
        "{ldd}"
    );

    // Static: the archive plus the .pc file's static link list, which `Libs.private` expands
    // for `pkg-config --static` too.
    let fixed = out.join("bootstrap-static");
    let static_libs = run(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .args(["--variable=static_libs", "scfruntime"]));
    let listed: Vec<String> = String::from_utf8_lossy(&static_libs.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, scf_test_support::static_libs());
    let mut expected = vec![format!("-L{}", lib.display()), "-lscfruntime".to_owned()];
    expected.extend(listed);
    assert_eq!(pkg_config(&prefix, &["--libs", "--static"]), expected);
    run(Command::new("cc")
        .args(strict)
        .arg(&main_c)
        .args(cflags)
        .arg(lib.join("libscfruntime.a"))
        .args(String::from_utf8_lossy(&static_libs.stdout).split_whitespace())
        .arg("-o")
        .arg(&fixed));
    let ldd = run(Command::new("ldd").arg(&fixed));
    assert!(!String::from_utf8_lossy(&ldd.stdout).contains("libscfruntime"));

    for bootstrap in [&dynamic, &fixed] {
        let event = "{\"installed\": \"café 🚀\"}".as_bytes();
        assert_eq!(
            echo_once(bootstrap, event),
            event,
            "{}",
            bootstrap.display()
        );
    }

    run(Command::new("make")
        .arg("-C")
        .arg(repo())
        .arg("uninstall")
        .arg(format!("PREFIX={}", prefix.display())));
    assert!(!lib.join("libscfruntime.so").exists() && !lib.join("libscfruntime.a").exists());
    let _ = fs::remove_dir_all(&prefix);
}

/// The newest `GLIBC_x.y` symbol version `elf` needs, from `readelf --dyn-syms`.
fn max_glibc(elf: &Path) -> (u32, u32) {
    let readelf = scf_test_support::tools::require("readelf");
    let out = run(Command::new(readelf).arg("--dyn-syms").arg("-W").arg(elf));
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let (a, b) = v.split_once('.')?;
            let b = b.split('.').next()?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .max()
        .unwrap_or((0, 0))
}

#[test]
fn make_dist_tarball_unpacks_anywhere_and_builds_c_echo() {
    use scf_test_support::tools;
    ensure_pkg_config();
    // The cross toolchain for the glibc-2.17 build comes from ./test.sh (.venv); the script is
    // told to use it and to install nothing.
    tools::venv_bin("cargo-zigbuild", "cargo-zigbuild");
    tools::venv_python_with("ziglang", "pip install ziglang into .venv");
    let path = std::env::join_paths(std::iter::once(tools::venv().join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target dir above debug/deps");
    let work = std::env::temp_dir().join(format!("scfruntime-dist-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("work dir");
    run(Command::new("make")
        .arg("-C")
        .arg(repo())
        .arg("dist")
        .arg(format!("DIST_DIR={}", work.display()))
        // The portable builds tests/packaging makes too (one cargo lock between them).
        .arg(format!("PORTABLE={}", target.join("portable").display()))
        .arg(format!(
            "CARGO_TARGET_DIR={}",
            target.join("install-test").display()
        ))
        .env("SCF_ZIG_VENV", tools::venv())
        .env("SCF_NO_INSTALL", "1")
        .env("PATH", path));
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("scfruntime-{version}-x86_64-linux-glibc2.17");
    let tarball = work.join(format!("{name}.tar.gz"));
    assert!(tarball.is_file(), "no {}", tarball.display());

    // Unpacked somewhere else than where it was made: the .pc file finds its own tree.
    let unpacked = work.join("elsewhere");
    fs::create_dir_all(&unpacked).expect("mkdir");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked));
    fs::remove_dir_all(work.join(&name)).expect("remove the staging tree");
    let root = unpacked.join(&name);
    let lib = root.join("lib");
    for f in [
        "README.md",
        "include/scfruntime.h",
        "lib/libscfruntime.a",
        "lib/libscfruntime.so",
        "lib/libscfruntime.so.0",
        "lib/pkgconfig/scfruntime.pc",
    ] {
        assert!(root.join(f).exists(), "{f} not in the tarball");
    }
    assert_eq!(
        fs::read(root.join("include/scfruntime.h")).expect("header"),
        fs::read(repo().join("include/scfruntime.h")).expect("committed header")
    );
    let so = lib.join(format!("libscfruntime.so.{version}"));
    let glibc = max_glibc(&so);
    assert!(
        glibc <= (2, 17),
        "the library needs GLIBC_{}.{}",
        glibc.0,
        glibc.1
    );

    let cflags = pkg_config(&root, &["--cflags"]);
    let include = PathBuf::from(cflags[0].strip_prefix("-I").expect("-I"));
    assert_eq!(
        include.canonicalize().expect("include dir"),
        root.join("include").canonicalize().expect("include dir")
    );
    let libdir = pkg_config(&root, &["--variable=libdir"]);
    let static_libs = pkg_config(&root, &["--variable=static_libs"]);
    let bootstrap = work.join("bootstrap");
    run(Command::new("cc")
        .args(["-std=c11", "-O2"])
        .arg(repo().join("examples/c-echo/main.c"))
        .args(&cflags)
        .arg(PathBuf::from(&libdir[0]).join("libscfruntime.a"))
        .args(&static_libs)
        .arg("-o")
        .arg(&bootstrap));
    let event = b"{\"from\": \"make dist\"}";
    assert_eq!(echo_once(&bootstrap, event), event);
    let _ = fs::remove_dir_all(&work);
}
