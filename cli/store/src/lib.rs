//! `scf-store`: `scfrt serve`'s functions on disk, under a state directory, so they survive a
//! restart.
//!
//! ```text
//! <state>/functions/<namespace>/<name>/meta.json      the configuration
//! <state>/functions/<namespace>/<name>/code-<uuid>/   the unpacked code (named in meta.json)
//! <state>/functions/<namespace>/<name>/published.json versions and aliases (absent: none yet)
//! <state>/functions/<namespace>/<name>/triggers.json  triggers (absent: none)
//! <state>/namespaces/<namespace>.json                 a namespace (`default` is always there)
//! <state>/tmp/                                         staging; emptied at start
//! <state>/invocations.log                              one JSON line per finished invocation
//! <state>/invocations.log.1                            the previous one, after a rotation
//! ```
//!
//! Nothing is half-written: a new function is staged in `tmp/` and renamed into place; new code
//! is unpacked beside the old and `meta.json` is replaced by renaming a complete temporary file
//! (`.meta.json.<uuid>`; those a crash left behind are removed at start).
//!
//! The invocation log is appended to under a lock, one whole line per write. When a line would
//! take `invocations.log` over [`MAX_LOG_BYTES`], the file is first renamed to
//! `invocations.log.1` (replacing the previous one), so the two files hold at most twice that
//! plus one line. Readers ([`Store::read_log`]) take only newline-terminated lines, and at start a
//! line a crash left unterminated is closed with a newline, so that it cannot swallow the next
//! record (the reader skips it as it skips any line that is not JSON). docs/scfrt.md describes
//! the rule.
//!
//! A published version keeps the code directory `$LATEST` had when it was published (named in
//! `published.json`): code updates unpack into a new directory, so a version's code never
//! changes, and a directory is removed only when neither `$LATEST` nor a version names it.
//! `published.json` is replaced by renaming a complete file staged in `tmp/`.
//!
//! Errors name paths relative to the state directory, never absolute ones: they are sent to API
//! clients.
#![warn(missing_docs)]

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use scf_cloud::api::ApiError;
use scf_emulator::FunctionConfig;

/// Largest accepted code zip (decoded), as SCF's direct upload limit.
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
pub use scf_package::extract::{MAX_UNZIPPED_BYTES, MAX_ZIP_ENTRIES};

/// Size from which `invocations.log` is rotated to `invocations.log.1` (see the module's notes).
pub const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// The namespace every account has; it cannot be created or deleted.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A namespace's stored record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceMeta {
    /// `Name`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// Creation time, Unix seconds.
    pub add_time: i64,
    /// Last modification time, Unix seconds.
    pub mod_time: i64,
}

/// A function's stored configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionMeta {
    /// `FunctionName`.
    pub name: String,
    /// `Namespace`.
    pub namespace: String,
    /// `FunctionId`, `lam-` + 8 characters, fixed at creation.
    pub function_id: String,
    /// `Handler`.
    pub handler: String,
    /// `Runtime` (`CustomRuntime`).
    pub runtime: String,
    /// `Description`.
    pub description: String,
    /// `Timeout` in seconds.
    pub timeout_s: u32,
    /// `InitTimeout` in seconds.
    pub init_timeout_s: u32,
    /// `MemorySize` in MB.
    pub memory_mb: u32,
    /// `Environment.Variables`, in order.
    pub env: Vec<(String, String)>,
    /// The code directory's name inside the function directory.
    pub code_dir: String,
    /// Size of the uploaded zip in bytes (`CodeSize`).
    pub code_size: u64,
    /// Creation time, Unix seconds.
    pub add_time: i64,
    /// Last modification time, Unix seconds.
    pub mod_time: i64,
}

impl FunctionMeta {
    /// The emulator configuration for this function (`$LATEST`) in `store`.
    pub fn function_config(&self, store: &Store) -> FunctionConfig {
        self.version_config(store, "$LATEST")
    }

    /// The emulator configuration for this configuration running as `version` (its
    /// `SCF_FUNCTIONVERSION`): `$LATEST` or a published version's number.
    pub fn version_config(&self, store: &Store, version: &str) -> FunctionConfig {
        FunctionConfig {
            code_dir: self.code_path(store),
            handler: self.handler.clone(),
            function_name: self.name.clone(),
            namespace: self.namespace.clone(),
            version: version.to_owned(),
            timeout: std::time::Duration::from_secs(u64::from(self.timeout_s)),
            init_timeout: std::time::Duration::from_secs(u64::from(self.init_timeout_s)),
            memory_mb: self.memory_mb,
            env: self.env.clone(),
            log_type_tail: true,
            ..FunctionConfig::default()
        }
    }

    /// The unpacked code of this function in `store`.
    pub fn code_path(&self, store: &Store) -> PathBuf {
        store
            .function_dir(&self.namespace, &self.name)
            .join(&self.code_dir)
    }
}

/// A published version (`PublishVersion`): `$LATEST`'s configuration and code as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The version's number (`FunctionVersion`), from 1, never reused.
    pub version: u32,
    /// The version's `Description` (PublishVersion's parameter).
    pub description: String,
    /// The configuration, frozen; its `code_dir` names the code it runs.
    pub config: FunctionMeta,
    /// Publication time, Unix seconds.
    pub add_time: i64,
    /// Last modification time, Unix seconds (the same: a version does not change).
    pub mod_time: i64,
}

/// An alias (`CreateAlias`): a name for a version, optionally sharing its traffic with one more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMeta {
    /// `Name`.
    pub name: String,
    /// The main version (`FunctionVersion`): `$LATEST` or a number.
    pub function_version: String,
    /// `RoutingConfig.AdditionalVersionWeights`: (version, weight in [0, 1]); at most one.
    pub additional: Vec<(String, f64)>,
    /// `Description`.
    pub description: String,
    /// Creation time, Unix seconds.
    pub add_time: i64,
    /// Last modification time, Unix seconds.
    pub mod_time: i64,
}

/// A trigger of a function, as `CreateTrigger` made it (stored in `triggers.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerMeta {
    /// `TriggerName`.
    pub name: String,
    /// `Type`: `timer`, `cos`, `cmq`, `ckafka`, `apigw`, `cls`, ...
    pub kind: String,
    /// `TriggerDesc` as given (a timer's cron expression).
    pub desc: String,
    /// The version or alias it invokes.
    pub qualifier: String,
    /// `Enable`: OPEN (true) or CLOSE.
    pub enable: bool,
    /// `CustomArgument` (a timer's message).
    pub custom_argument: String,
    /// `Description`.
    pub description: String,
    /// Created, Unix seconds.
    pub add_time: i64,
    /// Last changed, Unix seconds.
    pub mod_time: i64,
}

/// The name of a function's triggers file.
const TRIGGERS_FILE: &str = "triggers.json";

/// A function's versions and aliases, as stored in `published.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Published {
    /// The highest version number ever published (numbers are not reused after a deletion).
    pub last_version: u32,
    /// The published versions, by number.
    pub versions: Vec<VersionMeta>,
    /// The aliases but `$DEFAULT` while it is as created (on `$LATEST`), by creation.
    pub aliases: Vec<AliasMeta>,
}

impl Published {
    /// Whether `$LATEST` (whose code is `latest_code`) or a version runs the code directory
    /// `code_dir`.
    pub fn uses_code(&self, latest_code: &str, code_dir: &str) -> bool {
        latest_code == code_dir || self.versions.iter().any(|v| v.config.code_dir == code_dir)
    }
}

/// The name of a function's versions-and-aliases file.
const PUBLISHED_FILE: &str = "published.json";

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Serialises appends to (and rotations and reads of) the invocation log; holds the log
    /// open for appending, with its size, once the first line is written.
    log_lock: Arc<Mutex<Option<(std::fs::File, u64)>>>,
    /// [`MAX_LOG_BYTES`], smaller in tests.
    max_log_bytes: u64,
}

/// `path` relative to the state directory `root`, for messages sent to API clients.
fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => "the state directory".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    }
}

/// The prefix of a temporary `meta.json`; a 32-hex-digit uuid follows it.
const META_TMP_PREFIX: &str = ".meta.json.";

/// Whether `name` is a temporary `meta.json` ([`Store::write_meta`]'s `.meta.json.<uuid>`).
fn is_meta_tmp(name: &str) -> bool {
    name.strip_prefix(META_TMP_PREFIX).is_some_and(|id| {
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Why a code zip was refused, without the server's paths.
fn zip_refusal(e: &scf_package::extract::PackageError) -> String {
    use scf_package::extract::PackageError;
    match e {
        PackageError::Zip { source, .. } => format!("not a readable zip archive: {source}"),
        PackageError::TooLarge { reason, .. } => reason.clone(),
        PackageError::UnsafeEntry { .. } => e.to_string(),
        PackageError::Io { path, source } => {
            let file = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            format!("cannot extract {file}: {source}")
        }
        // Reasons added later carry no server path of their own.
        _ => e.to_string(),
    }
}

impl Store {
    /// Opens (creating) the state directory and empties its staging area.
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub fn open(root: &Path) -> std::io::Result<Store> {
        std::fs::create_dir_all(root.join("functions"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let store = Store {
            root: root.to_owned(),
            log_lock: Arc::new(Mutex::new(None)),
            max_log_bytes: MAX_LOG_BYTES,
        };
        store.close_unterminated_log_line();
        let removed = store.remove_meta_leftovers();
        if removed > 0 {
            eprintln!(
                "scfrt serve: removed {removed} temporary {META_TMP_PREFIX}<uuid> file(s) left by an interrupted write"
            );
        }
        Ok(store)
    }

    /// Removes the `.meta.json.<uuid>` files (and only those) an interrupted [`Store::write_meta`]
    /// left in the function directories; returns how many.
    fn remove_meta_leftovers(&self) -> usize {
        let mut removed = 0;
        let Ok(namespaces) = std::fs::read_dir(self.root.join("functions")) else {
            return 0;
        };
        for ns in namespaces.flatten() {
            let Ok(functions) = std::fs::read_dir(ns.path()) else {
                continue;
            };
            for f in functions.flatten() {
                let Ok(entries) = std::fs::read_dir(f.path()) else {
                    continue;
                };
                for e in entries.flatten() {
                    let is_file = e.file_type().is_ok_and(|t| t.is_file());
                    if is_file
                        && is_meta_tmp(&e.file_name().to_string_lossy())
                        && std::fs::remove_file(e.path()).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
        }
        removed
    }

    fn io_error(&self, what: &str, path: &Path, e: &std::io::Error) -> ApiError {
        ApiError::new(
            "InternalError",
            format!("{what} {}: {e}", relative(&self.root, path)),
        )
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<state>/functions/<namespace>/<name>`.
    pub fn function_dir(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("functions").join(namespace).join(name)
    }

    /// The invocation log, one JSON line per finished invocation.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("invocations.log")
    }

    /// The invocation log before its last rotation.
    pub fn rotated_log_path(&self) -> PathBuf {
        self.root.join("invocations.log.1")
    }

    /// Ends the invocation log with a newline when a crash left its last line unfinished.
    fn close_unterminated_log_line(&self) {
        let path = self.log_path();
        let unterminated = std::fs::File::open(&path).and_then(|mut f| {
            if f.seek(SeekFrom::End(0))? == 0 {
                return Ok(false);
            }
            f.seek(SeekFrom::End(-1))?;
            let mut last = [0u8; 1];
            f.read_exact(&mut last)?;
            Ok(last[0] != b'\n')
        });
        if unterminated.unwrap_or(false) {
            eprintln!(
                "scfrt serve: {} ended in an unfinished record (an interrupted write): it is skipped",
                path.display()
            );
            self.append_raw(&path, b"\n");
        }
    }

    fn staging(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Every stored function; unreadable entries are reported on stderr and skipped, and code
    /// directories no `meta.json` names (left by an interrupted update) are removed.
    pub fn load_all(&self) -> Vec<FunctionMeta> {
        let mut out = Vec::new();
        let Ok(namespaces) = std::fs::read_dir(self.root.join("functions")) else {
            return out;
        };
        for ns in namespaces.flatten() {
            let Ok(functions) = std::fs::read_dir(ns.path()) else {
                continue;
            };
            for f in functions.flatten() {
                let dir = f.path();
                let meta = std::fs::read(dir.join("meta.json"))
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<FunctionMeta>(&b).map_err(|e| e.to_string())
                    });
                match meta {
                    Ok(meta) => {
                        // An unreadable published.json keeps every code directory.
                        let published = self.read_published(&meta.namespace, &meta.name);
                        if let (Ok(published), Ok(entries)) = (published, std::fs::read_dir(&dir)) {
                            for e in entries.flatten() {
                                let name = e.file_name().to_string_lossy().into_owned();
                                if name.starts_with("code-")
                                    && !published.uses_code(&meta.code_dir, &name)
                                {
                                    let _ = std::fs::remove_dir_all(e.path());
                                }
                            }
                        }
                        out.push(meta);
                    }
                    Err(e) => eprintln!("scfrt serve: skipping {}: {e}", dir.display()),
                }
            }
        }
        out.sort_by(|a, b| (a.add_time, &a.name).cmp(&(b.add_time, &b.name)));
        out
    }

    /// Checks and unpacks `zip` into a new `code-<uuid>` directory inside `parent`; returns its
    /// name. Nothing is left behind on failure.
    fn unpack(&self, parent: &Path, zip: &[u8]) -> Result<String, ApiError> {
        check_zip(zip)?;
        let staging = self.staging();
        std::fs::create_dir_all(&staging)
            .map_err(|e| self.io_error("cannot create", &staging, &e))?;
        let result = (|| {
            let zip_path = staging.join("code.zip");
            self.write_file(&zip_path, zip)?;
            let code = staging.join("code");
            std::fs::create_dir(&code).map_err(|e| self.io_error("cannot create", &code, &e))?;
            scf_package::extract::extract_zip(&zip_path, &code).map_err(|e| {
                ApiError::invalid(
                    "ZipFile",
                    format!("The code zip is refused: {}", zip_refusal(&e)),
                )
            })?;
            let name = format!("code-{}", uuid::Uuid::new_v4().simple());
            let dest = parent.join(&name);
            std::fs::rename(&code, &dest)
                .map_err(|e| self.io_error("cannot move code to", &dest, &e))?;
            Ok(name)
        })();
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    /// Stores a new function: `meta` (whose `code_dir` is filled in) and its code `zip`.
    ///
    /// # Errors
    /// `ResourceInUse.Function` when it exists; `InvalidParameterValue.ZipFile` for a bad zip.
    pub fn create(&self, meta: &mut FunctionMeta, zip: &[u8]) -> Result<(), ApiError> {
        let dest = self.function_dir(&meta.namespace, &meta.name);
        if dest.exists() {
            return Err(in_use(&meta.name));
        }
        let staging = self.staging();
        std::fs::create_dir_all(&staging)
            .map_err(|e| self.io_error("cannot create", &staging, &e))?;
        let result = (|| {
            meta.code_dir = self.unpack(&staging, zip)?;
            self.write_meta(&staging, meta)?;
            let parent = dest.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(parent)
                .map_err(|e| self.io_error("cannot create", parent, &e))?;
            // rename(2) onto an existing non-empty directory fails: creation is atomic and
            // exclusive even against a concurrent CreateFunction.
            std::fs::rename(&staging, &dest).map_err(|e| {
                if dest.exists() {
                    in_use(&meta.name)
                } else {
                    self.io_error("cannot create", &dest, &e)
                }
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        result
    }

    /// Replaces a function's code; returns the old code directory (still in use by running
    /// instances: delete it when they are done).
    ///
    /// # Errors
    /// `InvalidParameterValue.ZipFile` for a bad zip; `InternalError` for I/O failures.
    pub fn update_code(&self, meta: &mut FunctionMeta, zip: &[u8]) -> Result<PathBuf, ApiError> {
        let dir = self.function_dir(&meta.namespace, &meta.name);
        let old = dir.join(&meta.code_dir);
        let new_name = self.unpack(&dir, zip)?;
        let previous = std::mem::replace(&mut meta.code_dir, new_name);
        if let Err(e) = self.write_meta(&dir, meta) {
            let _ = std::fs::remove_dir_all(dir.join(&meta.code_dir));
            meta.code_dir = previous;
            return Err(e);
        }
        Ok(old)
    }

    /// Rewrites a function's `meta.json` (atomically).
    ///
    /// # Errors
    /// `InternalError` for I/O failures.
    pub fn save(&self, meta: &FunctionMeta) -> Result<(), ApiError> {
        self.write_meta(&self.function_dir(&meta.namespace, &meta.name), meta)
    }

    /// Removes a function from the namespace at once (a rename); returns the moved directory,
    /// to delete when its instances are gone.
    ///
    /// # Errors
    /// `InternalError` for I/O failures.
    pub fn delete(&self, meta: &FunctionMeta) -> Result<PathBuf, ApiError> {
        let dir = self.function_dir(&meta.namespace, &meta.name);
        let trash = self.staging();
        std::fs::rename(&dir, &trash).map_err(|e| self.io_error("cannot delete", &dir, &e))?;
        Ok(trash)
    }

    /// Writes `bytes` to `path` and fsyncs it.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), ApiError> {
        std::fs::File::create(path)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            })
            .map_err(|e| self.io_error("cannot write", path, &e))
    }

    /// `dir/meta.json`, via a temporary `.meta.json.<uuid>` and rename(2).
    fn write_meta(&self, dir: &Path, meta: &FunctionMeta) -> Result<(), ApiError> {
        let text = serde_json::to_vec_pretty(meta)
            .map_err(|e| ApiError::new("InternalError", e.to_string()))?;
        let tmp = dir.join(format!(
            "{META_TMP_PREFIX}{}",
            uuid::Uuid::new_v4().simple()
        ));
        self.write_file(&tmp, &text)?;
        let dest = dir.join("meta.json");
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error("cannot write", &dest, &e)
        })
    }

    /// A function's versions and aliases; none when it has no `published.json` (an unreadable
    /// one is reported on stderr and read as none).
    pub fn load_published(&self, namespace: &str, name: &str) -> Published {
        self.read_published(namespace, name).unwrap_or_else(|e| {
            eprintln!("scfrt serve: ignoring {e}");
            Published::default()
        })
    }

    /// A function's versions and aliases (none without `published.json`), or why its
    /// `published.json` cannot be read.
    fn read_published(&self, namespace: &str, name: &str) -> Result<Published, String> {
        let path = self.function_dir(namespace, name).join(PUBLISHED_FILE);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Published::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
            }
        }
    }

    /// Replaces a function's `published.json` (a complete file staged in `tmp/`, renamed into
    /// place).
    ///
    /// # Errors
    /// `InternalError` for I/O failures; nothing is changed then.
    pub fn save_published(
        &self,
        namespace: &str,
        name: &str,
        published: &Published,
    ) -> Result<(), ApiError> {
        let text = serde_json::to_vec_pretty(published)
            .map_err(|e| ApiError::new("InternalError", e.to_string()))?;
        let tmp = self.staging();
        self.write_file(&tmp, &text)?;
        let dest = self.function_dir(namespace, name).join(PUBLISHED_FILE);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error("cannot write", &dest, &e)
        })
    }

    /// A function's triggers (none without `triggers.json`); an unreadable file is reported
    /// and read as none.
    pub fn load_triggers(&self, namespace: &str, name: &str) -> Vec<TriggerMeta> {
        let path = self.function_dir(namespace, name).join(TRIGGERS_FILE);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                eprintln!("scfrt serve: ignoring {}: {e}", path.display());
                Vec::new()
            }
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                eprintln!("scfrt serve: ignoring {}: {e}", path.display());
                Vec::new()
            }),
        }
    }

    /// Replaces a function's `triggers.json` (a complete file staged in `tmp/`, renamed into
    /// place).
    ///
    /// # Errors
    /// `InternalError` for I/O failures; nothing is changed then.
    pub fn save_triggers(
        &self,
        namespace: &str,
        name: &str,
        triggers: &[TriggerMeta],
    ) -> Result<(), ApiError> {
        let text = serde_json::to_vec_pretty(triggers)
            .map_err(|e| ApiError::new("InternalError", e.to_string()))?;
        let tmp = self.staging();
        self.write_file(&tmp, &text)?;
        let dest = self.function_dir(namespace, name).join(TRIGGERS_FILE);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error("cannot write", &dest, &e)
        })
    }

    fn namespace_path(&self, name: &str) -> PathBuf {
        self.root.join("namespaces").join(format!("{name}.json"))
    }

    /// Every namespace, by name. `default` is there whatever the disk says; a namespace that
    /// holds functions but has no record (state written before namespaces were stored) gets one.
    ///
    /// # Errors
    /// When a record that is missing cannot be written.
    pub fn load_namespaces(
        &self,
        functions: &[FunctionMeta],
        now: i64,
    ) -> Result<Vec<NamespaceMeta>, ApiError> {
        let mut out: Vec<NamespaceMeta> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.root.join("namespaces")) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_none_or(|x| x != "json") {
                    continue;
                }
                match std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<NamespaceMeta>(&b).map_err(|e| e.to_string())
                    }) {
                    Ok(ns) => out.push(ns),
                    Err(e) => eprintln!("scfrt serve: skipping {}: {e}", path.display()),
                }
            }
        }
        let mut wanted: Vec<&str> = vec![DEFAULT_NAMESPACE];
        wanted.extend(functions.iter().map(|f| f.namespace.as_str()));
        for name in wanted {
            if !out.iter().any(|ns| ns.name == name) {
                let ns = NamespaceMeta {
                    name: name.to_owned(),
                    description: String::new(),
                    add_time: now,
                    mod_time: now,
                };
                self.save_namespace(&ns)?;
                out.push(ns);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Writes a namespace's record (a complete temporary file renamed into place).
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn save_namespace(&self, ns: &NamespaceMeta) -> Result<(), ApiError> {
        let dir = self.root.join("namespaces");
        std::fs::create_dir_all(&dir).map_err(|e| self.io_error("cannot create", &dir, &e))?;
        let text = serde_json::to_vec_pretty(ns)
            .map_err(|e| ApiError::new("InternalError", e.to_string()))?;
        let tmp = self.staging();
        self.write_file(&tmp, &text)?;
        let dest = self.namespace_path(&ns.name);
        std::fs::rename(&tmp, &dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.io_error("cannot write", &dest, &e)
        })
    }

    /// Removes a namespace's record and its (empty) function directory.
    ///
    /// # Errors
    /// When the record cannot be removed.
    pub fn delete_namespace(&self, name: &str) -> Result<(), ApiError> {
        let path = self.namespace_path(name);
        std::fs::remove_file(&path).map_err(|e| self.io_error("cannot remove", &path, &e))?;
        let _ = std::fs::remove_dir(self.root.join("functions").join(name));
        Ok(())
    }

    /// Appends one line (no newline in it) to the invocation log, rotating the log first when
    /// the line would take it over [`MAX_LOG_BYTES`]. The log stays open between lines (an
    /// open, a stat and a close per invocation were a measurable part of a warm Invoke).
    pub fn append_log(&self, line: &str) {
        let mut open = self.log_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let path = self.log_path();
        let record = format!("{line}\n");
        let len = u64::try_from(record.len()).unwrap_or(u64::MAX);
        if open.is_none() {
            *open = self.open_log(&path);
        }
        if let Some((_, size)) = &*open
            && *size > 0
            && size.saturating_add(len) > self.max_log_bytes
        {
            let rotated = self.rotated_log_path();
            if let Err(e) = std::fs::rename(&path, &rotated) {
                eprintln!(
                    "scfrt serve: cannot rotate {} to {}: {e}",
                    path.display(),
                    rotated.display()
                );
            }
            *open = self.open_log(&path);
        }
        let Some((file, size)) = &mut *open else {
            return;
        };
        // One `write(2)` in append mode: whole lines never interleave.
        match file.write_all(record.as_bytes()) {
            Ok(()) => *size = size.saturating_add(len),
            Err(e) => {
                eprintln!("scfrt serve: cannot write {}: {e}", path.display());
                *open = None; // reopened for the next line
            }
        }
    }

    /// The invocation log opened for appending, with its size.
    fn open_log(&self, path: &Path) -> Option<(std::fs::File, u64)> {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((size, f)) => Some((f, size)),
            Err(e) => {
                eprintln!("scfrt serve: cannot write {}: {e}", path.display());
                None
            }
        }
    }

    /// One `write(2)` in append mode: whole lines never interleave.
    fn append_raw(&self, path: &Path, bytes: &[u8]) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(bytes));
        if let Err(e) = written {
            eprintln!("scfrt serve: cannot write {}: {e}", path.display());
        }
    }

    /// The invocation log's complete lines, oldest first (`invocations.log.1`, then
    /// `invocations.log`); a line without its newline (still being written, or cut by a crash)
    /// is left out.
    pub fn read_log(&self) -> Vec<String> {
        let _guard = self.log_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut lines = Vec::new();
        for path in [self.rotated_log_path(), self.log_path()] {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let mut parts: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            // After the last newline: empty, or an unfinished line.
            parts.pop();
            lines.extend(
                parts
                    .into_iter()
                    .filter(|l| !l.is_empty())
                    .map(|l| String::from_utf8_lossy(l).into_owned()),
            );
        }
        lines
    }
}

fn in_use(name: &str) -> ApiError {
    ApiError::new(
        "ResourceInUse.Function",
        format!("The function `{name}` already exists."),
    )
}

/// The upload limit, checked before anything is written; the entry count and unpacked size
/// limits are enforced by `extract_zip` itself (on declared and on really inflated sizes).
fn check_zip(zip: &[u8]) -> Result<(), ApiError> {
    if zip.len() > MAX_ZIP_BYTES {
        return Err(ApiError::invalid(
            "ZipFile",
            format!("The code zip exceeds {MAX_ZIP_BYTES} bytes."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_and_reads_whole_lines_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("open");
        store.max_log_bytes = 20;
        for line in ["aaaaaaa", "bbbbbbb", "ccccccc"] {
            store.append_log(line);
        }
        // Two lines fit in 20 bytes; the third rotated them out.
        let rotated = std::fs::read_to_string(store.rotated_log_path()).expect("rotated");
        assert_eq!(rotated, "aaaaaaa\nbbbbbbb\n");
        assert_eq!(
            std::fs::read_to_string(store.log_path()).expect("log"),
            "ccccccc\n"
        );
        assert_eq!(store.read_log(), ["aaaaaaa", "bbbbbbb", "ccccccc"]);
        store.append_log("ddddddd");
        store.append_log("eeeeeee");
        // The oldest file is gone: at most two files' worth is kept.
        assert_eq!(store.read_log(), ["ccccccc", "ddddddd", "eeeeeee"]);

        // A crash in the middle of a record: readers skip it, and a restart closes it so the
        // next record stays whole.
        store.append_raw(&store.log_path(), b"{\"half");
        assert_eq!(store.read_log(), ["ccccccc", "ddddddd", "eeeeeee"]);
        let mut store = Store::open(dir.path()).expect("reopen");
        store.max_log_bytes = 1000;
        store.append_log("fffffff");
        assert_eq!(
            store.read_log(),
            ["ccccccc", "ddddddd", "eeeeeee", "{\"half", "fffffff"]
        );
    }
}
