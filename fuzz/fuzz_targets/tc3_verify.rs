//! TC3-HMAC-SHA256 verification of `scfrt serve`: arbitrary Authorization / timestamp headers and
//! bodies are refused with an API error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scf_cloud::tc3::{Rules, SignedRequest, parse_authorization, verify};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let auth = parts.next().unwrap_or("");
    let ts = parts.next().unwrap_or("");
    let ct = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("").as_bytes();
    let _ = parse_authorization(auth);
    let header = |name: &str| -> Option<&str> {
        match name {
            "authorization" => Some(auth),
            "x-tc-timestamp" => Some(ts),
            "content-type" => Some(ct),
            "host" => Some("127.0.0.1:9000"),
            _ => None,
        }
    };
    let req = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        header: &header,
        body,
    };
    let key = |id: &str| (id == "AKIDfuzz").then(|| "fuzzkey".to_string());
    for rules in [Rules::Platform, Rules::Loopback] {
        let _ = verify(&req, &key, 1_700_000_000, rules);
    }
});
