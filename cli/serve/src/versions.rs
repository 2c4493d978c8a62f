//! Versions, aliases and `Qualifier` (docs/platform.md section 4, docs/scfrt.md): the actions
//! `PublishVersion`, `ListVersionByFunction`, `CreateAlias`, `GetAlias`, `ListAliases`,
//! `UpdateAlias` and `DeleteAlias`, and how a `Qualifier` (`$LATEST`, a version number or an
//! alias, `$DEFAULT` included) picks what runs.
//!
//! A published version is `$LATEST`'s configuration and code directory as they were
//! ([`VersionMeta`]); it runs on a pool of its own. An alias names a main version and at most one
//! additional version with a weight in [0, 1] (the platform's limit); invocations through it are
//! split by a counter, not at random: the k-th invocation goes to the additional version exactly
//! when `floor(k * weight)` grows, so after n invocations `floor(n * weight)` went there
//! (the weight counted in millionths, so that no rounding moves a call). `$DEFAULT` exists for
//! every function, on `$LATEST` until updated, and cannot be deleted. Changes to versions and
//! aliases (and to `$LATEST`'s code, which a version may share) hold [`App::publishing`].

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::store::{AliasMeta, FunctionMeta, Published, VersionMeta};
use crate::{App, Entry, function_name, namespace, not_found, unix_now};
use scf_cloud::api::{ApiError, Params, success_envelope};
use scf_cloud::tc3;
use scf_emulator::pool::Pool;

/// The actions of this module.
pub(crate) const ACTIONS: [&str; 7] = [
    "PublishVersion",
    "ListVersionByFunction",
    "CreateAlias",
    "GetAlias",
    "ListAliases",
    "UpdateAlias",
    "DeleteAlias",
];

/// The alias every function has.
pub(crate) const DEFAULT_ALIAS: &str = "$DEFAULT";
/// The editable version.
pub(crate) const LATEST: &str = "$LATEST";
/// A weight's unit: weights are kept in millionths.
const WEIGHT_UNIT: u64 = 1_000_000;

/// What runs: `$LATEST` or a published version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `$LATEST`.
    Latest,
    /// A published version.
    Version(u32),
}

impl Target {
    /// `$LATEST` or the number, as the API writes versions.
    pub(crate) fn label(self) -> String {
        match self {
            Target::Latest => LATEST.to_owned(),
            Target::Version(n) => n.to_string(),
        }
    }
}

impl Entry {
    /// The published version `n`.
    fn version(&self, n: u32) -> Option<&VersionMeta> {
        self.published.versions.iter().find(|v| v.version == n)
    }

    /// The version a version string (`$LATEST` or a number) names, if it exists.
    fn target_of(&self, version: &str) -> Option<Target> {
        if version == LATEST {
            return Some(Target::Latest);
        }
        let n = canonical_number(version)?;
        self.version(n).map(|_| Target::Version(n))
    }

    /// The alias `name` (`$DEFAULT` as created when it was never updated).
    fn alias(&self, name: &str) -> Option<AliasMeta> {
        self.published
            .aliases
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .or_else(|| (name == DEFAULT_ALIAS).then(|| default_alias(&self.meta)))
    }

    /// Every alias, `$DEFAULT` first.
    fn aliases(&self) -> Vec<AliasMeta> {
        let mut out = Vec::new();
        if !self
            .published
            .aliases
            .iter()
            .any(|a| a.name == DEFAULT_ALIAS)
        {
            out.push(default_alias(&self.meta));
        }
        out.extend(self.published.aliases.iter().cloned());
        out.sort_by_key(|a| a.name != DEFAULT_ALIAS);
        out
    }

    /// The configuration `target` runs with and its label.
    pub(crate) fn config_of(&self, target: Target) -> Option<(FunctionMeta, String)> {
        match target {
            Target::Latest => Some((self.meta.clone(), LATEST.to_owned())),
            Target::Version(n) => self.version(n).map(|v| (v.config.clone(), n.to_string())),
        }
    }

    /// The pool `target` runs on.
    pub(crate) fn pool_of(&self, target: Target) -> Option<Arc<Pool>> {
        match target {
            Target::Latest => Some(Arc::clone(&self.pool)),
            Target::Version(n) => self.version_pools.get(&n).cloned(),
        }
    }

    /// Every pool of the function: `$LATEST`'s and its versions'.
    pub(crate) fn pools(&self) -> Vec<Arc<Pool>> {
        let mut out = vec![Arc::clone(&self.pool)];
        out.extend(self.version_pools.values().cloned());
        out
    }

    /// What `qualifier` names, without routing: an alias stands for its main version.
    /// `None` when nothing of that name exists.
    pub(crate) fn resolve(&self, qualifier: &str) -> Option<Target> {
        if let Some(t) = self.target_of(qualifier) {
            return Some(t);
        }
        let alias = self.alias(qualifier)?;
        self.target_of(&alias.function_version)
    }

    /// What an invocation through `qualifier` runs: an alias routes by its weights (and counts
    /// the invocation). `None` when nothing of that name exists.
    pub(crate) fn route(&mut self, qualifier: &str) -> Option<Target> {
        if let Some(t) = self.target_of(qualifier) {
            return Some(t);
        }
        let alias = self.alias(qualifier)?;
        let main = self.target_of(&alias.function_version)?;
        let Some((version, weight)) = alias.additional.first() else {
            return Some(main);
        };
        let counter = self.routed.entry(alias.name.clone()).or_insert(0);
        *counter += 1;
        if goes_to_additional(*counter, weight_ppm(*weight)) {
            self.target_of(version).or(Some(main))
        } else {
            Some(main)
        }
    }
}

/// Whether an alias's `k`-th invocation (from 1) goes to its additional version of weight `ppm`
/// millionths: exactly when `floor(k * weight)` grows.
fn goes_to_additional(k: u64, ppm: u64) -> bool {
    let k = u128::from(k);
    let ppm = u128::from(ppm);
    let unit = u128::from(WEIGHT_UNIT);
    (k * ppm) / unit > ((k - 1) * ppm) / unit
}

/// `weight` in millionths (weights are checked to be in [0, 1]).
fn weight_ppm(weight: f64) -> u64 {
    // In [0, 1e6] after the clamp: the cast cannot truncate or wrap.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ppm = (weight.clamp(0.0, 1.0) * WEIGHT_UNIT as f64).round() as u64;
    ppm
}

/// `s` as a version number, if it is written as the API writes one (`1`, not `01` or `+1`).
fn canonical_number(s: &str) -> Option<u32> {
    let n: u32 = s.parse().ok()?;
    (n.to_string() == s && n > 0).then_some(n)
}

/// `$DEFAULT` as every function starts with it.
fn default_alias(meta: &FunctionMeta) -> AliasMeta {
    AliasMeta {
        name: DEFAULT_ALIAS.to_owned(),
        function_version: LATEST.to_owned(),
        additional: Vec::new(),
        description: String::new(),
        add_time: meta.add_time,
        mod_time: meta.add_time,
    }
}

/// Runs one of [`ACTIONS`].
pub(crate) fn handle(
    app: &App,
    action: &str,
    params: &Params,
    request_id: &str,
) -> Result<String, ApiError> {
    let fields = match action {
        "PublishVersion" => publish_version(app, params)?,
        "ListVersionByFunction" => list_versions(app, params)?,
        "CreateAlias" => create_alias(app, params)?,
        "GetAlias" => get_alias(app, params)?,
        "ListAliases" => list_aliases(app, params)?,
        "UpdateAlias" => update_alias(app, params)?,
        "DeleteAlias" => delete_alias(app, params)?,
        other => return Err(crate::unknown_action(other)),
    };
    Ok(success_envelope(fields, request_id))
}

/// The function's key, after checking the name, the namespace and that it exists.
fn function_key(app: &App, params: &Params) -> Result<(String, String), ApiError> {
    let name = function_name(params)?;
    let ns = namespace(app, params)?;
    if !app.lock().contains_key(&(ns.clone(), name.clone())) {
        return Err(not_found(&ns, &name));
    }
    Ok((ns, name))
}

/// Runs `f` on the function's entry; `ResourceNotFound.Function` when it is gone.
fn with_entry<T>(
    app: &App,
    key: &(String, String),
    f: impl FnOnce(&mut Entry) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut functions = app.lock();
    let entry = functions
        .get_mut(key)
        .ok_or_else(|| not_found(&key.0, &key.1))?;
    f(entry)
}

fn description(params: &Params) -> Result<Option<String>, ApiError> {
    match params.opt_str("Description", "Description")? {
        Some(d) if d.chars().count() > 1000 => Err(ApiError::invalid(
            "Description",
            "Description is at most 1000 characters.",
        )),
        d => Ok(d.map(str::to_owned)),
    }
}

fn publish_version(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let description = description(params)?.unwrap_or_default();
    let _publishing = app.publishing();
    let (mut published, meta) =
        with_entry(app, &key, |e| Ok((e.published.clone(), e.meta.clone())))?;
    let number = published.last_version.checked_add(1).ok_or_else(|| {
        ApiError::new(
            "LimitExceeded.FunctionVersions",
            "The function has published its last version number.",
        )
    })?;
    let now = unix_now();
    let version = VersionMeta {
        version: number,
        description,
        config: meta,
        add_time: now,
        mod_time: now,
    };
    published.last_version = number;
    published.versions.push(version.clone());
    app.store.save_published(&key.0, &key.1, &published)?;
    let pool = Arc::new(Pool::new(
        version
            .config
            .version_config(&app.store, &number.to_string()),
        app.pool_opts,
    ));
    with_entry(app, &key, |e| {
        e.published = published;
        e.version_pools.insert(number, pool);
        Ok(())
    })?;
    let c = &version.config;
    let fields = json!({
        "FunctionVersion": number.to_string(),
        "CodeSize": c.code_size,
        "MemorySize": c.memory_mb,
        "Description": version.description,
        "Handler": c.handler,
        "Timeout": c.timeout_s,
        "Runtime": c.runtime,
        "Namespace": c.namespace,
    });
    Ok(object(fields))
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn list_versions(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let (offset, limit) = super::page(params)?;
    let (meta, mut versions) = with_entry(app, &key, |e| {
        Ok((e.meta.clone(), e.published.versions.clone()))
    })?;
    match params.opt_str("OrderBy", "OrderBy")?.unwrap_or("AddTime") {
        "AddTime" => versions.sort_by_key(|v| (v.add_time, v.version)),
        "ModTime" => versions.sort_by_key(|v| (v.mod_time, v.version)),
        other => {
            return Err(ApiError::invalid(
                "OrderBy",
                format!("OrderBy `{other}` is not AddTime or ModTime."),
            ));
        }
    }
    if super::descending(params, "ASC")? {
        versions.reverse();
    }
    // `$LATEST` leads the list whatever the order, as the platform lists it.
    let mut all = vec![json!({
        "Version": LATEST,
        "Description": meta.description,
        "AddTime": tc3::utc_datetime(meta.add_time),
        "ModTime": tc3::utc_datetime(meta.mod_time),
        "Status": "Active",
    })];
    all.extend(versions.iter().map(|v| {
        json!({
            "Version": v.version.to_string(),
            "Description": v.description,
            "AddTime": tc3::utc_datetime(v.add_time),
            "ModTime": tc3::utc_datetime(v.mod_time),
            "Status": "Active",
        })
    }));
    let total = all.len();
    let shown: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    let names: Vec<Value> = shown.iter().map(|v| v["Version"].clone()).collect();
    let mut fields = Map::new();
    fields.insert("FunctionVersion".into(), Value::Array(names));
    fields.insert("Versions".into(), Value::Array(shown));
    fields.insert("TotalCount".into(), Value::from(total));
    Ok(fields)
}

/// The `Name` of an alias action.
fn alias_name(params: &Params) -> Result<String, ApiError> {
    Ok(params.req_str("Name", "Name")?.to_owned())
}

/// A new alias's name: 1-64 letters, digits, `-` or `_`, starting with a letter.
fn check_new_alias_name(name: &str) -> Result<(), ApiError> {
    if name == DEFAULT_ALIAS {
        return Err(ApiError::new(
            "ResourceInUse.Alias",
            "The alias `$DEFAULT` exists for every function; change it with UpdateAlias.",
        ));
    }
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "Name",
            format!(
                "The alias name `{name}` must be 1-64 letters, digits, `-` or `_`, starting with a letter."
            ),
        ))
    }
}

fn version_not_found(version: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound.FunctionVersion",
        format!("The function has no version `{version}` (publish it with PublishVersion)."),
    )
}

/// The main version (`FunctionVersion`, required) of an alias, which must exist.
fn main_version(entry: &Entry, params: &Params) -> Result<String, ApiError> {
    let version = params.req_str("FunctionVersion", "FunctionVersion")?;
    entry
        .target_of(version)
        .map(Target::label)
        .ok_or_else(|| version_not_found(version))
}

/// `RoutingConfig`: the additional versions by weight (at most one, not the main version, in
/// [0, 1]). The rule-based form (`AddtionVersionMatchs`) is refused: scfrt serve does not
/// implement it.
fn routing(entry: &Entry, main: &str, params: &Params) -> Result<Vec<(String, f64)>, ApiError> {
    let bad = |m: String| ApiError::invalid("RoutingConfig", m);
    let weights_err = |m: String| ApiError::invalid("AdditionalVersionWeights", m);
    let config = match params.get("RoutingConfig") {
        None => return Ok(Vec::new()),
        Some(Value::Object(c)) => c,
        Some(_) => return Err(bad("RoutingConfig must be an object.".into())),
    };
    let is_empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    if !is_empty(config.get("AddtionVersionMatchs")) {
        return Err(bad(
            "Rule-based routing (RoutingConfig.AddtionVersionMatchs) is not supported by scfrt serve; route by weight with AdditionalVersionWeights.".into(),
        ));
    }
    let weights = match config.get("AdditionalVersionWeights") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(w)) => w,
        Some(_) => {
            return Err(weights_err(
                "AdditionalVersionWeights must be a list of {Version, Weight}.".into(),
            ));
        }
    };
    if weights.len() > 1 {
        return Err(weights_err(format!(
            "An alias has at most one additional version; {} were given.",
            weights.len()
        )));
    }
    let mut out = Vec::new();
    for w in weights {
        let Some(Value::String(version)) = w.get("Version") else {
            return Err(weights_err(
                "Each additional version needs a string Version.".into(),
            ));
        };
        let weight = match w.get("Weight") {
            Some(Value::Number(n)) => n.as_f64(),
            // Form and GET parameters arrive as strings.
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let Some(weight) = weight.filter(|x| x.is_finite() && (0.0..=1.0).contains(x)) else {
            return Err(weights_err(format!(
                "The Weight of version `{version}` must be a number from 0 to 1."
            )));
        };
        let target = entry
            .target_of(version)
            .ok_or_else(|| version_not_found(version))?;
        let label = target.label();
        if label == main {
            return Err(weights_err(format!(
                "The additional version `{label}` is the alias's main version."
            )));
        }
        out.push((label, weight));
    }
    Ok(out)
}

fn alias_json(a: &AliasMeta) -> Value {
    json!({
        "FunctionVersion": a.function_version,
        "Name": a.name,
        "RoutingConfig": {
            "AdditionalVersionWeights": a.additional.iter()
                .map(|(v, w)| json!({"Version": v, "Weight": w}))
                .collect::<Vec<_>>(),
            "AddtionVersionMatchs": [],
        },
        "Description": a.description,
        "AddTime": tc3::utc_datetime(a.add_time),
        "ModTime": tc3::utc_datetime(a.mod_time),
    })
}

fn alias_not_found(name: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound.Alias",
        format!("The function has no alias `{name}`."),
    )
}

/// Stores `published` and, once it is on disk, makes it the entry's; resets the routing
/// counter of `alias`.
fn commit(
    app: &App,
    key: &(String, String),
    published: Published,
    alias: &str,
) -> Result<(), ApiError> {
    app.store.save_published(&key.0, &key.1, &published)?;
    with_entry(app, key, |e| {
        e.published = published;
        e.routed.remove(alias);
        Ok(())
    })
}

fn create_alias(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let name = alias_name(params)?;
    check_new_alias_name(&name)?;
    let description = description(params)?.unwrap_or_default();
    let _publishing = app.publishing();
    let published = with_entry(app, &key, |e| {
        let main = main_version(e, params)?;
        let additional = routing(e, &main, params)?;
        if e.alias(&name).is_some() {
            return Err(ApiError::new(
                "ResourceInUse.Alias",
                format!("The alias `{name}` already exists."),
            ));
        }
        let now = unix_now();
        let mut published = e.published.clone();
        published.aliases.push(AliasMeta {
            name: name.clone(),
            function_version: main,
            additional,
            description,
            add_time: now,
            mod_time: now,
        });
        Ok(published)
    })?;
    commit(app, &key, published, &name)?;
    Ok(Map::new())
}

fn get_alias(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let name = alias_name(params)?;
    let alias = with_entry(app, &key, |e| {
        e.alias(&name).ok_or_else(|| alias_not_found(&name))
    })?;
    Ok(object(alias_json(&alias)))
}

fn list_aliases(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let (offset, limit) = super::page(params)?;
    let filter = params
        .opt_str("FunctionVersion", "FunctionVersion")?
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let aliases = with_entry(app, &key, |e| Ok(e.aliases()))?;
    let matching: Vec<&AliasMeta> = aliases
        .iter()
        .filter(|a| {
            filter.as_ref().is_none_or(|v| {
                a.function_version == *v || a.additional.iter().any(|(x, _)| x == v)
            })
        })
        .collect();
    let mut fields = Map::new();
    fields.insert(
        "Aliases".into(),
        Value::Array(
            matching
                .iter()
                .skip(offset)
                .take(limit)
                .map(|a| alias_json(a))
                .collect(),
        ),
    );
    fields.insert("TotalCount".into(), Value::from(matching.len()));
    Ok(fields)
}

fn update_alias(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let name = alias_name(params)?;
    let description = description(params)?;
    let _publishing = app.publishing();
    let published = with_entry(app, &key, |e| {
        let mut alias = e.alias(&name).ok_or_else(|| alias_not_found(&name))?;
        let main = main_version(e, params)?;
        // Without RoutingConfig the alias sends everything to its main version.
        alias.additional = routing(e, &main, params)?;
        alias.function_version = main;
        if let Some(d) = description {
            alias.description = d;
        }
        alias.mod_time = unix_now();
        let mut published = e.published.clone();
        match published.aliases.iter_mut().find(|a| a.name == name) {
            Some(slot) => *slot = alias,
            None => published.aliases.push(alias),
        }
        Ok(published)
    })?;
    commit(app, &key, published, &name)?;
    Ok(Map::new())
}

fn delete_alias(app: &App, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let key = function_key(app, params)?;
    let name = alias_name(params)?;
    if name == DEFAULT_ALIAS {
        return Err(ApiError::invalid(
            "Alias",
            "The alias `$DEFAULT` cannot be deleted.",
        ));
    }
    let _publishing = app.publishing();
    let published = with_entry(app, &key, |e| {
        if !e.published.aliases.iter().any(|a| a.name == name) {
            return Err(alias_not_found(&name));
        }
        let mut published = e.published.clone();
        published.aliases.retain(|a| a.name != name);
        Ok(published)
    })?;
    commit(app, &key, published, &name)?;
    Ok(Map::new())
}

/// `DeleteFunction` with a version `Qualifier`: removes that version only. Refused while an
/// alias routes to it. The caller holds [`App::publishing`].
pub(crate) fn delete_version(
    app: &App,
    key: &(String, String),
    qualifier: &str,
) -> Result<(), ApiError> {
    let (published, pool, code) = with_entry(app, key, |e| {
        let Some(n) = canonical_number(qualifier).filter(|n| e.version(*n).is_some()) else {
            let message = if e.alias(qualifier).is_some() {
                format!(
                    "`{qualifier}` is an alias; DeleteFunction's Qualifier names a version (DeleteAlias removes an alias)."
                )
            } else {
                format!("The function has no version `{qualifier}`.")
            };
            return Err(ApiError::new("ResourceNotFound.Qualifier", message));
        };
        if let Some(a) = e.aliases().iter().find(|a| {
            a.function_version == qualifier || a.additional.iter().any(|(v, _)| v == qualifier)
        }) {
            return Err(ApiError::new(
                "UnsupportedOperation.AliasBind",
                format!(
                    "Version {qualifier} is bound to the alias `{}`; point the alias elsewhere first.",
                    a.name
                ),
            ));
        }
        let mut published = e.published.clone();
        published.versions.retain(|v| v.version != n);
        let code = e
            .version(n)
            .map(|v| v.config.code_dir.clone())
            .filter(|dir| !published.uses_code(&e.meta.code_dir, dir));
        Ok((published, e.version_pools.get(&n).cloned(), code))
    })?;
    app.store.save_published(&key.0, &key.1, &published)?;
    with_entry(app, key, |e| {
        if let Ok(n) = qualifier.parse::<u32>() {
            e.version_pools.remove(&n);
        }
        e.published = published;
        Ok(())
    })?;
    if let Some(pool) = pool {
        pool.retire(code.map(|dir| app.store.function_dir(&key.0, &key.1).join(dir)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of the first `n` invocations go to the additional version.
    fn routed(n: u64, weight: f64) -> Vec<bool> {
        (1..=n)
            .map(|k| goes_to_additional(k, weight_ppm(weight)))
            .collect()
    }

    #[test]
    fn after_n_invocations_floor_of_n_times_weight_went_to_the_additional_version() {
        for (weight, n) in [(0.3, 10), (0.5, 7), (0.25, 1000), (0.123_456, 1_000_000)] {
            let mut went = 0usize;
            for (k, additional) in (1..=n).zip(routed(n, weight)) {
                went += usize::from(additional);
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let expected = (k as f64 * weight + 1e-9).floor() as usize;
                assert_eq!(went, expected, "weight {weight}, after {k}");
            }
        }
        // 0.5 alternates, the additional version second.
        assert_eq!(routed(4, 0.5), [false, true, false, true]);
    }

    #[test]
    fn weights_zero_and_one_and_the_smallest() {
        assert!(routed(1000, 0.0).iter().all(|b| !b));
        assert!(routed(1000, 1.0).iter().all(|b| *b));
        let tiny = routed(2_000_000, 0.000_001);
        assert_eq!(tiny.iter().filter(|b| **b).count(), 2);
        assert!(tiny[999_999] && tiny[1_999_999]);
        // A counter near the top of its range does not overflow.
        assert!(goes_to_additional(u64::MAX, WEIGHT_UNIT));
    }
}
