//! Image mode's event server (`POST /event-invoke`) through the core loop, in one process, with
//! raw HTTP on the wire: what reaches the handler, the exact bytes that come back, and how bad,
//! oversized, slow and concurrent requests are answered.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use scf_core::{
    Config, ErrorReport, ImageConfig, ImageServer, Invocation, METADATA_FIELDS, RunStats, Runtime,
};
use scf_runtime_api::{InvokeOptions, Limits, Outcome, RuntimeApi};

#[path = "../../cli/scfrt/tests/common/mod.rs"]
mod common;
use common::{HttpResponse, RawClient};
use serde_json::{Value, json};

/// Bound of every wait in these tests (a broken server fails the test instead of hanging it).
const LIMIT: Duration = Duration::from_secs(30);
const SIX_MB: usize = 6 * 1024 * 1024;

/// All thirteen `X-Scf-*` headers of docs/platform.md section 6.
const HEADERS: [(&str, &str); 13] = [
    ("X-Scf-Request-Id", "req-0001"),
    ("X-Scf-Memory", "256"),
    ("X-Scf-Timeout", "20000"),
    ("X-Scf-Version", "$LATEST"),
    ("X-Scf-Name", "image-fn"),
    ("X-Scf-Namespace", "default"),
    ("X-Scf-Region", "ap-guangzhou"),
    ("X-Scf-Appid", "1250000000"),
    ("X-Scf-Uin", "100000000001"),
    ("X-Scf-Secret-Id", "AKIDimage"),
    ("X-Scf-Secret-Key", "image-secret-key"),
    ("X-Scf-Session-Token", "image-session-token"),
    ("X-Scf-Trigger-Src", "timer"),
];

/// The handler of these tests: `context` answers with everything the invocation carried,
/// `error` / `panic` / `too-big` fail, `block` waits for the test's go-ahead; anything else is
/// echoed. Counts calls and the most handlers ever running at once.
#[derive(Clone, Default)]
struct Probe {
    calls: Arc<Mutex<Vec<String>>>,
    running: Arc<AtomicUsize>,
    most_running: Arc<AtomicUsize>,
    entered: Option<mpsc::SyncSender<String>>,
    release: Option<Arc<Mutex<mpsc::Receiver<()>>>>,
}

fn context_json(inv: &Invocation) -> Value {
    let metadata = inv.metadata.as_ref().map(|m| {
        m.iter()
            .map(|(f, v)| (f.name.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>()
    });
    json!({
        "request_id": inv.request_id,
        "memory_limit_mb": inv.memory_limit_mb,
        "time_limit_ms": inv.time_limit.as_millis() as u64,
        "remaining_within_limit": inv.remaining() <= inv.time_limit,
        "metadata": metadata,
    })
}

impl Probe {
    fn handle(&self, inv: &Invocation) -> Result<Vec<u8>, ErrorReport> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        self.calls
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&inv.body).into_owned());
        let result = match inv.body.as_slice() {
            b"context" => Ok(context_json(inv).to_string().into_bytes()),
            b"error" => Err(ErrorReport {
                error_type: "MyError".into(),
                error_message: "café 错误 🚀".into(),
                stack_trace: vec!["at handler".into(), "at main".into()],
            }),
            b"panic" => {
                self.running.fetch_sub(1, Ordering::SeqCst);
                panic!("boom: café");
            }
            b"too-big" => Ok(vec![b'x'; SIX_MB + 1]),
            body if body.starts_with(b"block") => {
                if let Some(tx) = &self.entered {
                    tx.send(inv.request_id.clone()).unwrap();
                }
                if let Some(rx) = &self.release {
                    rx.lock()
                        .unwrap()
                        .recv_timeout(LIMIT)
                        .expect("the test releases the blocked handler");
                }
                Ok(body.to_vec())
            }
            body => Ok(body.to_vec()),
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

struct Served {
    server: ImageServer,
    addr: SocketAddr,
    run: thread::JoinHandle<scf_core::Result<RunStats>>,
}

impl Served {
    /// Start the loop with `probe` on an image server for `config` (listening on 127.0.0.1:0
    /// unless the config says otherwise), bounded to `n` invocations.
    fn start(config: ImageConfig, probe: &Probe, n: u64) -> Served {
        let rt = Runtime::new(Config::for_image(config))
            .handle_signals(false)
            .max_invocations(Some(n));
        let server = rt.source().as_image().expect("image mode").clone();
        let probe = probe.clone();
        let run = thread::spawn(move || rt.run(move |inv: &Invocation| probe.handle(inv)));
        let addr = server.wait_listening(LIMIT).expect("the server listens");
        Served { server, addr, run }
    }

    fn finish(self) -> RunStats {
        self.run
            .join()
            .expect("the loop thread")
            .expect("the loop ended well")
    }
}

fn local() -> ImageConfig {
    ImageConfig::new("127.0.0.1:0".parse().unwrap())
}

/// One HTTP/1.1 answer as it came off the wire.
type Answer = HttpResponse;

/// The scfrt tests' hand-written client on one connection (the tests control every byte), with
/// image mode's request shape.
struct Client(RawClient);

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        Client(RawClient::connect(addr.port()))
    }

    fn send(&mut self, bytes: &[u8]) {
        self.0.send_raw(bytes);
    }

    /// `POST /event-invoke` with `headers` and a Content-Length body, in one write.
    fn post(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut request = head("POST", "/event-invoke", headers, Some(body.len()));
        request.extend_from_slice(body);
        self.send(&request);
        self.answer().expect("an answer")
    }

    /// Read one answer (Content-Length body); `None` when the server closed the connection
    /// before sending one.
    fn answer(&mut self) -> Option<Answer> {
        self.0.try_read_response()
    }

    /// Whether the server closed the connection (EOF or reset) without sending more.
    fn closed(&mut self) -> bool {
        self.0.closed()
    }
}

fn head(method: &str, path: &str, headers: &[(&str, &str)], len: Option<usize>) -> Vec<u8> {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(len) = len {
        h.push_str(&format!("Content-Length: {len}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// The three headers every event needs, with request id `id`.
fn event_headers(id: &str) -> Vec<(&str, &str)> {
    vec![
        ("X-Scf-Request-Id", id),
        ("X-Scf-Memory", "128"),
        ("X-Scf-Timeout", "20000"),
    ]
}

#[test]
fn every_header_reaches_the_invocation_and_echoes_are_exact() {
    let probe = Probe::default();
    let big = vec![b'a'; SIX_MB];
    let echoes: Vec<&[u8]> = vec![
        br#"{"key1": "test value 1", "key2": [1, 2.5, null]}"#,
        "café 错误 🚀".as_bytes(),
        b"",
        b"\x00\xff\x01 binary",
        &big,
    ];
    let served = Served::start(local(), &probe, 1 + echoes.len() as u64);
    let mut client = Client::connect(served.addr);
    let answer = client.post(&HEADERS, b"context");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), None);
    let mut metadata = serde_json::Map::new();
    for f in &METADATA_FIELDS {
        let (_, value) = HEADERS
            .iter()
            .find(|(h, _)| *h == f.header)
            .expect("every metadata field has its header here");
        metadata.insert(f.name.to_string(), json!(value));
    }
    assert_eq!(
        answer.json(),
        json!({
            "request_id": "req-0001",
            "memory_limit_mb": 256,
            "time_limit_ms": 20000,
            "remaining_within_limit": true,
            "metadata": metadata,
        })
    );
    // Kept alive: the same connection carries the next events, each echoed byte for byte.
    for (i, event) in echoes.iter().enumerate() {
        let id = format!("echo-{i}");
        let answer = client.post(&event_headers(&id), event);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.as_slice(), *event, "event {i}");
    }
    // The bound is reached: `run` ends, and the server stops with it.
    let addr = served.addr;
    let stats = served.finish();
    assert_eq!((stats.responses, stats.errors), (6, 0));
    assert!(client.closed());
    assert!(TcpStream::connect(addr).is_err());
    assert_eq!(probe.calls().len(), 6);
}

#[test]
fn metadata_is_none_in_runtime_api_mode() {
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let probe = Probe::default();
    let rt = Runtime::new(Config::for_endpoint("127.0.0.1", api.port()))
        .handle_signals(false)
        .max_invocations(Some(1));
    let run = thread::spawn(move || rt.run(move |inv: &Invocation| probe.handle(inv)));
    api.wait_ready(LIMIT).expect("ready");
    let opts = InvokeOptions {
        request_id: "req-rt".into(),
        memory_limit_mb: 256,
        timeout: LIMIT,
    };
    let Outcome::Response(body) = api.invoke(b"context", &opts).expect("invoke") else {
        panic!("no response");
    };
    let seen: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(seen["request_id"], "req-rt");
    assert_eq!(seen["metadata"], Value::Null);
    run.join().unwrap().unwrap();
}

/// The bodies a handler's failures are answered with in image mode, and the ones runtime-API
/// mode posts for the same failures: identical bytes.
#[test]
fn handler_failures_are_500_with_the_runtime_api_error_json() {
    let events: [&[u8]; 3] = [b"error", b"panic", b"too-big"];
    let probe = Probe::default();
    let served = Served::start(local(), &probe, events.len() as u64);
    let mut client = Client::connect(served.addr);
    let mut image = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let answer = client.post(&event_headers(&format!("req-{i}")), event);
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        image.push(answer.body);
    }
    served.finish();

    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let probe = Probe::default();
    let rt = Runtime::new(Config::for_endpoint("127.0.0.1", api.port()))
        .handle_signals(false)
        .max_invocations(Some(events.len() as u64));
    let run = thread::spawn(move || rt.run(move |inv: &Invocation| probe.handle(inv)));
    api.wait_ready(LIMIT).expect("ready");
    for (i, event) in events.iter().enumerate() {
        let opts = InvokeOptions {
            request_id: format!("req-{i}"),
            memory_limit_mb: 128,
            timeout: LIMIT,
        };
        let Outcome::Error(posted) = api.invoke(event, &opts).expect("invoke") else {
            panic!("event {i} did not fail in runtime-API mode");
        };
        assert_eq!(
            String::from_utf8_lossy(&image[i]),
            String::from_utf8_lossy(&posted),
            "event {i}"
        );
    }
    run.join().unwrap().unwrap();

    let error: Value = serde_json::from_slice(&image[0]).unwrap();
    assert_eq!(
        error,
        json!({
            "errorType": "MyError",
            "errorMessage": "café 错误 🚀",
            "stackTrace": ["at handler", "at main"],
            "requestId": "req-0",
        })
    );
    // UTF-8 kept as is, not escaped.
    assert!(String::from_utf8_lossy(&image[0]).contains("café 错误 🚀"));
    let panicked: Value = serde_json::from_slice(&image[1]).unwrap();
    assert_eq!(panicked["errorType"], "Panic");
    assert_eq!(panicked["errorMessage"], "boom: café");
    let too_big: Value = serde_json::from_slice(&image[2]).unwrap();
    assert_eq!(too_big["errorType"], "ResponseTooLarge");
}

#[test]
fn events_over_six_mb_are_refused_413_without_being_read() {
    let probe = Probe::default();
    let served = Served::start(local(), &probe, 1);

    // Content-Length over the limit: answered before a byte of the body is sent.
    let mut client = Client::connect(served.addr);
    client.send(&head(
        "POST",
        "/event-invoke",
        &event_headers("big-1"),
        Some(SIX_MB + 1),
    ));
    let answer = client.answer().expect("an answer before the body");
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.header("connection"), Some("close"));
    let refusal = answer.json();
    assert_eq!(refusal["errorType"], "RequestTooLarge");
    assert_eq!(refusal["requestId"], "big-1");
    let message = refusal["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} bytes", SIX_MB + 1)) && message.contains("not read"),
        "{message}"
    );
    assert!(client.closed());

    // A chunked body is cut off as soon as it grows past the limit.
    let mut client = Client::connect(served.addr);
    let mut chunked = head("POST", "/event-invoke", &event_headers("big-2"), None);
    chunked.splice(
        chunked.len() - 2..chunked.len() - 2,
        *b"Transfer-Encoding: chunked\r\n",
    );
    client.send(&chunked);
    let chunk = vec![b'c'; 1024 * 1024];
    for _ in 0..6 {
        client.send(format!("{:x}\r\n", chunk.len()).as_bytes());
        client.send(&chunk);
        client.send(b"\r\n");
    }
    client.send(b"1\r\nX\r\n");
    let answer = client
        .answer()
        .expect("an answer to the oversized chunked body");
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.json()["errorType"], "RequestTooLarge");
    assert!(client.closed());

    // Neither reached the handler, and the server goes on.
    assert!(probe.calls().is_empty());
    let answer = Client::connect(served.addr).post(&event_headers("ok"), b"{}");
    assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
    served.finish();
    assert_eq!(probe.calls(), ["{}"]);
}

#[test]
fn wrong_paths_methods_and_headers_are_refused_with_clear_json() {
    let probe = Probe::default();
    let served = Served::start(local(), &probe, 1);
    let mut client = Client::connect(served.addr);

    client.send(&head("GET", "/event-invoke", &event_headers("r1"), None));
    let answer = client.answer().unwrap();
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert_eq!(answer.json()["errorType"], "MethodNotAllowed");
    assert!(
        answer.json()["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("GET /event-invoke is not allowed"),
        "{answer:?}"
    );

    for (method, path) in [
        ("POST", "/invoke"),
        ("GET", "/"),
        ("POST", "/event-invoke/x"),
    ] {
        let mut request = head(method, path, &event_headers("r2"), Some(2));
        request.extend_from_slice(b"{}");
        client.send(&request);
        let answer = client.answer().unwrap();
        assert_eq!(answer.status, 404, "{method} {path}");
        let json = answer.json();
        assert_eq!(json["errorType"], "NotFound");
        assert!(
            json["errorMessage"]
                .as_str()
                .unwrap()
                .contains(&format!("{method} {path}")),
            "{json}"
        );
        assert_eq!(json["requestId"], "r2");
    }

    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("X-Scf-Memory", "128"), ("X-Scf-Timeout", "3000")],
            "the X-Scf-Request-Id header is missing",
        ),
        (
            &[("X-Scf-Request-Id", "r3"), ("X-Scf-Timeout", "3000")],
            "the X-Scf-Memory header is missing",
        ),
        (
            &[
                ("X-Scf-Request-Id", "r3"),
                ("X-Scf-Memory", "lots"),
                ("X-Scf-Timeout", "3000"),
            ],
            "the X-Scf-Memory header is not a whole number of MB: \"lots\"",
        ),
        (
            &[
                ("X-Scf-Request-Id", "r3"),
                ("X-Scf-Memory", "128"),
                ("X-Scf-Timeout", "-1"),
            ],
            "the X-Scf-Timeout header is not a whole number of milliseconds: \"-1\"",
        ),
        (
            &[
                ("X-Scf-Request-Id", "r3"),
                ("X-Scf-Memory", "128"),
                ("X-Scf-Timeout", "3000"),
                ("X-Scf-Name", "caf\u{e9}"),
            ],
            "the X-Scf-Name header is not valid UTF-8",
        ),
    ];
    for (headers, reason) in cases {
        let mut request = head("POST", "/event-invoke", headers, Some(2));
        if let Some(at) = find(&request, "caf\u{e9}".as_bytes()) {
            // A Latin-1 byte on the wire: valid HTTP, not UTF-8.
            request.splice(at..at + 5, *b"caf\xe9");
        }
        request.extend_from_slice(b"{}");
        client.send(&request);
        let answer = client.answer().unwrap();
        assert_eq!(answer.status, 400, "{reason}");
        let json = answer.json();
        assert_eq!(json["errorType"], "InvalidEvent");
        assert_eq!(
            json["errorMessage"].as_str().unwrap().split(';').next(),
            Some(reason)
        );
    }

    // None of these reached the handler; a good request on the same connection does.
    assert!(probe.calls().is_empty());
    assert_eq!(client.post(&event_headers("r4"), b"fine").body, b"fine");
    served.finish();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn slow_clients_are_cut_off_and_do_not_hold_the_instance() {
    let probe = Probe::default();
    let mut config = local();
    config.header_read_timeout = Duration::from_millis(300);
    config.body_read_timeout = Duration::from_millis(300);
    // Two invocations: the server stays up (no shutdown closing connections) until the last one.
    let served = Served::start(config, &probe, 2);

    // Headers trickling in, a body that stops short, a connection that never says anything.
    let mut slow_head = Client::connect(served.addr);
    slow_head.send(b"POST /event-invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Scf-Req");
    let mut slow_body = Client::connect(served.addr);
    slow_body.send(&head(
        "POST",
        "/event-invoke",
        &event_headers("slow"),
        Some(100),
    ));
    slow_body.send(b"0123456789");
    let mut silent = Client::connect(served.addr);

    // Meanwhile a well-behaved request is served.
    let answer = Client::connect(served.addr).post(&event_headers("good"), b"on time");
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, &b"on time"[..])
    );

    // The slow ones are closed once their (short) timeouts pass; the body one is told why.
    assert!(slow_head.closed(), "slow headers: connection still open");
    let answer = slow_body.answer().expect("a 408 for the unfinished body");
    assert_eq!(answer.status, 408);
    assert_eq!(answer.header("connection"), Some("close"));
    let json = answer.json();
    assert_eq!(json["errorType"], "RequestTimeout");
    assert_eq!(json["requestId"], "slow");
    assert!(slow_body.closed());
    assert!(silent.closed(), "silent connection still open");

    let answer = Client::connect(served.addr).post(&event_headers("last"), b"last");
    assert_eq!(answer.body, b"last");
    served.finish();
    assert_eq!(probe.calls(), ["on time", "last"]);
}

#[test]
fn concurrent_requests_wait_their_turn_and_never_overlap() {
    let (entered_tx, entered) = mpsc::sync_channel(4);
    let (release, release_rx) = mpsc::channel();
    let probe = Probe {
        entered: Some(entered_tx),
        release: Some(Arc::new(Mutex::new(release_rx))),
        ..Probe::default()
    };
    let mut config = local();
    config.max_waiting = 1;
    let served = Served::start(config, &probe, 2);
    let addr = served.addr;
    let post = move |id: &'static str, timeout: &'static str, body: &'static [u8]| {
        thread::spawn(move || {
            let headers = [
                ("X-Scf-Request-Id", id),
                ("X-Scf-Memory", "128"),
                ("X-Scf-Timeout", timeout),
            ];
            Client::connect(addr).post(&headers, body)
        })
    };

    // A runs and blocks in the handler.
    let a = post("a", "20000", b"block a");
    assert_eq!(entered.recv_timeout(LIMIT).unwrap(), "a");

    // D's time limit (1 ms) runs out while it waits: refused, and it leaves the line.
    let d = post("d", "1", b"never handled").join().unwrap();
    assert_eq!(d.status, 503, "{d:?}");
    assert_eq!(d.json()["errorType"], "InstanceBusy");
    assert!(
        d.json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("X-Scf-Timeout")
    );

    // B waits for its turn; with the line full (1), C is refused at once.
    let b = post("b", "20000", b"block b");
    assert!(
        served.server.wait_for_waiting(1, LIMIT),
        "B never joined the line"
    );
    let c = post("c", "20000", b"never handled").join().unwrap();
    assert_eq!(c.status, 503, "{c:?}");
    let json = c.json();
    assert_eq!(json["errorType"], "InstanceBusy");
    assert_eq!(json["requestId"], "c");
    assert_eq!(probe.calls(), ["block a"], "B ran while A was running");

    // A finishes, then B runs.
    release.send(()).unwrap();
    let a = a.join().unwrap();
    assert_eq!((a.status, a.body.as_slice()), (200, &b"block a"[..]));
    assert_eq!(entered.recv_timeout(LIMIT).unwrap(), "b");
    release.send(()).unwrap();
    let b = b.join().unwrap();
    assert_eq!((b.status, b.body.as_slice()), (200, &b"block b"[..]));

    served.finish();
    assert_eq!(probe.calls(), ["block a", "block b"]);
    assert_eq!(probe.most_running.load(Ordering::SeqCst), 1);
}

#[test]
fn the_port_opens_only_after_init_and_never_when_init_fails() {
    // A free port, so the init hook can check that nothing listens there yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (tx, init_saw) = mpsc::channel();
    let rt = Runtime::new(Config::for_image(ImageConfig::new(addr)))
        .handle_signals(false)
        .max_invocations(Some(1))
        .init(move || {
            let _ = tx.send(TcpStream::connect(addr).is_ok());
            Ok(())
        });
    let server = rt.source().as_image().unwrap().clone();
    let run = thread::spawn(move || rt.run(|inv: &Invocation| Ok(inv.body.clone())));
    assert_eq!(server.wait_listening(LIMIT), Some(addr));
    assert_eq!(
        init_saw.recv_timeout(LIMIT),
        Ok(false),
        "listening during init"
    );
    let answer = Client::connect(addr).post(&event_headers("x"), b"after init");
    assert_eq!(answer.body, b"after init");
    run.join().unwrap().unwrap();

    let rt = Runtime::new(Config::for_image(ImageConfig::new(addr)))
        .handle_signals(false)
        .init(|| Err(ErrorReport::new("InitError", "no database")));
    let server = rt.source().as_image().unwrap().clone();
    let e = rt.run(|inv: &Invocation| Ok(inv.body.clone())).unwrap_err();
    assert_eq!(e.to_string(), "init failed: InitError: no database");
    assert_eq!(server.wait_listening(LIMIT), None);
    assert!(
        TcpStream::connect(addr).is_err(),
        "listening after a failed init"
    );
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = Runtime::new(Config::for_image(ImageConfig::new(addr)))
        .handle_signals(false)
        .run(|inv: &Invocation| Ok(inv.body.clone()))
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("cannot listen on {addr}")) && msg.contains("SCFRUNTIME_LISTEN"),
        "{msg}"
    );
}
