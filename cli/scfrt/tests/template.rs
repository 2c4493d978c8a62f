//! `scfrt invoke --template F [--function NAME]`: the function, its code directory and settings
//! taken from a serverless.yml or a TCSAM template.yaml (docs/triggers.md, "Project files").

mod common;
#[path = "common/serve.rs"]
mod serve_harness;

use std::path::Path;
use std::process::{Command, Output};

use common::write_bootstrap;
use serde_json::json;
use serve_harness::{Serve, text};

fn scfrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .args(args)
        .output()
        .expect("run scfrt")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ret_msg(o: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no result: {}", stderr(o)));
    let v: serde_json::Value = serde_json::from_str(line).expect("Invoke JSON");
    v["Response"]["Result"]["RetMsg"].clone()
}

/// A bootstrap answering with what the platform told it, in `dir/code`.
fn code_dir(dir: &Path, sub: &str) {
    let code = dir.join(sub);
    std::fs::create_dir_all(&code).expect("mkdir");
    write_bootstrap(
        &code,
        "ready\nwhile true; do\nev=$(next)\necho \"event=$ev\"\nrespond \"$_HANDLER|$SCF_FUNCTIONNAME|$SCF_NAMESPACE|$(header memory_limit_in_mb)|${STAGE:-}|${SHARED:-}\"\ndone",
    );
}

#[test]
fn serverless_yml_supplies_the_function_and_flags_override_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    code_dir(dir.path(), "code");
    let file = dir.path().join("serverless.yml");
    std::fs::write(
        &file,
        "component: scf\nname: orders\nstage: prod\ninputs:\n  src: ./code\n  namespace: shop\n  \
         handler: app.run\n  memorySize: 256\n  environment:\n    variables:\n      STAGE: ${stage}\n      \
         SHARED: file\n  typo: 1\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    let o = scfrt(&["invoke", "--template", f]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ret_msg(&o), "app.run|orders-prod-orders|shop|256|prod|file");
    assert!(
        stderr(&o).contains("serverless.yml:13: unknown key `inputs.typo` is ignored"),
        "{}",
        stderr(&o)
    );
    // Flags on the command line win over the file.
    let o = scfrt(&[
        "invoke",
        "--template",
        f,
        "--memory",
        "512",
        "--env",
        "SHARED=flag",
        "--handler",
        "x.y",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ret_msg(&o), "x.y|orders-prod-orders|shop|512|prod|flag");
}

#[test]
fn tcsam_with_two_functions_needs_function_and_refuses_web_functions() {
    let dir = tempfile::tempdir().expect("tempdir");
    code_dir(dir.path(), "a");
    code_dir(dir.path(), "b");
    let file = dir.path().join("template.yaml");
    std::fs::write(
        &file,
        "Globals:\n  Function:\n    MemorySize: 192\n    Environment:\n      Variables:\n        SHARED: g\n\
         Resources:\n  ns1:\n    Type: TencentCloud::Serverless::Namespace\n    first:\n      \
         Type: TencentCloud::Serverless::Function\n      Properties:\n        CodeUri: ./a\n        \
         Handler: one.h\n    second:\n      Type: TencentCloud::Serverless::Function\n      \
         Properties:\n        CodeUri: ./b\n        Handler: two.h\n    site:\n      \
         Type: TencentCloud::Serverless::Function\n      Properties:\n        CodeUri: ./b\n        Type: HTTP\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    let o = scfrt(&["invoke", "--template", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "declares 3 functions (first, second, site): choose one with --function NAME"
        ),
        "{}",
        stderr(&o)
    );
    let o = scfrt(&["invoke", "--template", f, "--function", "second"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ret_msg(&o), "two.h|second|ns1|192||g");
    let o = scfrt(&["invoke", "--template", f, "--function", "third"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no function `third`; it declares: first, second, site"),
        "{}",
        stderr(&o)
    );
    let o = scfrt(&["invoke", "--template", f, "--function", "site"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`site` is a web function"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_broken_template_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("serverless.yml");
    std::fs::write(
        &file,
        "component: scf\nname: x\ninputs:\n  src: ./\n  timeout: long\n",
    )
    .expect("write");
    let o = scfrt(&["invoke", "--template", file.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("serverless.yml:5: `inputs.timeout`: invalid type: string \"long\""),
        "{err}"
    );
    // A package and --template together, and --function without --template: usage errors.
    let o = scfrt(&[
        "invoke",
        "somewhere",
        "--template",
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = scfrt(&["invoke", "somewhere", "--function", "f"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A TCSAM template with two functions and triggers of three kinds, in `dir`.
fn two_function_template(dir: &Path, timer_cron: &str) -> std::path::PathBuf {
    code_dir(dir, "a");
    code_dir(dir, "b");
    let file = dir.join("template.yaml");
    std::fs::write(
        &file,
        format!(
            "Globals:\n  Function:\n    Environment:\n      Variables:\n        SHARED: g\n\
             Resources:\n  default:\n    Type: TencentCloud::Serverless::Namespace\n    \
             first:\n      Type: TencentCloud::Serverless::Function\n      Properties:\n        \
             CodeUri: ./a\n        Handler: one.h\n        Events:\n          beat:\n            \
             Type: Timer\n            Properties:\n              CronExpression: '{timer_cron}'\n              \
             Message: from-template\n          api:\n            Type: APIGW\n            \
             Properties:\n              StageName: release\n    \
             second:\n      Type: TencentCloud::Serverless::Function\n      Properties:\n        \
             CodeUri: ./b\n        Handler: two.h\n        MemorySize: 256\n        Events:\n          \
             pics-1250000000.cos.ap-guangzhou.myqcloud.com:\n            Type: COS\n            \
             Properties:\n              Events: 'cos:ObjectCreated:*'\n"
        ),
    )
    .expect("write");
    file
}

#[test]
fn deploy_template_creates_functions_then_their_triggers_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = two_function_template(dir.path(), "0 0 2 * * * *");
    let f = file.to_str().expect("utf-8");
    let serve = Serve::start();
    let out = serve.run("deploy", &["--template", f]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("default/first does not exist: CreateFunction"),
        "{err}"
    );
    assert!(err.contains("CreateTrigger timer `beat`"), "{err}");
    assert!(
        err.contains(
            "the apigw trigger `api` is made by API Gateway, not by CreateTrigger: skipped"
        ),
        "{err}"
    );
    assert_eq!(serve.triggers("first"), ["timer:beat"]);
    assert_eq!(
        serve.triggers("second"),
        ["cos:pics-1250000000.cos.ap-guangzhou.myqcloud.com"]
    );
    let got = serve.call("GetFunction", &json!({"FunctionName": "second"}));
    assert_eq!(
        (got["Handler"].as_str(), got["MemorySize"].as_u64()),
        (Some("two.h"), Some(256))
    );
    // Again: the functions are updated, the triggers left as they are (no duplicates).
    let out = serve.run("deploy", &["--template", f]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("default/first exists: UpdateFunctionCode"),
        "{err}"
    );
    assert!(
        err.contains("timer trigger `beat` exists: left as it is"),
        "{err}"
    );
    assert_eq!(serve.triggers("first"), ["timer:beat"]);
    // The deployed function runs with the template's settings.
    let (code, _, json, err) = serve.remote_invoke("first", "{}", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json["Response"]["Result"]["RetMsg"],
        "one.h|first|default|128||g"
    );
    // Only one function; a web function or a broken file is refused before anything is sent.
    let out = serve.run("deploy", &["--template", f, "--function", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("has no function `nobody`"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn serve_template_creates_the_functions_and_fires_their_timer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = two_function_template(dir.path(), "* * * * * * *");
    let serve = Serve::start_args(false, &["--template", file.to_str().expect("utf-8")]);
    // Created before the address was printed.
    let listed = serve.call("ListFunctions", &json!({}));
    assert_eq!(listed["TotalCount"], 2, "{listed}");
    assert_eq!(serve.triggers("first"), ["timer:beat"]);
    // The per-second timer fires: its invocations show in GetFunctionLogs (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let logs = serve.call("GetFunctionLogs", &json!({"FunctionName": "first"}));
        if logs["TotalCount"].as_u64().unwrap_or(0) >= 1 {
            let d = &logs["Data"][0];
            assert_eq!(d["RetCode"], 0, "{d}");
            assert_eq!(d["RetMsg"], "one.h|first|default|128||g", "{d}");
            assert!(
                d["Log"].as_str().unwrap_or("").contains("START RequestId"),
                "{d}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timer never fired: {logs}"
        );
        // A poll interval, not a synchronisation: the timer fires on the next second.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        serve
            .state
            .join("functions/default/first/triggers.json")
            .is_file()
    );
}
