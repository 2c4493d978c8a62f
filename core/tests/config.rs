//! `Config::from_lookup`: every variable the runtime reads (docs/platform.md section 2), its
//! defaults, and the error that names a malformed or missing one.

use std::path::PathBuf;
use std::time::Duration;

use scf_core::*;
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
    assert_eq!(c.metadata.function_name.as_deref(), Some("fn"));
    assert_eq!(c.metadata.function_version.as_deref(), Some("$LATEST"));
    assert_eq!(c.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(c.metadata.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(c.metadata.appid.as_deref(), Some("1250000000"));
    assert_eq!(c.metadata.uin.as_deref(), Some("100000000001"));
    assert_eq!(c.metadata.secret_id.as_deref(), Some("AKIDxxx"));
    assert_eq!(c.metadata.secret_key.as_deref(), Some("sk-value-7"));
    assert_eq!(c.metadata.session_token.as_deref(), Some("tok-value-9"));
    assert_eq!(c.run_env.as_deref(), Some("SCF"));
    assert_eq!(c.user_code_root, Some(PathBuf::from("/var/user/")));
    assert_eq!(c.metadata.trigger_src.as_deref(), Some("timer"));
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
    assert_eq!(c.metadata.region, None);
    assert_eq!(c.metadata.secret_id, None);
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
fn image_mode_needs_the_switch_and_no_runtime_api() {
    let c =
        cfg(&[("SCFRUNTIME_MODE", "image"), ("_HANDLER", "libecho.handle")]).expect("image mode");
    assert_eq!(
        c.mode,
        Mode::Image(ImageConfig::new("0.0.0.0:9000".parse().unwrap()))
    );
    assert!(c.is_image());
    assert_eq!(c.handler.as_deref(), Some("libecho.handle"));
    assert_eq!((c.runtime_api.as_str(), c.runtime_api_port), ("", 0));

    for (listen, want) in [
        ("127.0.0.1:41234", "127.0.0.1:41234"),
        (" 9001 ", "0.0.0.0:9001"),
        ("*:9000", "0.0.0.0:9000"),
        ("[::]:9000", "[::]:9000"),
    ] {
        let c = cfg(&[("SCFRUNTIME_MODE", "Image"), ("SCFRUNTIME_LISTEN", listen)]).expect(listen);
        assert_eq!(
            c.mode,
            Mode::Image(ImageConfig::new(want.parse().unwrap())),
            "{listen}"
        );
    }

    // SCF sets SCF_RUNTIME_API for code packages: the runtime API wins.
    let c = cfg(&[
        ("SCFRUNTIME_MODE", "image"),
        ("SCF_RUNTIME_API", "127.0.0.1"),
        ("SCF_RUNTIME_API_PORT", "9001"),
    ])
    .expect("runtime API");
    assert_eq!(c.mode, Mode::RuntimeApi);
    assert_eq!(c.base_url(), "http://127.0.0.1:9001");

    // Without the switch, a missing SCF_RUNTIME_API is still the error, and it says how to
    // choose image mode.
    for mode in [None, Some("runtime-api"), Some("")] {
        let mut vars = vec![("SCFRUNTIME_LISTEN", "127.0.0.1:1")];
        vars.extend(mode.map(|m| ("SCFRUNTIME_MODE", m)));
        let e = cfg(&vars).unwrap_err();
        assert!(
            e.to_string().contains("SCF_RUNTIME_API is not set")
                && e.to_string().contains("SCFRUNTIME_MODE=image"),
            "{mode:?}: {e}"
        );
    }
}

#[test]
fn bad_mode_or_listen_values_name_the_variable() {
    for mode in ["images", "1", "http"] {
        let e = cfg(&[("SCFRUNTIME_MODE", mode)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidEnv {
                    name: "SCFRUNTIME_MODE",
                    ..
                }
            ),
            "{mode:?}: {e}"
        );
        assert!(e.to_string().contains(&format!("{mode:?}")), "{e}");
    }
    for listen in [
        "",
        "localhost:9000",
        "0.0.0.0",
        "0.0.0.0:99999",
        "9000x",
        ":9000",
    ] {
        let e = cfg(&[("SCFRUNTIME_MODE", "image"), ("SCFRUNTIME_LISTEN", listen)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidEnv {
                    name: "SCFRUNTIME_LISTEN",
                    ..
                }
            ),
            "{listen:?}: {e}"
        );
        assert!(e.to_string().contains("SCFRUNTIME_LISTEN="), "{e}");
    }
}

#[test]
fn ipv6_host_is_bracketed() {
    assert_eq!(Config::for_endpoint("::1", 9).base_url(), "http://[::1]:9");
}

#[test]
fn the_retry_budget_comes_from_the_environment() {
    let base = [
        ("SCF_RUNTIME_API", "127.0.0.1"),
        ("SCF_RUNTIME_API_PORT", "9001"),
    ];
    let c = cfg(&base).expect("valid");
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(c.retry.give_up_after, Duration::from_secs(60));
    let mut vars = base.to_vec();
    vars.push((RETRY_BUDGET_ENV, "1500"));
    let c = cfg(&vars).expect("valid");
    assert_eq!(c.retry.give_up_after, Duration::from_millis(1500));
    assert_eq!(c.retry.initial_delay, RetryPolicy::default().initial_delay);
    let mut vars = base.to_vec();
    vars.push((RETRY_BUDGET_ENV, ""));
    assert_eq!(
        cfg(&vars).expect("empty is unset").retry,
        RetryPolicy::default()
    );
    for bad in ["0", "-1", "1.5", "soon"] {
        let mut vars = base.to_vec();
        vars.push((RETRY_BUDGET_ENV, bad));
        let e = cfg(&vars).unwrap_err();
        assert!(
            matches!(e, Error::InvalidEnv { name, .. } if name == RETRY_BUDGET_ENV),
            "{bad:?}: {e}"
        );
        assert!(e.to_string().contains("SCFRUNTIME_RETRY_BUDGET_MS"), "{e}");
    }
}
