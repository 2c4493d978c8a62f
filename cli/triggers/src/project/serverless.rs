//! `serverless.yml` for the Serverless Cloud Framework's `component: scf` (docs/triggers.md,
//! "Project files"): `inputs` is one function; `events` (or `triggers`) its triggers. Variables
//! `${name}`, `${stage}`, `${app}`, `${org}` and `${env:VAR}` are replaced in every string.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_norway::Value;

use super::yaml::{Doc, Seg, join};
use super::{Endpoint, FunctionSpec, FunctionType, ProjectError, Trigger, TriggerKind};

/// The top level, after variables are replaced.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[allow(dead_code)] // checked before: `component: scf`
    component: String,
    #[allow(dead_code)] // read before: the variables need it
    name: String,
    #[serde(default)]
    org: Option<Value>,
    #[serde(default)]
    app: Option<Value>,
    #[serde(default)]
    stage: Option<Value>,
    inputs: Inputs,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inputs {
    name: Option<String>,
    namespace: Option<String>,
    src: Option<Src>,
    handler: Option<String>,
    runtime: Option<String>,
    description: Option<String>,
    memory_size: Option<u32>,
    timeout: Option<u32>,
    init_timeout: Option<u32>,
    environment: Option<Environment>,
    #[serde(rename = "type")]
    function_type: Option<String>,
    events: Option<Vec<Value>>,
    triggers: Option<Vec<Value>>,
    // What only the platform uses: read, so that they are not reported as unknown.
    region: Option<Value>,
    role: Option<Value>,
    enable_role_auth: Option<Value>,
    public_access: Option<Value>,
    vpc_config: Option<Value>,
    cfs: Option<Value>,
    dead_letter: Option<Value>,
    layers: Option<Value>,
    cls: Option<Value>,
    eip: Option<Value>,
    async_run_enable: Option<Value>,
    trace_enable: Option<Value>,
    tags: Option<Value>,
    publish: Option<Value>,
    traffic: Option<Value>,
    install_dependency: Option<Value>,
    image: Option<Value>,
    ignore_triggers: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Src {
    Dir(String),
    Object(SrcObject),
}

#[derive(Deserialize)]
struct SrcObject {
    src: Option<String>,
    #[allow(dead_code)] // packaging's concern
    exclude: Option<Vec<String>>,
    bucket: Option<String>,
    object: Option<String>,
}

#[derive(Deserialize)]
struct Environment {
    variables: BTreeMap<String, super::tcsam::Scalar>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimerParams {
    name: Option<String>,
    qualifier: Option<String>,
    cron_expression: String,
    enable: Option<bool>,
    argument: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApigwParams {
    name: Option<String>,
    service_id: Option<String>,
    environment: Option<String>,
    endpoints: Vec<ApigwEndpoint>,
    qualifier: Option<String>,
    enable: Option<bool>,
    service_name: Option<Value>,
    protocols: Option<Value>,
    net_types: Option<Value>,
    description: Option<Value>,
    service_timeout: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApigwEndpoint {
    path: String,
    method: Option<String>,
    function: Option<ApigwFunction>,
    api_id: Option<Value>,
    api_name: Option<Value>,
    description: Option<Value>,
    enable_cors: Option<Value>,
    response_type: Option<Value>,
    service_timeout: Option<Value>,
    param: Option<Value>,
    usage_plan: Option<Value>,
    auth: Option<Value>,
    is_base64_encoded: Option<Value>,
    is_base64_trigger: Option<Value>,
    base64_encoded_trigger_rules: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApigwFunction {
    is_integrated_response: Option<bool>,
    function_qualifier: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CosParams {
    name: Option<String>,
    qualifier: Option<String>,
    bucket: String,
    filter: Option<CosFilter>,
    events: String,
    enable: Option<bool>,
}

#[derive(Deserialize)]
struct CosFilter {
    prefix: Option<String>,
    suffix: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CmqParams {
    qualifier: Option<String>,
    name: String,
    enable: Option<bool>,
    filter_type: Option<Value>,
    filter_key: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CkafkaParams {
    qualifier: Option<String>,
    name: String,
    topic: String,
    max_msg_num: Option<u32>,
    offset: Option<Value>,
    enable: Option<bool>,
    retry: Option<Value>,
    time_out: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClsParams {
    qualifier: Option<String>,
    topic_id: String,
    max_wait: Option<Value>,
    enable: Option<bool>,
}

/// The function and warnings of a `serverless.yml`.
pub(super) fn read(
    doc: &Doc,
    base: &Path,
) -> Result<(Vec<FunctionSpec>, Vec<String>), ProjectError> {
    let component = doc.value.get("component").and_then(Value::as_str);
    let multi = match component {
        Some("scf") => false,
        Some("multi-scf") => true,
        other => {
            return Err(doc.error(
                Some(&[Seg::Key("component".into())]),
                &format!(
                    "`component: {}` is not read: scfrt reads `scf` (one function) and \
                     `multi-scf` (several)",
                    other.unwrap_or("?")
                ),
            ));
        }
    };
    let text = |k: &str, default: &str| {
        doc.value
            .get(k)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let name = text("name", "");
    if name.is_empty() {
        return Err(doc.error(
            Some(&[Seg::Key("name".into())]),
            "the instance `name` is required",
        ));
    }
    let stage = text("stage", "dev");
    let app = text("app", &name);
    let org = text("org", "");
    let vars = [
        ("name", &name),
        ("stage", &stage),
        ("app", &app),
        ("org", &org),
    ];
    let mut value = doc.value.clone();
    substitute(doc, &mut value, &mut Vec::new(), &vars)?;
    let mut warnings = Vec::new();
    if multi {
        return read_multi(doc, base, &value, &stage, &app, warnings);
    }
    let file: File = doc.typed(&value, &[], &mut warnings)?;
    let inputs = file.inputs;
    let _ = (file.org, file.app, file.stage);
    let at = |k: &str| vec![Seg::Key("inputs".into()), Seg::Key(k.into())];

    let code_dir = match inputs.src {
        Some(Src::Dir(d)) => base.join(d),
        Some(Src::Object(SrcObject { src: Some(d), .. })) => base.join(d),
        Some(Src::Object(SrcObject { bucket, object, .. }))
            if bucket.is_some() || object.is_some() =>
        {
            return Err(doc.error(
                Some(&at("src")),
                "code in COS (`src.bucket` / `src.object`) cannot run locally: give `src` a local directory",
            ));
        }
        _ => {
            return Err(doc.error(
                Some(&at("src")),
                "the code directory `inputs.src` is required",
            ));
        }
    };
    let function_type = match inputs.function_type.as_deref() {
        None | Some("event") => FunctionType::Event,
        Some("web") => FunctionType::Http,
        Some(other) => {
            return Err(doc.error(
                Some(&at("type")),
                &format!("`{other}` is not a function type: `event` or `web`"),
            ));
        }
    };
    let mut triggers = Vec::new();
    let trigger_default = |kind: &str| format!("{kind}-{name}-{stage}-{app}");
    for (key, list) in [("events", inputs.events), ("triggers", inputs.triggers)] {
        for (i, item) in list.unwrap_or_default().into_iter().enumerate() {
            let item_at = {
                let mut p = at(key);
                p.push(Seg::Index(i));
                p
            };
            if let Some(t) = trigger(
                doc,
                &item,
                &item_at,
                key == "triggers",
                &trigger_default,
                &mut warnings,
            )? {
                triggers.push(t);
            }
        }
    }
    let _ = (
        inputs.region,
        inputs.role,
        inputs.enable_role_auth,
        inputs.public_access,
        inputs.vpc_config,
        inputs.cfs,
        inputs.dead_letter,
        inputs.layers,
        inputs.cls,
        inputs.eip,
        inputs.async_run_enable,
        inputs.trace_enable,
        inputs.tags,
        inputs.publish,
        inputs.traffic,
        inputs.install_dependency,
        inputs.image,
        inputs.ignore_triggers,
    );
    let function = FunctionSpec {
        name: inputs
            .name
            .unwrap_or_else(|| format!("{name}-{stage}-{app}")),
        namespace: inputs.namespace.unwrap_or_else(|| "default".to_owned()),
        code_dir,
        handler: inputs.handler,
        runtime: inputs.runtime,
        description: inputs.description,
        memory_mb: inputs.memory_size,
        timeout_s: inputs.timeout,
        init_timeout_s: inputs.init_timeout,
        environment: inputs
            .environment
            .map(|e| e.variables.into_iter().map(|(k, v)| (k, v.0)).collect())
            .unwrap_or_default(),
        function_type,
        triggers,
    };
    Ok((vec![function], warnings))
}

/// The code directory `inputs.src` names.
fn code_dir(doc: &Doc, base: &Path, src: Option<Src>) -> Result<std::path::PathBuf, ProjectError> {
    let at = [Seg::Key("inputs".into()), Seg::Key("src".into())];
    match src {
        Some(Src::Dir(d)) => Ok(base.join(d)),
        Some(Src::Object(SrcObject { src: Some(d), .. })) => Ok(base.join(d)),
        Some(Src::Object(SrcObject { bucket, object, .. })) if bucket.is_some() || object.is_some() => {
            Err(doc.error(
                Some(&at),
                "code in COS (`src.bucket` / `src.object`) cannot run locally: give `src` a local directory",
            ))
        }
        _ => Err(doc.error(Some(&at), "the code directory `inputs.src` is required")),
    }
}

/// `type: event` or `type: web`.
fn function_type(doc: &Doc, t: Option<&str>, at: &[Seg]) -> Result<FunctionType, ProjectError> {
    match t {
        None | Some("event") => Ok(FunctionType::Event),
        Some("web") => Ok(FunctionType::Http),
        Some(other) => Err(doc.error(
            Some(at),
            &format!("`{other}` is not a function type: `event` or `web`"),
        )),
    }
}

/// One entry of `events` (`- timer: {name, parameters}`) or `triggers` (`- type: timer` with
/// the parameters beside it or under `parameters`). `None` for a kind that cannot run locally
/// (a warning says so).
fn trigger(
    doc: &Doc,
    item: &Value,
    at: &[Seg],
    flat: bool,
    default_name: &dyn Fn(&str) -> String,
    warnings: &mut Vec<String>,
) -> Result<Option<Trigger>, ProjectError> {
    let (kind, name, params, params_at) = if flat {
        let kind = item.get("type").and_then(Value::as_str).ok_or_else(|| {
            doc.error(
                Some(at),
                "a trigger needs `type` (timer, apigw, cos, cmq, ckafka, cls)",
            )
        })?;
        let params = item.get("parameters").cloned().unwrap_or_else(|| {
            let mut m = item.as_mapping().cloned().unwrap_or_default();
            m.remove("type");
            m.remove("name");
            m.remove("function");
            Value::Mapping(m)
        });
        let name = item.get("name").and_then(Value::as_str).map(str::to_owned);
        let params_at = if item.get("parameters").is_some() {
            join(at, "parameters")
        } else {
            at.to_vec()
        };
        (kind.to_owned(), name, params, params_at)
    } else {
        let map = item.as_mapping().filter(|m| m.len() == 1).ok_or_else(|| {
            doc.error(
                Some(at),
                "an event is a mapping with one key, its type (`- timer: ...`)",
            )
        })?;
        let (k, body) = map
            .iter()
            .next()
            .ok_or_else(|| doc.error(Some(at), "an empty event"))?;
        let kind = k
            .as_str()
            .ok_or_else(|| doc.error(Some(at), "an event's type must be a string"))?
            .to_owned();
        let body_at = join(at, &kind);
        let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
        let params = body.get("parameters").cloned().ok_or_else(|| {
            doc.error(
                Some(&body_at),
                &format!("the {kind} event has no `parameters`"),
            )
        })?;
        for key in body
            .as_mapping()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            if let Some(k) = key.as_str().filter(|k| *k != "name" && *k != "parameters") {
                warnings.push(format!(
                    "{}: unknown key `{}.{k}` is ignored",
                    doc.file.display(),
                    super::yaml::path_text(&body_at)
                ));
            }
        }
        (kind, name, params, join(&body_at, "parameters"))
    };
    let qualifier = |q: Option<String>| q.unwrap_or_else(|| "$DEFAULT".to_owned());
    let (pname, enable, q, kind_out) = match kind.as_str() {
        "timer" => {
            let p: TimerParams = doc.typed(&params, &params_at, warnings)?;
            crate::schedule::Schedule::parse(&p.cron_expression)
                .map_err(|e| doc.error(Some(&join(&params_at, "cronExpression")), &e.reason))?;
            (
                p.name,
                p.enable,
                p.qualifier,
                TriggerKind::Timer {
                    cron: p.cron_expression,
                    argument: p.argument.map(|a| value_text(&a)),
                },
            )
        }
        "apigw" => {
            let p: ApigwParams = doc.typed(&params, &params_at, warnings)?;
            let _ = (
                p.service_name,
                p.protocols,
                p.net_types,
                p.description,
                p.service_timeout,
            );
            let endpoint_qualifier = p.endpoints.iter().find_map(|e| {
                e.function
                    .as_ref()
                    .and_then(|f| f.function_qualifier.clone())
            });
            let endpoints = p
                .endpoints
                .into_iter()
                .map(|e| {
                    let _ = (
                        e.api_id,
                        e.api_name,
                        e.description,
                        e.enable_cors,
                        e.response_type,
                        e.service_timeout,
                        e.param,
                        e.usage_plan,
                        e.auth,
                        e.is_base64_encoded,
                        e.is_base64_trigger,
                        e.base64_encoded_trigger_rules,
                    );
                    Endpoint {
                        path: e.path,
                        method: e
                            .method
                            .unwrap_or_else(|| "ANY".to_owned())
                            .to_ascii_uppercase(),
                        integrated_response: e
                            .function
                            .as_ref()
                            .and_then(|f| f.is_integrated_response)
                            .unwrap_or(false),
                    }
                })
                .collect();
            (
                p.name,
                p.enable.or(Some(true)),
                p.qualifier.or(endpoint_qualifier),
                TriggerKind::Apigw {
                    stage: p.environment.unwrap_or_else(|| "release".to_owned()),
                    service_id: p.service_id,
                    endpoints,
                },
            )
        }
        "cos" => {
            let p: CosParams = doc.typed(&params, &params_at, warnings)?;
            let (prefix, suffix) = p.filter.map(|f| (f.prefix, f.suffix)).unwrap_or_default();
            (
                p.name,
                p.enable,
                p.qualifier,
                TriggerKind::Cos {
                    bucket: p.bucket,
                    events: p.events,
                    prefix,
                    suffix,
                },
            )
        }
        "cmq" => {
            let p: CmqParams = doc.typed(&params, &params_at, warnings)?;
            let _ = (p.filter_type, p.filter_key);
            (
                None,
                p.enable,
                p.qualifier,
                TriggerKind::Cmq { name: p.name },
            )
        }
        "ckafka" => {
            let p: CkafkaParams = doc.typed(&params, &params_at, warnings)?;
            let _ = (p.offset, p.retry, p.time_out);
            (
                None,
                p.enable,
                p.qualifier,
                TriggerKind::Ckafka {
                    instance: p.name,
                    topic: p.topic,
                    max_msg_num: p.max_msg_num,
                },
            )
        }
        "cls" => {
            let p: ClsParams = doc.typed(&params, &params_at, warnings)?;
            let _ = p.max_wait;
            (
                None,
                p.enable,
                p.qualifier,
                TriggerKind::Cls {
                    topic_id: p.topic_id,
                },
            )
        }
        other => {
            warnings.push(format!(
                "{}: the `{other}` trigger at `{}` has no local twin and is ignored",
                doc.file.display(),
                super::yaml::path_text(at)
            ));
            return Ok(None);
        }
    };
    Ok(Some(Trigger {
        name: name.or(pname).unwrap_or_else(|| default_name(&kind)),
        enable: enable.unwrap_or(false),
        qualifier: qualifier(q),
        kind: kind_out,
    }))
}

/// Replaces `${name}`, `${stage}`, `${app}`, `${org}` and `${env:VAR}` in every string under
/// `value`; anything else in `${...}` is an error naming the key.
fn substitute(
    doc: &Doc,
    value: &mut Value,
    at: &mut Vec<Seg>,
    vars: &[(&str, &String)],
) -> Result<(), ProjectError> {
    match value {
        Value::String(s) if s.contains("${") => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| doc.error(Some(at), &format!("`${{` without `}}` in `{s}`")))?;
                let var = after[..end].trim();
                let replaced = if let Some(env) = var
                    .strip_prefix("env:")
                    .or_else(|| var.strip_prefix("env."))
                {
                    std::env::var(env.trim()).map_err(|_| {
                        doc.error(
                            Some(at),
                            &format!(
                                "`${{{var}}}`: the environment variable `{}` is not set",
                                env.trim()
                            ),
                        )
                    })?
                } else if let Some((_, v)) = vars.iter().find(|(k, _)| *k == var) {
                    (*v).clone()
                } else {
                    return Err(doc.error(
                        Some(at),
                        &format!("`${{{var}}}` is not a variable scfrt knows (name, stage, app, org, env:VAR)"),
                    ));
                };
                out.push_str(&replaced);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                at.push(Seg::Key(k.as_str().unwrap_or("?").to_owned()));
                substitute(doc, v, at, vars)?;
                at.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                at.push(Seg::Index(i));
                substitute(doc, v, at, vars)?;
                at.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// A scalar as its text; anything else as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `component: multi-scf`'s `inputs`: shared settings, `functions` by key, and `triggers`
/// naming their function by that key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultiInputs {
    src: Option<Src>,
    namespace: Option<String>,
    runtime: Option<String>,
    handler: Option<String>,
    memory_size: Option<u32>,
    timeout: Option<u32>,
    init_timeout: Option<u32>,
    environment: Option<MultiEnvironment>,
    #[serde(rename = "type")]
    function_type: Option<String>,
    functions: serde_norway::Mapping,
    triggers: Option<Vec<Value>>,
    ignore_triggers: Option<bool>,
    region: Option<Value>,
    role: Option<Value>,
    layers: Option<Value>,
    vpc: Option<Value>,
    cls: Option<Value>,
    tags: Option<Value>,
}

/// One of `functions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultiFunction {
    name: Option<String>,
    handler: Option<String>,
    runtime: Option<String>,
    description: Option<String>,
    memory_size: Option<u32>,
    timeout: Option<u32>,
    init_timeout: Option<u32>,
    environment: Option<MultiEnvironment>,
    #[serde(rename = "type")]
    function_type: Option<String>,
    role: Option<Value>,
    vpc: Option<Value>,
    layers: Option<Value>,
    cls: Option<Value>,
    tags: Option<Value>,
    cfs: Option<Value>,
    public_access: Option<Value>,
    eip: Option<Value>,
    async_run_enable: Option<Value>,
    trace_enable: Option<Value>,
    install_dependency: Option<Value>,
}

/// multi-scf writes environment variables as `variables: {K: V}`, `[{key, value}]` or `{K: V}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum MultiEnvironment {
    Variables {
        variables: BTreeMap<String, super::tcsam::Scalar>,
    },
    List(Vec<KeyValue>),
    Map(BTreeMap<String, super::tcsam::Scalar>),
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    value: super::tcsam::Scalar,
}

impl MultiEnvironment {
    fn into_map(self) -> BTreeMap<String, String> {
        match self {
            MultiEnvironment::Variables { variables } | MultiEnvironment::Map(variables) => {
                variables.into_iter().map(|(k, v)| (k, v.0)).collect()
            }
            MultiEnvironment::List(list) => {
                list.into_iter().map(|kv| (kv.key, kv.value.0)).collect()
            }
        }
    }
}

/// A multi-scf API Gateway trigger: `apis`, each routed to a function.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultiApigw {
    name: Option<String>,
    id: Option<String>,
    environment: Option<String>,
    apis: Vec<MultiApi>,
    qualifier: Option<String>,
    enable: Option<bool>,
    protocols: Option<Value>,
    net_types: Option<Value>,
    description: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultiApi {
    path: String,
    method: Option<String>,
    function: String,
    is_integrated_response: Option<bool>,
    param: Option<Value>,
    description: Option<Value>,
    enable_cors: Option<Value>,
    service_timeout: Option<Value>,
    api_name: Option<Value>,
}

fn read_multi(
    doc: &Doc,
    base: &Path,
    value: &Value,
    stage: &str,
    app: &str,
    mut warnings: Vec<String>,
) -> Result<(Vec<FunctionSpec>, Vec<String>), ProjectError> {
    let inputs_at = vec![Seg::Key("inputs".into())];
    let inputs_value = value
        .get("inputs")
        .ok_or_else(|| doc.error(None, "`inputs` is required"))?;
    let inputs: MultiInputs = doc.typed(inputs_value, &inputs_at, &mut warnings)?;
    let _ = (
        &inputs.region,
        &inputs.role,
        &inputs.layers,
        &inputs.vpc,
        &inputs.cls,
        &inputs.tags,
    );
    let code_dir = code_dir(doc, base, inputs.src)?;
    let shared_env = inputs
        .environment
        .map(MultiEnvironment::into_map)
        .unwrap_or_default();
    let functions_at = join(&inputs_at, "functions");
    let mut functions = Vec::new();
    let mut keys = Vec::new();
    for (k, v) in &inputs.functions {
        let key = k
            .as_str()
            .ok_or_else(|| doc.error(Some(&functions_at), "a function key must be a string"))?;
        let at = join(&functions_at, key);
        let f: MultiFunction = doc.typed(v, &at, &mut warnings)?;
        let _ = (
            &f.role,
            &f.vpc,
            &f.layers,
            &f.cls,
            &f.tags,
            &f.cfs,
            &f.public_access,
            &f.eip,
            &f.async_run_enable,
            &f.trace_enable,
            &f.install_dependency,
        );
        let mut environment = shared_env.clone();
        environment.extend(
            f.environment
                .map(MultiEnvironment::into_map)
                .unwrap_or_default(),
        );
        let function_type = function_type(
            doc,
            f.function_type
                .as_deref()
                .or(inputs.function_type.as_deref()),
            &join(&at, "type"),
        )?;
        keys.push(key.to_owned());
        functions.push(FunctionSpec {
            name: f.name.unwrap_or_else(|| key.to_owned()),
            namespace: inputs
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            code_dir: code_dir.clone(),
            handler: f.handler.or(inputs.handler.clone()),
            runtime: f.runtime.or(inputs.runtime.clone()),
            description: f.description,
            memory_mb: f.memory_size.or(inputs.memory_size),
            timeout_s: f.timeout.or(inputs.timeout),
            init_timeout_s: f.init_timeout.or(inputs.init_timeout),
            environment,
            function_type,
            triggers: Vec::new(),
        });
    }
    if inputs.ignore_triggers == Some(true) {
        return Ok((functions, warnings));
    }
    let triggers_at = join(&inputs_at, "triggers");
    let index_of = |key: &str, at: &[Seg]| {
        keys.iter().position(|k| k == key).ok_or_else(|| {
            doc.error(
                Some(at),
                &format!(
                    "no function `{key}` in `inputs.functions` (it has: {})",
                    keys.join(", ")
                ),
            )
        })
    };
    for (i, item) in inputs.triggers.unwrap_or_default().into_iter().enumerate() {
        let mut at = triggers_at.clone();
        at.push(Seg::Index(i));
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind == "apigw" {
            let params_at = join(&at, "parameters");
            let params = item.get("parameters").cloned().unwrap_or(Value::Null);
            let p: MultiApigw = doc.typed(&params, &params_at, &mut warnings)?;
            let _ = (&p.protocols, &p.net_types, &p.description);
            let name = p
                .name
                .clone()
                .unwrap_or_else(|| format!("apigw-{stage}-{app}"));
            for (j, api) in p.apis.into_iter().enumerate() {
                let _ = (
                    &api.param,
                    &api.description,
                    &api.enable_cors,
                    &api.service_timeout,
                    &api.api_name,
                );
                let mut api_at = join(&params_at, "apis");
                api_at.push(Seg::Index(j));
                let f = index_of(&api.function, &join(&api_at, "function"))?;
                let endpoint = Endpoint {
                    path: api.path,
                    method: api
                        .method
                        .unwrap_or_else(|| "ANY".to_owned())
                        .to_ascii_uppercase(),
                    integrated_response: api.is_integrated_response.unwrap_or(false),
                };
                let triggers = &mut functions[f].triggers;
                if let Some(Trigger {
                    kind: TriggerKind::Apigw { endpoints, .. },
                    ..
                }) = triggers
                    .iter_mut()
                    .find(|t| t.name == name && matches!(t.kind, TriggerKind::Apigw { .. }))
                {
                    endpoints.push(endpoint);
                } else {
                    triggers.push(Trigger {
                        name: name.clone(),
                        enable: p.enable.unwrap_or(true),
                        qualifier: p.qualifier.clone().unwrap_or_else(|| "$DEFAULT".to_owned()),
                        kind: TriggerKind::Apigw {
                            stage: p
                                .environment
                                .clone()
                                .unwrap_or_else(|| "release".to_owned()),
                            service_id: p.id.clone(),
                            endpoints: vec![endpoint],
                        },
                    });
                }
            }
            continue;
        }
        let function = item
            .get("function")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                doc.error(
                    Some(&at),
                    "a trigger needs `function`: the key of one of `inputs.functions`",
                )
            })?;
        let f = index_of(function, &join(&at, "function"))?;
        let fname = functions[f].name.clone();
        let default_name = |kind: &str| format!("{kind}-{fname}-{stage}-{app}");
        if let Some(t) = trigger(doc, &item, &at, true, &default_name, &mut warnings)? {
            functions[f].triggers.push(t);
        }
    }
    Ok((functions, warnings))
}
