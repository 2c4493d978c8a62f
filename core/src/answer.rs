//! Answering an invocation: the one place where a result is checked against the platform's size
//! limit, posted (or in image mode answered), and a refused post is logged.
//!
//! [`Runtime`](crate::Runtime) answers through it, and so does every binding that drives a
//! [`Source`] itself (the Python one): none of them posts on its own.

use crate::{Error, ErrorReport, Result, Source};

/// The largest response the platform accepts (6 MB); a larger one is reported as an error
/// instead of being sent.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// How a handler ended, as [`Source::answer`] takes it.
///
/// Every variant borrows: a binding posts a result from where it lies (the Python binding, from
/// the `bytes` object the handler returned), without a copy.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Answer<'a> {
    /// The handler's result: posted as the response (`/runtime/invocation/response`; image mode:
    /// a 200 answer), unless it is longer than [`MAX_RESPONSE_BYTES`]. Then nothing of it is
    /// sent, and [`ErrorReport::response_too_large`] is posted as the error instead.
    Result(&'a [u8]),
    /// The handler failed: [`ErrorReport::to_json`] of the report is posted as the error
    /// (`/runtime/invocation/error`; image mode: a 500 answer).
    Error(&'a ErrorReport),
    /// The handler failed, and the binding words the error document itself (the Python binding
    /// posts the shape of SCF's built-in Python runtime, docs/python.md "Errors"): `json` is
    /// posted as the error as it is.
    ErrorJson(&'a [u8]),
}

impl<'a> From<&'a std::result::Result<Vec<u8>, ErrorReport>> for Answer<'a> {
    /// A [`Handler`](crate::Handler)'s return value: `Ok` is a result, `Err` a failure.
    fn from(outcome: &'a std::result::Result<Vec<u8>, ErrorReport>) -> Answer<'a> {
        match outcome {
            Ok(body) => Answer::Result(body),
            Err(report) => Answer::Error(report),
        }
    }
}

/// What [`Source::answer`] posted for an invocation, whether or not the platform took it (a
/// refused or lost post is logged to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// The result went to the response endpoint (image mode: answered 200).
    Response,
    /// An error went to the error endpoint (image mode: answered 500): the handler failed, its
    /// result was over [`MAX_RESPONSE_BYTES`], or the event could not be read.
    Error,
}

impl Source {
    /// Answer the invocation in progress, `request_id`, with `answer`; the only way the loops
    /// post a result.
    ///
    /// A result longer than [`MAX_RESPONSE_BYTES`] is not sent: the `ResponseTooLarge` error
    /// ([`ErrorReport::response_too_large`]) is posted instead. A post the platform refuses or
    /// that is lost (e.g. a second result, or an image-mode client that went away) is logged to
    /// stderr as `scfruntime: <error>` and never re-sent: the platform decides what it means,
    /// and sending again could deliver a result twice. Blocks until the post is done: a binding
    /// with a lock of its own (Python's GIL) releases it around this call.
    pub fn answer(&self, request_id: &str, answer: Answer<'_>) -> Answered {
        // The error JSON when this call writes it: kept alive for the post.
        let owned;
        let (answered, body) = match answer {
            Answer::Result(body) if body.len() > MAX_RESPONSE_BYTES => {
                owned = ErrorReport::response_too_large(body.len()).to_json(request_id);
                (Answered::Error, owned.as_slice())
            }
            Answer::Result(body) => (Answered::Response, body),
            Answer::Error(report) => {
                owned = report.to_json(request_id);
                (Answered::Error, owned.as_slice())
            }
            Answer::ErrorJson(json) => (Answered::Error, json),
        };
        let posted = match answered {
            Answered::Response => self.respond(body),
            Answered::Error => self.fail(body),
        };
        if let Err(e) = posted {
            eprintln!("scfruntime: {e}");
        }
        answered
    }

    /// Deal with an error of [`next`](Self::next) (or of its variants): whether the loop goes
    /// on.
    ///
    /// [`Error::InvalidEvent`] is an event that came but cannot be handed to a handler (a
    /// malformed header, a body over the size limit): it is logged to stderr as
    /// `scfruntime: invalid event: <reason>`, answered with the `InvalidEvent` error
    /// ([`ErrorReport::invalid_event`]) as [`answer`](Self::answer) does, and `Ok(())` says the
    /// loop goes on (that event counts as answered with an error). Any other error means no
    /// event came, and is given back.
    ///
    /// # Errors
    ///
    /// `error` itself, when it is not [`Error::InvalidEvent`].
    pub fn answer_unreadable(&self, error: Error) -> Result<()> {
        let Error::InvalidEvent {
            reason, request_id, ..
        } = error
        else {
            return Err(error);
        };
        eprintln!("scfruntime: invalid event: {reason}");
        let report = ErrorReport::invalid_event(reason);
        self.answer(&request_id, Answer::Error(&report));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::*;
    use crate::{Config, ERROR_PATH, RESPONSE_PATH};

    /// A runtime API that records each post (path, body) and answers it with `status`.
    fn api(status: u16) -> (Source, mpsc::Receiver<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((conn, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(conn.try_clone().expect("clone socket"));
            let mut conn = conn;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let mut len = 0usize;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("header");
                    let header = header.trim_end().to_ascii_lowercase();
                    if header.is_empty() {
                        break;
                    }
                    if let Some(v) = header.strip_prefix("content-length:") {
                        len = v.trim().parse().expect("content-length");
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).expect("body");
                let _ = tx.send((path, body));
                let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}");
                conn.write_all(answer.as_bytes()).expect("answer");
            }
        });
        (Source::new(&Config::for_endpoint("127.0.0.1", port)), rx)
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).expect("error JSON")
    }

    #[test]
    fn a_result_is_posted_as_the_response_as_it_is() {
        let (source, posts) = api(202);
        let body = "{\"café\":\"错误 🚀\"}".as_bytes();
        assert_eq!(
            source.answer("rid-1", Answer::Result(body)),
            Answered::Response
        );
        assert_eq!(posts.recv().unwrap(), (RESPONSE_PATH.into(), body.to_vec()));
        // Exactly the limit is still a response.
        let max = vec![b'x'; MAX_RESPONSE_BYTES];
        assert_eq!(
            source.answer("rid-2", Answer::Result(&max)),
            Answered::Response
        );
        assert_eq!(posts.recv().unwrap(), (RESPONSE_PATH.into(), max));
    }

    #[test]
    fn a_result_over_six_mb_is_not_sent_and_the_error_is_posted() {
        let (source, posts) = api(202);
        let big = vec![b'x'; MAX_RESPONSE_BYTES + 1];
        assert_eq!(source.answer("rid", Answer::Result(&big)), Answered::Error);
        let (path, body) = posts.recv().unwrap();
        assert_eq!(path, ERROR_PATH);
        assert_eq!(
            body,
            ErrorReport::response_too_large(big.len()).to_json("rid")
        );
        let err = json(&body);
        assert_eq!(err["errorType"], "ResponseTooLarge");
        assert_eq!(err["requestId"], "rid");
        assert!(
            err["errorMessage"]
                .as_str()
                .unwrap()
                .contains(&(MAX_RESPONSE_BYTES + 1).to_string())
        );
    }

    #[test]
    fn errors_are_posted_as_the_report_json_or_the_binding_json() {
        let (source, posts) = api(202);
        let report = ErrorReport::new("MyError", "café");
        let outcome = Err(report.clone());
        assert_eq!(source.answer("r1", Answer::from(&outcome)), Answered::Error);
        assert_eq!(
            posts.recv().unwrap(),
            (ERROR_PATH.into(), report.to_json("r1"))
        );
        let own = br#"{"errorCode":-1,"statusCode":430}"#;
        assert_eq!(source.answer("r2", Answer::ErrorJson(own)), Answered::Error);
        assert_eq!(posts.recv().unwrap(), (ERROR_PATH.into(), own.to_vec()));
        let ok = Ok(b"fine".to_vec());
        assert_eq!(source.answer("r3", Answer::from(&ok)), Answered::Response);
        assert_eq!(
            posts.recv().unwrap(),
            (RESPONSE_PATH.into(), b"fine".to_vec())
        );
    }

    #[test]
    fn a_refused_post_is_not_sent_again() {
        let (source, posts) = api(400);
        assert_eq!(source.answer("r", Answer::Result(b"1")), Answered::Response);
        assert_eq!(posts.recv().unwrap(), (RESPONSE_PATH.into(), b"1".to_vec()));
        // The next answer is the next post: nothing was re-sent in between.
        assert_eq!(source.answer("r", Answer::Result(b"2")), Answered::Response);
        assert_eq!(posts.recv().unwrap(), (RESPONSE_PATH.into(), b"2".to_vec()));
    }

    #[test]
    fn an_invalid_event_is_answered_and_other_errors_are_given_back() {
        let (source, posts) = api(202);
        let invalid = Error::InvalidEvent {
            endpoint: crate::NEXT_PATH,
            reason: "bad memory_limit_in_mb".into(),
            request_id: "rid".into(),
        };
        assert!(source.answer_unreadable(invalid).is_ok());
        let (path, body) = posts.recv().unwrap();
        assert_eq!(path, ERROR_PATH);
        assert_eq!(
            body,
            ErrorReport::invalid_event("bad memory_limit_in_mb").to_json("rid")
        );
        assert!(matches!(
            source.answer_unreadable(Error::ServerStopped),
            Err(Error::ServerStopped)
        ));
        // Nothing was posted for it.
        source.answer("after", Answer::Result(b"x"));
        assert_eq!(posts.recv().unwrap(), (RESPONSE_PATH.into(), b"x".to_vec()));
    }
}
