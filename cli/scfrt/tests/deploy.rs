//! `scfrt deploy` / `scfrt remote-invoke` and the API client under them: the TC3 signer against
//! vectors computed by Tencent's Python SDK and against `scfrt serve`'s verifier, then the real
//! `scfrt` binary deploying C and Python starters to a `scfrt serve` subprocess on loopback.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use scf_cloud::client::{Client, CloudError, Credentials, Endpoint, Secret};
use scf_cloud::tc3;
use serde_json::{Value, json};

#[path = "common/serve.rs"]
mod serve_harness;

use serve_harness::{ID, KEY, Serve, text};

const EVENT: &str = r#"{"key1": "test value 1", "key2": "test value 2"}"#;

// ---- the signer against the Python SDK ---------------------------------------------------------

/// One request signed by tencentcloud-sdk-python-common 3.1.195 (`time.time` patched).
struct SdkVector {
    secret_id: &'static str,
    secret_key: &'static str,
    timestamp: i64,
    host: &'static str,
    body: &'static str,
    authorization: &'static str,
}

const SDK_VECTORS: [SdkVector; 2] = [
    // The vector of cli/scfrt/tests/serve.rs: `ScfClient` on http://127.0.0.1:9000, action Invoke.
    SdkVector {
        secret_id: "AKIDscfrtTESTID0000000000000000000",
        secret_key: "scfrtTestSecretKey000000000000000",
        timestamp: 1_700_000_000,
        host: "127.0.0.1:9000",
        body: r#"{"FunctionName": "CustomRuntime-Bash", "ClientContext": "{ \"key1\": \"test value 1\", \"key2\": \"test value 2\" }"}"#,
        authorization: "TC3-HMAC-SHA256 Credential=AKIDscfrtTESTID0000000000000000000/2023-11-14/scf/tc3_request, SignedHeaders=content-type;host, Signature=a1449ae6cdc021818bf017fe70bfad93758cdcbae2f0ca444c14c520e4824fca",
    },
    // `CommonClient("scf", "2018-04-16", Credential(id, key, "tokenKAT"), "ap-shanghai")` on the
    // default endpoint, `_build_req_with_tc3_signature("CreateFunction", params, req)`.
    SdkVector {
        secret_id: "AKIDscfrtDEPLOYKAT000000000000000",
        secret_key: "scfrtDeployKatSecretKey0000000000",
        timestamp: 1_736_000_000,
        host: "scf.tencentcloudapi.com",
        body: r#"{"FunctionName": "hello-c", "Namespace": "default", "Runtime": "CustomRuntime", "Handler": "index.main_handler", "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, "Timeout": 10}"#,
        authorization: "TC3-HMAC-SHA256 Credential=AKIDscfrtDEPLOYKAT000000000000000/2025-01-04/scf/tc3_request, SignedHeaders=content-type;host, Signature=ab42787f3d959e96c806e2165e94baed4d00012c86689f87843751a566723fe4",
    },
];

#[test]
fn signer_matches_the_python_sdk() {
    for v in &SDK_VECTORS {
        let lookup = |name: &str| match name {
            "content-type" => Some("application/json"),
            "host" => Some(v.host),
            _ => None,
        };
        let req = tc3::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            header: &lookup,
            body: v.body.as_bytes(),
        };
        let auth = tc3::authorization(v.secret_id, v.secret_key, "scf", v.timestamp, &req);
        assert_eq!(auth, v.authorization);
    }
}

#[test]
fn client_headers_match_the_sdk_request() {
    // The client's own request (body from its JSON encoder) signs the same way: rebuild the
    // second vector's Authorization from what `Client::prepare` sends.
    let v = &SDK_VECTORS[1];
    let creds = Credentials::new(
        v.secret_id,
        Secret::new(v.secret_key),
        Some(Secret::new("tokenKAT")),
    );
    let client = Client::new(Endpoint::default(), "ap-shanghai", creds);
    let params: Value = serde_json::from_str(v.body).expect("json");
    let req = client
        .prepare("CreateFunction", &params, v.timestamp)
        .expect("prepare");
    assert_eq!(req.header("host"), Some("scf.tencentcloudapi.com"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("x-tc-action"), Some("CreateFunction"));
    assert_eq!(req.header("x-tc-version"), Some("2018-04-16"));
    assert_eq!(req.header("x-tc-timestamp"), Some("1736000000"));
    assert_eq!(req.header("x-tc-region"), Some("ap-shanghai"));
    assert_eq!(req.header("x-tc-token"), Some("tokenKAT"));
    let lookup = |name: &str| req.header(name);
    let signed = tc3::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        header: &lookup,
        body: &req.body,
    };
    let creds = |id: &str| (id == v.secret_id).then(|| v.secret_key.to_owned());
    assert_eq!(
        tc3::verify(&signed, &creds, v.timestamp, tc3::Rules::Platform),
        Ok(())
    );
    let auth = req.header("authorization").expect("authorization");
    assert!(auth.starts_with(
        "TC3-HMAC-SHA256 Credential=AKIDscfrtDEPLOYKAT000000000000000/2025-01-04/scf/tc3_request, SignedHeaders=content-type;host, Signature="
    ));
    assert!(!format!("{req:?} {client:?}").contains(v.secret_key));
}

#[test]
fn serve_accepts_our_signature_and_refuses_a_tampered_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = scf_serve::ServeConfig::new(
        dir.path().join("state"),
        [(ID.to_owned(), KEY.to_owned())].into_iter().collect(),
    );
    cfg.addr = "127.0.0.1:0".parse().expect("addr");
    let server = scf_serve::start(cfg).expect("start");
    let endpoint = Endpoint::parse(&server.addr().to_string()).expect("endpoint");
    assert!(endpoint.plain_http);
    let client = Client::new(
        endpoint.clone(),
        "ap-guangzhou",
        Credentials::new(ID, Secret::new(KEY), Some(Secret::new("tok"))),
    );
    let list = json!({"Namespace": "default"});
    let r = client.call("ListFunctions", &list).expect("signed by us");
    assert_eq!(r["TotalCount"], 0);
    assert!(r["RequestId"].is_string());

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let code = |e: CloudError| e.code().map(str::to_owned);
    // The body changed after signing.
    let mut req = client
        .prepare("ListFunctions", &list, now)
        .expect("prepare");
    req.body = br#"{"Namespace": "other"}"#.to_vec();
    assert_eq!(
        code(client.send("ListFunctions", req).unwrap_err()),
        Some("AuthFailure.SignatureFailure".into())
    );
    // The signed Host changed.
    let mut req = client
        .prepare("ListFunctions", &list, now)
        .expect("prepare");
    for (k, v) in &mut req.headers {
        if k == "Host" {
            *v = "127.0.0.2:1".into();
        }
    }
    assert_eq!(
        code(client.send("ListFunctions", req).unwrap_err()),
        Some("AuthFailure.SignatureFailure".into())
    );
    // Signed an hour ago.
    let req = client
        .prepare("ListFunctions", &list, now - 3600)
        .expect("prepare");
    assert_eq!(
        code(client.send("ListFunctions", req).unwrap_err()),
        Some("AuthFailure.SignatureExpire".into())
    );
    // The wrong key, and an unknown id.
    let wrong = Client::new(
        endpoint.clone(),
        "ap-guangzhou",
        Credentials::new(ID, Secret::new("not-the-key"), None),
    );
    let e = wrong.call("ListFunctions", &list).unwrap_err();
    assert!(
        e.to_string().starts_with("AuthFailure.SignatureFailure: "),
        "{e}"
    );
    let unknown = Client::new(
        endpoint,
        "ap-guangzhou",
        Credentials::new("AKIDnobody", Secret::new(KEY), None),
    );
    let e = unknown.call("ListFunctions", &list).unwrap_err();
    assert_eq!(e.code(), Some("AuthFailure.SecretIdNotFound"));
}

// ---- the binary against a `scfrt serve` subprocess --------------------------------------------

/// The directory holding scfrt and the prebuilt bootstraps `--lang` puts in a package: C,
/// Python and shell (built once per test binary).
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let bin = Path::new(serve_harness::scfrt_bin());
        let profile_dir = bin.parent().expect("scfrt's directory").to_owned();
        let target = profile_dir.parent().expect("the target directory");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("CARGO_TARGET_DIR", target)
            .args([
                "build",
                "-q",
                "-p",
                "scf-bootstrap-c",
                "-p",
                "scf-bootstrap-python",
                "-p",
                "scf-bootstrap-shell",
            ])
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of the C, Python and shell bootstraps failed"
        );
        profile_dir
    })
}

/// The environment of the scfrt commands: the debug build's bootstraps, which need this
/// machine's glibc (allowed: these packages run here, under serve), and pip kept off the index
/// (`--lang python` vendors the scfruntime wheel ./test.sh left in `<target>/portable/bin`).
fn package_env() -> Vec<(&'static str, OsString)> {
    let target = bin_dir().parent().expect("the target directory");
    scf_test_support::tools::portable_bin(target);
    vec![
        ("SCFRT_BOOTSTRAP_DIR", bin_dir().into()),
        ("SCFRT_ALLOW_NEWER_GLIBC", "1".into()),
        ("PIP_NO_INDEX", "1".into()),
    ]
}

/// `SCFRUNTIME_PYTHON=<this machine's python3>`: the interpreter the Python packages' bootstrap
/// runs (scfruntime's wheel is abi3, so any CPython >= 3.9 takes what was vendored).
fn python_env() -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "{out:?}");
    format!(
        "SCFRUNTIME_PYTHON={}",
        String::from_utf8_lossy(&out.stdout).trim()
    )
}

/// Runs scfrt with `args` and the prebuilt bootstraps, no credentials in its environment unless
/// `env` adds them.
fn scfrt(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = package_env();
    all.extend(env.iter().map(|(k, v)| (*k, OsString::from(v))));
    serve_harness::scfrt_with(args, &all)
}

/// `scfrt serve`, the scfrt commands run against it given the prebuilt bootstraps.
fn start_serve(tls: bool) -> Serve {
    let mut serve = Serve::start_with(tls);
    serve.env.extend(package_env());
    serve
}

/// A Rust API client of `serve`.
fn client(serve: &Serve) -> Client {
    Client::new(
        Endpoint::parse(&serve.endpoint).expect("endpoint"),
        "ap-guangzhou",
        Credentials::new(ID, Secret::new(KEY), None),
    )
}

/// `scfrt remote-invoke --log`: (exit code, the stdout line, its JSON, stderr).
fn invoke(serve: &Serve, name: &str, event: &str) -> (i32, String, Value, String) {
    serve.remote_invoke(name, event, &["--log"])
}

fn init(lang: &str, dir: &Path) {
    let out = scfrt(
        &["init", "--lang", lang, dir.to_str().expect("utf-8 path")],
        &[],
    );
    assert!(out.status.success(), "scfrt init --lang {lang}: {out:?}");
}

fn deploy_ok(serve: &Serve, pkg: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec![pkg.to_str().expect("utf-8 path"), "--name", name];
    args.extend_from_slice(extra);
    let out = serve.run("deploy", &args);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "deploy {name}: {stderr}");
    assert!(!stderr.contains(KEY), "the key leaked: {stderr}");
    stderr
}

fn ret_msg(json: &Value) -> Value {
    let ret = json["Response"]["Result"]["RetMsg"].as_str().unwrap_or("");
    serde_json::from_str(ret).unwrap_or_else(|e| panic!("RetMsg is not JSON ({e}): {json}"))
}

/// The line has the Invoke API's keys in `scfrt invoke`'s order.
fn assert_key_order(line: &str) {
    let keys = [
        "{\"Response\":{\"Result\":{\"MemUsage\":",
        ",\"Log\":",
        ",\"RetMsg\":",
        ",\"BillDuration\":",
        ",\"FunctionRequestId\":",
        ",\"Duration\":",
        ",\"ErrMsg\":",
        ",\"InvokeResult\":",
        "},\"RequestId\":",
    ];
    let mut at = 0;
    for k in keys {
        let found = line[at..]
            .find(k)
            .unwrap_or_else(|| panic!("{k} missing or out of order in {line}"));
        at += found + k.len();
    }
    assert!(line.ends_with("}}"), "{line}");
}

#[test]
fn deploy_c_and_python_then_redeploy() {
    let serve = start_serve(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let echo = json!({ "echo": serde_json::from_str::<Value>(EVENT).expect("event") });

    // C: the starter built with make, deployed from its directory.
    let c_dir = tmp.path().join("c-fn");
    init("c", &c_dir);
    let cc = scf_test_support::tools::c_compiler();
    let status = Command::new(scf_test_support::tools::require("make"))
        .arg("-s")
        .arg(format!("CC={}", cc.display()))
        .current_dir(&c_dir)
        .status()
        .expect("run make");
    assert!(status.success(), "make in the C starter");
    let stderr = deploy_ok(&serve, &c_dir, "hello-c", &["--lang", "c"]);
    assert!(
        stderr.contains("does not exist: CreateFunction"),
        "{stderr}"
    );
    assert!(
        stderr.contains("created default/hello-c: Active"),
        "{stderr}"
    );
    let (code, line, json, stderr) = invoke(&serve, "hello-c", EVENT);
    assert_eq!(code, 0, "{line}\n{stderr}");
    assert_key_order(&line);
    assert_eq!(ret_msg(&json), echo);
    assert!(
        json["Response"]["Result"]["Log"]
            .as_str()
            .is_some_and(|l| l.contains("START RequestId:")),
        "{line}"
    );

    // Python: packed into a zip by `scfrt package`, deployed as that zip.
    let py_dir = tmp.path().join("py-fn");
    init("python", &py_dir);
    let zip = tmp.path().join("py.zip");
    let out = scfrt(
        &[
            "package",
            py_dir.to_str().expect("utf-8"),
            "-o",
            zip.to_str().expect("utf-8"),
            "--lang",
            "python",
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let python = python_env();
    deploy_ok(&serve, &zip, "hello-py", &["--env", &python]);
    let (code, line, json, stderr) = invoke(&serve, "hello-py", EVENT);
    assert_eq!(code, 0, "{line}\n{stderr}");
    assert_key_order(&line);
    assert_eq!(ret_msg(&json), echo);

    // A changed handler and configuration, redeployed from the directory: the new code answers.
    std::fs::write(
        py_dir.join("index.py"),
        "import os\n\ndef main_handler(event, context):\n    return {\"v\": 2, \"stage\": os.environ.get(\"STAGE\"), \"echo\": event}\n",
    )
    .expect("write index.py");
    let stderr = deploy_ok(
        &serve,
        &py_dir,
        "hello-py",
        &[
            "--lang",
            "python",
            "--timeout",
            "7",
            "--memory",
            "256",
            "--env",
            "STAGE=two",
            "--env",
            &python,
        ],
    );
    assert!(stderr.contains("exists: UpdateFunctionCode"), "{stderr}");
    assert!(
        stderr.contains("UpdateFunctionConfiguration (Environment, MemorySize, Timeout)"),
        "{stderr}"
    );
    let (code, line, json, _) = invoke(&serve, "hello-py", EVENT);
    assert_eq!(code, 0, "{line}");
    assert_eq!(
        ret_msg(&json),
        json!({"v": 2, "stage": "two", "echo": echo["echo"]})
    );
    let f = client(&serve)
        .call("GetFunction", &json!({"FunctionName": "hello-py"}))
        .expect("GetFunction");
    assert_eq!(
        (f["Timeout"].as_u64(), f["MemorySize"].as_u64()),
        (Some(7), Some(256))
    );
    assert_eq!(f["Status"], "Active");

    // A handler that raises: the platform's failure result, exit 1.
    std::fs::write(
        py_dir.join("index.py"),
        "def main_handler(event, context):\n    raise ValueError(\"deliberate\")\n",
    )
    .expect("write index.py");
    deploy_ok(&serve, &py_dir, "hello-py", &["--lang", "python"]);
    let (code, line, json, _) = invoke(&serve, "hello-py", EVENT);
    assert_eq!(code, 1, "{line}");
    assert_ne!(json["Response"]["Result"]["InvokeResult"], 0, "{line}");
    assert!(line.contains("deliberate"), "{line}");
}

#[test]
fn wrong_credentials_and_api_errors_exit_1() {
    let serve = start_serve(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("fn");
    init("python", &dir);
    let pkg = dir.to_str().expect("utf-8");
    let endpoint = serve.endpoint.as_str();

    // The wrong key, from the environment (the SDK's variables).
    let out = scfrt(
        &[
            "deploy",
            pkg,
            "--lang",
            "python",
            "--name",
            "fn1",
            "--endpoint",
            endpoint,
        ],
        &[
            ("TENCENTCLOUD_SECRET_ID", ID),
            ("TENCENTCLOUD_SECRET_KEY", "wrong-secret-key-value"),
            ("TENCENTCLOUD_SESSION_TOKEN", "session-token-value"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: AuthFailure.SignatureFailure: "),
        "{stderr}"
    );
    for secret in ["wrong-secret-key-value", "session-token-value"] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{stderr}"
        );
    }
    // An unknown SecretId, from the command line.
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "fn1",
            "--endpoint",
            endpoint,
            "--secret-id",
            "AKIDnobody",
            "--secret-key",
            KEY,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: AuthFailure.SecretIdNotFound: "),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    // Nothing was created by the refused deploy.
    let out = serve.run("remote-invoke", &["--name", "fn1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ResourceNotFound.Function: "), "{stderr}");
}

#[test]
fn refused_before_anything_is_sent() {
    // A listener that is never accepted from: any connection would stay in its backlog.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let endpoint = listener.local_addr().expect("addr").to_string();
    let tmp = tempfile::tempdir().expect("tempdir");
    let creds = [
        "--endpoint",
        endpoint.as_str(),
        "--secret-id",
        ID,
        "--secret-key",
        KEY,
    ];

    // A zip over 50 MB (sparse: its size is what is checked first).
    let big = tmp.path().join("big.zip");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(50 * 1024 * 1024 + 1).expect("set_len");
    drop(f);
    let mut args = vec!["deploy", big.to_str().expect("utf-8"), "--name", "big"];
    args.extend_from_slice(&creds);
    let out = scfrt(&args, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("over SCF's 50 MB"), "{stderr}");
    assert!(stderr.contains("nothing was sent"), "{stderr}");

    // A zip without a bootstrap, and a directory without one (no --lang).
    let dir = tmp.path().join("nobootstrap");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("index.py"), "x = 1\n").expect("write");
    let zip = tmp.path().join("nobootstrap.zip");
    {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip).expect("create"));
        w.start_file("index.py", zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(b"x = 1\n").expect("write");
        w.finish().expect("finish");
    }
    for pkg in [&zip, &dir] {
        let mut args = vec!["deploy", pkg.to_str().expect("utf-8"), "--name", "nb"];
        args.extend_from_slice(&creds);
        let out = scfrt(&args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("bootstrap"), "{stderr}");
    }

    // No credentials at all; an event that is not JSON.
    let out = scfrt(
        &["remote-invoke", "--name", "f", "--endpoint", &endpoint],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no credentials"), "{out:?}");
    let mut args = vec!["remote-invoke", "--name", "f", "--event", "{not json"];
    args.extend_from_slice(&creds);
    let out = scfrt(&args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not valid UTF-8 JSON"), "{out:?}");

    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("something connected to the endpoint: {other:?}"),
    }

    // Plain http to a host that is not loopback.
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "f",
            "--endpoint",
            "http://192.0.2.1:9000",
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("plain http is only allowed to a loopback host"),
        "{stderr}"
    );
}

#[test]
fn network_errors_name_the_endpoint() {
    // A port that was free a moment ago: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let endpoint = format!("127.0.0.1:{port}");
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "f",
            "--endpoint",
            &endpoint,
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach http://{endpoint}")),
        "{stderr}"
    );
    assert!(!stderr.contains(KEY));
}

/// A bash function answering `{"v": MARK, "version": $SCF_FUNCTIONVERSION}`.
fn versioned_function(dir: &Path, mark: u32) {
    std::fs::write(
        dir.join("index.sh"),
        format!(
            "function main_handler () {{\n  echo \"{{\\\"v\\\":{mark},\\\"version\\\":\\\"$SCF_FUNCTIONVERSION\\\"}}\"\n}}\n"
        ),
    )
    .expect("write index.sh");
}

/// `scfrt remote-invoke --qualifier Q`: the function's answer.
fn invoke_qualified(serve: &Serve, name: &str, qualifier: &str) -> Value {
    let out = serve.run("remote-invoke", &["--name", name, "--qualifier", qualifier]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{qualifier}: {stdout} {stderr}");
    let json: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    ret_msg(&json)
}

#[test]
fn deploy_publishes_versions_and_points_an_alias() {
    let serve = start_serve(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("fn");
    init("bash", &dir);
    let pkg = dir.to_str().expect("utf-8");

    // First deploy: created, published as version 1 (alone on stdout), alias created.
    versioned_function(&dir, 1);
    let args = [
        pkg,
        "--name",
        "pub-fn",
        "--lang",
        "bash",
        "--publish",
        "--alias",
        "live",
    ];
    let out = serve.run(
        "deploy",
        &[&args[..], &["--version-description", "first"]].concat(),
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "1\n", "{stderr}");
    assert!(stderr.contains("pub-fn: PublishVersion"), "{stderr}");
    assert!(stderr.contains("CreateAlias live -> version 1"), "{stderr}");

    // Second deploy of new code: version 2, the alias moved to it.
    versioned_function(&dir, 2);
    let out = serve.run("deploy", &args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "2\n", "{stderr}");
    assert!(stderr.contains("UpdateAlias live -> version 2"), "{stderr}");

    // Without --publish: $LATEST only, nothing on stdout.
    versioned_function(&dir, 3);
    let out = serve.run("deploy", &args[..5]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "", "{stderr}");

    assert_eq!(
        invoke_qualified(&serve, "pub-fn", "live"),
        json!({"v": 2, "version": "2"})
    );
    assert_eq!(
        invoke_qualified(&serve, "pub-fn", "1"),
        json!({"v": 1, "version": "1"})
    );
    assert_eq!(
        invoke_qualified(&serve, "pub-fn", "$LATEST"),
        json!({"v": 3, "version": "$LATEST"})
    );
    let api = client(&serve);
    let alias = api
        .call(
            "GetAlias",
            &json!({"FunctionName": "pub-fn", "Name": "live"}),
        )
        .expect("GetAlias");
    assert_eq!(alias["FunctionVersion"], "2");
    let versions = api
        .call("ListVersionByFunction", &json!({"FunctionName": "pub-fn"}))
        .expect("ListVersionByFunction");
    assert_eq!(versions["FunctionVersion"], json!(["$LATEST", "1", "2"]));
    assert_eq!(versions["Versions"][1]["Description"], "first");

    // --alias needs --publish, and a name SCF accepts: usage errors, nothing sent.
    for bad in [
        &["--alias", "live"][..],
        &["--publish", "--alias", "9-lives"][..],
    ] {
        let out = serve.run("deploy", &[&[pkg, "--name", "other-fn"][..], bad].concat());
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
    }
    let e = api
        .call("GetFunction", &json!({"FunctionName": "other-fn"}))
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound.Function"));
    // An unknown qualifier: the API's error, exit 1.
    let out = serve.run("remote-invoke", &["--name", "pub-fn", "--qualifier", "9"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ResourceNotFound.Version: "), "{stderr}");
}

/// `scfrt serve --tls` and `scfrt deploy` / `remote-invoke` over https, trusting serve's local
/// CA with `--ca-file`; without it the public roots do not know that CA and nothing is sent.
#[test]
fn deploy_over_https_to_serve_tls() {
    let serve = start_serve(true);
    let ca = serve.ca.clone().expect("ca");
    assert!(ca.is_file(), "{}", ca.display());
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("fn");
    init("bash", &pkg);
    deploy_ok(&serve, &pkg, "over-tls", &["--lang", "bash"]);
    let (code, line, json, stderr) = invoke(&serve, "over-tls", r#"{"hello":"tls"}"#);
    assert_eq!(code, 0, "{line} {stderr}");
    assert_eq!(json["Response"]["Result"]["InvokeResult"], 0, "{line}");
    assert_key_order(&line);
    // Without the CA: the handshake fails on the certificate, and the message names the endpoint.
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "over-tls",
            "--endpoint",
            &serve.endpoint,
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&serve.endpoint), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("certificate") || stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    // A file without a certificate is refused before anything is sent (exit 2).
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "over-tls",
            "--endpoint",
            &serve.endpoint,
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
            "--ca-file",
            empty.to_str().expect("utf-8"),
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");
}

#[test]
fn https_endpoints_speak_tls() {
    // A loopback server answering in plain text: the client's TLS handshake fails, and says where.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("https://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let out = scfrt(
        &[
            "remote-invoke",
            "--name",
            "f",
            "--endpoint",
            &endpoint,
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach {endpoint}")),
        "{stderr}"
    );
}

/// A scripted stand-in for the cloud API that answers by `X-TC-Action` from a list of
/// `GetFunction` results, so the create-then-wait path can be seen with statuses `scfrt serve`
/// never reports (it is `Active` at once). Returns the port and the actions it saw.
fn scripted_cloud(get_function: Vec<Value>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut script = get_function.into_iter();
        let mut seen = Vec::new();
        // Bounded: the scripted answers plus one CreateFunction, on however many connections.
        'conns: for conn in listener.incoming().take(16) {
            let Ok(conn) = conn else { break };
            let mut w = conn.try_clone().expect("clone");
            let mut r = BufReader::new(conn);
            loop {
                let (mut action, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        continue 'conns;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("x-tc-action:") {
                        action = line[line.len() - v.len()..].trim().to_string();
                    } else if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    continue 'conns;
                }
                seen.push(action.clone());
                let response = match action.as_str() {
                    "GetFunction" => match script.next() {
                        Some(v) => v,
                        None => break 'conns,
                    },
                    _ => json!({}),
                };
                let mut response = response;
                response["RequestId"] = json!("req-scripted");
                let text = json!({ "Response": response }).to_string();
                let msg = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                );
                if w.write_all(msg.as_bytes()).is_err() {
                    continue 'conns;
                }
                if action == "GetFunction" && script.len() == 0 {
                    break 'conns;
                }
            }
        }
        seen
    });
    (port, handle)
}

fn script_function_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let bootstrap = dir.path().join("bootstrap");
    std::fs::write(&bootstrap, "#!/bin/sh\nexit 0\n").expect("write bootstrap");
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// `scfrt deploy` of a one-line script function named `name` to the scripted cloud on `port`.
fn deploy_scripted(port: u16, name: &str) -> (Output, String, String) {
    let dir = script_function_dir();
    let endpoint = format!("127.0.0.1:{port}");
    let path = dir.path().to_str().expect("utf-8 path");
    let out = scfrt(
        &["deploy", path, "--name", name, "--endpoint", &endpoint],
        &[
            ("TENCENTCLOUD_SECRET_ID", ID),
            ("TENCENTCLOUD_SECRET_KEY", KEY),
        ],
    );
    let (stdout, stderr) = text(&out);
    (out, stdout, stderr)
}

#[test]
fn deploy_waits_through_creating_until_active() {
    let not_found =
        json!({"Error": {"Code": "ResourceNotFound.Function", "Message": "no such function"}});
    let (port, cloud) = scripted_cloud(vec![
        not_found,
        json!({"Status": "Creating", "StatusDesc": ""}),
        json!({"Status": "Creating", "StatusDesc": ""}),
        json!({"Status": "Active", "StatusDesc": ""}),
    ]);
    let (out, stdout, stderr) = deploy_scripted(port, "waits");
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stderr.contains("is Creating"), "{stderr}");
    let seen = cloud.join().expect("scripted cloud");
    assert_eq!(
        seen,
        [
            "GetFunction",
            "CreateFunction",
            "GetFunction",
            "GetFunction",
            "GetFunction"
        ],
        "{stderr}"
    );
}

#[test]
fn deploy_stops_on_a_failed_status_with_the_platform_reason() {
    let not_found =
        json!({"Error": {"Code": "ResourceNotFound.Function", "Message": "no such function"}});
    let (port, cloud) = scripted_cloud(vec![
        not_found,
        json!({"Status": "CreateFailed", "StatusDesc": "bootstrap is not executable"}),
    ]);
    let (out, stdout, stderr) = deploy_scripted(port, "fails");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("CreateFailed") && stderr.contains("bootstrap is not executable"),
        "{stderr}"
    );
    assert_eq!(
        cloud.join().expect("scripted cloud"),
        ["GetFunction", "CreateFunction", "GetFunction"]
    );
}
