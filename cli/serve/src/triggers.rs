//! Triggers (docs/triggers.md, "Triggers in scfrt serve"): the actions `CreateTrigger`,
//! `DeleteTrigger` and `ListTriggers`, and timer triggers that fire.
//!
//! Every trigger is stored with its function (`triggers.json`, [`TriggerMeta`]) and listed; an
//! enabled `timer` fires on its cron expression ([`Schedule`]: SCF's seven fields, or five),
//! invoking its function's qualifier asynchronously with the timer event, as the platform does.
//! Other types are stored and listed only: nothing here produces COS, CMQ or CKafka messages.

use std::sync::{Arc, Weak};

use serde_json::{Map, Value, json};

use crate::store::TriggerMeta;
use crate::{App, descending, function_name, namespace, not_found, page, unix_now};
use scf_cloud::api::{ApiError, Params, success_envelope};
use scf_cloud::tc3;
use scf_triggers::schedule::Schedule;
use scf_triggers::timers::{Firing, Timers};

/// The actions of this module.
pub(crate) const ACTIONS: [&str; 3] = ["CreateTrigger", "DeleteTrigger", "ListTriggers"];

/// The trigger types `CreateTrigger` takes.
const TYPES: [&str; 8] = [
    "timer", "cos", "cmq", "ckafka", "apigw", "cls", "http", "mps",
];

/// At most this many triggers of one type per function (SCF's quota).
const MAX_SAME_TYPE: usize = 10;

/// Runs one of [`ACTIONS`].
pub(crate) fn handle(
    app: &App,
    action: &str,
    params: &Params,
    request_id: &str,
) -> Result<String, ApiError> {
    let fields = match action {
        "CreateTrigger" => create(app, params)?,
        "DeleteTrigger" => delete(app, params)?,
        "ListTriggers" => list(app, params)?,
        other => return Err(crate::unknown_action(other)),
    };
    Ok(success_envelope(fields, request_id))
}

/// The id of a trigger's timer in [`Timers`].
fn timer_id(ns: &str, function: &str, trigger: &str) -> String {
    format!("{ns}/{function}/{trigger}")
}

/// The prefix of every timer id of a function.
pub(crate) fn timer_prefix(ns: &str, function: &str) -> String {
    format!("{ns}/{function}/")
}

/// A timer's cron expression from its `TriggerDesc`: the expression itself, or
/// `{"cron": "..."}`.
fn cron_of(desc: &str) -> &str {
    desc.trim()
}

fn schedule(desc: &str) -> Result<Schedule, ApiError> {
    let expr = match serde_json::from_str::<Value>(desc) {
        Ok(Value::Object(m)) => m
            .get("cron")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default(),
        _ => cron_of(desc).to_owned(),
    };
    Schedule::parse(&expr).map_err(|e| ApiError::invalid("TriggerDesc", e.to_string()))
}

/// Starts the timers of `app`'s stored, enabled timer triggers; each firing invokes its
/// function on a thread of its own (the app is held weakly: the timers stop with the app).
pub(crate) fn start_timers(app: &Arc<App>) -> std::io::Result<Timers> {
    let weak: Weak<App> = Arc::downgrade(app);
    let timers = Timers::start(move |f: Firing| {
        if let Some(app) = weak.upgrade() {
            let spawned = std::thread::Builder::new()
                .name("scfrt-timer-fire".into())
                .spawn(move || fire(&app, &f));
            if let Err(e) = spawned {
                eprintln!("scfrt serve: a timer could not fire: {e}");
            }
        }
    })?;
    for ((ns, name), entry) in app.lock().iter() {
        for t in entry
            .triggers
            .iter()
            .filter(|t| t.kind == "timer" && t.enable)
        {
            match schedule(&t.desc) {
                Ok(s) => timers.add(&timer_id(ns, name, &t.name), &t.name, &t.custom_argument, s),
                Err(e) => eprintln!(
                    "scfrt serve: timer {}/{}/{} not started: {}",
                    ns, name, t.name, e.message
                ),
            }
        }
    }
    Ok(timers)
}

/// A timer fired: invoke its function's qualifier with the event, as an `Event` invocation.
fn fire(app: &Arc<App>, f: &Firing) {
    let mut parts = f.id.splitn(3, '/');
    let (Some(ns), Some(name), Some(trigger)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let key = (ns.to_owned(), name.to_owned());
    let target = {
        let mut functions = app.lock();
        let Some(entry) = functions.get_mut(&key) else {
            return;
        };
        let Some(q) = entry
            .triggers
            .iter()
            .find(|t| t.name == trigger && t.kind == "timer")
            .map(|t| t.qualifier.clone())
        else {
            return;
        };
        match entry.route(&q) {
            Some(t) => t,
            None => {
                eprintln!(
                    "scfrt serve: timer {ns}/{name}/{trigger}: qualifier `{q}` names nothing"
                );
                return;
            }
        }
    };
    let event = f.event.to_string().into_bytes();
    crate::run_event(
        app,
        key,
        target,
        &event,
        &uuid::Uuid::new_v4().to_string(),
        "Timer",
    );
}

fn trigger_name(params: &Params) -> Result<String, ApiError> {
    let name = params.req_str("TriggerName", "TriggerName")?;
    Ok(name.to_owned())
}

fn trigger_type(params: &Params) -> Result<String, ApiError> {
    let t = params.req_str("Type", "Type")?;
    if !TYPES.contains(&t) {
        return Err(ApiError::invalid(
            "Type",
            format!("Type `{t}` is not one of {}.", TYPES.join(", ")),
        ));
    }
    Ok(t.to_owned())
}

/// The `Trigger` model (CreateTrigger's `TriggerInfo`, GetFunction's `Triggers`).
fn trigger_json(t: &TriggerMeta) -> Value {
    json!({
        "Enable": i64::from(t.enable),
        "Qualifier": t.qualifier,
        "TriggerName": t.name,
        "Type": t.kind,
        "TriggerDesc": t.desc,
        "AvailableStatus": "Available",
        "CustomArgument": t.custom_argument,
        "AddTime": tc3::utc_datetime(t.add_time),
        "ModTime": tc3::utc_datetime(t.mod_time),
        "ResourceId": "",
        "BindStatus": "",
        "TriggerAttribute": "",
        "Description": t.description,
    })
}

/// The `TriggerInfo` model (ListTriggers): `Trigger` and `BoundResources`.
fn info(t: &TriggerMeta) -> Value {
    let mut v = trigger_json(t);
    if let Some(m) = v.as_object_mut() {
        m.insert("BoundResources".into(), json!(""));
    }
    v
}

/// `Triggers` of `GetFunction`.
pub(crate) fn function_triggers(triggers: &[TriggerMeta]) -> Value {
    Value::Array(triggers.iter().map(trigger_json).collect())
}

fn create(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let tname = trigger_name(params)?;
    let kind = trigger_type(params)?;
    let desc = params
        .opt_str("TriggerDesc", "TriggerDesc")?
        .unwrap_or("")
        .to_owned();
    let schedule = if kind == "timer" {
        let valid = !tname.is_empty()
            && tname.len() <= 100
            && tname.starts_with(|c: char| c.is_ascii_alphabetic())
            && tname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(ApiError::invalid(
                "TriggerName",
                "A timer's TriggerName is 1-100 letters, digits, `-` or `_`, starting with a letter.",
            ));
        }
        Some(schedule(&desc)?)
    } else {
        if tname.is_empty() || tname.len() > 256 {
            return Err(ApiError::invalid(
                "TriggerName",
                "TriggerName is 1-256 characters.",
            ));
        }
        None
    };
    let enable = match params.opt_str("Enable", "Enable")?.unwrap_or("OPEN") {
        "OPEN" => true,
        "CLOSE" => false,
        other => {
            return Err(ApiError::invalid(
                "Enable",
                format!("Enable `{other}` is not OPEN or CLOSE."),
            ));
        }
    };
    let qualifier = crate::qualifier(params)?.unwrap_or_else(|| "$LATEST".to_owned());
    let custom_argument = params
        .opt_str("CustomArgument", "CustomArgument")?
        .unwrap_or("")
        .to_owned();
    if custom_argument.len() > 4096 {
        return Err(ApiError::invalid(
            "CustomArgument",
            "CustomArgument is at most 4 KB.",
        ));
    }
    let description = params
        .opt_str("Description", "Description")?
        .unwrap_or("")
        .to_owned();
    let now = unix_now();
    let meta = TriggerMeta {
        name: tname.clone(),
        kind: kind.clone(),
        desc,
        qualifier: qualifier.clone(),
        enable,
        custom_argument,
        description,
        add_time: now,
        mod_time: now,
    };
    let key = (ns.clone(), name.clone());
    {
        let mut functions = app.lock();
        let entry = functions
            .get_mut(&key)
            .ok_or_else(|| not_found(&ns, &name))?;
        if entry.resolve(&qualifier).is_none() {
            return Err(crate::unknown_qualifier(
                "ResourceNotFound.Qualifier",
                &qualifier,
            ));
        }
        if entry
            .triggers
            .iter()
            .any(|t| t.name == tname && t.kind == kind)
        {
            return Err(ApiError::new(
                "ResourceInUse.Trigger",
                format!("The function already has a {kind} trigger `{tname}`."),
            ));
        }
        if entry.triggers.iter().filter(|t| t.kind == kind).count() >= MAX_SAME_TYPE {
            return Err(ApiError::new(
                "LimitExceeded.Trigger",
                format!("A function has at most {MAX_SAME_TYPE} {kind} triggers."),
            ));
        }
        let mut triggers = entry.triggers.clone();
        triggers.push(meta.clone());
        app.store.save_triggers(&ns, &name, &triggers)?;
        entry.triggers = triggers;
    }
    if let (Some(s), true, Some(timers)) = (schedule, enable, app.timers.get()) {
        timers.add(
            &timer_id(&ns, &name, &tname),
            &tname,
            &meta.custom_argument,
            s,
        );
    }
    let mut out = Map::new();
    out.insert("TriggerInfo".into(), trigger_json(&meta));
    Ok(out)
}

fn delete(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let tname = trigger_name(params)?;
    let kind = trigger_type(params)?;
    let key = (ns.clone(), name.clone());
    {
        let mut functions = app.lock();
        let entry = functions
            .get_mut(&key)
            .ok_or_else(|| not_found(&ns, &name))?;
        let before = entry.triggers.len();
        let triggers: Vec<TriggerMeta> = entry
            .triggers
            .iter()
            .filter(|t| !(t.name == tname && t.kind == kind))
            .cloned()
            .collect();
        if triggers.len() == before {
            return Err(ApiError::new(
                "ResourceNotFound.Trigger",
                format!("The function has no {kind} trigger `{tname}`."),
            ));
        }
        app.store.save_triggers(&ns, &name, &triggers)?;
        entry.triggers = triggers;
    }
    if kind == "timer"
        && let Some(timers) = app.timers.get()
    {
        timers.remove(&timer_id(&ns, &name, &tname));
    }
    Ok(Map::new())
}

fn list(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    let (offset, limit) = page(params)?;
    let desc = descending(params, "DESC")?;
    let by_add = match params.opt_str("OrderBy", "OrderBy")?.unwrap_or("mod_time") {
        "add_time" | "AddTime" => true,
        "mod_time" | "ModTime" => false,
        other => {
            return Err(ApiError::invalid(
                "OrderBy",
                format!("OrderBy `{other}` is not add_time or mod_time."),
            ));
        }
    };
    let mut qualifiers: Option<Vec<String>> = None;
    if let Some(filters) = params.get("Filters") {
        let bad = || {
            ApiError::invalid(
                "Filters",
                "Filters is a list of {Name, Values}; Name is Qualifier.",
            )
        };
        for f in filters.as_array().ok_or_else(bad)? {
            match f.get("Name").and_then(Value::as_str) {
                Some("Qualifier") => {
                    let values = f.get("Values").and_then(Value::as_array).ok_or_else(bad)?;
                    qualifiers = Some(
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                _ => return Err(bad()),
            }
        }
    }
    let mut triggers = app
        .lock()
        .get(&(ns.clone(), name.clone()))
        .ok_or_else(|| not_found(&ns, &name))?
        .triggers
        .clone();
    if let Some(q) = &qualifiers {
        triggers.retain(|t| q.contains(&t.qualifier));
    }
    // Stored in creation order: a stable sort keeps it among equal times.
    triggers.sort_by_key(|t| if by_add { t.add_time } else { t.mod_time });
    if desc {
        triggers.reverse();
    }
    let total = triggers.len();
    let mut out = Map::new();
    out.insert("TotalCount".into(), json!(total));
    out.insert(
        "Triggers".into(),
        Value::Array(triggers.iter().skip(offset).take(limit).map(info).collect()),
    );
    Ok(out)
}
