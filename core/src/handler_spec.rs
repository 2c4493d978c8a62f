//! The `_HANDLER` string every bootstrap parses: `<file>.<function>`.
//!
//! SCF passes the function's handler setting as `_HANDLER`. All of scfruntime's bootstraps read it
//! the same way:
//!
//! | `_HANDLER`           | file path (`path`) | module path (`module()`) | function       |
//! |----------------------|--------------------|--------------------------|----------------|
//! | `index.main_handler` | `index`            | `index`                  | `main_handler` |
//! | `src/app.handler`    | `src/app`          | `src.app`                | `handler`      |
//! | `src.app.handler`    | `src/app`          | `src.app`                | `handler`      |
//!
//! The function is the text after the last `.`; the rest names a file relative to the code
//! directory, with `/` or `.` between directories. Each bootstrap adds its own extension
//! (`.sh`, `.so`, `.py`): see [`HandlerSpec::file_with_extension`].

use std::fmt;
use std::path::PathBuf;

/// The expected form, quoted in every parse error.
pub const HANDLER_FORM: &str = "'<file>.<function>' (e.g. 'index.main_handler', \
     'src/app.handler' or 'src.app.handler'): a relative file path of letters, digits, '_' and \
     '-' separated by '/' or '.', then '.', then a function name of letters, digits and '_' not \
     starting with a digit";

/// A parsed handler string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSpec {
    /// The file path relative to the code directory, `/`-separated, without extension
    /// (`src/app` for both `src/app.handler` and `src.app.handler`).
    pub path: String,
    /// The function (or symbol) name: the text after the last `.`.
    pub function: String,
}

/// Why a handler string was refused. Its message names the string and the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSpecError {
    /// The handler string as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for HandlerSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid handler {:?}: {}; expected {HANDLER_FORM}",
            self.spec, self.reason
        )
    }
}

impl std::error::Error for HandlerSpecError {}

impl HandlerSpec {
    /// Parses a handler string such as `index.main_handler`.
    ///
    /// # Errors
    ///
    /// [`HandlerSpecError`] for an empty string, one without a `.`, an empty file or function part
    /// (leading or trailing `.`, `..`, `//`), an absolute path, whitespace or other characters
    /// outside the form, and a function name that is not an identifier.
    pub fn parse(spec: &str) -> Result<HandlerSpec, HandlerSpecError> {
        let bad = |reason: &str| HandlerSpecError {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if spec.is_empty() {
            return Err(bad("it is empty"));
        }
        if spec.chars().any(char::is_whitespace) {
            return Err(bad("it contains whitespace"));
        }
        if spec.starts_with('/') {
            return Err(bad(
                "the file must be a path relative to the code directory",
            ));
        }
        let Some((file, function)) = spec.rsplit_once('.') else {
            return Err(bad("there is no '.' between file and function"));
        };
        if function.is_empty() {
            return Err(bad("the function name after the last '.' is empty"));
        }
        if !is_identifier(function) {
            return Err(bad("the function name is not an identifier"));
        }
        if file.is_empty() {
            return Err(bad("the file name before the '.' is empty"));
        }
        let mut parts = Vec::new();
        for part in file.split(['/', '.']) {
            if part.is_empty() {
                return Err(bad(
                    "the file path has an empty component ('..', '//', './' or a leading or trailing separator)",
                ));
            }
            if !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad(
                    "the file path has a character other than letters, digits, '_', '-', '/' and '.'",
                ));
            }
            parts.push(part);
        }
        Ok(HandlerSpec {
            path: parts.join("/"),
            function: function.to_owned(),
        })
    }

    /// The module path, `.`-separated (`src.app`), as Python imports it.
    pub fn module(&self) -> String {
        self.path.replace('/', ".")
    }

    /// The file relative to the code directory with `ext` appended (`ext` without the dot):
    /// `src/app` + `sh` is `src/app.sh`.
    pub fn file_with_extension(&self, ext: &str) -> PathBuf {
        if ext.is_empty() {
            PathBuf::from(&self.path)
        } else {
            PathBuf::from(format!("{}.{ext}", self.path))
        }
    }
}

impl std::str::FromStr for HandlerSpec {
    type Err = HandlerSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HandlerSpec::parse(s)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, String, String) {
        let h = HandlerSpec::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (h.path.clone(), h.module(), h.function)
    }

    fn err(s: &str) -> String {
        match HandlerSpec::parse(s) {
            Ok(h) => panic!("{s:?} parsed as {h:?}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("expected '<file>.<function>'"), "{msg}");
                assert!(msg.contains(&format!("{s:?}")), "{msg}");
                msg
            }
        }
    }

    #[test]
    fn spellings() {
        let t = |p: &str, m: &str, f: &str| (p.to_owned(), m.to_owned(), f.to_owned());
        assert_eq!(
            ok("index.main_handler"),
            t("index", "index", "main_handler")
        );
        assert_eq!(ok("src/app.handler"), t("src/app", "src.app", "handler"));
        assert_eq!(ok("src.app.handler"), t("src/app", "src.app", "handler"));
        assert_eq!(ok("a/b.c.fn_1"), t("a/b/c", "a.b.c", "fn_1"));
        assert_eq!(ok("libecho.handle"), t("libecho", "libecho", "handle"));
        assert_eq!(ok("my-fn._h"), t("my-fn", "my-fn", "_h"));
    }

    #[test]
    fn extensions() {
        let h = HandlerSpec::parse("src.app.handler").unwrap();
        assert_eq!(h.file_with_extension("sh"), PathBuf::from("src/app.sh"));
        assert_eq!(h.file_with_extension("so"), PathBuf::from("src/app.so"));
        assert_eq!(h.file_with_extension(""), PathBuf::from("src/app"));
        let h: HandlerSpec = "index.main_handler".parse().unwrap();
        assert_eq!(h.file_with_extension("sh"), PathBuf::from("index.sh"));
    }

    #[test]
    fn bad_forms() {
        assert!(err("").contains("empty"));
        assert!(err("index").contains("no '.'"));
        assert!(err("index.").contains("function name"));
        assert!(err(".main_handler").contains("file name"));
        assert!(err("a..main").contains("empty component"));
        assert!(err("../x.main").contains("empty component"));
        assert!(err("./index.main").contains("empty component"));
        assert!(err("a//b.main").contains("empty component"));
        assert!(err("src/.main").contains("empty component"));
        assert!(err("/abs/index.main").contains("relative"));
        assert!(err("index.main handler").contains("whitespace"));
        assert!(err(" index.main").contains("whitespace"));
        assert!(err("index.main\n").contains("whitespace"));
        assert!(err("index.1main").contains("identifier"));
        assert!(err("index.ma-in").contains("identifier"));
        assert!(err("in$dex.main").contains("character"));
        assert!(err("a\\b.main").contains("character"));
    }
}
