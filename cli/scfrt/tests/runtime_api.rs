//! The runtime API server, driven by a hand-written HTTP client so the bytes on the wire are checked.

mod common;

use std::time::Duration;

use common::RawClient;
use scf_runtime_api::{
    InvokeError, InvokeOptions, Limits, Outcome, RecordedRequest, RuntimeApi, WaitError,
};

const MIB: usize = 1024 * 1024;

fn opts(id: &str) -> InvokeOptions {
    InvokeOptions {
        request_id: id.into(),
        memory_limit_mb: 256,
        timeout: Duration::from_secs(20),
    }
}

fn req(method: &str, path: &str, body: &[u8]) -> RecordedRequest {
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        body: body.to_vec(),
    }
}

#[test]
fn defaults() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RuntimeApi>();
    send_sync::<scf_emulator::Function>();
    let l = Limits::default();
    assert_eq!(l.max_event_bytes, 6 * MIB);
    assert_eq!(l.max_response_bytes, 6 * MIB);
    let o = InvokeOptions::default();
    assert_eq!(o.memory_limit_mb, 128);
    assert_eq!(o.timeout, Duration::from_secs(3));
    assert_eq!(o.request_id.len(), 36);
    assert_ne!(o.request_id, InvokeOptions::default().request_id);
}

#[test]
fn full_invocation_on_the_wire() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    let r = c.request("POST", "/runtime/init/ready", b" ");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    api.wait_ready(Duration::from_secs(5)).unwrap();
    assert!(api.is_ready());

    let event = br#"{"key1": "test value 1", "key2": "test value 2"}"#;
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(event, &opts("req-1")));
        let r = c.get("/runtime/invocation/next");
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        assert_eq!(r.body, event);
        assert_eq!(r.header("request_id"), Some("req-1"));
        assert_eq!(r.header("memory_limit_in_mb"), Some("256"));
        assert_eq!(r.header("time_limit_in_ms"), Some("20000"));
        assert_eq!(
            r.header("content-length"),
            Some(event.len().to_string().as_str())
        );

        // A repeated `next` during the invocation returns the same event and id.
        let again = c.get("/runtime/invocation/next");
        assert_eq!(again.status, 200);
        assert_eq!(again.body, event);
        assert_eq!(again.header("request_id"), Some("req-1"));

        let posted = c.request("POST", "/runtime/invocation/response", b"the answer");
        assert_eq!(posted.status_line, "HTTP/1.1 200 OK");
        assert_eq!(posted.body, b"");

        // The first result is final.
        let second = c.request("POST", "/runtime/invocation/response", b"second");
        assert_eq!(second.status, 422, "{second:?}");
        assert!(!second.body.is_empty());
        let err = c.request("POST", "/runtime/invocation/error", b"late error");
        assert_eq!(err.status, 422);

        assert_eq!(
            invoker.join().unwrap(),
            Ok(Outcome::Response(b"the answer".to_vec()))
        );
    });
    assert_eq!(
        api.requests(),
        vec![
            req("POST", "/runtime/init/ready", b" "),
            req("GET", "/runtime/invocation/next", b""),
            req("GET", "/runtime/invocation/next", b""),
            req("POST", "/runtime/invocation/response", b"the answer"),
            req("POST", "/runtime/invocation/response", b"second"),
            req("POST", "/runtime/invocation/error", b"late error"),
        ]
    );
}

#[test]
fn error_post_ends_invocation_and_report_has_timing() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke_timed(b"{}", &opts("e-1")));
        assert_eq!(c.get("/runtime/invocation/next").status, 200);
        let r = c.request(
            "POST",
            "/runtime/invocation/error",
            "parse event error é".as_bytes(),
        );
        assert_eq!(r.status, 200);
        let report = invoker.join().unwrap().unwrap();
        assert_eq!(
            report.outcome,
            Outcome::Error("parse event error é".as_bytes().to_vec())
        );
        let delivered = report.delivered_at.expect("delivered");
        assert!(report.finished_at >= delivered);
        assert_eq!(report.duration(), report.finished_at - delivered);
    });
}

#[test]
fn next_before_ready_is_served_and_recorded() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(b"[1,2]", &opts("early")));
        let r = c.get("/runtime/invocation/next");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"[1,2]");
        c.request("POST", "/runtime/invocation/response", b"ok");
        assert_eq!(
            invoker.join().unwrap(),
            Ok(Outcome::Response(b"ok".to_vec()))
        );
    });
    assert!(!api.is_ready());
    assert_eq!(
        api.requests()[0],
        req("GET", "/runtime/invocation/next", b"")
    );
}

#[test]
fn ready_only_first_counts_and_empty_body_is_accepted() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    assert_eq!(c.request("POST", "/runtime/init/ready", b"").status, 200);
    assert_eq!(c.request("POST", "/runtime/init/ready", b" ").status, 200);
    assert_eq!(api.wait_ready(Duration::ZERO), Ok(()));
    assert_eq!(
        api.requests(),
        vec![
            req("POST", "/runtime/init/ready", b""),
            req("POST", "/runtime/init/ready", b" "),
        ]
    );
}

#[test]
fn result_without_invocation_is_rejected() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    let r = c.request("POST", "/runtime/invocation/response", b"x");
    assert_eq!(r.status, 422);
    assert_eq!(r.body, b"no invocation in progress");
    let r = c.request("POST", "/runtime/invocation/error", b"x");
    assert_eq!(r.status, 422);
}

#[test]
fn unknown_paths_and_methods_are_404() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    assert_eq!(c.get("/runtime/init/ready").status, 404);
    assert_eq!(
        c.request("POST", "/runtime/invocation/next", b"").status,
        404
    );
    assert_eq!(c.get("/2018-06-01/runtime/invocation/next").status, 404);
    assert_eq!(
        c.request("POST", "/runtime/init/error", b"boom").status,
        404
    );
    assert_eq!(c.get("/").status, 404);
    // The connection is still usable (keep-alive) and everything was recorded.
    assert_eq!(c.request("POST", "/runtime/init/ready", b" ").status, 200);
    assert_eq!(api.requests().len(), 6);
}

#[test]
fn oversized_event_is_refused_without_delivery() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let big = vec![b'x'; 6 * MIB + 1];
    assert_eq!(
        api.invoke(&big, &opts("big")),
        Err(InvokeError::EventTooLarge {
            size: 6 * MIB + 1,
            limit: 6 * MIB
        })
    );
    // Nothing was queued: the next `next` gets the following event.
    let exact = vec![b'y'; 6 * MIB];
    let mut c = RawClient::connect(api.port());
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(&exact, &opts("exact")));
        let r = c.get("/runtime/invocation/next");
        assert_eq!(r.header("request_id"), Some("exact"));
        assert_eq!(r.body.len(), 6 * MIB);
        c.request("POST", "/runtime/invocation/response", b"ok");
        assert!(matches!(invoker.join().unwrap(), Ok(Outcome::Response(_))));
    });
}

#[test]
fn response_size_limit() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    for (id, size) in [("under", 6 * MIB - 1), ("exact", 6 * MIB)] {
        std::thread::scope(|s| {
            let invoker = s.spawn(|| api.invoke(b"{}", &opts(id)));
            c.get("/runtime/invocation/next");
            let r = c.request("POST", "/runtime/invocation/response", &vec![b'a'; size]);
            assert_eq!(r.status, 200, "{id}");
            match invoker.join().unwrap() {
                Ok(Outcome::Response(body)) => assert_eq!(body.len(), size),
                other => panic!("{id}: {other:?}"),
            }
        });
    }
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(b"{}", &opts("over")));
        c.get("/runtime/invocation/next");
        let r = c.request(
            "POST",
            "/runtime/invocation/response",
            &vec![b'a'; 6 * MIB + 1],
        );
        assert_eq!(r.status_line, "HTTP/1.1 407 Proxy Authentication Required");
        assert_eq!(
            r.body,
            b"The size of response exceeds the upper limit (6MB)"
        );
        assert_eq!(
            invoker.join().unwrap(),
            Ok(Outcome::ResponseTooLarge { size: 6 * MIB + 1 })
        );
    });
    // The connection survived the oversized body.
    assert_eq!(
        c.request("POST", "/runtime/invocation/response", b"x")
            .status,
        422
    );
}

#[test]
fn custom_limits_apply() {
    let api = RuntimeApi::start(Limits {
        max_event_bytes: 10,
        max_response_bytes: 4,
        ..Limits::default()
    })
    .unwrap();
    assert!(api.invoke(b"12345678901", &opts("x")).is_err());
    let mut c = RawClient::connect(api.port());
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(b"1234567890", &opts("y")));
        c.get("/runtime/invocation/next");
        assert_eq!(
            c.request("POST", "/runtime/invocation/error", b"12345")
                .status,
            407
        );
        assert_eq!(
            invoker.join().unwrap(),
            Ok(Outcome::ResponseTooLarge { size: 5 })
        );
    });
}

#[test]
fn timeout_then_late_post_is_rejected() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    let o = InvokeOptions {
        timeout: Duration::from_millis(200),
        ..opts("slow")
    };
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke_timed(b"{}", &o));
        let r = c.get("/runtime/invocation/next");
        assert_eq!(r.header("time_limit_in_ms"), Some("200"));
        let report = invoker.join().unwrap().unwrap();
        assert_eq!(report.outcome, Outcome::TimedOut);
        assert!(report.duration() >= Duration::from_millis(200));
    });
    assert_eq!(
        c.request("POST", "/runtime/invocation/response", b"late")
            .status,
        422
    );
}

#[test]
fn undelivered_event_times_out() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let o = InvokeOptions {
        timeout: Duration::from_millis(100),
        ..opts("never-fetched")
    };
    let report = api.invoke_timed(b"{}", &o).unwrap();
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert_eq!(report.delivered_at, None);
}

#[test]
fn wait_ready_times_out() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    assert_eq!(
        api.wait_ready(Duration::from_millis(50)),
        Err(WaitError::TimedOut)
    );
}

#[test]
fn abort_wakes_waiters_and_is_sticky() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| api.wait_ready(Duration::from_secs(60)));
        api.abort();
        assert_eq!(waiter.join().unwrap(), Err(WaitError::Aborted));
    });
    assert!(api.is_aborted());
    assert_eq!(api.invoke(b"{}", &opts("a")), Ok(Outcome::Aborted));
}

#[test]
fn abort_ends_a_pending_invocation() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    std::thread::scope(|s| {
        let invoker = s.spawn(|| api.invoke(b"{}", &opts("doomed")));
        // Once the event is out, the invocation is certainly pending.
        assert_eq!(c.get("/runtime/invocation/next").status, 200);
        api.abort();
        assert_eq!(invoker.join().unwrap(), Ok(Outcome::Aborted));
    });
}

#[test]
fn long_poll_waits_for_the_event() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let port = api.port();
    std::thread::scope(|s| {
        // The poller may arrive before or after the event: either way it gets it.
        let poller = s.spawn(move || {
            let mut c = RawClient::connect(port);
            let r = c.get("/runtime/invocation/next");
            c.request("POST", "/runtime/invocation/response", &r.body);
            r
        });
        let out = api.invoke(b"\"hello\"", &opts("lp"));
        let r = poller.join().unwrap();
        assert_eq!(r.header("request_id"), Some("lp"));
        assert_eq!(out, Ok(Outcome::Response(b"\"hello\"".to_vec())));
    });
}

#[test]
fn sequential_invocations_get_their_own_ids() {
    let api = RuntimeApi::start(Limits::default()).unwrap();
    let mut c = RawClient::connect(api.port());
    for i in 0..5 {
        let id = format!("seq-{i}");
        std::thread::scope(|s| {
            let invoker = s.spawn(|| api.invoke(id.as_bytes(), &opts(&id)));
            let r = c.get("/runtime/invocation/next");
            assert_eq!(r.header("request_id"), Some(id.as_str()));
            assert_eq!(r.body, id.as_bytes());
            c.request("POST", "/runtime/invocation/response", &r.body);
            assert_eq!(
                invoker.join().unwrap(),
                Ok(Outcome::Response(id.as_bytes().to_vec()))
            );
        });
    }
}
