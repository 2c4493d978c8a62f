//! The project-file model against files written as Tencent's tools document them
//! (docs/triggers.md, "Project files"): serverless.yml for `scf` and `multi-scf`, TCSAM
//! template.yaml, and the errors for broken ones.

use std::path::{Path, PathBuf};

use scf_triggers::project::{self, Format, FunctionType, ProjectError, TriggerKind};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn broken(text: &str) -> ProjectError {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "serverless.yml", text);
    project::load(&file).expect_err("broken")
}

#[test]
fn serverless_yml_with_variables_environment_and_every_trigger() {
    let dir = tempfile::tempdir().expect("tempdir");
    // SAFETY-free: a variable only this test sets.
    let file = write(
        dir.path(),
        "serverless.yml",
        r#"
app: shop
stage: test
component: scf
name: orders

inputs:
  src:
    src: ./code
    exclude: ['node_modules/**']
  handler: index.main_handler
  runtime: CustomRuntime
  region: ap-guangzhou
  memorySize: 256
  timeout: 20
  initTimeout: 5
  description: ${name} in ${app}
  environment:
    variables:
      STAGE: ${stage}
      PORT: 8080
  surprise: 1
  events:
    - timer:
        parameters:
          cronExpression: '*/5 * * * * * *'
          enable: true
          argument: hello
    - apigw:
        parameters:
          environment: release
          endpoints:
            - path: /users/{id}
              method: get
              function:
                isIntegratedResponse: true
            - path: /users
    - cos:
        parameters:
          bucket: pics-1250000000.cos.ap-guangzhou.myqcloud.com
          filter:
            prefix: in/
            suffix: .jpg
          events: 'cos:ObjectCreated:*'
    - cmq:
        parameters:
          name: jobs
    - ckafka:
        parameters:
          name: ckafka-1
          topic: t1
          maxMsgNum: 10
          offset: latest
          retry: 3
    - mps:
        parameters:
          type: EditMediaTask
"#,
    );
    let p = project::load(&file).expect("loads");
    assert_eq!(p.format, Format::Serverless);
    assert_eq!(p.functions.len(), 1);
    let f = &p.functions[0];
    assert_eq!(f.name, "orders-test-shop");
    assert_eq!(f.namespace, "default");
    assert_eq!(f.code_dir, dir.path().join("./code"));
    assert_eq!(f.handler.as_deref(), Some("index.main_handler"));
    assert_eq!(f.description.as_deref(), Some("orders in shop"));
    assert_eq!(
        (f.memory_mb, f.timeout_s, f.init_timeout_s),
        (Some(256), Some(20), Some(5))
    );
    assert_eq!(f.environment["STAGE"], "test");
    assert_eq!(f.environment["PORT"], "8080");
    assert_eq!(f.function_type, FunctionType::Event);
    assert_eq!(f.triggers.len(), 5, "{:?}", f.triggers);
    let t = &f.triggers[0];
    assert_eq!(t.name, "timer-orders-test-shop");
    assert!(t.enable);
    assert_eq!(t.qualifier, "$DEFAULT");
    assert_eq!(
        t.kind,
        TriggerKind::Timer {
            cron: "*/5 * * * * * *".into(),
            argument: Some("hello".into())
        }
    );
    let TriggerKind::Apigw {
        stage, endpoints, ..
    } = &f.triggers[1].kind
    else {
        panic!("apigw: {:?}", f.triggers[1]);
    };
    assert_eq!(stage, "release");
    assert_eq!(
        (endpoints[0].path.as_str(), endpoints[0].method.as_str()),
        ("/users/{id}", "GET")
    );
    assert!(endpoints[0].integrated_response);
    assert_eq!(
        (
            endpoints[1].method.as_str(),
            endpoints[1].integrated_response
        ),
        ("ANY", false)
    );
    let TriggerKind::Cos {
        prefix,
        suffix,
        events,
        ..
    } = &f.triggers[2].kind
    else {
        panic!("cos");
    };
    assert_eq!(
        (prefix.as_deref(), suffix.as_deref(), events.as_str()),
        (Some("in/"), Some(".jpg"), "cos:ObjectCreated:*")
    );
    // Not enabled unless `enable: true`, as the component documents.
    assert!(!f.triggers[2].enable);
    assert_eq!(
        f.triggers[3].kind,
        TriggerKind::Cmq {
            name: "jobs".into()
        }
    );
    assert_eq!(
        f.triggers[4].kind,
        TriggerKind::Ckafka {
            instance: "ckafka-1".into(),
            topic: "t1".into(),
            max_msg_num: Some(10)
        }
    );
    // The unknown key with its line, and the trigger with no local twin.
    let w = p.warnings.join("\n");
    assert!(
        w.contains("serverless.yml:22: unknown key `inputs.surprise` is ignored"),
        "{w}"
    );
    assert!(
        w.contains("the `mps` trigger at `inputs.events[5]` has no local twin"),
        "{w}"
    );
}

#[test]
fn multi_scf_has_two_functions_shared_settings_and_routed_apis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "serverless.yml",
        r#"
app: appDemo
stage: dev
component: multi-scf
name: multi-demo
inputs:
  src:
    src: ./
  runtime: Python3.9
  memorySize: 128
  timeout: 3
  environment:
    variables:
      SHARED: yes-all
  functions:
    index:
      handler: app.index
      environment:
        - key: ONLY
          value: index
    userList:
      handler: app.user_list
      memorySize: 256
      timeout: 10
  triggers:
    - type: timer
      function: index
      parameters:
        name: tick
        cronExpression: '* * * * * * *'
        enable: true
    - type: apigw
      parameters:
        name: api
        apis:
          - path: /
            method: GET
            function: index
          - path: /{uid}
            method: POST
            function: userList
"#,
    );
    let p = project::load(&file).expect("loads");
    assert_eq!(p.functions.len(), 2);
    let (a, b) = (&p.functions[0], &p.functions[1]);
    assert_eq!((a.name.as_str(), b.name.as_str()), ("index", "userList"));
    assert_eq!((a.memory_mb, b.memory_mb), (Some(128), Some(256)));
    assert_eq!((a.timeout_s, b.timeout_s), (Some(3), Some(10)));
    assert_eq!(a.runtime.as_deref(), Some("Python3.9"));
    assert_eq!(a.environment["SHARED"], "yes-all");
    assert_eq!(a.environment["ONLY"], "index");
    assert!(!b.environment.contains_key("ONLY"));
    assert_eq!(a.triggers.len(), 2);
    assert_eq!(a.triggers[0].name, "tick");
    let TriggerKind::Apigw { endpoints, .. } = &b.triggers[0].kind else {
        panic!("{:?}", b.triggers);
    };
    assert_eq!(
        (endpoints[0].path.as_str(), endpoints[0].method.as_str()),
        ("/{uid}", "POST")
    );
    assert_eq!(
        p.function("userList").expect("found").handler.as_deref(),
        Some("app.user_list")
    );
    let e = p.function("nobody").expect_err("missing");
    assert!(
        e.contains("has no function `nobody`; it declares: index, userList"),
        "{e}"
    );
}

#[test]
fn tcsam_template_with_globals_two_functions_and_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "template.yaml",
        r#"
Resources:
  default:
    Type: TencentCloud::Serverless::Namespace
    hello:
      Type: TencentCloud::Serverless::Function
      Properties:
        CodeUri: ./hello
        Type: Event
        Description: says hello
        Environment:
          Variables:
            ENV_FIRST: env1
            LEVEL: 3
        Handler: index.main_handler
        MemorySize: 128
        Runtime: CustomRuntime
        Events:
          every-second:
            Type: Timer
            Properties:
              CronExpression: '* * * * * * *'
              Enable: OPEN
          hello_apigw:
            Type: APIGW
            Properties:
              StageName: release
              HttpMethod: ANY
    web:
      Type: TencentCloud::Serverless::Function
      Properties:
        CodeUri: ./web
        Type: HTTP
        Timeout: 30
        Environment:
          Variables:
            ENV_FIRST: mine
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        FROM_GLOBALS: g
        ENV_FIRST: global
"#,
    );
    let p = project::load(&file).expect("loads");
    assert_eq!(p.format, Format::Tcsam);
    assert_eq!(p.functions.len(), 2);
    let (h, w) = (&p.functions[0], &p.functions[1]);
    assert_eq!(
        (h.name.as_str(), h.namespace.as_str()),
        ("hello", "default")
    );
    assert_eq!(h.code_dir, dir.path().join("./hello"));
    assert_eq!(h.timeout_s, Some(10), "from Globals");
    assert_eq!(w.timeout_s, Some(30), "its own wins");
    assert_eq!(h.environment["ENV_FIRST"], "env1");
    assert_eq!(h.environment["FROM_GLOBALS"], "g");
    assert_eq!(h.environment["LEVEL"], "3");
    assert_eq!(w.environment["ENV_FIRST"], "mine");
    assert_eq!(w.function_type, FunctionType::Http);
    assert_eq!(h.triggers.len(), 2);
    assert_eq!(h.triggers[0].name, "every-second");
    assert!(h.triggers[0].enable);
    let TriggerKind::Apigw {
        endpoints, stage, ..
    } = &h.triggers[1].kind
    else {
        panic!("{:?}", h.triggers);
    };
    assert_eq!(stage, "release");
    assert_eq!(
        (endpoints[0].path.as_str(), endpoints[0].method.as_str()),
        ("/hello", "ANY")
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(project::find(dir.path()), Some(file));
}

#[test]
fn broken_files_name_the_file_line_and_key() {
    let e = broken("component: scf\nname: x\ninputs:\n  src: ./\n  memorySize: big\n");
    assert_eq!(e.line, Some(5), "{e}");
    assert_eq!(e.key.as_deref(), Some("inputs.memorySize"));
    assert!(
        e.to_string()
            .contains("serverless.yml:5: `inputs.memorySize`: invalid type: string \"big\""),
        "{e}"
    );

    let e = broken(
        "component: scf\nname: x\ninputs:\n  src: ./\n  events:\n    - timer:\n        parameters:\n          cronExpression: '* * *'\n",
    );
    assert_eq!(e.line, Some(8), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("inputs.events[0].timer.parameters.cronExpression")
    );
    assert!(e.message.contains("has 3 fields; SCF's has 7"), "{e}");

    let e = broken("component: scf\nname: x\ninputs:\n  handler: a.b\n");
    assert!(
        e.to_string()
            .contains("`inputs.src`: the code directory `inputs.src` is required"),
        "{e}"
    );

    let e = broken("component: scf\nname: x\ninputs:\n  src: ./\n  description: ${output:other}\n");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message
            .contains("`${output:other}` is not a variable scfrt knows"),
        "{e}"
    );

    let e = broken("component: scf\nname: x\ninputs:\n  src: [unclosed\n");
    assert!(e.message.starts_with("not valid YAML"), "{e}");
    assert!(e.line.is_some(), "{e}");

    let e = broken("component: express\nname: x\ninputs: {}\n");
    assert!(
        e.message.contains("`component: express` is not read"),
        "{e}"
    );

    let e = broken("functions:\n  a: {}\n");
    assert!(e.message.contains("neither a serverless.yml"), "{e}");

    let e = broken(
        "Resources:\n  default:\n    Type: TencentCloud::Serverless::Namespace\n    f:\n      Type: TencentCloud::Serverless::Function\n      Properties:\n        CodeUri: ./\n        Timeout: soon\n",
    );
    assert_eq!(e.line, Some(8), "{e}");
    assert_eq!(
        e.key.as_deref(),
        Some("Resources.default.f.Properties.Timeout")
    );

    let e = broken("Resources:\n  default:\n    Type: Namespace\n");
    assert!(
        e.message
            .contains("expected `Type: TencentCloud::Serverless::Namespace`"),
        "{e}"
    );

    let missing = project::load(Path::new("/nonexistent/serverless.yml")).expect_err("missing");
    assert!(
        missing
            .to_string()
            .starts_with("/nonexistent/serverless.yml: cannot read it: "),
        "{missing}"
    );
}
