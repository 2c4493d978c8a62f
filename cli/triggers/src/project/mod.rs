//! The project files of Tencent's tools, read into one model (docs/triggers.md, "Project
//! files"): the Serverless Cloud Framework's `serverless.yml` (`component: scf`) and the older
//! scfcli / tcf TCSAM `template.yaml`. A [`Project`] is a list of [`FunctionSpec`]s, each with its
//! code directory, configuration and [`Trigger`]s.
//!
//! Keys this model does not know are kept out of it and reported as warnings with their path
//! and line; a value of the wrong type is an error naming the file, line and key.

mod serverless;
mod tcsam;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Which tool's format a project file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Serverless Cloud Framework's `serverless.yml` with `component: scf`.
    Serverless,
    /// scfcli / tcf's TCSAM `template.yaml`.
    Tcsam,
}

/// SCF's two function types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionType {
    /// An event function: a handler invoked with each event.
    Event,
    /// A web function: the package starts a web server on port 9000.
    Http,
}

/// One function of a project.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The function's name.
    pub name: String,
    /// Its namespace (`default` unless the file says otherwise).
    pub namespace: String,
    /// The code directory, resolved against the project file's directory.
    pub code_dir: PathBuf,
    /// `Handler`, as given.
    pub handler: Option<String>,
    /// `Runtime`, as given.
    pub runtime: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// Memory size in MB.
    pub memory_mb: Option<u32>,
    /// Execution timeout in seconds.
    pub timeout_s: Option<u32>,
    /// Initialisation timeout in seconds.
    pub init_timeout_s: Option<u32>,
    /// Environment variables (the file's globals merged under the function's own).
    pub environment: BTreeMap<String, String>,
    /// Event or web function.
    pub function_type: FunctionType,
    /// The triggers declared for it, in the file's order.
    pub triggers: Vec<Trigger>,
}

/// A trigger of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Its name (the file's, or the tool's default).
    pub name: String,
    /// Whether it is enabled.
    pub enable: bool,
    /// The version or alias it invokes (`$DEFAULT` unless given).
    pub qualifier: String,
    /// What it is.
    pub kind: TriggerKind,
}

/// The kinds of trigger the project files declare, with their settings.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerKind {
    /// A timer.
    Timer {
        /// The cron expression ([`crate::schedule::Schedule`] parses it).
        cron: String,
        /// The `Message` sent with each event.
        argument: Option<String>,
    },
    /// API Gateway.
    Apigw {
        /// The release environment (`release`, `prepub`, `test`).
        stage: String,
        /// The API's service id, if given.
        service_id: Option<String>,
        /// The routes.
        endpoints: Vec<Endpoint>,
    },
    /// COS.
    Cos {
        /// The bucket.
        bucket: String,
        /// The COS event types, as given (`cos:ObjectCreated:*`).
        events: String,
        /// Object key prefix filter.
        prefix: Option<String>,
        /// Object key suffix filter.
        suffix: Option<String>,
    },
    /// A CMQ topic or queue.
    Cmq {
        /// Its name.
        name: String,
    },
    /// CKafka.
    Ckafka {
        /// The instance.
        instance: String,
        /// The topic.
        topic: String,
        /// Messages per invocation.
        max_msg_num: Option<u32>,
    },
    /// CLS.
    Cls {
        /// The log topic id.
        topic_id: String,
    },
}

/// One API Gateway route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The path, with `{param}` segments.
    pub path: String,
    /// The method (`ANY` for every method).
    pub method: String,
    /// Whether the function's result is an integrated response.
    pub integrated_response: bool,
}

/// A project file read into the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The file.
    pub file: PathBuf,
    /// Its format.
    pub format: Format,
    /// Its functions, in the file's order.
    pub functions: Vec<FunctionSpec>,
    /// Keys that were not understood, each with its path and line.
    pub warnings: Vec<String>,
}

/// Why a project file could not be read: the file, the line and key when known, and what was
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectError {
    /// The file.
    pub file: PathBuf,
    /// The line (from 1), when known.
    pub line: Option<usize>,
    /// The key's path (`inputs.memorySize`), when the error is about one.
    pub key: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ProjectError {}

/// The file names [`find`] looks for in a directory, in order.
pub const PROJECT_FILES: [&str; 4] = [
    "serverless.yml",
    "serverless.yaml",
    "template.yaml",
    "template.yml",
];

/// The project file in `dir`, if it has one of [`PROJECT_FILES`].
pub fn find(dir: &Path) -> Option<PathBuf> {
    PROJECT_FILES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads a project file; its format is told by its content (`component:` or `Resources:`).
///
/// # Errors
/// The file cannot be read, is not YAML, is in neither format, or has a value of the wrong type
/// or a missing required key.
pub fn load(file: &Path) -> Result<Project, ProjectError> {
    let text = std::fs::read_to_string(file).map_err(|e| ProjectError {
        file: file.to_owned(),
        line: None,
        key: None,
        message: format!("cannot read it: {e}"),
    })?;
    let doc = yaml::Doc::parse(file, &text)?;
    let base = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let (format, functions, warnings) = if doc.has_key("component") {
        let (f, w) = serverless::read(&doc, &base)?;
        (Format::Serverless, f, w)
    } else if doc.has_key("Resources") {
        let (f, w) = tcsam::read(&doc, &base)?;
        (Format::Tcsam, f, w)
    } else {
        return Err(doc.error(
            None,
            "neither a serverless.yml (no `component:` key) nor a TCSAM template \
             (no `Resources:` key)",
        ));
    };
    let mut seen = std::collections::HashSet::new();
    for f in &functions {
        if !seen.insert((&f.namespace, &f.name)) {
            return Err(doc.error(
                None,
                &format!(
                    "the function `{}` (namespace `{}`) is declared twice",
                    f.name, f.namespace
                ),
            ));
        }
    }
    Ok(Project {
        file: file.to_owned(),
        format,
        functions,
        warnings,
    })
}

impl Project {
    /// The function called `name`.
    ///
    /// # Errors
    /// No such function: the message lists the file's functions.
    pub fn function(&self, name: &str) -> Result<&FunctionSpec, String> {
        self.functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
                format!(
                    "{} has no function `{name}`; it declares: {}",
                    self.file.display(),
                    names.join(", ")
                )
            })
    }
}

impl Trigger {
    /// The `CreateTrigger` request that makes this trigger on SCF (docs/triggers.md, "Project
    /// files"), or why none does: API Gateway triggers are made by API Gateway, not by
    /// `CreateTrigger`.
    ///
    /// # Errors
    /// The reason, for an `apigw` trigger.
    pub fn create_request(&self) -> Result<scf_cloud::deploy::TriggerRequest, String> {
        let (kind, name, desc, custom_argument) = match &self.kind {
            TriggerKind::Timer { cron, argument } => {
                ("timer", self.name.clone(), cron.clone(), argument.clone())
            }
            TriggerKind::Cos {
                bucket,
                events,
                prefix,
                suffix,
            } => (
                "cos",
                bucket.clone(),
                serde_json::json!({
                    "event": events,
                    "filter": {"Prefix": prefix.clone().unwrap_or_default(),
                               "Suffix": suffix.clone().unwrap_or_default()},
                })
                .to_string(),
                None,
            ),
            TriggerKind::Cmq { name } => ("cmq", name.clone(), String::new(), None),
            TriggerKind::Ckafka {
                instance,
                topic,
                max_msg_num,
            } => (
                "ckafka",
                format!("{instance}-{topic}"),
                serde_json::json!({"maxMsgNum": max_msg_num.unwrap_or(100), "offset": "latest"})
                    .to_string(),
                None,
            ),
            TriggerKind::Cls { topic_id } => (
                "cls",
                topic_id.clone(),
                serde_json::json!({"maxWait": 60}).to_string(),
                None,
            ),
            TriggerKind::Apigw { .. } => {
                return Err(format!(
                    "the apigw trigger `{}` is made by API Gateway, not by CreateTrigger: skipped",
                    self.name
                ));
            }
        };
        Ok(scf_cloud::deploy::TriggerRequest {
            name,
            kind: kind.to_owned(),
            desc,
            qualifier: self.qualifier.clone(),
            enable: self.enable,
            custom_argument,
        })
    }
}
