//! Lenient field readers: the platform's events leave fields out, send `null`, and write some
//! numbers as strings (docs/events.md, "Leniency"). Each reader takes what the platform may send
//! and gives the field's Rust type; what cannot be read at all is still an error.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` (or a missing field, with `#[serde(default)]`) as the type's default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A scalar as text: strings as they are, numbers and booleans written out, `null` as "".
pub(crate) fn scalar_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A string field that may arrive as a number, a boolean or `null`.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    let kind = kind(&v);
    scalar_text(v).ok_or_else(|| D::Error::custom(format!("expected a string, found {kind}")))
}

/// A map of strings whose values may be numbers, booleans or `null`; `null` for the map is empty.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = Option::<BTreeMap<String, Value>>::deserialize(d)?.unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| {
            let kind = kind(&v);
            match scalar_text(v) {
                Some(text) => Ok((k, text)),
                None => Err(D::Error::custom(format!(
                    "{k:?}: expected a string, found {kind}"
                ))),
            }
        })
        .collect()
}

/// A number that may arrive as a string of digits; `null` as the default.
pub(crate) fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Default,
    T::Err: Display,
{
    let v = Value::deserialize(d)?;
    let text = match v {
        Value::Null => return Ok(T::default()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        other => {
            return Err(D::Error::custom(format!(
                "expected a number, found {}",
                kind(&other)
            )));
        }
    };
    text.parse::<T>()
        .map_err(|e| D::Error::custom(format!("{text:?} is not a valid number: {e}")))
}

/// A boolean that may arrive as `"true"` / `"false"`; `null` as false.
pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        other => Err(D::Error::custom(format!(
            "expected a boolean, found {}",
            kind(&other)
        ))),
    }
}

/// A list of strings that may also arrive as one comma-separated string (or `null`: empty).
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| {
                let kind = kind(&v);
                scalar_text(v).ok_or_else(|| {
                    D::Error::custom(format!("expected a list of strings, found {kind} in it"))
                })
            })
            .collect(),
        other => Err(D::Error::custom(format!(
            "expected a list of strings, found {}",
            kind(&other)
        ))),
    }
}

/// A JSON value's kind, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An optional string that may arrive as a number or a boolean; `null` is `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => {
            let kind = kind(&v);
            scalar_text(v)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("expected a string, found {kind}")))
        }
    }
}
