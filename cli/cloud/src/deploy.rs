//! `scfrt deploy` and `scfrt remote-invoke`: the package `scfrt invoke` runs, on SCF itself.
//!
//! [`deploy`] builds the code zip with [`scf_package::pack`] (or checks a given zip the way
//! `scfrt invoke` does), then through a [`Client`]: `GetFunction` decides between
//! `CreateFunction` (on `ResourceNotFound.Function`) and `UpdateFunctionCode` +
//! `UpdateFunctionConfiguration`, and `GetFunction` is polled until the function is `Active`.
//! [`publish`] then freezes it as a version (`PublishVersion`, waited for until `Active`) and
//! [`point_alias`] points an alias at that version (`CreateAlias`, or `UpdateAlias` when
//! `GetAlias` finds it): `scfrt deploy --publish --alias NAME` (docs/deploy.md).
//! [`remote_invoke`] calls `Invoke` and returns the platform's answer. Both speak to
//! `scf.tencentcloudapi.com` or, for tests and local work, to `scfrt serve` on a loopback port.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::client::{Client, CloudError};
use scf_package::pack::{Lang, MAX_CODE_ZIP_BYTES};

/// Most `GetFunction` polls while waiting for `Active`.
pub const MAX_STATUS_POLLS: u32 = 120;
/// The longest wait for `Active` after a create or an update.
pub const MAX_STATUS_WAIT: Duration = Duration::from_secs(300);

/// The code to deploy.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// A function directory, packed as `scfrt package` packs it.
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Supply the ready-made bootstrap for this language when the directory has none.
        lang: Option<Lang>,
        /// Look for prebuilt bootstraps here first.
        bootstrap_bin: Option<PathBuf>,
        /// The function's handler (`--lang c`: its library must be in the package).
        handler: Option<String>,
        /// Pack ELF files SCF cannot run with a warning instead of refusing them
        /// ([`PackOptions::allow_newer_glibc`](scf_package::pack::PackOptions::allow_newer_glibc)).
        allow_newer_glibc: bool,
        /// `--lang python`: the CPython version and wheel locations for the vendored packages.
        python: scf_package::python::PythonOptions,
    },
    /// A code zip, checked as `scfrt invoke` checks one.
    Zip(PathBuf),
}

impl CodeSource {
    /// A directory or a zip, by what `path` is.
    ///
    /// # Errors
    /// [`CloudError::Usage`] when `path` does not exist.
    pub fn from_path(
        path: &Path,
        lang: Option<Lang>,
        bootstrap_bin: Option<PathBuf>,
        handler: Option<String>,
        allow_newer_glibc: bool,
        python: scf_package::python::PythonOptions,
    ) -> Result<CodeSource, CloudError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            CloudError::Usage(format!(
                "package not found: {} ({e}); expected a function directory or a .zip",
                path.display()
            ))
        })?;
        Ok(if meta.is_dir() {
            CodeSource::Dir {
                dir: path.to_owned(),
                lang,
                bootstrap_bin,
                handler,
                allow_newer_glibc,
                python,
            }
        } else {
            CodeSource::Zip(path.to_owned())
        })
    }
}

/// The function's configuration. `None` fields are left as they are on an update and take the
/// platform's defaults on a create.
#[derive(Debug, Clone, Default)]
pub struct FunctionSettings {
    /// The function name.
    pub name: String,
    /// The namespace (`default`).
    pub namespace: String,
    /// `Handler` (create default: `index.main_handler`).
    pub handler: Option<String>,
    /// `Timeout` in seconds.
    pub timeout_s: Option<u32>,
    /// `InitTimeout` in seconds.
    pub init_timeout_s: Option<u32>,
    /// `MemorySize` in MB.
    pub memory_mb: Option<u32>,
    /// `Environment.Variables`; `None` leaves them alone on an update.
    pub env: Option<Vec<(String, String)>>,
    /// `Description`.
    pub description: Option<String>,
}

/// What [`deploy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployReport {
    /// `true` when the function was created, `false` when it was updated.
    pub created: bool,
    /// The size of the uploaded zip in bytes.
    pub zip_bytes: u64,
    /// The final status (`Active`).
    pub status: String,
    /// `GetFunction` calls made while waiting for it.
    pub polls: u32,
}

/// Builds or checks the code zip and returns its bytes; nothing is sent.
///
/// # Errors
/// [`CloudError::Usage`] when the directory is refused by `scfrt package`'s rules, the zip is not
/// a usable code package, or it is over SCF's 50 MB direct-upload limit.
pub fn code_zip(code: &CodeSource, progress: &mut dyn FnMut(&str)) -> Result<Vec<u8>, CloudError> {
    let usage = CloudError::Usage;
    let tmp = tempfile::Builder::new()
        .prefix("scfrt-deploy-")
        .tempdir()
        .map_err(|e| usage(format!("cannot create a temporary directory: {e}")))?;
    let zip_path = match code {
        CodeSource::Dir {
            dir,
            lang,
            bootstrap_bin,
            handler,
            allow_newer_glibc,
            python,
        } => {
            let out = tmp.path().join("fn.zip");
            let opts = scf_package::pack::PackOptions {
                dir: dir.clone(),
                output: out.clone(),
                lang: *lang,
                bootstrap_bin: bootstrap_bin.clone(),
                portable: false,
                build: None,
                handler: handler.clone(),
                allow_newer_glibc: *allow_newer_glibc,
                python: python.clone(),
            };
            let mut warn = |w: &str| progress(&format!("warning: {w}"));
            let report = scf_package::pack::pack(&opts, &mut warn)
                .map_err(|e| usage(format!("cannot package {}: {e}", dir.display())))?;
            progress(&format!(
                "packaged {} ({} bytes, {} entries; bootstrap from {})",
                dir.display(),
                report.zip_bytes,
                report.entries,
                report.bootstrap_from
            ));
            out
        }
        CodeSource::Zip(zip) => {
            if let Ok(meta) = std::fs::metadata(zip) {
                check_upload_size(meta.len())?;
            }
            scf_package::pack::check_code_zip(zip)
                .map_err(|e| usage(format!("cannot deploy {e}")))?;
            let dest = tmp.path().join("check");
            std::fs::create_dir(&dest)
                .map_err(|e| usage(format!("cannot create a temporary directory: {e}")))?;
            scf_package::extract::extract_zip(zip, &dest)
                .map_err(|e| usage(format!("cannot deploy {}: {e}", zip.display())))?;
            check_unpacked_bootstrap(&dest, zip, progress)?;
            zip.clone()
        }
    };
    let data = std::fs::read(&zip_path)
        .map_err(|e| usage(format!("cannot read {}: {e}", zip_path.display())))?;
    check_upload_size(data.len() as u64)?;
    Ok(data)
}

/// SCF's limit on a zip sent inline as `Code.ZipFile` (base64): 50 MB of zip.
///
/// # Errors
/// [`CloudError::Usage`] when `zip_bytes` is over [`MAX_CODE_ZIP_BYTES`].
pub fn check_upload_size(zip_bytes: u64) -> Result<(), CloudError> {
    if zip_bytes > MAX_CODE_ZIP_BYTES {
        return Err(CloudError::Usage(format!(
            "the code zip is {zip_bytes} bytes, over SCF's 50 MB ({MAX_CODE_ZIP_BYTES} bytes) limit \
             for a ZipFile uploaded directly; nothing was sent. Leave out what the function does not \
             need at run time, or upload the zip to COS and deploy from there"
        )));
    }
    Ok(())
}

fn check_unpacked_bootstrap(
    dir: &Path,
    zip: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CloudError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("bootstrap");
    let meta = std::fs::symlink_metadata(&path).map_err(|_| {
        CloudError::Usage(format!(
            "{} has no `bootstrap` at its root; SCF starts that executable file (build the zip \
             with `scfrt package`)",
            zip.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(CloudError::Usage(format!(
            "{}: `bootstrap` at the zip root is not a regular file",
            zip.display()
        )));
    }
    let data = std::fs::read(&path)
        .map_err(|e| CloudError::Usage(format!("{}: bootstrap: {e}", zip.display())))?;
    let shown = format!("bootstrap (in {})", zip.display());
    scf_package::pack::check_bootstrap(&data, meta.permissions().mode(), &shown)
        .map_err(|e| CloudError::Usage(e.to_string()))?;
    for w in scf_package::pack::elf_problems(&data, &shown) {
        progress(&format!("warning: {w}"));
    }
    Ok(())
}

fn env_param(env: &[(String, String)]) -> Value {
    json!({"Variables": env.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()})
}

/// The configuration parameters present in `s`.
fn config_params(s: &FunctionSettings) -> Map<String, Value> {
    let mut p = Map::new();
    if let Some(t) = s.timeout_s {
        p.insert("Timeout".into(), t.into());
    }
    if let Some(t) = s.init_timeout_s {
        p.insert("InitTimeout".into(), t.into());
    }
    if let Some(m) = s.memory_mb {
        p.insert("MemorySize".into(), m.into());
    }
    if let Some(env) = &s.env {
        p.insert("Environment".into(), env_param(env));
    }
    if let Some(d) = &s.description {
        p.insert("Description".into(), d.clone().into());
    }
    p
}

fn name_params(s: &FunctionSettings) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("FunctionName".into(), s.name.clone().into());
    p.insert("Namespace".into(), s.namespace.clone().into());
    p
}

/// Creates or updates the function `settings.name` with `zip` and waits until it is `Active`.
///
/// # Errors
/// [`CloudError::Api`] from any call (the first one stops the deploy), [`CloudError::Network`],
/// and [`CloudError::BadResponse`] when the function ends in a failed status or is not `Active`
/// within [`MAX_STATUS_POLLS`] polls / [`MAX_STATUS_WAIT`].
pub fn deploy(
    client: &Client,
    settings: &FunctionSettings,
    zip: &[u8],
    progress: &mut dyn FnMut(&str),
) -> Result<DeployReport, CloudError> {
    check_upload_size(zip.len() as u64)?;
    let zip_b64 = base64::engine::general_purpose::STANDARD.encode(zip);
    let target = format!("{}/{}", settings.namespace, settings.name);
    let exists = match client.call("GetFunction", &Value::Object(name_params(settings))) {
        Ok(_) => true,
        Err(CloudError::Api { code, .. }) if code == "ResourceNotFound.Function" => false,
        Err(e) => return Err(e),
    };
    let mut polls = 0;
    if exists {
        progress(&format!(
            "{target} exists: UpdateFunctionCode ({} bytes)",
            zip.len()
        ));
        let mut p = name_params(settings);
        p.insert("ZipFile".into(), zip_b64.into());
        if let Some(h) = &settings.handler {
            p.insert("Handler".into(), h.clone().into());
        }
        client.call("UpdateFunctionCode", &Value::Object(p))?;
        // The platform refuses a configuration change while the code update is in progress.
        polls += wait_active(client, settings, progress)?.1;
        let config = config_params(settings);
        if config.is_empty() {
            progress(&format!(
                "{target}: configuration unchanged (no options given)"
            ));
        } else {
            let keys: Vec<&str> = config.keys().map(String::as_str).collect();
            progress(&format!(
                "{target}: UpdateFunctionConfiguration ({})",
                keys.join(", ")
            ));
            let mut p = name_params(settings);
            p.extend(config);
            client.call("UpdateFunctionConfiguration", &Value::Object(p))?;
        }
    } else {
        progress(&format!(
            "{target} does not exist: CreateFunction ({} bytes)",
            zip.len()
        ));
        let mut p = name_params(settings);
        p.insert("Runtime".into(), "CustomRuntime".into());
        p.insert(
            "Handler".into(),
            settings
                .handler
                .clone()
                .unwrap_or_else(|| "index.main_handler".into())
                .into(),
        );
        p.insert("Type".into(), "Event".into());
        p.insert("Code".into(), json!({ "ZipFile": zip_b64 }));
        p.extend(config_params(settings));
        client.call("CreateFunction", &Value::Object(p))?;
    }
    let (status, n) = wait_active(client, settings, progress)?;
    polls += n;
    Ok(DeployReport {
        created: !exists,
        zip_bytes: zip.len() as u64,
        status,
        polls,
    })
}

/// Polls `GetFunction` until `Status` is `Active`; returns it and the number of polls.
fn wait_active(
    client: &Client,
    settings: &FunctionSettings,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, u32), CloudError> {
    wait_version_active(client, settings, None, progress)
}

/// Polls `GetFunction` (of the version `qualifier`, else `$LATEST`) until `Status` is `Active`;
/// returns it and the number of polls.
fn wait_version_active(
    client: &Client,
    settings: &FunctionSettings,
    qualifier: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, u32), CloudError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut last = String::new();
    let mut params = name_params(settings);
    if let Some(q) = qualifier {
        params.insert("Qualifier".into(), q.into());
    }
    let params = Value::Object(params);
    for poll in 1..=MAX_STATUS_POLLS {
        let r = client.call("GetFunction", &params)?;
        let status = r.get("Status").and_then(Value::as_str).unwrap_or("");
        if status == "Active" {
            return Ok((status.to_owned(), poll));
        }
        let desc = r.get("StatusDesc").and_then(Value::as_str).unwrap_or("");
        if status.ends_with("Failed") || status.ends_with("Abnormal") {
            let reasons = r
                .get("StatusReasons")
                .map(Value::to_string)
                .unwrap_or_default();
            return Err(CloudError::BadResponse {
                endpoint: client.endpoint().to_string(),
                action: "GetFunction".into(),
                message: format!(
                    "function {}/{} is {status}: {desc} {reasons}",
                    settings.namespace, settings.name
                ),
            });
        }
        if status != last {
            progress(&format!(
                "{}/{} is {} ({:.0} s); waiting for Active",
                settings.namespace,
                settings.name,
                if status.is_empty() { "?" } else { status },
                start.elapsed().as_secs_f64()
            ));
            last = status.to_owned();
        }
        if start.elapsed() + delay > MAX_STATUS_WAIT {
            break;
        }
        // Waiting on the platform's state machine: there is nothing to block on but time.
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err(CloudError::BadResponse {
        endpoint: client.endpoint().to_string(),
        action: "GetFunction".into(),
        message: format!(
            "function {}/{} is still `{last}` after {:.0} s; check it in the console",
            settings.namespace,
            settings.name,
            start.elapsed().as_secs_f64()
        ),
    })
}

/// Whether `name` is an alias name SCF accepts: `$DEFAULT` (which every function has), or 1-64
/// letters, digits, `-` or `_` starting with a letter (CreateAlias's rule).
pub fn valid_alias_name(name: &str) -> bool {
    name == "$DEFAULT"
        || ((1..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Publishes the function's current `$LATEST` as a new version (`PublishVersion`, with
/// `description`) and waits until that version is `Active`; returns its number.
///
/// # Errors
/// As [`deploy`]; [`CloudError::BadResponse`] when the answer has no `FunctionVersion`.
pub fn publish(
    client: &Client,
    settings: &FunctionSettings,
    description: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<String, CloudError> {
    let target = format!("{}/{}", settings.namespace, settings.name);
    progress(&format!("{target}: PublishVersion"));
    let mut p = name_params(settings);
    if let Some(d) = description {
        p.insert("Description".into(), d.into());
    }
    let r = client.call("PublishVersion", &Value::Object(p))?;
    let Some(version) = r
        .get("FunctionVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    else {
        return Err(CloudError::BadResponse {
            endpoint: client.endpoint().to_string(),
            action: "PublishVersion".into(),
            message: "no FunctionVersion in the response".into(),
        });
    };
    wait_version_active(client, settings, Some(version), progress)?;
    Ok(version.to_owned())
}

/// What [`point_alias`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasChange {
    /// The alias did not exist: `CreateAlias`.
    Created,
    /// The alias existed: `UpdateAlias` (its traffic now all goes to the version).
    Updated,
}

/// Points the alias `alias` at `version` alone: `UpdateAlias` when `GetAlias` finds it, else
/// `CreateAlias`.
///
/// # Errors
/// As [`deploy`].
pub fn point_alias(
    client: &Client,
    settings: &FunctionSettings,
    alias: &str,
    version: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<AliasChange, CloudError> {
    let target = format!("{}/{}", settings.namespace, settings.name);
    let mut p = name_params(settings);
    p.insert("Name".into(), alias.into());
    let exists = match client.call("GetAlias", &Value::Object(p.clone())) {
        Ok(_) => true,
        Err(CloudError::Api { code, .. }) if code == "ResourceNotFound.Alias" => false,
        Err(e) => return Err(e),
    };
    p.insert("FunctionVersion".into(), version.into());
    let (action, change) = if exists {
        ("UpdateAlias", AliasChange::Updated)
    } else {
        ("CreateAlias", AliasChange::Created)
    };
    progress(&format!("{target}: {action} {alias} -> version {version}"));
    client.call(action, &Value::Object(p))?;
    Ok(change)
}

/// `Invoke` parameters.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    /// The function name.
    pub name: String,
    /// The namespace.
    pub namespace: String,
    /// The event (`ClientContext`), a JSON document.
    pub event: String,
    /// `LogType=Tail` (the last 4 KB of the log in `Log`) instead of `None`.
    pub tail_log: bool,
    /// `Qualifier`: `$LATEST`, a version number or an alias.
    pub qualifier: String,
}

/// Invokes the function synchronously and returns the `Response` object
/// (`{"Result":{..},"RequestId":..}`).
///
/// # Errors
/// As [`Client::call`].
pub fn remote_invoke(client: &Client, req: &InvokeRequest) -> Result<Value, CloudError> {
    let params = json!({
        "FunctionName": req.name,
        "Namespace": req.namespace,
        "Qualifier": req.qualifier,
        "InvocationType": "RequestResponse",
        "ClientContext": req.event,
        "LogType": if req.tail_log { "Tail" } else { "None" },
    });
    let r = client.call("Invoke", &params)?;
    if r.get("Result").is_none_or(|v| !v.is_object()) {
        return Err(CloudError::BadResponse {
            endpoint: client.endpoint().to_string(),
            action: "Invoke".into(),
            message: "no Result in the response".into(),
        });
    }
    Ok(r)
}

/// A trigger to create with `CreateTrigger` ([`ensure_triggers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRequest {
    /// `TriggerName`.
    pub name: String,
    /// `Type` (`timer`, `cos`, `ckafka`, `cls`, ...).
    pub kind: String,
    /// `TriggerDesc` (a timer's cron expression; JSON for the others).
    pub desc: String,
    /// `Qualifier`.
    pub qualifier: String,
    /// `Enable`: OPEN or CLOSE.
    pub enable: bool,
    /// `CustomArgument` (timers).
    pub custom_argument: Option<String>,
}

/// Creates the triggers of `settings.name` that it does not have yet (same `Type` and
/// `TriggerName`, as `ListTriggers` shows them); those it has are left as they are. Returns how
/// many were created.
///
/// # Errors
/// The first failing call.
pub fn ensure_triggers(
    client: &Client,
    settings: &FunctionSettings,
    triggers: &[TriggerRequest],
    progress: &mut dyn FnMut(&str),
) -> Result<usize, CloudError> {
    let target = format!("{}/{}", settings.namespace, settings.name);
    let mut existing = std::collections::HashSet::new();
    let mut offset = 0u64;
    // Paged by 100; a bound on the pages keeps a misbehaving server from looping us.
    for _ in 0..1000 {
        let mut p = name_params(settings);
        p.insert("Offset".into(), offset.into());
        p.insert("Limit".into(), 100.into());
        let r = client.call("ListTriggers", &Value::Object(p))?;
        let page = r["Triggers"].as_array().cloned().unwrap_or_default();
        for t in &page {
            existing.insert((
                t["Type"].as_str().unwrap_or_default().to_owned(),
                t["TriggerName"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        offset += page.len() as u64;
        if page.is_empty() || offset >= r["TotalCount"].as_u64().unwrap_or(0) {
            break;
        }
    }
    let mut created = 0;
    for t in triggers {
        if existing.contains(&(t.kind.clone(), t.name.clone())) {
            progress(&format!(
                "{target}: {} trigger `{}` exists: left as it is",
                t.kind, t.name
            ));
            continue;
        }
        let mut p = name_params(settings);
        p.insert("TriggerName".into(), t.name.clone().into());
        p.insert("Type".into(), t.kind.clone().into());
        p.insert("TriggerDesc".into(), t.desc.clone().into());
        p.insert("Qualifier".into(), t.qualifier.clone().into());
        p.insert(
            "Enable".into(),
            if t.enable { "OPEN" } else { "CLOSE" }.into(),
        );
        if let Some(a) = &t.custom_argument {
            p.insert("CustomArgument".into(), a.clone().into());
        }
        progress(&format!("{target}: CreateTrigger {} `{}`", t.kind, t.name));
        client.call("CreateTrigger", &Value::Object(p))?;
        created += 1;
    }
    Ok(created)
}
