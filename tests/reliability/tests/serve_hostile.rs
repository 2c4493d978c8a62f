//! `scfrt serve` against hostile clients (issue 14, points 6-9), as a subprocess:
//! - pre-auth memory: unsigned 64 MiB uploads are refused on their headers (the answer comes
//!   before the body is sent), 20 at once keep the server's peak RSS under 300 MB, bodies are
//!   bounded by the action's limit (chunked too) and by the server's body budget, connections
//!   by `--max-connections`, all answered `RequestLimitExceeded` in the API's envelope;
//! - methods other than GET and POST get 405 with `Allow` (CONNECT never becomes a tunnel);
//! - a non-loopback `--host` warns on stderr; errors sent to clients name no absolute paths;
//! - `.meta.json.<uuid>` files left by a crash are removed at start, and nothing else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use scf_reliability::api_client::{SECRET_ID, SECRET_KEY, call, signed_headers};
use scf_reliability::proc_stats;
use scf_reliability::serve_proc::{ServeProcess as Server, own_network_namespace, zip_base64};
use scf_reliability::summary::{self, Section};

const MIB: usize = 1024 * 1024;

/// The `scfrt` every case serves with.
const SCFRT: &str = env!("CARGO_BIN_EXE_rel-scfrt");

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// A response as read off the wire.
struct Wire {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Bytes after the response's body (a second response, tunnelled data...).
    trailing: usize,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("trailing", &self.trailing)
            .finish()
    }
}

impl Wire {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn code(&self) -> String {
        self.json()["Response"]["Error"]["Code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn closes(&self) -> bool {
        self.header("connection") == Some("close")
    }
}

/// Reads until the server closes the connection (EOF, or a reset after what it sent) and parses
/// the one response expected; `None` when nothing came.
fn read_until_closed(s: &mut TcpStream) -> Option<Wire> {
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the answer: {e} (after {} bytes)", out.len()),
        }
    }
    if out.is_empty() {
        return None;
    }
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let rest = &out[end + 4..];
    assert!(rest.len() >= len, "short body: {head}");
    Some(Wire {
        status,
        headers,
        body: rest[..len].to_vec(),
        trailing: rest.len() - len,
    })
}

/// Sends `head`, then (unless `body_len` is 0) `body_len` bytes of `x` in 1 MiB pieces, chunked
/// or not, stopping at the first write error; returns the answer and the body bytes written.
fn upload(port: u16, head: &str, body_len: usize, chunked: bool) -> (Option<Wire>, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(head.as_bytes()).expect("write the head");
    let piece = vec![b'x'; MIB];
    let mut sent = 0;
    while sent < body_len {
        let n = MIB.min(body_len - sent);
        let ok = if chunked {
            s.write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| s.write_all(&piece[..n]))
                .and_then(|()| s.write_all(b"\r\n"))
        } else {
            s.write_all(&piece[..n])
        };
        if ok.is_err() {
            break;
        }
        sent += n;
    }
    if chunked && sent == body_len {
        let _ = s.write_all(b"0\r\n\r\n");
    }
    (read_until_closed(&mut s), sent)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `Authorization` (and timestamp) header lines of unauthenticated requests, with the code each
/// must be refused with.
fn unauthenticated() -> Vec<(&'static str, String, &'static str)> {
    let now = unix_now();
    let date = scf_cloud::tc3::utc_date(now);
    let old = now - 3600;
    let zeros = "0".repeat(64);
    let auth = |id: &str, date: &str, sig: &str| {
        format!(
            "Authorization: TC3-HMAC-SHA256 Credential={id}/{date}/scf/tc3_request, SignedHeaders=content-type;host, Signature={sig}\r\n"
        )
    };
    vec![
        ("no Authorization", String::new(), "AuthFailure"),
        (
            "not TC3",
            format!("Authorization: Bearer abc\r\nX-TC-Timestamp: {now}\r\n"),
            "AuthFailure.InvalidAuthorization",
        ),
        (
            "unknown SecretId",
            format!(
                "{}X-TC-Timestamp: {now}\r\n",
                auth("AKIDnobody", &date, &zeros)
            ),
            "AuthFailure.SecretIdNotFound",
        ),
        (
            "timestamp an hour old",
            format!(
                "{}X-TC-Timestamp: {old}\r\n",
                auth(SECRET_ID, &scf_cloud::tc3::utc_date(old), &zeros)
            ),
            "AuthFailure.SignatureExpire",
        ),
        (
            "signature not hex",
            format!(
                "{}X-TC-Timestamp: {now}\r\n",
                auth(SECRET_ID, &date, &"z".repeat(64))
            ),
            "AuthFailure.SignatureFailure",
        ),
    ]
}

fn api_head(port: u16, action: &str, auth: &str, framing: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nX-TC-Action: {action}\r\nX-TC-Version: 2018-04-16\r\n{auth}{framing}\r\n"
    )
}

fn content_length(n: usize) -> String {
    format!("Content-Length: {n}\r\n")
}

const CHUNKED: &str = "Transfer-Encoding: chunked\r\n";

/// Point 6: unsigned uploads are refused on their headers; 20 concurrent 64 MiB uploads keep
/// the server under 300 MB (VmHWM, its peak RSS), and it then serves a signed request.
#[test]
fn unsigned_uploads_are_refused_before_the_body_and_memory_stays_bounded() {
    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(SCFRT, state.path(), &[]);
    let port = server.port;
    let mut sec = Section::default();

    // The headers alone, Content-Length 64 MiB and no body: the answer comes at once.
    for (what, auth, code) in unauthenticated() {
        let head = api_head(port, "CreateFunction", &auth, &content_length(64 * MIB));
        let (wire, _) = upload(port, &head, 0, false);
        let wire = wire.unwrap_or_else(|| panic!("{what}: no answer before the body"));
        sec.run += 1;
        assert_eq!(wire.status, 200, "{what}: {wire:?}");
        assert_eq!(wire.code(), code, "{what}: {wire:?}");
        assert!(wire.closes(), "{what}: {wire:?}");
        assert_eq!(wire.trailing, 0, "{what}: {wire:?}");
        sec.passed += 1;
        sec.lines.push(format!(
            "ok   {what}: {code} on the headers of a 64 MiB CreateFunction, none of the body sent, connection closed"
        ));
    }

    // 20 at once, each sending its whole 64 MiB body (half of them chunked).
    let kinds = unauthenticated();
    let workers: Vec<_> = (0..20)
        .map(|i| {
            let (what, auth, code) = kinds[i % kinds.len()].clone();
            let chunked = i % 2 == 1;
            let framing = if chunked {
                CHUNKED.to_owned()
            } else {
                content_length(64 * MIB)
            };
            let head = api_head(port, "CreateFunction", &auth, &framing);
            thread::spawn(move || {
                let (wire, sent) = upload(port, &head, 64 * MIB, chunked);
                (what, code, chunked, wire, sent)
            })
        })
        .collect();
    let mut fully_sent = 0;
    for w in workers {
        let (what, code, chunked, wire, sent) = w.join().expect("uploader");
        let wire = wire.unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(wire.code(), code, "{what} (chunked: {chunked}): {wire:?}");
        assert!(wire.closes(), "{what}: {wire:?}");
        fully_sent += usize::from(sent == 64 * MIB);
    }
    let after = call(port, "ListFunctions", "{}");
    let peak = proc_stats::peak_rss_kib(server.child.id()).expect("VmHWM of the server");
    sec.run += 1;
    let ok = after["Response"]["Error"].is_null() && peak < 300 * 1024;
    sec.passed += usize::from(ok);
    sec.lines.push(format!(
        "{} 20 concurrent unsigned 64 MiB uploads (10 chunked; {fully_sent}/20 sent whole: the server discards a refused body for up to 5 s): each refused with its AuthFailure code; server peak RSS (VmHWM) {} MB (limit 300 MB); signed ListFunctions then answered",
        if ok { "ok  " } else { "FAIL" },
        peak / 1024
    ));
    summary::write(tmpdir(), "serve-preauth-memory", &sec);
    assert!(after["Response"]["Error"].is_null(), "{after}");
    assert!(peak < 300 * 1024, "server peak RSS {peak} KiB");
}

/// Point 6: a request that passes the header checks but not the signature is buffered within
/// the body budget: 20 concurrent 64 MiB uploads with a well-formed signature over another body,
/// `--max-buffered-mb 128`, keep the server under 300 MB; a signed request over the budget gets
/// `RequestLimitExceeded`, and once the budget is free again the server serves.
#[test]
fn bodies_are_bounded_by_the_budget() {
    let mut sec = Section::default();
    {
        let state = tempfile::tempdir().expect("state dir");
        let server = Server::start(SCFRT, state.path(), &["--max-buffered-mb", "128"]);
        let port = server.port;
        let workers: Vec<_> = (0..20)
            .map(|_| {
                let head = format!(
                    "POST / HTTP/1.1\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    signed_headers(port, "CreateFunction", b"{}"),
                    64 * MIB
                );
                thread::spawn(move || upload(port, &head, 64 * MIB, false))
            })
            .collect();
        let (mut failed, mut limited) = (0, 0);
        for w in workers {
            let (wire, _) = w.join().expect("uploader");
            let wire = wire.expect("an answer");
            match wire.code().as_str() {
                "AuthFailure.SignatureFailure" => failed += 1,
                "RequestLimitExceeded" => limited += 1,
                other => panic!("unexpected {other}: {wire:?}"),
            }
        }
        let after = call(port, "ListFunctions", "{}");
        let peak = proc_stats::peak_rss_kib(server.child.id()).expect("VmHWM");
        sec.run += 1;
        let ok = after["Response"]["Error"].is_null() && peak < 300 * 1024 && failed > 0;
        sec.passed += usize::from(ok);
        sec.lines.push(format!(
            "{} 20 concurrent 64 MiB uploads signed over another body, --max-buffered-mb 128: {failed} read and refused AuthFailure.SignatureFailure, {limited} RequestLimitExceeded; server peak RSS {} MB (limit 300 MB); then served",
            if ok { "ok  " } else { "FAIL" },
            peak / 1024
        ));
        assert!(ok, "{:?} {after}", sec.lines);
    }

    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(
        SCFRT,
        state.path(),
        &["--max-body-mb", "4", "--max-buffered-mb", "4"],
    );
    let port = server.port;
    // A: a signed 3 MiB CreateFunction whose body is held back after its first KiB.
    let pad = "p".repeat(3 * MIB - 100);
    let a_body =
        serde_json::json!({"FunctionName": "holder", "Runtime": "CustomRuntime", "Pad": pad})
            .to_string();
    let start_a = || {
        let mut a = TcpStream::connect(("127.0.0.1", port)).expect("connect A");
        let head = format!(
            "POST / HTTP/1.1\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n",
            signed_headers(port, "CreateFunction", a_body.as_bytes()),
            a_body.len()
        );
        a.write_all(head.as_bytes()).expect("A head");
        a.write_all(&a_body.as_bytes()[..1024]).expect("A start");
        a
    };
    let mut a = start_a();
    // B: a signed 2 MiB Invoke; it fits alone, not beside A. A reserves its 3 MiB when its
    // headers are read, which B cannot see: try B until it is refused (bounded).
    let ctx = serde_json::json!({"x": "b".repeat(2 * MIB)}).to_string();
    let b_body = serde_json::json!({"FunctionName": "nope", "ClientContext": ctx}).to_string();
    let b = || {
        let head = format!(
            "POST / HTTP/1.1\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n",
            signed_headers(port, "Invoke", b_body.as_bytes()),
            b_body.len()
        );
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect B");
        s.write_all(head.as_bytes()).expect("B head");
        let _ = s.write_all(b_body.as_bytes());
        read_until_closed(&mut s).expect("B's answer")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut refused = None;
    for _ in 0..50 {
        if Instant::now() > deadline {
            break;
        }
        let wire = b();
        if wire.code() == "RequestLimitExceeded" {
            refused = Some(wire);
            break;
        }
        // B got in before A's headers were read (and A may have been refused): start A again.
        a.set_nonblocking(true).expect("nonblocking");
        let mut byte = [0u8; 1];
        let a_answered =
            !matches!(a.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        a.set_nonblocking(false).expect("blocking");
        if a_answered {
            a = start_a();
        }
    }
    let refused = refused.expect("a signed request over the body budget gets RequestLimitExceeded");
    assert!(refused.closes(), "{refused:?}");
    // A completes: its body was buffered whole and its signature checked.
    a.write_all(&a_body.as_bytes()[1024..]).expect("A rest");
    let a_answer = read_until_closed(&mut a).expect("A's answer");
    assert_eq!(a_answer.code(), "MissingParameter.Code", "{a_answer:?}");
    // The budget is free again: B is read and answered on its merits.
    let b_again = b();
    assert_eq!(b_again.code(), "ResourceNotFound.Function", "{b_again:?}");
    let list = call(port, "ListFunctions", "{}");
    assert!(list["Response"]["Error"].is_null(), "{list}");
    sec.run += 1;
    sec.passed += 1;
    sec.lines.push(format!(
        "ok   --max-buffered-mb 4: a signed 2 MiB Invoke beside a 3 MiB CreateFunction in progress -> RequestLimitExceeded ({}), connection closed; the CreateFunction then completes ({}), the same Invoke is answered {}, ListFunctions served",
        refused.json()["Response"]["Error"]["Message"],
        a_answer.code(),
        b_again.code()
    ));

    // A budget smaller than the largest body is refused at start (exit 2, the usage status).
    let state = tempfile::tempdir().expect("state dir");
    let out = Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
        .args([
            "serve",
            "--port",
            "0",
            "--max-body-mb",
            "8",
            "--max-buffered-mb",
            "4",
        ])
        .args([
            "--secret-id",
            SECRET_ID,
            "--secret-key",
            SECRET_KEY,
            "--state-dir",
        ])
        .arg(state.path())
        .stdin(Stdio::null())
        .output()
        .expect("run scfrt serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    sec.run += 1;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--max-buffered-mb 4 is less than --max-body-mb 8"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it must not listen");
    sec.passed += 1;
    sec.lines.push(format!(
        "ok   --max-buffered-mb 4 --max-body-mb 8: exit 2, {}",
        stderr.trim()
    ));
    summary::write(tmpdir(), "serve-body-budget", &sec);
}

/// Point 6: each action's body limit is checked against Content-Length before the body, and a
/// chunked body is cut off at the limit; an unknown action is refused on its headers.
#[test]
fn action_limits_are_checked_before_and_while_reading() {
    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(SCFRT, state.path(), &[]);
    let port = server.port;
    let mut sec = Section::default();
    let mut check = |what: &str, wire: Option<Wire>, code: &str| {
        let wire = wire.unwrap_or_else(|| panic!("{what}: no answer"));
        sec.run += 1;
        assert_eq!(wire.code(), code, "{what}: {wire:?}");
        assert!(wire.closes(), "{what}: {wire:?}");
        sec.passed += 1;
        sec.lines.push(format!(
            "ok   {what}: {code} ({})",
            wire.json()["Response"]["Error"]["Message"]
        ));
    };
    let signed = |action: &str| signed_headers(port, action, b"{}");
    let (wire, _) = upload(
        port,
        &format!(
            "POST / HTTP/1.1\r\n{}{}\r\n",
            signed("ListFunctions"),
            content_length(2 * MIB)
        ),
        0,
        false,
    );
    check(
        "ListFunctions declaring 2 MiB, no body sent",
        wire,
        "InvalidParameter.RequestTooLarge",
    );
    let (wire, _) = upload(
        port,
        &format!(
            "POST / HTTP/1.1\r\n{}{}\r\n",
            signed("Invoke"),
            content_length(20 * MIB)
        ),
        0,
        false,
    );
    check(
        "Invoke declaring 20 MiB, no body sent",
        wire,
        "InvalidParameter.RequestTooLarge",
    );
    let (wire, _) = upload(
        port,
        &format!(
            "POST / HTTP/1.1\r\n{}{}\r\n",
            signed("CreateFunction"),
            content_length(65 * MIB)
        ),
        0,
        false,
    );
    check(
        "CreateFunction declaring 65 MiB (--max-body-mb 64), no body sent",
        wire,
        "InvalidParameter.RequestTooLarge",
    );
    let (wire, _) = upload(
        port,
        &format!(
            "POST / HTTP/1.1\r\n{}{}\r\n",
            signed("StealSecrets"),
            content_length(64 * MIB)
        ),
        0,
        false,
    );
    check(
        "unknown action declaring 64 MiB, no body sent",
        wire,
        "InvalidAction",
    );

    // Chunked: 2 MiB of ListFunctions body sent, the last chunk never; the answer must come.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\n{}{CHUNKED}\r\n",
        signed("ListFunctions")
    );
    s.write_all(head.as_bytes()).expect("head");
    let piece = vec![b' '; 64 * 1024];
    for _ in 0..32 {
        s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .and_then(|()| s.write_all(&piece))
            .and_then(|()| s.write_all(b"\r\n"))
            .expect("chunk");
    }
    check(
        "chunked ListFunctions, 2 MiB sent without the last chunk",
        read_until_closed(&mut s),
        "InvalidParameter.RequestTooLarge",
    );
    summary::write(tmpdir(), "serve-action-limits", &sec);
}

/// Point 6: `--max-connections 4`: a 5th connection is answered `RequestLimitExceeded`; with 4
/// more being refused, a 9th is closed at once; once connections close, the server serves.
#[test]
fn connections_are_capped() {
    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(SCFRT, state.path(), &["--max-connections", "4"]);
    let port = server.port;
    let list = || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let head = format!(
            "POST / HTTP/1.1\r\n{}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            signed_headers(port, "ListFunctions", b"{}")
        );
        s.write_all(head.as_bytes()).expect("write");
        read_until_closed(&mut s)
    };
    // The server accepts in order: these 4 hold its connections (idle, within the read timeout).
    let served: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let fifth = list().expect("the 5th connection is answered");
    assert_eq!(fifth.code(), "RequestLimitExceeded", "{fifth:?}");
    assert!(fifth.closes(), "{fifth:?}");
    // Wait until the 5th's refusal is over (the server reads its EOF), then fill the refusals.
    let mut refusing: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ninth = loop {
        assert!(Instant::now() < deadline, "refusals never filled up");
        while refusing.len() < 4 {
            refusing.push(TcpStream::connect(("127.0.0.1", port)).expect("connect"));
        }
        match list() {
            None => break true,
            // A refusal slot was still held by an earlier connection: one of ours was closed.
            Some(w) if w.code() == "RequestLimitExceeded" => {
                refusing.clear();
                thread::sleep(Duration::from_millis(50));
            }
            Some(w) => panic!("unexpected answer over both limits: {w:?}"),
        }
    };
    assert!(ninth);
    drop(refusing);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "refusals never resumed");
        if let Some(w) = list() {
            assert_eq!(w.code(), "RequestLimitExceeded", "{w:?}");
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    drop(served);
    let deadline = Instant::now() + Duration::from_secs(20);
    let served_again = loop {
        assert!(Instant::now() < deadline, "never served again");
        match list() {
            Some(w) if w.code().is_empty() => break w,
            _ => thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(served_again.json()["Response"]["TotalCount"].is_number());
    summary::write(
        tmpdir(),
        "serve-connections",
        &Section {
            run: 1,
            passed: 1,
            lines: vec![format!(
                "ok   --max-connections 4: 4 idle connections held, the 5th answered RequestLimitExceeded ({}) and closed; with 4 more waiting on refusal, the 9th closed without an answer; ListFunctions served once the 4 closed",
                fifth.json()["Response"]["Error"]["Message"]
            )],
            ..Section::default()
        },
    );
}

/// Point 7: every method but GET and POST gets 405 with `Allow: GET, POST` and the connection
/// closed; CONNECT does not become a tunnel; HEAD gets no body.
#[test]
fn other_methods_get_405_with_allow() {
    let state = tempfile::tempdir().expect("state dir");
    let server = Server::start(SCFRT, state.path(), &[]);
    let port = server.port;
    let mut sec = Section::default();
    for method in [
        "CONNECT", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "HEAD",
    ] {
        let target = if method == "CONNECT" {
            format!("127.0.0.1:{port}")
        } else {
            "/".to_owned()
        };
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let req = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).expect("write");
        if method == "CONNECT" {
            // What a tunnel would carry; it must never be answered.
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        let wire = read_until_closed(&mut s).unwrap_or_else(|| panic!("{method}: no answer"));
        sec.run += 1;
        assert_eq!(wire.status, 405, "{method}: {wire:?}");
        assert_eq!(
            wire.header("allow"),
            Some("GET, POST"),
            "{method}: {wire:?}"
        );
        assert!(wire.closes(), "{method}: {wire:?}");
        assert_eq!(wire.trailing, 0, "{method}: {wire:?}");
        if method == "HEAD" {
            assert!(wire.body.is_empty(), "{wire:?}");
            assert!(
                matches!(wire.header("content-length"), None | Some("0")),
                "{wire:?}"
            );
        } else {
            assert_eq!(wire.code(), "UnsupportedOperation", "{method}: {wire:?}");
        }
        sec.passed += 1;
        sec.lines.push(format!(
            "ok   {method}: 405, Allow: GET, POST, {}, connection closed{}",
            if method == "HEAD" {
                "no body"
            } else {
                "UnsupportedOperation envelope"
            },
            if method == "CONNECT" {
                " (no tunnel: the bytes sent after it got no answer)"
            } else {
                ""
            }
        ));
    }
    // GET is one of the API's methods: an unsigned one gets the AuthFailure envelope.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    let wire = read_until_closed(&mut s).expect("GET answer");
    sec.run += 1;
    assert_eq!(
        (wire.status, wire.code().as_str()),
        (200, "AuthFailure"),
        "{wire:?}"
    );
    sec.passed += 1;
    sec.lines
        .push("ok   GET (unsigned): 200 with the AuthFailure envelope".into());
    summary::write(tmpdir(), "serve-methods", &sec);
}

/// Point 8: a non-loopback `--host` warns on stderr (loopback does not); errors sent to API
/// clients (a bad zip, a failing write, a bootstrap that cannot start) name no absolute path.
#[test]
fn exposure_is_warned_and_errors_name_no_server_paths() {
    // `--host 0.0.0.0` is reachable from nowhere else in a namespace of the test's own.
    own_network_namespace();
    let mut sec = Section::default();
    {
        let state = tempfile::tempdir().expect("state dir");
        let exposed = Server::start(SCFRT, state.path(), &["--host", "0.0.0.0"]);
        let text = exposed.stderr_with("state in");
        sec.run += 1;
        let warning = text
            .lines()
            .find(|l| l.contains("warning"))
            .unwrap_or_else(|| panic!("no warning for --host 0.0.0.0: {text}"));
        assert!(
            warning.contains(&format!("listening on {}", exposed.addr))
                && warning.contains("exposed"),
            "{warning}"
        );
        sec.passed += 1;
        sec.lines
            .push(format!("ok   --host 0.0.0.0 warns: {warning}"));
    }
    let state = tempfile::tempdir().expect("state dir");
    let root = state.path().to_str().expect("utf-8 path").to_owned();
    let server = Server::start(SCFRT, state.path(), &[]);
    let port = server.port;
    let text = server.stderr_with("state in");
    sec.run += 1;
    assert!(!text.contains("warning"), "{text}");
    sec.passed += 1;
    sec.lines
        .push("ok   the default 127.0.0.1 prints no warning".into());

    let mut messages: Vec<(String, String)> = Vec::new();
    let error_of = |messages: &mut Vec<(String, String)>, what: &str, v: &serde_json::Value| {
        let code = v["Response"]["Error"]["Code"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let msg = v["Response"]["Error"]["Message"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        messages.push((what.to_owned(), msg.clone()));
        assert!(!code.is_empty(), "{what}: {v}");
        code
    };
    let not_a_zip = base64::engine::general_purpose::STANDARD.encode(b"not a zip");
    let v = call(
        port,
        "CreateFunction",
        &serde_json::json!({"FunctionName": "junk", "Runtime": "CustomRuntime", "Code": {"ZipFile": not_a_zip}}).to_string(),
    );
    assert_eq!(
        error_of(
            &mut messages,
            "CreateFunction with a file that is not a zip",
            &v
        ),
        "InvalidParameterValue.ZipFile"
    );
    let escaping = zip_base64(&[
        ("bootstrap", b"#!/bin/sh\n", 0o755),
        ("../evil", b"x", 0o644),
    ]);
    let v = call(
        port,
        "CreateFunction",
        &serde_json::json!({"FunctionName": "escape", "Runtime": "CustomRuntime", "Code": {"ZipFile": escaping}}).to_string(),
    );
    assert_eq!(
        error_of(&mut messages, "CreateFunction with an entry `../evil`", &v),
        "InvalidParameterValue.ZipFile"
    );

    // A bootstrap without the executable bit: the function is created, its instance cannot start.
    let code = zip_base64(&[("bootstrap", b"#!/bin/sh\nexit 0\n", 0o644)]);
    let v = call(
        port,
        "CreateFunction",
        &serde_json::json!({"FunctionName": "paths", "Runtime": "CustomRuntime", "Code": {"ZipFile": code}}).to_string(),
    );
    assert!(v["Response"]["Error"].is_null(), "{v}");
    let v = call(
        port,
        "Invoke",
        &serde_json::json!({"FunctionName": "paths"}).to_string(),
    );
    let err_msg = v["Response"]["Result"]["ErrMsg"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(!err_msg.is_empty(), "{v}");
    messages.push((
        "Invoke of a bootstrap without x bit (ErrMsg)".into(),
        err_msg.clone(),
    ));
    assert!(
        err_msg.contains("functions/default/paths/code-"),
        "{err_msg}"
    );

    // A failing write: meta.json replaced by a non-empty directory (rename(2) onto it fails,
    // even for root).
    let meta = state.path().join("functions/default/paths/meta.json");
    std::fs::remove_file(&meta).expect("remove meta.json");
    std::fs::create_dir(&meta).expect("meta.json as a directory");
    std::fs::write(meta.join("keep"), b"x").expect("fill it");
    let v = call(
        port,
        "UpdateFunctionConfiguration",
        &serde_json::json!({"FunctionName": "paths", "Description": "d"}).to_string(),
    );
    assert_eq!(
        error_of(
            &mut messages,
            "UpdateFunctionConfiguration whose meta.json cannot be written",
            &v
        ),
        "InternalError"
    );
    let write_msg = messages.last().map(|m| m.1.clone()).unwrap_or_default();
    assert!(
        write_msg.contains("functions/default/paths/meta.json"),
        "{write_msg}"
    );

    for (what, msg) in &messages {
        sec.run += 1;
        assert!(
            !msg.contains(&root),
            "{what}: names the state directory: {msg}"
        );
        assert!(!msg.contains("/tmp"), "{what}: names /tmp: {msg}");
        sec.passed += 1;
        sec.lines.push(format!("ok   {what}: {msg}"));
    }
    summary::write(tmpdir(), "serve-exposure", &sec);
}

/// Point 9: `.meta.json.<uuid>` files a crash left in a function's directory are removed at
/// start; files of other names (decoys) stay, and the function is served.
#[test]
fn leftover_meta_temp_files_are_removed_at_start() {
    let state = tempfile::tempdir().expect("state dir");
    {
        let server = Server::start(SCFRT, state.path(), &[]);
        let code = zip_base64(&[("bootstrap", b"#!/bin/sh\nexit 0\n", 0o755)]);
        let v = call(
            server.port,
            "CreateFunction",
            &serde_json::json!({"FunctionName": "kept", "Runtime": "CustomRuntime", "Code": {"ZipFile": code}}).to_string(),
        );
        assert!(v["Response"]["Error"].is_null(), "{v}");
    }
    let dir = state.path().join("functions/default/kept");
    let hex32 = "0123456789abcdef0123456789abcdef";
    let leftovers = [
        format!(".meta.json.{hex32}"),
        ".meta.json.ffffffffffffffffffffffffffffffff".to_owned(),
    ];
    for l in &leftovers {
        std::fs::write(dir.join(l), b"{\"half\": ").expect("leftover");
    }
    let decoys = [
        format!(".meta.json.{}", &hex32[..31]),
        format!(".meta.json.{hex32}.keep"),
        format!(".meta.json.{}", hex32.to_uppercase()),
        "notes.txt".to_owned(),
    ];
    for d in &decoys {
        std::fs::write(dir.join(d), b"mine").expect("decoy");
    }
    let dir_decoy = format!(".meta.json.{}", "a".repeat(32));
    std::fs::create_dir(dir.join(&dir_decoy)).expect("decoy dir");

    let server = Server::start(SCFRT, state.path(), &[]);
    let text = server.stderr_with("state in");
    for l in &leftovers {
        assert!(!dir.join(l).exists(), "{l} was not removed");
    }
    for d in &decoys {
        assert_eq!(
            std::fs::read(dir.join(d)).expect("decoy kept"),
            b"mine",
            "{d}"
        );
    }
    assert!(dir.join(&dir_decoy).is_dir());
    assert!(text.contains("removed 2 temporary"), "{text}");
    let v = call(
        server.port,
        "GetFunction",
        &serde_json::json!({"FunctionName": "kept"}).to_string(),
    );
    assert_eq!(v["Response"]["FunctionName"], "kept", "{v}");
    summary::write(
        tmpdir(),
        "serve-leftovers",
        &Section {
            run: 1,
            passed: 1,
            lines: vec![format!(
                "ok   2 .meta.json.<uuid> files removed at start; kept: {decoys:?}, a directory {dir_decoy}; the function still served"
            )],
            ..Section::default()
        },
    );
}
