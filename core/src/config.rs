//! The function's environment, as SCF sets it for a custom runtime (protocol.md section 2).

use std::path::PathBuf;

use crate::{Error, Result};

/// Everything SCF tells a custom runtime through its environment.
///
/// Only the runtime API address is required; the rest is optional because some regions were
/// seen without the `TENCENTCLOUD_*` values. The `Debug` output hides the credentials.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `SCF_RUNTIME_API`: host of the runtime API.
    pub runtime_api: String,
    /// `SCF_RUNTIME_API_PORT`: port of the runtime API.
    pub runtime_api_port: u16,
    /// `_HANDLER`: the handler string the function was configured with, e.g. `index.main_handler`.
    pub handler: Option<String>,
    /// `SCF_RUNTIME`, e.g. `CustomRuntime`.
    pub runtime: Option<String>,
    /// `SCF_FUNCTIONNAME`.
    pub function_name: Option<String>,
    /// `SCF_FUNCTIONVERSION`: `$LATEST` or a version number.
    pub function_version: Option<String>,
    /// `SCF_NAMESPACE`, e.g. `default`.
    pub namespace: Option<String>,
    /// `TENCENTCLOUD_REGION`, e.g. `ap-guangzhou`.
    pub region: Option<String>,
    /// `TENCENTCLOUD_APPID`.
    pub appid: Option<String>,
    /// `TENCENTCLOUD_UIN`.
    pub uin: Option<String>,
    /// `TENCENTCLOUD_SECRETID`: temporary role credential.
    pub secret_id: Option<String>,
    /// `TENCENTCLOUD_SECRETKEY`: temporary role credential.
    pub secret_key: Option<String>,
    /// `TENCENTCLOUD_SESSIONTOKEN`: temporary role credential.
    pub session_token: Option<String>,
    /// `TENCENTCLOUD_RUNENV`, `SCF` on the platform.
    pub run_env: Option<String>,
    /// `USER_CODE_ROOT`, `/var/user/` on the platform.
    pub user_code_root: Option<PathBuf>,
    /// `TRIGGER_SRC`, e.g. `timer` for timer triggers.
    pub trigger_src: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("Config")
            .field("runtime_api", &self.runtime_api)
            .field("runtime_api_port", &self.runtime_api_port)
            .field("handler", &self.handler)
            .field("runtime", &self.runtime)
            .field("function_name", &self.function_name)
            .field("function_version", &self.function_version)
            .field("namespace", &self.namespace)
            .field("region", &self.region)
            .field("appid", &self.appid)
            .field("uin", &self.uin)
            .field("secret_id", &hidden(&self.secret_id))
            .field("secret_key", &hidden(&self.secret_key))
            .field("session_token", &hidden(&self.session_token))
            .field("run_env", &self.run_env)
            .field("user_code_root", &self.user_code_root)
            .field("trigger_src", &self.trigger_src)
            .finish()
    }
}

impl Config {
    /// Read the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] when `SCF_RUNTIME_API` or `SCF_RUNTIME_API_PORT` is unset, and
    /// [`Error::InvalidEnv`] when the host is empty or the port is not a number in 1..=65535.
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup`, which returns a variable's value by name.
    ///
    /// This is [`Config::from_env`] without the process environment, for tests and embedders.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        // An empty optional variable means the same as an unset one.
        let opt = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let runtime_api = lookup("SCF_RUNTIME_API").ok_or(Error::MissingEnv {
            name: "SCF_RUNTIME_API",
            hint: "SCF sets it to the runtime API host; run the bootstrap under SCF or `scfrt invoke`",
        })?;
        if runtime_api.trim().is_empty() || runtime_api.contains(['/', ' ']) {
            return Err(Error::InvalidEnv {
                name: "SCF_RUNTIME_API",
                value: runtime_api,
                reason: "expected a host name or IP address, such as 127.0.0.1",
            });
        }
        let port_text = lookup("SCF_RUNTIME_API_PORT").ok_or(Error::MissingEnv {
            name: "SCF_RUNTIME_API_PORT",
            hint: "SCF sets it to the runtime API port; run the bootstrap under SCF or `scfrt invoke`",
        })?;
        let runtime_api_port = match port_text.trim().parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => {
                return Err(Error::InvalidEnv {
                    name: "SCF_RUNTIME_API_PORT",
                    value: port_text,
                    reason: "expected a port number from 1 to 65535",
                });
            }
        };
        Ok(Config {
            runtime_api,
            runtime_api_port,
            handler: opt("_HANDLER"),
            runtime: opt("SCF_RUNTIME"),
            function_name: opt("SCF_FUNCTIONNAME"),
            function_version: opt("SCF_FUNCTIONVERSION"),
            namespace: opt("SCF_NAMESPACE"),
            region: opt("TENCENTCLOUD_REGION"),
            appid: opt("TENCENTCLOUD_APPID"),
            uin: opt("TENCENTCLOUD_UIN"),
            secret_id: opt("TENCENTCLOUD_SECRETID"),
            secret_key: opt("TENCENTCLOUD_SECRETKEY"),
            session_token: opt("TENCENTCLOUD_SESSIONTOKEN"),
            run_env: opt("TENCENTCLOUD_RUNENV"),
            user_code_root: opt("USER_CODE_ROOT").map(PathBuf::from),
            trigger_src: opt("TRIGGER_SRC"),
        })
    }

    /// A configuration that talks to the runtime API at `host:port`, with nothing else set.
    pub fn for_endpoint(host: impl Into<String>, port: u16) -> Config {
        Config {
            runtime_api: host.into(),
            runtime_api_port: port,
            ..Config::default()
        }
    }

    /// `http://host:port`, with an IPv6 literal put in brackets.
    pub fn base_url(&self) -> String {
        let host = &self.runtime_api;
        if host.contains(':') && !host.starts_with('[') {
            format!("http://[{host}]:{}", self.runtime_api_port)
        } else {
            format!("http://{host}:{}", self.runtime_api_port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn reads_every_variable() {
        let c = cfg(&[
            ("SCF_RUNTIME_API", "127.0.0.1"),
            ("SCF_RUNTIME_API_PORT", "9001"),
            ("_HANDLER", "index.main_handler"),
            ("SCF_RUNTIME", "CustomRuntime"),
            ("SCF_FUNCTIONNAME", "fn"),
            ("SCF_FUNCTIONVERSION", "$LATEST"),
            ("SCF_NAMESPACE", "default"),
            ("TENCENTCLOUD_REGION", "ap-guangzhou"),
            ("TENCENTCLOUD_APPID", "1250000000"),
            ("TENCENTCLOUD_UIN", "100000000001"),
            ("TENCENTCLOUD_SECRETID", "AKIDxxx"),
            ("TENCENTCLOUD_SECRETKEY", "sk-value-7"),
            ("TENCENTCLOUD_SESSIONTOKEN", "tok-value-9"),
            ("TENCENTCLOUD_RUNENV", "SCF"),
            ("USER_CODE_ROOT", "/var/user/"),
            ("TRIGGER_SRC", "timer"),
        ])
        .expect("valid config");
        assert_eq!(c.base_url(), "http://127.0.0.1:9001");
        assert_eq!(c.handler.as_deref(), Some("index.main_handler"));
        assert_eq!(c.runtime.as_deref(), Some("CustomRuntime"));
        assert_eq!(c.function_name.as_deref(), Some("fn"));
        assert_eq!(c.function_version.as_deref(), Some("$LATEST"));
        assert_eq!(c.namespace.as_deref(), Some("default"));
        assert_eq!(c.region.as_deref(), Some("ap-guangzhou"));
        assert_eq!(c.appid.as_deref(), Some("1250000000"));
        assert_eq!(c.uin.as_deref(), Some("100000000001"));
        assert_eq!(c.secret_id.as_deref(), Some("AKIDxxx"));
        assert_eq!(c.secret_key.as_deref(), Some("sk-value-7"));
        assert_eq!(c.session_token.as_deref(), Some("tok-value-9"));
        assert_eq!(c.run_env.as_deref(), Some("SCF"));
        assert_eq!(c.user_code_root, Some(PathBuf::from("/var/user/")));
        assert_eq!(c.trigger_src.as_deref(), Some("timer"));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("AKIDxxx") && !dbg.contains("sk-value-7") && !dbg.contains("tok-value-9")
        );
    }

    #[test]
    fn optional_variables_may_be_missing() {
        let c = cfg(&[
            ("SCF_RUNTIME_API", "localhost"),
            ("SCF_RUNTIME_API_PORT", "80"),
        ])
        .expect("valid config");
        assert_eq!(c.region, None);
        assert_eq!(c.secret_id, None);
        assert_eq!(c.handler, None);
    }

    #[test]
    fn missing_host_names_the_variable() {
        let e = cfg(&[("SCF_RUNTIME_API_PORT", "9001")]).unwrap_err();
        assert!(e.to_string().contains("SCF_RUNTIME_API is not set"), "{e}");
    }

    #[test]
    fn missing_port_names_the_variable() {
        let e = cfg(&[("SCF_RUNTIME_API", "127.0.0.1")]).unwrap_err();
        assert!(
            e.to_string().contains("SCF_RUNTIME_API_PORT is not set"),
            "{e}"
        );
    }

    #[test]
    fn malformed_values_are_refused_with_the_variable_named() {
        for port in ["", "abc", "0", "65536", "-1", "90 01"] {
            let e = cfg(&[
                ("SCF_RUNTIME_API", "127.0.0.1"),
                ("SCF_RUNTIME_API_PORT", port),
            ])
            .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidEnv {
                        name: "SCF_RUNTIME_API_PORT",
                        ..
                    }
                ),
                "port {port:?}: {e}"
            );
        }
        for host in ["", "  ", "http://x", "a b"] {
            let e = cfg(&[("SCF_RUNTIME_API", host), ("SCF_RUNTIME_API_PORT", "1")]).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidEnv {
                        name: "SCF_RUNTIME_API",
                        ..
                    }
                ),
                "host {host:?}: {e}"
            );
        }
    }

    #[test]
    fn ipv6_host_is_bracketed() {
        assert_eq!(Config::for_endpoint("::1", 9).base_url(), "http://[::1]:9");
    }
}
