//! The example as a user runs it: its `bootstrap` at the root of a code folder, invoked the way
//! `scfrt invoke` does, printing the Invoke JSON.

use std::fs;

use scf_emulator::{Function, FunctionConfig};
use serde_json::Value;

#[test]
fn rust_echo_runs_under_the_emulator() {
    let dir = std::env::temp_dir().join(format!("rust-echo-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("code dir");
    fs::copy(env!("CARGO_BIN_EXE_bootstrap"), dir.join("bootstrap")).expect("copy bootstrap");
    let mut function = Function::new(FunctionConfig::new(&dir)).expect("function");
    let events = [r#"{"hello": "world", "text": "café 错误 🚀"}"#, "{}"];
    for (i, event) in events.iter().enumerate() {
        let result = function.invoke(event.as_bytes());
        let json: Value =
            serde_json::from_str(&result.to_invoke_json_string()).expect("Invoke JSON");
        let r = &json["Response"]["Result"];
        assert_eq!(r["InvokeResult"], 0, "{json}");
        assert_eq!(r["ErrMsg"], "", "{json}");
        assert_eq!(r["RetMsg"].as_str(), Some(*event), "{json}");
        let log = r["Log"].as_str().unwrap_or_default();
        assert!(
            log.contains(&format!("rust-echo: {} bytes", event.len())),
            "{log}"
        );
        assert_eq!(
            result.cold_start,
            i == 0,
            "only the first invocation starts the bootstrap"
        );
    }
    drop(function);
    let _ = fs::remove_dir_all(&dir);
}
