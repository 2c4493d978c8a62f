//! `scfrt invoke --template F [--function NAME]`: the function, its code directory and settings
//! taken from a serverless.yml or a TCSAM template.yaml (docs/triggers.md, "Project files").

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::write_bootstrap;

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
        "ready\nnext >/dev/null\nrespond \"$_HANDLER|$SCF_FUNCTIONNAME|$SCF_NAMESPACE|$(header memory_limit_in_mb)|${STAGE:-}|${SHARED:-}\"",
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
