//! `scfrt package`: the code zip SCF accepts, built from a directory.
//!
//! SCF starts the executable `bootstrap` at the root of the unpacked zip. [`pack`] puts it there
//! with mode 0755 in the entry's external attributes (the `chmod 755` + `zip` steps of Tencent's
//! guide), keeps every other file's mode, and refuses what would fail on the platform: no
//! `bootstrap`, one that is not executable, a script without an interpreter line or with a CRLF
//! one, symlinks leading out of the directory, special files, and zips over SCF's 50 MB code
//! limit. ELF files that are not x86-64 or need a glibc newer than 2.17 (SCF's CentOS 7.6) would
//! not start there: packaging stops naming each of them, unless
//! [`PackOptions::allow_newer_glibc`] turns them into warnings (docs/scfrt.md, "Packaging").
//!
//! With `--lang`, a directory without a `bootstrap` gets a ready-made one: see [`Lang`] and
//! [`bootstrap_search_dirs`].
//!
//! A web function's entry is `scf_bootstrap` instead ([`WEB_BOOTSTRAP`]; docs/triggers.md, "Web
//! functions"): a directory with `scf_bootstrap` and no `bootstrap` is packed the same way, with
//! the same checks, `scf_bootstrap` at the root with mode 0755.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zip::write::SimpleFileOptions;

use crate::elf;
use crate::python::{self, PythonOptions};

/// SCF's limit on a code zip uploaded directly (50 MB).
pub const MAX_CODE_ZIP_BYTES: u64 = 50 * 1024 * 1024;

/// The target `--portable` Rust builds use: x86-64 Linux, glibc 2.17 (SCF's CentOS 7.6).
pub const PORTABLE_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";

/// The entry of a web function's package, used when a directory has no `bootstrap`.
pub const WEB_BOOTSTRAP: &str = "scf_bootstrap";

/// The environment variable naming a directory of prebuilt bootstraps.
pub const BOOTSTRAP_DIR_ENV: &str = "SCFRT_BOOTSTRAP_DIR";

/// The language of a function, for the ready-made bootstrap `--lang` supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A C handler in a shared object: `scf-c-bootstrap` dlopens it.
    C,
    /// A Python handler (`index.py`): `scfruntime` and the function's `requirements.txt`
    /// vendored for SCF, run by a `bootstrap` script (`python3 -m scfruntime`; [`crate::python`]).
    Python,
    /// A bash handler (`index.sh`): `scf-shell-bootstrap` sources it per event.
    Bash,
    /// A Cargo project with a binary named `bootstrap`: built with cargo (release).
    Rust,
}

impl Lang {
    /// Every language, in the order the command line lists them.
    pub const ALL: [Lang; 4] = [Lang::C, Lang::Python, Lang::Bash, Lang::Rust];

    /// The file name of the prebuilt bootstrap for this language (`None` for Rust, which is
    /// built from the project, and Python, whose bootstrap is a script written for the package).
    pub fn bootstrap_binary(self) -> Option<&'static str> {
        match self {
            Lang::C => Some("scf-c-bootstrap"),
            Lang::Bash => Some("scf-shell-bootstrap"),
            Lang::Python | Lang::Rust => None,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Python => "python",
            Lang::Bash => "bash",
            Lang::Rust => "rust",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;

    /// A language by its command-line [`name`](Lang::name).
    fn from_str(s: &str) -> Result<Lang, String> {
        Lang::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Lang::ALL.iter().map(|l| l.name()).collect();
                format!("unknown language {s:?}; known: {}", known.join(", "))
            })
    }
}

/// What to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// The function directory.
    pub dir: PathBuf,
    /// The zip to write (atomically: a temporary file beside it, renamed into place).
    pub output: PathBuf,
    /// Supply the ready-made bootstrap for this language when `dir` has none.
    pub lang: Option<Lang>,
    /// Look for prebuilt bootstraps here first.
    pub bootstrap_bin: Option<PathBuf>,
    /// Rust: build with `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17` (glibc 2.17).
    pub portable: bool,
    /// C with the ready-made bootstrap: the command that builds the handler library (run with
    /// `sh -c` in `dir`); `None`: `make` when `dir` has a Makefile.
    pub build: Option<String>,
    /// C with the ready-made bootstrap: `_HANDLER` (`file.function`), whose `file.so` must be in
    /// the package (`index.main_handler` by default).
    pub handler: Option<String>,
    /// Pack ELF files SCF cannot run (glibc newer than 2.17, not x86-64) with a warning instead
    /// of refusing the package.
    pub allow_newer_glibc: bool,
    /// Python: the version packages are vendored for, and where pip also finds wheels.
    pub python: PythonOptions,
}

/// What [`pack`] wrote.
#[derive(Debug, Clone)]
pub struct PackReport {
    /// The zip written.
    pub output: PathBuf,
    /// Where the bootstrap came from (the package, a prebuilt file, a cargo build or a script
    /// written for the package).
    pub bootstrap_from: String,
    /// Entries in the zip (files, directories, symlinks).
    pub entries: usize,
    /// The zip's size in bytes.
    pub zip_bytes: u64,
    /// Warnings (ELF machine, glibc floor when allowed), also passed to the `warn` callback.
    pub warnings: Vec<String>,
}

/// Why a package was refused or could not be written. No zip is left behind in either case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The directory would not run on SCF (or is not a directory); the message says what to do.
    #[error("{0}")]
    Refused(String),
    /// Building the Rust project failed.
    #[error("{0}")]
    Build(String),
    /// The zip would exceed SCF's code limit.
    #[error(
        "the zip would be {size} bytes, over SCF's 50 MB ({MAX_CODE_ZIP_BYTES} bytes) code zip limit; \
         leave out what the function does not need at run time, or upload through COS / use a layer"
    )]
    TooLarge {
        /// The zip's size.
        size: u64,
    },
    /// Reading the directory or writing the zip failed.
    #[error("{path}: {source}")]
    Io {
        /// The file read or written.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The zip writer failed.
    #[error("writing the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The directories searched, in order, for a prebuilt bootstrap (`scf-c-bootstrap`,
/// `scf-shell-bootstrap`) and the scfruntime wheel `--lang python` vendors: `--bootstrap-bin`,
/// `$SCFRT_BOOTSTRAP_DIR`, then beside the running `scfrt` executable `../share/scfrt/bootstrap`
/// (where the scfrt wheel installs them), `../portable/bin` (where `scripts/portable-build.sh`
/// puts its glibc-2.17 builds, when `scfrt` runs from `<target>/{debug,release}`) and the
/// executable's own directory (cargo's `<target>/{debug,release}`).
pub fn bootstrap_search_dirs(flag: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = flag {
        dirs.push(d.to_owned());
    }
    if let Some(d) = std::env::var_os(BOOTSTRAP_DIR_ENV).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        // Test binaries run from <target>/<profile>/deps.
        let profile_dir = if exe_dir.ends_with("deps") {
            exe_dir.parent().map(Path::to_owned).unwrap_or(exe_dir)
        } else {
            exe_dir
        };
        if let Some(prefix) = profile_dir.parent() {
            // The scfrt wheel: `<venv>/bin/scfrt` and its data `<venv>/share/scfrt/bootstrap`.
            dirs.push(prefix.join("share").join("scfrt").join("bootstrap"));
            dirs.push(prefix.join("portable").join("bin"));
        }
        dirs.push(profile_dir);
    }
    dirs
}

/// Finds the prebuilt bootstrap `name` in [`bootstrap_search_dirs`].
///
/// # Errors
///
/// [`PackError::Refused`] listing the directories searched and how to build it.
pub fn find_prebuilt(name: &str, flag: Option<&Path>) -> Result<PathBuf, PackError> {
    let dirs = bootstrap_search_dirs(flag);
    for d in &dirs {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(PackError::Refused(format!(
        "no prebuilt {name} found (searched: {}); it comes with the scfrt wheel \
         (`pip install scfrt`), or build it for SCF with `scripts/portable-build.sh`, then pass \
         --bootstrap-bin <dir> or set {BOOTSTRAP_DIR_ENV}",
        searched.join(", ")
    )))
}

/// Checks a `bootstrap`'s mode and first bytes; returns warnings.
///
/// # Errors
///
/// [`PackError::Refused`] when it is not executable, is a script without `#!` or with a CRLF
/// interpreter line, or is neither a script nor an ELF file.
pub fn check_bootstrap(head: &[u8], mode: u32, shown: &str) -> Result<(), PackError> {
    if mode & 0o100 == 0 {
        return Err(PackError::Refused(format!(
            "{shown} is not executable (mode {:04o}); SCF runs it directly: `chmod 755 {shown}`",
            mode & 0o7777
        )));
    }
    if elf::is_elf(head) {
        return Ok(());
    }
    let Some(script) = head.strip_prefix(b"#!") else {
        return Err(PackError::Refused(format!(
            "{shown} is neither an ELF executable nor a script starting with an interpreter line \
             such as `#!/bin/bash`; SCF cannot start it"
        )));
    };
    let line_end = script.iter().position(|&b| b == b'\n');
    let Some(end) = line_end else {
        return Err(PackError::Refused(format!(
            "{shown}: the interpreter line (`#!...`) has no end of line"
        )));
    };
    let line = &script[..end];
    if line.ends_with(b"\r") {
        return Err(PackError::Refused(format!(
            "{shown} has Windows (CRLF) line endings in its interpreter line: the kernel would look \
             for an interpreter named `{}\\r`; convert it with `dos2unix {shown}` or `sed -i 's/\\r$//' {shown}`",
            String::from_utf8_lossy(&line[..line.len() - 1]).trim()
        )));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(PackError::Refused(format!(
            "{shown}: the interpreter line `#!` names no interpreter (e.g. `#!/bin/bash`)"
        )));
    }
    Ok(())
}

/// Why SCF could not run the ELF file `data` (the start of the file or all of it), shown as
/// `shown`: not x86-64, or a glibc newer than 2.17. Empty for anything else.
pub fn elf_problems(data: &[u8], shown: &str) -> Vec<String> {
    let Some(info) = elf::inspect(data) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !info.is_x86_64() {
        out.push(format!(
            "{shown} is an ELF for {}, not x86-64: SCF runs functions on x86-64 and cannot execute it",
            info.machine_name()
        ));
    }
    if let Some(v) = info.glibc_too_new() {
        out.push(format!(
            "{shown} needs {v}, newer than the glibc 2.17 of SCF's CentOS 7.6: it will fail to start there"
        ));
    }
    out
}

/// How to build ELF files that run on SCF, and how to pack them anyway.
const ELF_FIX: &str = "build them for glibc 2.17: C with `zig cc -target x86_64-linux-gnu.2.17` \
     (or on CentOS 7 / manylinux2014), Rust with `cargo zigbuild --target x86_64-unknown-linux-gnu.2.17`; \
     the ready-made bootstraps come built so with the scfrt wheel (or `scripts/portable-build.sh`). \
     To pack them as they are, pass --allow-newer-glibc";

enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
}

struct Item {
    rel: PathBuf,
    /// The file on disk (under the function directory, or staged for the package).
    path: PathBuf,
    kind: Kind,
    mode: u32,
}

/// The ready-made C bootstrap dlopens the library `_HANDLER` names: build it (the `--build`
/// command, else `make` when there is a Makefile) and check that it is there, so that a package
/// never fails only when invoked (docs/scfrt.md, "Packaging").
fn build_c_handler(root: &Path, opts: &PackOptions) -> Result<(), PackError> {
    let command = match &opts.build {
        Some(c) => Some(c.clone()),
        None if root.join("Makefile").is_file() => Some("make".to_owned()),
        None => None,
    };
    if let Some(command) = command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                PackError::Refused(format!("cannot run the build command `{command}`: {e}"))
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(PackError::Refused(format!(
                "the build command `{command}` failed ({}) in {}:\n{}",
                out.status,
                root.display(),
                tail.join("\n")
            )));
        }
    }
    let handler = opts
        .handler
        .as_deref()
        .unwrap_or(crate::init::TEMPLATE_HANDLER);
    let file = handler.split_once('.').map_or(handler, |(f, _)| f);
    let library = format!("{file}.so");
    if !root.join(&library).is_file() {
        return Err(PackError::Refused(format!(
            "the handler library {library} (from _HANDLER `{handler}`) is not in {}: the C \
             bootstrap dlopens it at start. Build it first (the starter's `make`), or pass \
             --build 'COMMAND'",
            root.display()
        )));
    }
    Ok(())
}

/// Builds the zip described by `opts`; `warn` receives each warning as it is found.
///
/// # Errors
///
/// See [`PackError`]. On error no zip (and no temporary file) is left behind.
pub fn pack(opts: &PackOptions, warn: &mut dyn FnMut(&str)) -> Result<PackReport, PackError> {
    let meta = std::fs::metadata(&opts.dir).map_err(|e| {
        PackError::Refused(format!(
            "function directory {} not found ({e})",
            opts.dir.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(PackError::Refused(format!(
            "{} is not a directory; `scfrt package` packs a function directory",
            opts.dir.display()
        )));
    }
    let root = std::fs::canonicalize(&opts.dir).map_err(io_err(&opts.dir))?;
    let out_parent = match opts.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let out_parent_real = std::fs::canonicalize(&out_parent).map_err(|e| {
        PackError::Refused(format!(
            "cannot write {}: directory {} ({e})",
            opts.output.display(),
            out_parent.display()
        ))
    })?;
    let out_name = opts
        .output
        .file_name()
        .ok_or_else(|| PackError::Refused(format!("{} is not a file name", opts.output.display())))?
        .to_owned();
    let out_real = out_parent_real.join(&out_name);

    let mut warnings = Vec::new();

    // Which bootstrap, and which of the directory's files go along with it: `bootstrap`, or a
    // web function's `scf_bootstrap` when there is no `bootstrap`.
    let entry = if std::fs::symlink_metadata(root.join("bootstrap")).is_err()
        && std::fs::symlink_metadata(root.join(WEB_BOOTSTRAP)).is_ok()
    {
        WEB_BOOTSTRAP
    } else {
        "bootstrap"
    };
    let own = root.join(entry);
    let own_meta = std::fs::symlink_metadata(&own).ok();
    // `--lang python` stages what it vendors and the bootstrap it writes here, removed on return.
    let mut staging: Option<tempfile::TempDir> = None;
    let (bootstrap_path, items) = match (&own_meta, opts.lang) {
        (Some(m), _) => {
            if m.file_type().is_symlink() {
                return Err(PackError::Refused(format!(
                    "{}/{entry} is a symlink; SCF needs the file itself at the zip root: copy it there",
                    opts.dir.display()
                )));
            }
            if !m.is_file() {
                return Err(PackError::Refused(format!(
                    "{}/{entry} is not a regular file",
                    opts.dir.display()
                )));
            }
            (own.clone(), walk(&root, &out_real, entry)?)
        }
        (None, Some(Lang::Rust)) => (build_rust(&root, opts.portable)?, Vec::new()),
        (None, Some(Lang::Python)) => {
            let dir = staging.insert(
                tempfile::Builder::new()
                    .prefix("scfrt-python-")
                    .tempdir()
                    .map_err(io_err(Path::new("a temporary directory")))?,
            );
            let (boot, site) = vendor_python(&root, opts, dir.path())?;
            let mut items = walk(&root, &out_real, entry)?;
            merge_vendored(&mut items, walk(&site, &out_real, entry)?)?;
            (boot, items)
        }
        (None, Some(lang)) => {
            if lang == Lang::C {
                build_c_handler(&root, opts)?;
            }
            let name = lang.bootstrap_binary().unwrap_or("bootstrap");
            (
                find_prebuilt(name, opts.bootstrap_bin.as_deref())?,
                walk(&root, &out_real, entry)?,
            )
        }
        (None, None) => {
            return Err(PackError::Refused(format!(
                "no `bootstrap` in {}: SCF starts the executable file `bootstrap` at the package root \
                 (a web function: `scf_bootstrap`). Add one (and `chmod 755 bootstrap`), or pass \
                 --lang c|python|bash|rust to use a ready-made one",
                opts.dir.display()
            )));
        }
    };
    let boot_meta = std::fs::metadata(&bootstrap_path).map_err(io_err(&bootstrap_path))?;
    let boot_data = std::fs::read(&bootstrap_path).map_err(io_err(&bootstrap_path))?;
    // How the bootstrap is named in messages, and in the report's `bootstrap_from`.
    let (shown_boot, bootstrap_from) = if bootstrap_path == own {
        (entry.to_owned(), own.display().to_string())
    } else if staging.is_some() {
        let written = format!(
            "bootstrap (a script written for CPython {}: python3 -m scfruntime)",
            opts.python.version
        );
        (written.clone(), written)
    } else {
        (
            format!("bootstrap (from {})", bootstrap_path.display()),
            bootstrap_path.display().to_string(),
        )
    };
    check_bootstrap(&boot_data, boot_meta.permissions().mode(), &shown_boot)?;
    // ELF files SCF cannot run: all of them are named before the package is refused.
    let mut elf_refusals = Vec::new();
    let mut elf_problem = |w: String, warnings: &mut Vec<String>| {
        if opts.allow_newer_glibc {
            warn(&w);
            warnings.push(w);
        } else {
            elf_refusals.push(w);
        }
    };
    for w in elf_problems(&boot_data, &shown_boot) {
        elf_problem(w, &mut warnings);
    }

    let mut tmp = tempfile::Builder::new()
        .prefix(".scfrt-package-")
        .suffix(".tmp")
        .tempfile_in(&out_parent)
        .map_err(io_err(&out_parent))?;
    let mut entries = 0usize;
    {
        let mut zw = zip::ZipWriter::new(tmp.as_file_mut());
        let deflate =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zw.start_file(entry, deflate.unix_permissions(0o755))?;
        zw.write_all(&boot_data).map_err(io_err(Path::new(entry)))?;
        entries += 1;
        for item in &items {
            let name = item.rel.to_string_lossy().replace('\\', "/");
            let path = &item.path;
            match &item.kind {
                Kind::Dir => {
                    zw.add_directory(format!("{name}/"), deflate.unix_permissions(item.mode))?;
                }
                Kind::Symlink(target) => {
                    zw.add_symlink(
                        name.as_str(),
                        target.to_string_lossy(),
                        SimpleFileOptions::default(),
                    )?;
                }
                Kind::File => {
                    zw.start_file(name.as_str(), deflate.unix_permissions(item.mode))?;
                    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
                    let mut head = [0u8; 4];
                    let n = read_up_to(&mut f, &mut head).map_err(io_err(path))?;
                    zw.write_all(&head[..n]).map_err(io_err(path))?;
                    if elf::is_elf(&head[..n]) {
                        let mut rest = Vec::new();
                        f.read_to_end(&mut rest).map_err(io_err(path))?;
                        zw.write_all(&rest).map_err(io_err(path))?;
                        let mut all = head[..n].to_vec();
                        all.extend_from_slice(&rest);
                        for w in elf_problems(&all, &name) {
                            elf_problem(w, &mut warnings);
                        }
                    } else {
                        io::copy(&mut f, &mut zw).map_err(io_err(path))?;
                    }
                }
            }
            entries += 1;
        }
        zw.finish()?;
    }
    if !elf_refusals.is_empty() {
        return Err(PackError::Refused(format!(
            "{}\n{ELF_FIX}",
            elf_refusals.join("\n")
        )));
    }
    let file = tmp.as_file();
    file.sync_all().map_err(io_err(tmp.path()))?;
    let zip_bytes = file.metadata().map_err(io_err(tmp.path()))?.len();
    if zip_bytes > MAX_CODE_ZIP_BYTES {
        return Err(PackError::TooLarge { size: zip_bytes });
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(io_err(tmp.path()))?;
    tmp.persist(&opts.output).map_err(|e| PackError::Io {
        path: opts.output.clone(),
        source: e.error,
    })?;
    Ok(PackReport {
        output: opts.output.clone(),
        bootstrap_from,
        entries,
        zip_bytes,
        warnings,
    })
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `--lang python`: vendors `scfruntime` and the function's `requirements.txt` into
/// `staging/site` and writes the bootstrap script to `staging/bootstrap`; returns both paths.
fn vendor_python(
    root: &Path,
    opts: &PackOptions,
    staging: &Path,
) -> Result<(PathBuf, PathBuf), PackError> {
    let (major, minor) = python::parse_version(&opts.python.version).map_err(PackError::Refused)?;
    let site = staging.join("site");
    let requirements = root.join("requirements.txt");
    let requirements = requirements.is_file().then_some(requirements);
    python::vendor(
        requirements.as_deref(),
        &opts.python,
        &bootstrap_search_dirs(opts.bootstrap_bin.as_deref()),
        &site,
    )?;
    let boot = staging.join("bootstrap");
    std::fs::write(&boot, python::bootstrap_script(major, minor)).map_err(io_err(&boot))?;
    std::fs::set_permissions(&boot, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err(&boot))?;
    Ok((boot, site))
}

/// Adds the vendored `extra` to the function's `items`: a directory both have is kept once; any
/// other name both have is refused (the function's file would shadow the package, or the
/// reverse).
fn merge_vendored(items: &mut Vec<Item>, extra: Vec<Item>) -> Result<(), PackError> {
    let own: std::collections::HashMap<PathBuf, bool> = items
        .iter()
        .map(|i| (i.rel.clone(), matches!(i.kind, Kind::Dir)))
        .collect();
    for item in extra {
        match own.get(&item.rel) {
            Some(true) if matches!(item.kind, Kind::Dir) => {}
            Some(_) => {
                return Err(PackError::Refused(format!(
                    "{} is both in the function directory and among the Python packages installed \
                     for it (requirements.txt, scfruntime); rename or remove the function's own",
                    item.rel.display()
                )));
            }
            None => items.push(item),
        }
    }
    Ok(())
}

/// Everything under `root` but the root `entry` (`bootstrap` or `scf_bootstrap`) and the output
/// zip (and its temporary file), sorted, directories before their contents.
fn walk(root: &Path, output: &Path, entry: &str) -> Result<Vec<Item>, PackError> {
    let mut items = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let dir = root.join(&rel_dir);
        let mut names = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            names.push(e.map_err(io_err(&dir))?.file_name());
        }
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let rel = rel_dir.join(&name);
            let path = root.join(&rel);
            if rel == Path::new(entry) || path == output {
                continue;
            }
            if path.parent() == output.parent() {
                let n = name.to_string_lossy();
                if n.starts_with(".scfrt-package-") && n.ends_with(".tmp") {
                    continue;
                }
            }
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let mode = meta.permissions().mode() & 0o777;
            let ft = meta.file_type();
            let shown = rel.display();
            if ft.is_symlink() {
                let target = std::fs::read_link(&path).map_err(io_err(&path))?;
                if target.is_absolute() {
                    return Err(PackError::Refused(format!(
                        "symlink {shown} -> {} points to an absolute path, which does not exist \
                         inside SCF's unpacked code; copy the file instead",
                        target.display()
                    )));
                }
                let lexical = rel.parent().unwrap_or(Path::new("")).join(&target);
                let inside = crate::extract::stays_inside(&lexical)
                    && std::fs::canonicalize(&path).is_ok_and(|real| real.starts_with(root));
                if !inside {
                    return Err(PackError::Refused(format!(
                        "symlink {shown} -> {} points outside the function directory (or nowhere)",
                        target.display()
                    )));
                }
                items.push(Item {
                    rel,
                    path,
                    kind: Kind::Symlink(target),
                    mode,
                });
            } else if ft.is_dir() {
                items.push(Item {
                    rel: rel.clone(),
                    path,
                    kind: Kind::Dir,
                    mode,
                });
                subdirs.push(rel);
            } else if ft.is_file() {
                items.push(Item {
                    rel,
                    path,
                    kind: Kind::File,
                    mode,
                });
            } else {
                return Err(PackError::Refused(format!(
                    "{shown} is not a regular file, directory or symlink (a socket, FIFO or device); \
                     a zip cannot hold it"
                )));
            }
        }
        // Reverse, so the stack yields them in sorted order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(items)
}

/// Builds the Cargo project in `dir` (release) and returns its `bootstrap` executable.
fn build_rust(dir: &Path, portable: bool) -> Result<PathBuf, PackError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(PackError::Refused(format!(
            "--lang rust: no `bootstrap` and no Cargo.toml in {}; run `scfrt init --lang rust` or \
             put a built `bootstrap` there",
            dir.display()
        )));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    if portable {
        cmd.args(["zigbuild", "--target", PORTABLE_TARGET]);
    } else {
        cmd.arg("build");
    }
    cmd.args([
        "--release",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
    ])
    .arg(&manifest)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| PackError::Build(format!("cannot run {shown}: {e}")))?;
    if !out.status.success() {
        return Err(PackError::Build(format!(
            "building the Rust function failed ({}): {shown}",
            out.status
        )));
    }
    let mut found = None;
    for line in out.stdout.split(|&b| b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "bootstrap"
            && let Some(exe) = msg["executable"].as_str()
        {
            found = Some(PathBuf::from(exe));
        }
    }
    found.ok_or_else(|| {
        PackError::Build(format!(
            "{} builds no binary named `bootstrap`; add `[[bin]] name = \"bootstrap\"` to Cargo.toml",
            manifest.display()
        ))
    })
}

/// Checks a code zip before it is unpacked: not empty, not over [`MAX_CODE_ZIP_BYTES`].
///
/// # Errors
///
/// A message naming the file and the problem.
pub fn check_code_zip(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = meta.len();
    if len == 0 {
        return Err(format!(
            "{} is empty (0 bytes), not a zip archive",
            path.display()
        ));
    }
    if len > MAX_CODE_ZIP_BYTES {
        return Err(format!(
            "{} is {len} bytes, over SCF's 50 MB ({MAX_CODE_ZIP_BYTES} bytes) code zip limit",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_checks() {
        assert!(check_bootstrap(b"#!/bin/bash\nexit 0\n", 0o755, "b").is_ok());
        assert!(check_bootstrap(b"\x7fELF....", 0o755, "b").is_ok());
        let e = check_bootstrap(b"#!/bin/bash\nexit 0\n", 0o644, "b").unwrap_err();
        assert!(e.to_string().contains("not executable"), "{e}");
        let e = check_bootstrap(b"#!/bin/bash\r\nexit 0\r\n", 0o755, "b").unwrap_err();
        assert!(e.to_string().contains("CRLF"), "{e}");
        let e = check_bootstrap(b"echo hi\n", 0o755, "b").unwrap_err();
        assert!(e.to_string().contains("interpreter line"), "{e}");
        let e = check_bootstrap(b"#!  \nx", 0o755, "b").unwrap_err();
        assert!(e.to_string().contains("no interpreter"), "{e}");
        let e = check_bootstrap(b"", 0o755, "b").unwrap_err();
        assert!(e.to_string().contains("neither"), "{e}");
    }
}
