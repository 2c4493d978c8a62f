//! A TC3-signed client of `scfrt serve` (raw HTTP/1.1 over loopback).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scf_cloud::tc3;

/// The SecretId the suite's servers accept.
pub const SECRET_ID: &str = "AKIDreliability";
/// Its SecretKey.
pub const SECRET_KEY: &str = "reliability-key";

/// The headers of a TC3-signed `POST /` of `body` to `action` on 127.0.0.1:`port`, signed now:
/// `Name: value\r\n` lines (Host, Content-Type, Authorization, X-TC-*), without the framing
/// (Content-Length or Transfer-Encoding) and the blank line.
pub fn signed_headers(port: u16, action: &str, body: &[u8]) -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let host = format!("127.0.0.1:{port}");
    let date = tc3::utc_date(ts);
    let ct = "application/json".to_string();
    let header = |name: &str| -> Option<&str> {
        match name {
            "content-type" => Some(ct.as_str()),
            "host" => Some(host.as_str()),
            _ => None,
        }
    };
    let req = tc3::SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        header: &header,
        body,
    };
    let signed = ["content-type".to_string(), "host".to_string()];
    let canonical = tc3::canonical_request(&req, &signed);
    let sts = tc3::string_to_sign(&canonical, &ts.to_string(), &date, "scf");
    let sig = tc3::sign(SECRET_KEY, &date, "scf", &sts);
    let auth = format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/scf/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
    );
    format!(
        "Host: {host}\r\nContent-Type: {ct}\r\nAuthorization: {auth}\r\nX-TC-Action: {action}\r\nX-TC-Version: 2018-04-16\r\nX-TC-Timestamp: {ts}\r\nX-TC-Region: ap-guangzhou\r\n"
    )
}

/// POST a TC3-signed API request; returns the parsed JSON envelope.
pub fn call(port: u16, action: &str, body: &str) -> serde_json::Value {
    let headers = signed_headers(port, action, body.as_bytes());
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "POST / HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let _ = s.shutdown(std::net::Shutdown::Both);
    let (_, body) = out.split_once("\r\n\r\n").expect("a full response");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
