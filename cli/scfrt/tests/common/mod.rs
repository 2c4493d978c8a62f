//! Helpers shared by the scfrt integration tests (and, through `#[path]`, the workspace's
//! cross-crate tests in `tests/`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository's root: the nearest directory above the crate holding `Cargo.lock` (this file
/// is compiled into crates at different depths: `cli/scfrt`, `tests`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").is_file())
        .unwrap_or_else(|| panic!("no Cargo.lock above {}", manifest.display()))
        .to_owned()
}

/// The repository's `examples/bash-echo`.
pub fn bash_echo_dir() -> PathBuf {
    repo_root().join("examples").join("bash-echo")
}

/// The bash bootstrap of the examples needs curl: a missing one fails the test, naming the
/// ./test.sh step that installs it (no test installs anything).
pub fn require_curl() {
    scf_test_support::tools::require("curl");
}

/// Writes `<dir>/bootstrap` (mode 755): a bash prelude with curl helpers, then `body`.
///
/// Helpers: `ready`, `next` (prints the event; headers to $HDRS), `respond BODY`, `fail BODY`,
/// `header NAME` (from the last `next`).
pub fn write_bootstrap(dir: &Path, body: &str) -> PathBuf {
    require_curl();
    let script = format!(
        r#"#!/bin/bash
set -u
API="http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT/runtime"
# In the code directory (a test tempdir): a SIGKILLed bootstrap cannot clean up after itself.
HDRS="$PWD/.next-headers"
ready() {{ curl -sS -o /dev/null -X POST -d " " "$API/init/ready"; }}
next() {{ curl -sS -D "$HDRS" "$API/invocation/next"; }}
header() {{ grep -i "^$1:" "$HDRS" | cut -d' ' -f2- | tr -d '\r'; }}
respond() {{ curl -sS -o /dev/null -X POST --data-binary "$1" "$API/invocation/response"; }}
fail() {{ curl -sS -o /dev/null -X POST --data-binary "$1" "$API/invocation/error"; }}
{body}
"#
    );
    let path = dir.join("bootstrap");
    std::fs::write(&path, script).expect("write bootstrap");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Whether `pid` is gone (no such process, or only a zombie left for its new parent to reap).
pub fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_owned))
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Reads a pid a bootstrap wrote to `path`.
pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .parse()
        .expect("pid")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status line as sent, e.g. `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length bytes).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A hand-written HTTP/1.1 client on one keep-alive connection, so tests see the exact bytes.
pub struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawClient {
    /// Connects to 127.0.0.1:`port` (reads time out after 30 s so a broken server fails the test
    /// instead of hanging it).
    pub fn connect(port: u16) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        RawClient {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Sends a request with a Content-Length body and reads the response.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> HttpResponse {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.send_raw(head.as_bytes());
        self.send_raw(body);
        self.read_response()
    }

    /// `GET` without a body.
    pub fn get(&mut self, path: &str) -> HttpResponse {
        self.send_raw(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
        self.read_response()
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Reads one response with a Content-Length body.
    pub fn read_response(&mut self) -> HttpResponse {
        self.try_read_response().expect("status line")
    }

    /// [`read_response`](Self::read_response), or `None` when the server closed the connection
    /// before sending a status line.
    pub fn try_read_response(&mut self) -> Option<HttpResponse> {
        let mut status_line = String::new();
        if self
            .reader
            .read_line(&mut status_line)
            .expect("status line")
            == 0
        {
            return None;
        }
        let status_line = status_line.trim_end().to_owned();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header");
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().expect("content-length"))
            .expect("response without Content-Length");
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).expect("body");
        Some(HttpResponse {
            status_line,
            status,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (EOF or reset) without sending more.
    pub fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
            Err(e) => panic!("waiting for the server to close the connection: {e}"),
        }
    }
}
