//! The `_HANDLER` string every binding parses: `<file>.<function>`.
//!
//! SCF passes the function's handler setting as `_HANDLER`. Every bootstrap and binding of
//! scfruntime reads it with [`HandlerSpec::parse`], and nothing else: the C and shell bootstraps
//! to find `./<file>.so` / `./<file>.sh`, the Python binding to import the module, and
//! libscfruntime's registry (`scf_runtime_register`) to pick a handler by its function name.
//!
//! | `_HANDLER`           | file path (`path`) | module path (`module()`) | function       |
//! |----------------------|--------------------|--------------------------|----------------|
//! | `index.main_handler` | `index`            | `index`                  | `main_handler` |
//! | `src/app.handler`    | `src/app`          | `src.app`                | `handler`      |
//! | `src.app.handler`    | `src/app`          | `src.app`                | `handler`      |
//!
//! The function is the text after the last `.`; the rest names a file relative to the code
//! directory, without its extension, with `/` or `.` between directories. Each bootstrap adds its
//! own extension (`.sh`, `.so`, `.py`): see [`HandlerSpec::file_with_extension`]. The rules, and
//! what SCF itself accepts, are in docs/handler.md.

use std::fmt;
use std::path::PathBuf;

/// The expected form, quoted in every parse error.
pub const HANDLER_FORM: &str = "'<file>.<function>' (e.g. 'index.main_handler', \
     'src/app.handler' or 'src.app.handler'): a relative file path without extension, of ASCII \
     letters, digits, '_' and '-' separated by '/' or '.', then '.', then a function name of \
     ASCII letters, digits and '_' not starting with a digit";

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
    /// Parses a handler string such as `index.main_handler`: the one `_HANDLER` parser of
    /// scfruntime (docs/handler.md gives the rules with their reasons).
    ///
    /// The rules, in the order they are checked:
    ///
    /// 1. The string is taken as it is: nothing is trimmed, and whitespace anywhere refuses it.
    /// 2. It must not start with `/`: the file is relative to the code directory.
    /// 3. It splits at its **last** `.`: the function after, the file before.
    /// 4. The function is an ASCII identifier: a letter or `_`, then letters, digits and `_`
    ///    (`main_handler`, `_h`, `fn_1`; not `1main`, `main-handler` or non-ASCII letters).
    /// 5. The file is one or more non-empty components separated by `/` or `.`, each of ASCII
    ///    letters, digits, `_` and `-` (`index`, `my-fn`, `2024`, `src/app`, `src.app`); so no `..`,
    ///    `./`, `//`, leading or trailing separator, and no non-ASCII letters.
    /// 6. Nothing is stripped from the file: it is the name without extension, as SCF documents
    ///    it, and a `.` in it separates directories. `index.py.main_handler` is the file
    ///    `index/py` (for Python the module `index.py`, which does not exist), not `index.py`.
    ///
    /// Parsing is pure: it does not look at the file system.
    ///
    /// # Errors
    ///
    /// [`HandlerSpecError`] for a string that breaks a rule; its message names the string, what is
    /// wrong, and the expected form ([`HANDLER_FORM`]).
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

    /// Where the Python binding and the C registry used to read `_HANDLER` differently, the one
    /// parser does what SCF does (docs/handler.md).
    #[test]
    fn rules_where_the_bindings_used_to_differ() {
        let t = |p: &str, m: &str, f: &str| (p.to_owned(), m.to_owned(), f.to_owned());
        // No extension is stripped: the file part is the name without one, and its dots are
        // directory separators.
        assert_eq!(
            ok("index.py.main_handler"),
            t("index/py", "index.py", "main_handler")
        );
        assert_eq!(ok("app.so.handle"), t("app/so", "app.so", "handle"));
        // ASCII only, in the function and in the file.
        assert!(err("index.处理").contains("identifier"));
        assert!(err("index.mäin").contains("identifier"));
        assert!(err("índex.main").contains("character"));
        assert!(err("src/模块.main").contains("character"));
        // A function never starts with a digit; a file component may (all bindings agreed).
        assert!(err("index.1main").contains("identifier"));
        assert!(err("index.٣main").contains("identifier"));
        assert_eq!(ok("2024/app.handler"), t("2024/app", "2024.app", "handler"));
        assert_eq!(ok("index._private"), t("index", "index", "_private"));
        // Nothing is trimmed.
        assert!(err(" index.main_handler").contains("whitespace"));
        assert!(err("index.main_handler ").contains("whitespace"));
        assert!(err("index.main_handler\t").contains("whitespace"));
        assert!(err("index.main\u{a0}").contains("whitespace"));
        // A file part is required: the text after the last '.' alone does not name a handler.
        assert!(err(".main_handler").contains("file name"));
        assert!(err("main_handler").contains("no '.'"));
    }

    #[test]
    fn the_function_is_after_the_last_dot() {
        let h = HandlerSpec::parse("a.b.c.d").unwrap();
        assert_eq!((h.path.as_str(), h.function.as_str()), ("a/b/c", "d"));
        // Re-joined, a parsed spec parses to itself.
        let again = HandlerSpec::parse(&format!("{}.{}", h.path, h.function)).unwrap();
        assert_eq!(again, h);
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
