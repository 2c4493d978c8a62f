//! `scf-shell-bootstrap`: serves bash handlers written like the `index.sh` of Tencent's
//! custom-runtime guide, with scfruntime's transport instead of one `curl` per request.
//!
//! `_HANDLER=index.main_handler` names the file `./index.sh` (also `src/app.handler` and
//! `src.app.handler` for `./src/app.sh`) and the bash function `main_handler` in it. Before
//! ready the file is sourced once in a throw-away bash to check that it loads and defines the
//! function; a missing file or function is an init failure (message on stderr, exit status 1,
//! no ready).
//!
//! Each event runs one fresh `bash` that sources the file and calls `main_handler "$EVENT"`: the
//! event arrives on bash's stdin (read with `$(</dev/stdin)`, so it has no argument-size limit and
//! loses trailing newlines, as the guide's `EVENT_DATA=$(curl ...)` does). The function's stdout,
//! trailing newlines removed like `RESPONSE=$(...)` does, is the response; a non-zero exit status
//! is posted as an error. stderr passes through to the function log. A fresh process per event
//! keeps one event's variables and `exit`s from leaking into the next, at the cost of a bash start
//! (about 1-2 ms) per event.
//!
//! `SCFRUNTIME_MAX_INVOCATIONS=n` stops after `n` invocations (tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use scf_core::{ErrorReport, HandlerSpec, Invocation, Runtime};

/// Checks at init that the file loads and defines the function.
const INIT_SCRIPT: &str = r#"__scf_file=$1 __scf_fn=$2; set --
. "./$__scf_file" || exit 3
declare -F -- "$__scf_fn" >/dev/null || exit 4"#;

/// Runs one event: read the event from stdin, source the file, call the function.
const EVENT_SCRIPT: &str = r#"__scf_file=$1 __scf_fn=$2; set --
__scf_event=$(</dev/stdin)
. "./$__scf_file" || exit
"$__scf_fn" "$__scf_event""#;

const NAME: &str = "scf-shell-bootstrap";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{NAME}: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let runtime = Runtime::from_env().map_err(|e| e.to_string())?;
    let handler = runtime
        .config()
        .handler
        .clone()
        .ok_or("_HANDLER is not set; expected e.g. _HANDLER=index.main_handler")?;
    let spec = HandlerSpec::parse(&handler).map_err(|e| e.to_string())?;
    let file = spec.file_with_extension("sh");
    check_handler(&file, &spec.function)?;
    let max = std::env::var("SCFRUNTIME_MAX_INVOCATIONS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n > 0);
    let function = spec.function.clone();
    runtime
        .max_invocations(max)
        .run(move |inv: &Invocation| call(&file, &function, inv))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn check_handler(file: &Path, function: &str) -> Result<(), String> {
    let shown = file.display();
    if !file.is_file() {
        return Err(format!(
            "init failed: handler file ./{shown} (for function {function}) not found in {}",
            cwd().display()
        ));
    }
    let status = Command::new("bash")
        .args(["-c", INIT_SCRIPT, NAME])
        .arg(file)
        .arg(function)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("init failed: cannot run bash: {e}"))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(4) => Err(format!(
            "init failed: ./{shown} does not define the bash function {function}"
        )),
        _ => Err(format!(
            "init failed: sourcing ./{shown} failed ({status}); see its messages above"
        )),
    }
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn call(file: &Path, function: &str, inv: &Invocation) -> Result<Vec<u8>, ErrorReport> {
    let mut child = Command::new("bash")
        .args(["-c", EVENT_SCRIPT, NAME])
        .arg(file)
        .arg(function)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ErrorReport::new("BootstrapError", format!("cannot run bash: {e}")))?;
    // The script reads all of stdin before running anything, so writing first cannot deadlock.
    if let Some(mut stdin) = child.stdin.take() {
        // A handler file that exits early closes the pipe; its status says why.
        let _ = stdin.write_all(&inv.body);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| ErrorReport::new("BootstrapError", format!("waiting for bash: {e}")))?;
    if !out.status.success() {
        let how = match out.status.code() {
            Some(code) => format!("exit status {code}"),
            None => format!("{}", out.status),
        };
        return Err(ErrorReport::new(
            "HandlerFailed",
            format!(
                "bash function {function} (./{}) failed: {how}",
                file.display()
            ),
        ));
    }
    let mut body = out.stdout;
    while body.last() == Some(&b'\n') {
        body.pop();
    }
    Ok(body)
}
