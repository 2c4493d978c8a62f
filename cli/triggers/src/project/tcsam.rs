//! TCSAM `template.yaml`, as scfcli / tcf read it (docs/triggers.md, "Project files"):
//! `Resources` -> namespace (`Type: TencentCloud::Serverless::Namespace`) -> functions
//! (`Type: TencentCloud::Serverless::Function`, `Properties`, `Events`), with
//! `Globals.Function` as every function's defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Visitor};
use serde_norway::Value;

use super::yaml::{Doc, Seg, join, path_text};
use super::{Endpoint, FunctionSpec, FunctionType, ProjectError, Trigger, TriggerKind};

/// A scalar written as a string, a number or a boolean, kept as text (environment values).
#[derive(Debug, Clone)]
pub(super) struct Scalar(pub(super) String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A function's `Properties` (or `Globals.Function`).
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
struct Props {
    code_uri: Option<String>,
    #[serde(rename = "Type")]
    function_type: Option<String>,
    description: Option<String>,
    environment: Option<Environment>,
    handler: Option<String>,
    memory_size: Option<u32>,
    runtime: Option<String>,
    timeout: Option<u32>,
    init_timeout: Option<u32>,
    events: Option<Value>,
    // What only the platform uses: read, so that they are not reported as unknown.
    vpc_config: Option<Value>,
    local_zip_file: Option<Value>,
    cos_bucket_name: Option<Value>,
    cos_object_name: Option<Value>,
    role: Option<Value>,
    layers: Option<Value>,
    dead_letter_config: Option<Value>,
    public_net_config: Option<Value>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
struct Environment {
    variables: BTreeMap<String, Scalar>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TimerProps {
    cron_expression: String,
    enable: Option<Value>,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApigwProps {
    stage_name: Option<String>,
    http_method: Option<String>,
    integrated_response: Option<bool>,
    service_id: Option<String>,
    path: Option<String>,
    enable: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CosProps {
    bucket: Option<String>,
    filter: Option<CosFilter>,
    events: String,
    enable: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CosFilter {
    prefix: Option<String>,
    suffix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CmqProps {
    name: Option<String>,
    enable: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CkafkaProps {
    name: String,
    topic: String,
    max_msg_num: Option<u32>,
    offset: Option<Value>,
    enable: Option<Value>,
}

const NAMESPACE_TYPE: &str = "TencentCloud::Serverless::Namespace";
const FUNCTION_TYPE: &str = "TencentCloud::Serverless::Function";

/// The functions and warnings of a TCSAM template.
pub(super) fn read(
    doc: &Doc,
    base: &Path,
) -> Result<(Vec<FunctionSpec>, Vec<String>), ProjectError> {
    let mut warnings = Vec::new();
    let top = doc.value.as_mapping().cloned().unwrap_or_default();
    for key in top.keys() {
        if let Some(k) = key
            .as_str()
            .filter(|k| !["Resources", "Globals"].contains(k))
        {
            warnings.push(format!(
                "{}: unknown key `{k}` is ignored",
                doc.file.display()
            ));
        }
    }
    let globals: Props = match doc.value.get("Globals") {
        Some(g) => {
            let g_at = [Seg::Key("Globals".into())];
            let function = g.get("Function").cloned().unwrap_or(Value::Null);
            if let Some(m) = g.as_mapping() {
                for k in m
                    .keys()
                    .filter_map(Value::as_str)
                    .filter(|k| *k != "Function")
                {
                    warnings.push(format!(
                        "{}: unknown key `Globals.{k}` is ignored",
                        doc.file.display()
                    ));
                }
            }
            if function.is_null() {
                Props::default()
            } else {
                doc.typed(&function, &join(&g_at, "Function"), &mut warnings)?
            }
        }
        None => Props::default(),
    };
    let resources_at = vec![Seg::Key("Resources".into())];
    let resources = doc
        .value
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| {
            doc.error(
                Some(&resources_at),
                "`Resources` must map namespaces to their functions",
            )
        })?;
    let mut functions = Vec::new();
    for (ns_key, ns_body) in resources {
        let ns = ns_key
            .as_str()
            .ok_or_else(|| doc.error(Some(&resources_at), "a namespace name must be a string"))?;
        let ns_at = join(&resources_at, ns);
        let body = ns_body.as_mapping().ok_or_else(|| {
            doc.error(
                Some(&ns_at),
                "a namespace must be a mapping with `Type` and its functions",
            )
        })?;
        match body.get("Type").and_then(Value::as_str) {
            Some(NAMESPACE_TYPE) => {}
            other => {
                return Err(doc.error(
                    Some(&join(&ns_at, "Type")),
                    &format!(
                        "expected `Type: {NAMESPACE_TYPE}`, found {}",
                        other.map_or("nothing".to_owned(), |t| format!("`{t}`"))
                    ),
                ));
            }
        }
        for (fn_key, fn_body) in body {
            let Some(name) = fn_key.as_str().filter(|k| *k != "Type") else {
                continue;
            };
            let fn_at = join(&ns_at, name);
            functions.push(function(
                doc,
                base,
                ns,
                name,
                fn_body,
                &fn_at,
                &globals,
                &mut warnings,
            )?);
        }
    }
    Ok((functions, warnings))
}

#[allow(clippy::too_many_arguments)]
fn function(
    doc: &Doc,
    base: &Path,
    namespace: &str,
    name: &str,
    body: &Value,
    at: &[Seg],
    globals: &Props,
    warnings: &mut Vec<String>,
) -> Result<FunctionSpec, ProjectError> {
    match body.get("Type").and_then(Value::as_str) {
        Some(FUNCTION_TYPE) => {}
        other => {
            return Err(doc.error(
                Some(&join(at, "Type")),
                &format!(
                    "expected `Type: {FUNCTION_TYPE}`, found {}",
                    other.map_or("nothing".to_owned(), |t| format!("`{t}`"))
                ),
            ));
        }
    }
    if let Some(m) = body.as_mapping() {
        for k in m
            .keys()
            .filter_map(Value::as_str)
            .filter(|k| !["Type", "Properties"].contains(k))
        {
            warnings.push(format!(
                "{}: unknown key `{}.{k}` is ignored",
                doc.file.display(),
                path_text(at)
            ));
        }
    }
    let props_at = join(at, "Properties");
    let own: Props = match body.get("Properties") {
        Some(p) => doc.typed(p, &props_at, warnings)?,
        None => return Err(doc.error(Some(at), "a function needs `Properties`")),
    };
    let _ = (
        &own.vpc_config,
        &own.local_zip_file,
        &own.cos_bucket_name,
        &own.cos_object_name,
        &own.role,
        &own.layers,
        &own.dead_letter_config,
        &own.public_net_config,
    );
    let g = globals.clone();
    let code_uri = own.code_uri.or(g.code_uri).ok_or_else(|| {
        doc.error(
            Some(&props_at),
            "`CodeUri` (the code directory) is required",
        )
    })?;
    let function_type = match own.function_type.or(g.function_type).as_deref() {
        None | Some("Event" | "event") => FunctionType::Event,
        Some("HTTP" | "http" | "Http") => FunctionType::Http,
        Some(other) => {
            return Err(doc.error(
                Some(&join(&props_at, "Type")),
                &format!("`{other}` is not a function type: `Event` or `HTTP`"),
            ));
        }
    };
    let mut environment: BTreeMap<String, String> = g
        .environment
        .map(|e| e.variables.into_iter().map(|(k, v)| (k, v.0)).collect())
        .unwrap_or_default();
    if let Some(e) = own.environment {
        environment.extend(e.variables.into_iter().map(|(k, v)| (k, v.0)));
    }
    let mut triggers = Vec::new();
    if let Some(events) = own.events.as_ref().or(g.events.as_ref()) {
        let events_at = join(&props_at, "Events");
        let map = events.as_mapping().ok_or_else(|| {
            doc.error(
                Some(&events_at),
                "`Events` must map trigger names to triggers",
            )
        })?;
        for (k, v) in map {
            let tname = k
                .as_str()
                .ok_or_else(|| doc.error(Some(&events_at), "a trigger name must be a string"))?;
            if let Some(t) = trigger(doc, name, tname, v, &join(&events_at, tname), warnings)? {
                triggers.push(t);
            }
        }
    }
    Ok(FunctionSpec {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        code_dir: base.join(code_uri),
        handler: own.handler.or(g.handler),
        runtime: own.runtime.or(g.runtime),
        description: own.description.or(g.description),
        memory_mb: own.memory_size.or(g.memory_size),
        timeout_s: own.timeout.or(g.timeout),
        init_timeout_s: own.init_timeout.or(g.init_timeout),
        environment,
        function_type,
        triggers,
    })
}

/// `Enable`: `true`/`false` or `OPEN`/`CLOSE`; on when not given.
fn enabled(doc: &Doc, v: Option<&Value>, at: &[Seg]) -> Result<bool, ProjectError> {
    match v {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("OPEN") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("CLOSE") => Ok(false),
        Some(_) => Err(doc.error(
            Some(&join(at, "Enable")),
            "`Enable` is true, false, OPEN or CLOSE",
        )),
    }
}

fn trigger(
    doc: &Doc,
    function: &str,
    name: &str,
    body: &Value,
    at: &[Seg],
    warnings: &mut Vec<String>,
) -> Result<Option<Trigger>, ProjectError> {
    let kind = body.get("Type").and_then(Value::as_str).ok_or_else(|| {
        doc.error(
            Some(at),
            "a trigger needs `Type` (Timer, APIGW, COS, CMQ, Ckafka)",
        )
    })?;
    let props_at = join(at, "Properties");
    let props = body
        .get("Properties")
        .cloned()
        .unwrap_or(Value::Mapping(Default::default()));
    let (enable, kind) = match kind {
        "Timer" => {
            let p: TimerProps = doc.typed(&props, &props_at, warnings)?;
            crate::schedule::Schedule::parse(&p.cron_expression)
                .map_err(|e| doc.error(Some(&join(&props_at, "CronExpression")), &e.reason))?;
            (
                enabled(doc, p.enable.as_ref(), &props_at)?,
                TriggerKind::Timer {
                    cron: p.cron_expression,
                    argument: p.message,
                },
            )
        }
        "APIGW" => {
            let p: ApigwProps = doc.typed(&props, &props_at, warnings)?;
            let endpoint = Endpoint {
                path: p.path.unwrap_or_else(|| format!("/{function}")),
                method: p
                    .http_method
                    .unwrap_or_else(|| "ANY".to_owned())
                    .to_ascii_uppercase(),
                integrated_response: p.integrated_response.unwrap_or(false),
            };
            (
                enabled(doc, p.enable.as_ref(), &props_at)?,
                TriggerKind::Apigw {
                    stage: p.stage_name.unwrap_or_else(|| "release".to_owned()),
                    service_id: p.service_id,
                    endpoints: vec![endpoint],
                },
            )
        }
        "COS" => {
            let p: CosProps = doc.typed(&props, &props_at, warnings)?;
            let (prefix, suffix) = p.filter.map(|f| (f.prefix, f.suffix)).unwrap_or_default();
            (
                enabled(doc, p.enable.as_ref(), &props_at)?,
                TriggerKind::Cos {
                    bucket: p.bucket.unwrap_or_else(|| name.to_owned()),
                    events: p.events,
                    prefix,
                    suffix,
                },
            )
        }
        "CMQ" => {
            let p: CmqProps = doc.typed(&props, &props_at, warnings)?;
            (
                enabled(doc, p.enable.as_ref(), &props_at)?,
                TriggerKind::Cmq {
                    name: p.name.unwrap_or_else(|| name.to_owned()),
                },
            )
        }
        "Ckafka" | "CKafka" => {
            let p: CkafkaProps = doc.typed(&props, &props_at, warnings)?;
            let _ = p.offset;
            (
                enabled(doc, p.enable.as_ref(), &props_at)?,
                TriggerKind::Ckafka {
                    instance: p.name,
                    topic: p.topic,
                    max_msg_num: p.max_msg_num,
                },
            )
        }
        other => {
            warnings.push(format!(
                "{}: the `{other}` trigger at `{}` has no local twin and is ignored",
                doc.file.display(),
                path_text(at)
            ));
            return Ok(None);
        }
    };
    Ok(Some(Trigger {
        name: name.to_owned(),
        enable,
        qualifier: "$DEFAULT".to_owned(),
        kind,
    }))
}
