//! Web functions (`Type: HTTP`, `scf_bootstrap`) behind the real `scfrt start-api`: requests
//! passed on as they came, answers returned as they are, the `X-Scf-*` headers added, timeouts,
//! a server that never listens; `scfrt package` and `scfrt invoke` of a web function
//! (docs/triggers.md, "Web functions").
//!
//! The app is Python's `http.server`, written here. Built for SCF, it listens on 0.0.0.0:9000;
//! when that port is taken it falls back to `$PORT` (the free port scfrt offers), and it names
//! the port it used in an `X-App-Port` header of every answer, which the tests print.

mod common;
#[path = "common/start_api.rs"]
mod start_api_harness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{HttpResponse, RawClient};
use start_api_harness::Server;

/// The app: `/echo` answers JSON with what it received; `/status` a custom status and headers;
/// `/binary` every byte value; `/sleep` never answers in time.
const APP: &str = r#"
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, ctype, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-App-Port", str(PORT_USED))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        if path == "/status":
            self.answer(418, b"short and stout", "text/plain",
                        [("X-Custom", "teapot"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        elif path == "/binary":
            self.answer(200, bytes(range(256)), "application/octet-stream")
        elif path == "/sleep":
            time.sleep(60)
            self.answer(200, b"too late", "text/plain")
        else:
            echo = {
                "method": self.command,
                "target": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }
            self.answer(200, json.dumps(echo).encode(), "application/json")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def log_message(self, fmt, *args):
        sys.stderr.write("app: " + (fmt % args) + "\n")

try:
    server = HTTPServer(("0.0.0.0", 9000), Handler)
    PORT_USED = 9000
except OSError as e:
    port = int(os.environ["PORT"])
    print(f"app: port 9000 unavailable ({e}); listening on $PORT={port}", flush=True)
    server = HTTPServer(("127.0.0.1", port), Handler)
    PORT_USED = port
print(f"app: serving on {PORT_USED}", flush=True)
server.serve_forever()
"#;

/// Held by every test that runs an app, so that port 9000 is taken or free as each test means
/// it: another test's app cannot take or free it meanwhile.
static PORT_9000: Mutex<()> = Mutex::new(());

fn port_9000_lock() -> std::sync::MutexGuard<'static, ()> {
    PORT_9000.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds port 9000 (on 0.0.0.0, as a server built for SCF binds it) unless another process
/// already does: either way it is taken while the result lives.
fn take_port_9000() -> Option<std::net::TcpListener> {
    // The previous test's instances are killed as its start-api exits, asynchronously: wait
    // (bounded) until their listener is gone, so that the port stays taken all through this
    // test. Only a process that keeps 9000 for longer is taken to hold it for good.
    let deadline = Instant::now() + Duration::from_secs(10);
    let held = loop {
        match std::net::TcpListener::bind("0.0.0.0:9000") {
            Ok(l) => break Some(l),
            Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => break None,
        }
    };
    eprintln!(
        "port 9000: {}",
        if held.is_some() {
            "held by this test"
        } else {
            "taken by another process for more than 10 s"
        }
    );
    held
}

/// Writes an executable `scf_bootstrap` running `body` (bash) in `dir`.
fn write_scf_bootstrap(dir: &Path, body: &str) {
    let path = dir.join("scf_bootstrap");
    std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).expect("write scf_bootstrap");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A web function directory: the app and its `scf_bootstrap`.
fn write_app(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("app.py"), APP).expect("write app.py");
    write_scf_bootstrap(dir, "exec python3 app.py");
}

/// A TCSAM template with one web function `web` in `./web`.
fn write_template(dir: &Path, timeout_s: u32, init_timeout_s: u32) -> std::path::PathBuf {
    let file = dir.join("template.yaml");
    std::fs::write(
        &file,
        format!(
            "Resources:\n  default:\n    Type: TencentCloud::Serverless::Namespace\n    web:\n      \
             Type: TencentCloud::Serverless::Function\n      Properties:\n        CodeUri: ./web\n        \
             Type: HTTP\n        Timeout: {timeout_s}\n        InitTimeout: {init_timeout_s}\n        \
             Events:\n          web_apigw:\n            Type: APIGW\n            Properties:\n              \
             StageName: release\n              HttpMethod: ANY\n"
        ),
    )
    .expect("write template");
    file
}

/// Requests as a web function's clients send them (`Host: example.test`, passed on as is).
trait WebClient {
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse;
}

impl WebClient for Server {
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        start_api_harness::send_as(self.port, "example.test", method, target, headers, body)
    }
}

/// The header `name` the app received (case-insensitive), from an `/echo` answer.
fn received<'a>(echo: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    echo["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0].as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
        .filter_map(|h| h[1].as_str())
        .collect()
}

/// Prints which port the app used (9000, or the one in $PORT) and returns it.
fn port_used(resp: &HttpResponse, what: &str) -> u16 {
    let port: u16 = resp
        .header("x-app-port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no X-App-Port: {resp:?}"));
    if port == 9000 {
        eprintln!("{what}: the app listened on port 9000 (it was free)");
    } else {
        eprintln!("{what}: port 9000 was taken; the app listened on $PORT={port}");
    }
    port
}

#[test]
fn a_template_web_function_gets_requests_and_answers_as_they_are() {
    let _port = port_9000_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    write_app(&dir.path().join("web"));
    let template = write_template(dir.path(), 2, 20);
    let server = Server::start(&["--template", template.to_str().expect("utf-8")]);
    server.wait_stderr("web function: every path and method");

    // GET with a query: the target and the headers as the client sent them, plus X-Scf-*;
    // a client's own X-Scf-* and Connection do not reach the app.
    let resp = server.send(
        "GET",
        "/echo/deep?q=1&name=a%20b",
        &[("X-Client", "kept"), ("X-Scf-Name", "spoofed")],
        b"",
    );
    assert_eq!(resp.status, 200, "{resp:?} {}", server.stderr());
    port_used(&resp, "template");
    let echo = resp.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["target"], "/echo/deep?q=1&name=a%20b");
    assert_eq!(received(&echo, "X-Client"), ["kept"]);
    assert_eq!(received(&echo, "Host"), ["example.test"]);
    assert_eq!(received(&echo, "X-Scf-Name"), ["web"]);
    assert_eq!(received(&echo, "X-Scf-Namespace"), ["default"]);
    assert_eq!(received(&echo, "X-Scf-Timeout"), ["2000"]);
    assert_eq!(received(&echo, "X-Scf-Memory"), ["128"]);
    assert_eq!(received(&echo, "X-Scf-Version"), ["$LATEST"]);
    assert_eq!(received(&echo, "X-Scf-Region"), ["ap-guangzhou"]);
    assert_eq!(received(&echo, "Connection"), ["close"]);
    let ids = received(&echo, "X-Scf-Request-Id");
    assert_eq!(ids.len(), 1, "{echo}");
    // The request id is the one of the request's log line.
    server.wait_stderr(&format!("RequestId {})", ids[0]));
    server.wait_stderr(&format!("START RequestId: {}", ids[0]));

    // POST with a body.
    let resp = server.send(
        "POST",
        "/echo",
        &[("Content-Type", "text/plain")],
        "héllo body".as_bytes(),
    );
    assert_eq!(resp.status, 200);
    let echo = resp.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "héllo body");
    assert_eq!(received(&echo, "Content-Length"), ["11"]);
    assert_eq!(received(&echo, "Content-Type"), ["text/plain"]);

    // A custom status and headers, repeated ones kept.
    let resp = server.send("DELETE", "/status", &[], b"");
    assert_eq!(resp.status, 418, "{resp:?}");
    assert_eq!(resp.header("x-custom"), Some("teapot"));
    let cookies: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(resp.body, b"short and stout");

    // A binary body, byte for byte.
    let resp = server.send("GET", "/binary", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.body, (0..=255u8).collect::<Vec<u8>>());

    // The function's timeout (2 s): 504, the instance killed; the next request starts another.
    let started = Instant::now();
    let resp = server.send("GET", "/sleep", &[], b"");
    assert_eq!(resp.status, 504, "{resp:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    assert!(text.contains("timed out after 2 seconds"), "{text}");
    server.wait_stderr("GET /sleep -> web 504");
    let resp = server.send("GET", "/echo", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?} {}", server.stderr());
    // The app's own output streams to start-api's stderr.
    server.wait_stderr("app: serving on");
}

#[test]
fn a_bare_directory_with_scf_bootstrap_is_a_web_function() {
    let _port = port_9000_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    write_app(dir.path());
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);
    server.wait_stderr("ANY");
    assert!(
        server.stderr().contains("one instance at a time"),
        "{}",
        server.stderr()
    );
    let resp = server.send("PUT", "/any/path?x=%2F", &[], b"{\"a\":1}");
    assert_eq!(resp.status, 200, "{resp:?} {}", server.stderr());
    port_used(&resp, "bare directory");
    let echo = resp.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["target"], "/any/path?x=%2F");
    assert_eq!(echo["body"], "{\"a\":1}");
    // Two requests at once: the second waits for the one instance.
    let port = server.port;
    let slow = std::thread::spawn(move || {
        let mut c = RawClient::connect(port);
        c.request("POST", "/echo", b"first")
    });
    let resp = server.send("POST", "/echo", &[], b"second");
    assert_eq!(resp.status, 200);
    assert_eq!(slow.join().expect("first").status, 200);
}

#[test]
fn with_port_9000_taken_the_app_uses_port() {
    let _port = port_9000_lock();
    let held = take_port_9000();
    let dir = tempfile::tempdir().expect("tempdir");
    write_app(dir.path());
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);
    let resp = server.send("GET", "/echo", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?} {}", server.stderr());
    let port = port_used(&resp, "port 9000 taken");
    assert_ne!(port, 9000);
    server.wait_stderr("port 9000 unavailable");
    drop(held);
}

#[test]
fn a_server_that_needs_port_9000_while_it_is_taken_is_told_why() {
    let _port = port_9000_lock();
    let held = take_port_9000();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("only9000.py"),
        "from http.server import HTTPServer, BaseHTTPRequestHandler\n\
         HTTPServer(('0.0.0.0', 9000), BaseHTTPRequestHandler).serve_forever()\n",
    )
    .expect("write app");
    write_scf_bootstrap(dir.path(), "exec python3 only9000.py");
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);
    let resp = server.send("GET", "/", &[], b"");
    assert_eq!(resp.status, 502, "{resp:?}");
    let error = resp.json()["error"].as_str().expect("error").to_owned();
    assert!(
        error.contains("Address already in use")
            && error.contains("Port 9000 was in use by another process")
            && error.contains("$PORT"),
        "{error}"
    );
    server.wait_stderr("Port 9000 was in use by another process");
    drop(held);
}

#[test]
fn a_server_that_never_listens_is_a_502_naming_the_port() {
    let _port = port_9000_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).expect("mkdir");
    write_scf_bootstrap(&web, "echo 'starting, but never listening'\nexec sleep 600");
    let template = write_template(dir.path(), 3, 1);
    let server = Server::start(&["--template", template.to_str().expect("utf-8")]);
    let started = Instant::now();
    let resp = server.send("GET", "/", &[], b"");
    assert_eq!(resp.status, 502, "{resp:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let body = resp.json();
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains("The request timed out in 1000ms")
            && error.contains("listening on port 9000"),
        "{error}"
    );
    server.wait_stderr("GET / -> web 502");
    server.wait_stderr("The request timed out in 1000ms");
    server.wait_stderr("starting, but never listening");
}

#[test]
fn invoke_refuses_a_web_function_and_names_start_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_app(&dir.path().join("web"));
    let template = write_template(dir.path(), 3, 10);
    let runs = [
        vec![
            "invoke".to_owned(),
            dir.path().join("web").display().to_string(),
        ],
        vec![
            "invoke".to_owned(),
            "--template".to_owned(),
            template.display().to_string(),
        ],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_scfrt"))
            .args(&args)
            .args(["--event", "{}"])
            .output()
            .expect("run scfrt invoke");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is a web function") && stderr.contains("scfrt start-api"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn package_puts_scf_bootstrap_at_the_root_with_its_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = dir.path().join("web");
    write_app(&web);
    let zip_path = dir.path().join("web.zip");
    let out = Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .args(["package", web.to_str().expect("utf-8"), "-o"])
        .arg(&zip_path)
        .output()
        .expect("run scfrt package");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(&zip_path).expect("open zip")).expect("zip");
    let names: Vec<String> = (0..zip.len())
        .map(|i| {
            zip.by_index(i)
                .expect("entry")
                .name()
                .expect("name")
                .into_owned()
        })
        .collect();
    assert!(names.contains(&"app.py".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n == "bootstrap"), "{names:?}");
    let entry = zip
        .by_name("scf_bootstrap")
        .expect("scf_bootstrap at the root");
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));

    // The same checks as for `bootstrap`: not executable is refused, naming the file.
    std::fs::set_permissions(
        web.join("scf_bootstrap"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .args(["package", web.to_str().expect("utf-8"), "-o"])
        .arg(dir.path().join("bad.zip"))
        .output()
        .expect("run scfrt package");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("scf_bootstrap is not executable"),
        "{stderr}"
    );
}
