//! Reading a project file's YAML: typed values with the path and line of a bad key, and the
//! keys nobody read (serde_norway for YAML, serde_path_to_error for the failing key's path,
//! serde_ignored for the unread ones).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::ProjectError;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// `a.b[0].c`.
pub(super) fn path_text(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// `prefix` then `key`.
pub(super) fn join(prefix: &[Seg], key: &str) -> Vec<Seg> {
    let mut p = prefix.to_vec();
    p.push(Seg::Key(key.to_owned()));
    p
}

/// A parsed project file.
pub(super) struct Doc {
    pub(super) file: PathBuf,
    pub(super) text: String,
    pub(super) value: Value,
}

impl Doc {
    /// Parses `text`; a YAML syntax error names its line.
    pub(super) fn parse(file: &Path, text: &str) -> Result<Doc, ProjectError> {
        let value: Value = serde_norway::from_str(text).map_err(|e| ProjectError {
            file: file.to_owned(),
            line: e.location().map(|l| l.line()),
            key: None,
            message: format!("not valid YAML: {e}"),
        })?;
        if !value.is_mapping() {
            return Err(ProjectError {
                file: file.to_owned(),
                line: None,
                key: None,
                message: "the file is not a YAML mapping".to_owned(),
            });
        }
        Ok(Doc {
            file: file.to_owned(),
            text: text.to_owned(),
            value,
        })
    }

    /// Whether the top level has `key`.
    pub(super) fn has_key(&self, key: &str) -> bool {
        self.value.get(key).is_some()
    }

    /// An error about the key at `path` (or the whole file).
    pub(super) fn error(&self, path: Option<&[Seg]>, message: &str) -> ProjectError {
        ProjectError {
            file: self.file.clone(),
            line: path.and_then(|p| line_of(&self.text, p)),
            key: path.map(path_text),
            message: message.to_owned(),
        }
    }

    /// `value` (found at `at`) as a `T`; keys `T` does not read are added to `warnings`.
    pub(super) fn typed<T: DeserializeOwned>(
        &self,
        value: &Value,
        at: &[Seg],
        warnings: &mut Vec<String>,
    ) -> Result<T, ProjectError> {
        let mut unread = Vec::new();
        let mut note = |p: serde_ignored::Path<'_>| unread.push(ignored_path(&p));
        let de = serde_ignored::Deserializer::new(value.clone(), &mut note);
        let result: Result<T, _> = serde_path_to_error::deserialize(de);
        match result {
            Ok(v) => {
                for p in unread {
                    let mut full = at.to_vec();
                    full.extend(p);
                    let line = line_of(&self.text, &full)
                        .map(|l| format!("{}:{l}", self.file.display()))
                        .unwrap_or_else(|| self.file.display().to_string());
                    warnings.push(format!(
                        "{line}: unknown key `{}` is ignored",
                        path_text(&full)
                    ));
                }
                Ok(v)
            }
            Err(e) => {
                let mut full = at.to_vec();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Map { key } => {
                            full.push(Seg::Key(key.clone()))
                        }
                        serde_path_to_error::Segment::Seq { index } => {
                            full.push(Seg::Index(*index))
                        }
                        serde_path_to_error::Segment::Enum { variant } => {
                            full.push(Seg::Key(variant.clone()));
                        }
                        serde_path_to_error::Segment::Unknown => {}
                    }
                }
                Err(self.error(Some(&full), &e.into_inner().to_string()))
            }
        }
    }
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path as P;
    match p {
        P::Root => Vec::new(),
        P::Seq { parent, index } => {
            let mut v = ignored_path(parent);
            v.push(Seg::Index(*index));
            v
        }
        P::Map { parent, key } => {
            let mut v = ignored_path(parent);
            v.push(Seg::Key(key.clone()));
            v
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// The line (from 1) where the key at `path` is written, found by indentation: each key is
/// looked for below its parent, more indented than it; a sequence index counts the `-` items
/// at the first indentation found below the parent. `None` when it cannot be told (flow style).
pub(super) fn line_of(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let raw = |l: &str| l.len() - l.trim_start().len();
    let blank = |l: &str| {
        let t = l.trim_start();
        t.is_empty() || t.starts_with('#')
    };
    // The children of the current node: from line `start`, indented more than `parent`
    // (`None`: the top level); `item` is a sequence item's own line, whose dash is at `parent`.
    let mut start = 0;
    let mut parent: Option<usize> = None;
    let mut item: Option<usize> = None;
    let mut found = None;
    // The non-blank lines from `start` while `inside` holds.
    let children = |start: usize, inside: &dyn Fn(usize, &str) -> bool| {
        lines
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(_, l)| !blank(l))
            .take_while(|(i, l)| inside(*i, l))
            .map(|(i, l)| (i, *l))
            .collect::<Vec<_>>()
    };
    for seg in path {
        let inside = |i: usize, l: &str| item == Some(i) || parent.is_none_or(|p| raw(l) > p);
        match seg {
            Seg::Key(key) => {
                let mut hit = None;
                for (i, l) in children(start, &inside) {
                    // A key may follow a sequence dash on the same line (`- timer:`).
                    let t = l.trim_start().trim_start_matches('-').trim_start();
                    if [
                        format!("{key}:"),
                        format!("\"{key}\":"),
                        format!("'{key}':"),
                    ]
                    .iter()
                    .any(|k| t.starts_with(k.as_str()))
                    {
                        hit = Some((i, l.len() - t.len()));
                        break;
                    }
                }
                let (i, key_indent) = hit?;
                (start, parent, item, found) = (i + 1, Some(key_indent), None, Some(i));
            }
            Seg::Index(n) => {
                let mut dash = None;
                let mut count = 0;
                let mut hit = None;
                for (i, l) in children(start, &inside) {
                    if l.trim_start().starts_with('-') && raw(l) == *dash.get_or_insert(raw(l)) {
                        if count == *n {
                            hit = Some((i, raw(l)));
                            break;
                        }
                        count += 1;
                    }
                }
                let (i, d) = hit?;
                (start, parent, item, found) = (i, Some(d), Some(i), Some(i));
            }
        }
    }
    found.map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.to_owned())
    }

    #[test]
    fn lines_of_nested_keys_and_sequence_items() {
        let text = "\
component: scf
# a comment
inputs:
  name: demo
  memorySize: big
  events:
    - timer:
        parameters:
          cronExpression: x
    - apigw:
        parameters:
          environment: release
";
        assert_eq!(line_of(text, &[k("component")]), Some(1));
        assert_eq!(line_of(text, &[k("inputs"), k("memorySize")]), Some(5));
        assert_eq!(
            line_of(
                text,
                &[
                    k("inputs"),
                    k("events"),
                    Seg::Index(0),
                    k("timer"),
                    k("parameters"),
                    k("cronExpression")
                ]
            ),
            Some(9)
        );
        assert_eq!(
            line_of(
                text,
                &[
                    k("inputs"),
                    k("events"),
                    Seg::Index(1),
                    k("apigw"),
                    k("parameters"),
                    k("environment")
                ]
            ),
            Some(12)
        );
        assert_eq!(line_of(text, &[k("inputs"), k("nothing")]), None);
        assert_eq!(
            path_text(&[k("inputs"), k("events"), Seg::Index(1), k("apigw")]),
            "inputs.events[1].apigw"
        );
    }
}
