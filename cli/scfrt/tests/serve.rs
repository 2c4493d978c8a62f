//! `scfrt serve` pieces: the TC3 verifier (known-answer vector), the API error envelope on the
//! wire, and the instance pool (reuse, limit, queueing, reaping).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scf_cloud::tc3;
use scf_emulator::FunctionConfig;
use scf_emulator::pool::{Pool, PoolOptions};
use scf_serve::{ServeConfig, start};

// ---- TC3 known-answer vector ---------------------------------------------------------------------
//
// Computed once with tencentcloud-sdk-python-common 3.1.195 / -scf 3.1.100: an `ScfClient` with
// these credentials, `HttpProfile(protocol="http", endpoint="127.0.0.1:9000")`, region
// ap-guangzhou, `time.time` patched to 1700000000, then
// `client._build_req_with_tc3_signature("Invoke", params, req)` on a POST `RequestInternal`; the
// body and the Authorization header below are what it produced.
const KAT_ID: &str = "AKIDscfrtTESTID0000000000000000000";
const KAT_KEY: &str = "scfrtTestSecretKey000000000000000";
const KAT_TIMESTAMP: i64 = 1_700_000_000;
const KAT_HOST: &str = "127.0.0.1:9000";
const KAT_BODY: &str = r#"{"FunctionName": "CustomRuntime-Bash", "ClientContext": "{ \"key1\": \"test value 1\", \"key2\": \"test value 2\" }"}"#;
const KAT_AUTH: &str = "TC3-HMAC-SHA256 Credential=AKIDscfrtTESTID0000000000000000000/2023-11-14/scf/tc3_request, SignedHeaders=content-type;host, Signature=a1449ae6cdc021818bf017fe70bfad93758cdcbae2f0ca444c14c520e4824fca";

fn kat_verify(auth: &str, body: &str, now: i64, key: Option<&str>) -> Result<(), String> {
    let headers: HashMap<&str, &str> = [
        ("content-type", "application/json"),
        ("host", KAT_HOST),
        ("x-tc-timestamp", "1700000000"),
        ("authorization", auth),
    ]
    .into_iter()
    .collect();
    let lookup = |name: &str| headers.get(name).copied();
    let req = tc3::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        header: &lookup,
        body: body.as_bytes(),
    };
    let creds = |id: &str| (id == KAT_ID).then(|| key.unwrap_or(KAT_KEY).to_owned());
    tc3::verify(&req, &creds, now, tc3::Rules::Platform).map_err(|e| e.code)
}

#[test]
fn tc3_known_answer_from_the_python_sdk() {
    assert_eq!(kat_verify(KAT_AUTH, KAT_BODY, KAT_TIMESTAMP, None), Ok(()));
    // Our signer agrees with the SDK's byte for byte.
    let headers: HashMap<&str, &str> = [("content-type", "application/json"), ("host", KAT_HOST)]
        .into_iter()
        .collect();
    let lookup = |name: &str| headers.get(name).copied();
    let req = tc3::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        header: &lookup,
        body: KAT_BODY.as_bytes(),
    };
    let canonical = tc3::canonical_request(&req, &["content-type".into(), "host".into()]);
    let to_sign = tc3::string_to_sign(&canonical, "1700000000", "2023-11-14", "scf");
    let sig = tc3::sign(KAT_KEY, "2023-11-14", "scf", &to_sign);
    assert!(KAT_AUTH.ends_with(&format!("Signature={sig}")));
}

#[test]
fn tc3_failures() {
    let within = KAT_TIMESTAMP + 299;
    assert_eq!(
        kat_verify(KAT_AUTH, KAT_BODY, within, Some("wrong")),
        Err("AuthFailure.SignatureFailure".into())
    );
    assert_eq!(
        kat_verify(KAT_AUTH, &KAT_BODY.replace("Bash", "Bosh"), within, None),
        Err("AuthFailure.SignatureFailure".into())
    );
    assert_eq!(
        kat_verify(
            &KAT_AUTH.replace("AKIDscfrt", "AKIDother"),
            KAT_BODY,
            within,
            None
        ),
        Err("AuthFailure.SecretIdNotFound".into())
    );
    assert_eq!(
        kat_verify(KAT_AUTH, KAT_BODY, KAT_TIMESTAMP + 301, None),
        Err("AuthFailure.SignatureExpire".into())
    );
    assert_eq!(
        kat_verify(KAT_AUTH, KAT_BODY, KAT_TIMESTAMP - 301, None),
        Err("AuthFailure.SignatureExpire".into())
    );
    assert_eq!(
        kat_verify("Bearer x", KAT_BODY, KAT_TIMESTAMP, None),
        Err("AuthFailure.InvalidAuthorization".into())
    );
    assert_eq!(
        kat_verify(
            &KAT_AUTH.replace("2023-11-14", "2023-11-15"),
            KAT_BODY,
            KAT_TIMESTAMP,
            None
        ),
        Err("AuthFailure.SignatureFailure".into())
    );
}

// ---- the error envelope on the wire ------------------------------------------------------------

fn raw_post(port: u16, headers: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("a full response");
    (head.to_owned(), body.to_owned())
}

#[test]
fn error_envelope_on_the_wire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ServeConfig::new(
        dir.path().join("state"),
        [(KAT_ID.to_owned(), KAT_KEY.to_owned())]
            .into_iter()
            .collect(),
    );
    cfg.addr = "127.0.0.1:0".parse().expect("addr");
    let server = start(cfg).expect("start");
    let port = server.addr().port();

    let (head, body) = raw_post(port, "X-TC-Action: Invoke\r\n", "{}");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let ct: Vec<&str> = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .collect();
    assert_eq!(ct, ["content-type: application/json"]);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let rid = v["Response"]["RequestId"].as_str().expect("RequestId");
    assert_eq!(
        v,
        serde_json::json!({"Response": {"Error": {"Code": "AuthFailure", "Message": v["Response"]["Error"]["Message"]}, "RequestId": rid}})
    );
    assert!(uuid::Uuid::parse_str(rid).is_ok());

    // Signed with an expired timestamp (the KAT's): SignatureExpire, same envelope.
    let auth = KAT_AUTH.replace(KAT_HOST, "");
    let (_, body) = raw_post(
        port,
        &format!("X-TC-Action: Invoke\r\nX-TC-Timestamp: 1700000000\r\nAuthorization: {auth}\r\n"),
        KAT_BODY,
    );
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["Response"]["Error"]["Code"],
        "AuthFailure.SignatureExpire"
    );
}

// ---- the pool ----------------------------------------------------------------------------------

/// A function whose handler answers `<pid>` after `gate` (a bash snippet) returns.
fn pool_function(dir: &std::path::Path, gate: &str) -> FunctionConfig {
    common::write_bootstrap(
        dir,
        &format!(
            "ready\nwhile true; do\n  EVENT=$(next)\n  case \"$EVENT\" in *crash*) exit 3 ;; esac\n  {gate}\n  respond \"$$\"\ndone"
        ),
    );
    FunctionConfig {
        timeout: Duration::from_secs(20),
        init_timeout: Duration::from_secs(10),
        ..FunctionConfig::new(dir)
    }
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[test]
fn pool_reuses_a_warm_instance_and_replaces_a_dead_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = Pool::new(pool_function(dir.path(), ":"), PoolOptions::default());
    let a = pool.invoke(b"{}", rid()).expect("invoke");
    let b = pool.invoke(b"{}", rid()).expect("invoke");
    assert_eq!((a.invoke_result, b.invoke_result), (0, 0));
    assert!(a.cold_start && a.log.contains("Init Report"));
    assert!(!b.cold_start && !b.log.contains("Init Report"));
    assert_eq!(a.ret_msg, b.ret_msg, "the warm instance answered again");
    let crashed = pool.invoke(br#"{"crash":1}"#, rid()).expect("invoke");
    assert_eq!(crashed.invoke_result, 439);
    let c = pool.invoke(b"{}", rid()).expect("invoke");
    assert!(c.cold_start && c.ret_msg != a.ret_msg);
    let s = pool.stats();
    assert_eq!((s.instances_created, s.live, s.idle, s.busy), (2, 1, 1, 0));
}

#[test]
fn pool_reaps_idle_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = PoolOptions {
        max_instances: 2,
        idle_timeout: Duration::from_secs(60),
    };
    let pool = Pool::new(pool_function(dir.path(), ":"), opts);
    let a = pool.invoke(b"{}", rid()).expect("invoke");
    assert_eq!(pool.reap_idle(Instant::now()), 0, "not idle long enough");
    assert_eq!(pool.reap_idle(Instant::now() + Duration::from_secs(61)), 1);
    let pid: i32 = a.ret_msg.parse().expect("pid");
    assert!(common::process_gone(pid));
    let b = pool.invoke(b"{}", rid()).expect("invoke");
    assert!(b.cold_start && b.ret_msg != a.ret_msg);
}

#[test]
fn pool_limits_instances_and_queues_the_rest() {
    // Each handler connects to `gate` and waits for a line: the test decides when they finish.
    let gate = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = gate.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = pool_function(
        dir.path(),
        &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; read -r -u 3 _line; exec 3<&-"),
    );
    let opts = PoolOptions {
        max_instances: 2,
        idle_timeout: Duration::from_secs(60),
    };
    let pool = Arc::new(Pool::new(cfg, opts));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.invoke(b"{}", rid()).expect("invoke"))
        })
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in gate.incoming().take(4) {
            if tx.send(conn).is_err() {
                break;
            }
        }
    });
    let accept = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a handler reached the gate")
            .expect("accept")
    };
    // Two handlers run at once; the other two invocations wait in line.
    let mut first = vec![accept(), accept()];
    assert!(pool.wait_until(Duration::from_secs(20), |s| s.busy == 2 && s.waiting == 2));
    assert_eq!(pool.stats().instances_created, 2);
    for c in &mut first {
        c.write_all(b"go\n").expect("release");
    }
    // The queued two now run on the same, warm instances.
    for mut c in [accept(), accept()] {
        c.write_all(b"go\n").expect("release");
    }
    let results: Vec<_> = workers
        .into_iter()
        .map(|w| w.join().expect("worker"))
        .collect();
    assert!(results.iter().all(|r| r.invoke_result == 0));
    let mut pids: Vec<&str> = results.iter().map(|r| r.ret_msg.as_str()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 2, "two instances served four invocations");
    assert_eq!(results.iter().filter(|r| r.cold_start).count(), 2);
    let s = pool.stats();
    assert_eq!(
        (s.instances_created, s.peak_busy, s.idle, s.invocations),
        (2, 2, 2, 4)
    );
    drop(first);
}
