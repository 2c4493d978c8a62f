//! TC3-HMAC-SHA256: the request signature of TencentCloud API 3.0, verified the way the platform
//! verifies it.
//!
//! canonical request = `METHOD\n/\n<query>\n<signed headers as name:value\n>\n<signed names>\n<sha256hex(body)>`;
//! string to sign = `TC3-HMAC-SHA256\n<timestamp>\n<date>/<service>/tc3_request\n<sha256hex(canonical)>`;
//! key = HMAC chain `"TC3"+SecretKey` -> date -> service -> `tc3_request`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::api::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// The signature algorithm name, the first word of `Authorization`.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// How far `X-TC-Timestamp` may be from the server's clock (the platform allows 5 minutes).
pub const MAX_SKEW_SECS: i64 = 300;

/// Which forms of a signature a verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// The platform's: credential scope service `scf`, the `Host` header signed as sent.
    Platform,
    /// Also what the Node SDK signs for an endpoint such as `127.0.0.1:9000` (a server that
    /// listens on loopback only): the scope's service taken from the endpoint's first label (`127`,
    /// `localhost:9000`), and the host signed without its port while `Host` carries it.
    Loopback,
}

/// The parts of a request the signature covers.
#[derive(Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The path, `/` for the API.
    pub path: &'a str,
    /// The raw query string (empty for POST).
    pub query: &'a str,
    /// Looks a header up by lower-case name (first value).
    pub header: &'a (dyn Fn(&str) -> Option<&'a str> + Sync),
    /// The request body.
    pub body: &'a [u8],
}

impl std::fmt::Debug for SignedRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A parsed `Authorization: TC3-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The SecretId.
    pub secret_id: String,
    /// The credential scope's date, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The credential scope's service, `scf` here.
    pub service: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses an `Authorization` header value.
///
/// # Errors
/// `AuthFailure.InvalidAuthorization` when it is not a TC3 authorization.
pub fn parse_authorization(value: &str) -> Result<Authorization, ApiError> {
    let bad = |why: &str| {
        ApiError::new(
            "AuthFailure.InvalidAuthorization",
            format!("Authorization header is invalid: {why}"),
        )
    };
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| bad("only TC3-HMAC-SHA256 is supported"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| bad("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(secret_id), Some(date), Some(service), Some("tc3_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(bad(
            "Credential must be SecretId/YYYY-MM-DD/service/tc3_request",
        ));
    };
    let signed_headers: Vec<String> = signed
        .ok_or_else(|| bad("no SignedHeaders"))?
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if !signed_headers.iter().any(|h| h == "content-type")
        || !signed_headers.iter().any(|h| h == "host")
    {
        return Err(bad("SignedHeaders must include content-type and host"));
    }
    let signature = signature.ok_or_else(|| bad("no Signature"))?;
    if secret_id.is_empty() || signature.is_empty() {
        return Err(bad("empty SecretId or Signature"));
    }
    Ok(Authorization {
        secret_id: secret_id.to_owned(),
        date: date.to_owned(),
        service: service.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
    })
}

/// The canonical request string.
pub fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[String]) -> String {
    let mut headers = String::new();
    for name in signed_headers {
        let value = (req.header)(name).unwrap_or("").trim().to_ascii_lowercase();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&value);
        headers.push('\n');
    }
    let payload_hash = if (req.header)("x-tc-content-sha256") == Some("UNSIGNED-PAYLOAD") {
        hex::encode(Sha256::digest(b"UNSIGNED-PAYLOAD"))
    } else {
        hex::encode(Sha256::digest(req.body))
    };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        req.query,
        headers,
        signed_headers.join(";"),
        payload_hash
    )
}

/// The string to sign for `canonical` at `timestamp` in `date`/`service`'s scope.
pub fn string_to_sign(canonical: &str, timestamp: &str, date: &str, service: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    )
}

fn hmac(key: &[u8], msg: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac
}

fn signing_key(secret_key: &str, date: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date.finalize().into_bytes(), service.as_bytes());
    hmac(&k_service.finalize().into_bytes(), b"tc3_request")
        .finalize()
        .into_bytes()
        .to_vec()
}

/// The hex signature of `string_to_sign` with `secret_key` (what a client computes).
pub fn sign(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let key = signing_key(secret_key, date, service);
    hex::encode(
        hmac(&key, string_to_sign.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// The headers a client signs, as the TencentCloud SDKs do.
pub const CLIENT_SIGNED_HEADERS: [&str; 2] = ["content-type", "host"];

/// Signs `req` as a client: the `Authorization` header value for a request sent at `timestamp`
/// (also sent as `X-TC-Timestamp`), covering [`CLIENT_SIGNED_HEADERS`] and the body.
///
/// The canonical request is built by [`canonical_request`], the same code [`verify`] uses, so a
/// request this signs is one `scfrt serve` accepts. `secret_key` is used only for the HMAC chain;
/// the returned value holds the SecretId, the scope and the signature, never the key.
pub fn authorization(
    secret_id: &str,
    secret_key: &str,
    service: &str,
    timestamp: i64,
    req: &SignedRequest<'_>,
) -> String {
    let signed: Vec<String> = CLIENT_SIGNED_HEADERS
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let date = utc_date(timestamp);
    let canonical = canonical_request(req, &signed);
    let to_sign = string_to_sign(&canonical, &timestamp.to_string(), &date, service);
    let signature = sign(secret_key, &date, service, &to_sign);
    format!(
        "{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let (y, m, d) = civil_from_days(timestamp.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix timestamp, the API's time format.
pub fn utc_datetime(timestamp: i64) -> String {
    let secs = timestamp.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        utc_date(timestamp),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// (year, month, day) in UTC of a Unix timestamp.
pub fn civil_date(timestamp: i64) -> (i64, u32, u32) {
    civil_from_days(timestamp.div_euclid(86_400))
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// What a request's headers say about its signature, checked before its body is read
/// ([`verify_headers`]); [`verify`] completes the check with the body.
pub struct CheckedHeaders {
    auth: Authorization,
    secret_key: String,
    timestamp_text: String,
}

impl std::fmt::Debug for CheckedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the SecretKey.
        f.debug_struct("CheckedHeaders")
            .field("secret_id", &self.auth.secret_id)
            .field("timestamp", &self.timestamp_text)
            .finish_non_exhaustive()
    }
}

impl CheckedHeaders {
    /// The SecretId the request is signed with.
    pub fn secret_id(&self) -> &str {
        &self.auth.secret_id
    }
}

fn signature_failure(why: &str) -> ApiError {
    ApiError::new(
        "AuthFailure.SignatureFailure",
        format!("The provided credentials could not be validated: {why}"),
    )
}

/// Everything [`verify`] checks that needs no body: `Authorization` present and well-formed, a
/// known SecretId, `X-TC-Timestamp` within [`MAX_SKEW_SECS`] of `now`, the credential scope's
/// date and service, and a signature of the right shape (64 hex digits). A server calls it on
/// the headers alone, so that an unsigned request is refused before its body is read.
///
/// # Errors
/// The same errors, with the same codes and messages, as [`verify`] gives for these checks.
pub fn verify_headers<'a>(
    header: &dyn Fn(&str) -> Option<&'a str>,
    secret_key_of: &dyn Fn(&str) -> Option<String>,
    now: i64,
    rules: Rules,
) -> Result<CheckedHeaders, ApiError> {
    let Some(auth) = header("authorization") else {
        return Err(ApiError::new(
            "AuthFailure",
            "The request is not signed: no Authorization header (TC3-HMAC-SHA256 expected)",
        ));
    };
    let auth = parse_authorization(auth)?;
    let Some(secret_key) = secret_key_of(&auth.secret_id) else {
        return Err(ApiError::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    };
    let timestamp_text = header("x-tc-timestamp").unwrap_or("").trim();
    let Ok(timestamp) = timestamp_text.parse::<i64>() else {
        return Err(ApiError::new(
            "MissingParameter",
            "The request is missing a valid X-TC-Timestamp header.",
        ));
    };
    if (now - timestamp).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp date is {timestamp}, server date is {now} (more than {MAX_SKEW_SECS} s apart)."
            ),
        ));
    }
    if auth.date != utc_date(timestamp) {
        return Err(signature_failure(
            "the credential scope's date is not the UTC date of X-TC-Timestamp",
        ));
    }
    if auth.service != "scf"
        && !(rules == Rules::Loopback && is_endpoint_label(&auth.service, header("host")))
    {
        return Err(signature_failure(
            "the credential scope's service is not `scf`",
        ));
    }
    if !auth.signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(signature_failure("the signature is not hex"));
    }
    // A SHA-256 HMAC is 32 bytes: 64 hex digits.
    if auth.signature.len() != 64 {
        return Err(signature_failure("please check your signature is correct"));
    }
    Ok(CheckedHeaders {
        auth,
        secret_key,
        timestamp_text: timestamp_text.to_owned(),
    })
}

/// Verifies a request's TC3 signature: [`verify_headers`], then the signature over the
/// canonical request, body included.
///
/// `secret_key_of` maps a SecretId to its SecretKey; `now` is the server's Unix time.
///
/// # Errors
/// `AuthFailure` (no `Authorization`), `AuthFailure.InvalidAuthorization` (malformed),
/// `AuthFailure.SecretIdNotFound`, `AuthFailure.SignatureExpire` (timestamp missing or more than
/// 5 minutes off), `AuthFailure.SignatureFailure` (wrong key, scope or content). `rules` says
/// whether the Node SDK's forms for a loopback endpoint are accepted too.
pub fn verify(
    req: &SignedRequest<'_>,
    secret_key_of: &dyn Fn(&str) -> Option<String>,
    now: i64,
    rules: Rules,
) -> Result<(), ApiError> {
    let checked = verify_headers(req.header, secret_key_of, now, rules)?;
    let auth = &checked.auth;
    let key = signing_key(&checked.secret_key, &auth.date, &auth.service);
    let Ok(given) = hex::decode(&auth.signature) else {
        return Err(signature_failure("the signature is not hex"));
    };
    let matches = |req: &SignedRequest<'_>| {
        let canonical = canonical_request(req, &auth.signed_headers);
        let to_sign = string_to_sign(
            &canonical,
            &checked.timestamp_text,
            &auth.date,
            &auth.service,
        );
        // verify_slice compares in constant time.
        hmac(&key, to_sign.as_bytes()).verify_slice(&given).is_ok()
    };
    if matches(req) {
        return Ok(());
    }
    // The Node SDK signs the host without the port it sends in `Host`.
    if rules == Rules::Loopback
        && let Some(host) = (req.header)("host")
        && let Some((bare, _port)) = host.rsplit_once(':')
        && !bare.is_empty()
    {
        let header = |name: &str| {
            if name == "host" {
                Some(bare)
            } else {
                (req.header)(name)
            }
        };
        if matches(&SignedRequest {
            header: &header,
            ..*req
        }) {
            return Ok(());
        }
    }
    Err(signature_failure("please check your signature is correct"))
}

/// Whether `service` is what the Node SDK takes for the service from an endpoint sent as `host`:
/// the text before the first dot (`127` of `127.0.0.1:9000`, `localhost:9000` of itself),
/// compared without a port on either side.
fn is_endpoint_label(service: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let label = host.split('.').next().unwrap_or(host);
    let bare = |s: &str| s.split(':').next().unwrap_or(s).to_owned();
    !label.is_empty() && bare(label) == bare(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14");
        assert_eq!(utc_datetime(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }

    /// What the Node SDK sends for endpoint `127.0.0.1:9000`: scope service `127`, the host
    /// signed without the port that `Host` carries.
    #[test]
    fn node_sdk_local_endpoint_forms_pass_on_loopback_only() {
        let ts = 1_700_000_000;
        let body = br#"{"FunctionName":"f"}"#;
        let signed_host = |name: &str| match name {
            "host" => Some("127.0.0.1"),
            "content-type" => Some("application/json"),
            _ => None,
        };
        let unsigned = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            header: &signed_host,
            body,
        };
        let names: Vec<String> = CLIENT_SIGNED_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let date = utc_date(ts);
        let to_sign = string_to_sign(
            &canonical_request(&unsigned, &names),
            &ts.to_string(),
            &date,
            "127",
        );
        let auth = format!(
            "{ALGORITHM} Credential=AKIDx/{date}/127/tc3_request, SignedHeaders=content-type;host, Signature={}",
            sign("key", &date, "127", &to_sign)
        );
        let ts_text = ts.to_string();
        let sent = |name: &str| match name {
            "host" => Some("127.0.0.1:9000"),
            "content-type" => Some("application/json"),
            "authorization" => Some(auth.as_str()),
            "x-tc-timestamp" => Some(ts_text.as_str()),
            _ => None,
        };
        let req = SignedRequest {
            header: &sent,
            ..unsigned
        };
        let keys = |id: &str| (id == "AKIDx").then(|| "key".to_owned());
        assert_eq!(verify(&req, &keys, ts, Rules::Loopback), Ok(()));
        let refused = verify(&req, &keys, ts, Rules::Platform).unwrap_err();
        assert_eq!(refused.code, "AuthFailure.SignatureFailure");
        let wrong_key = |id: &str| (id == "AKIDx").then(|| "other".to_owned());
        let refused = verify(&req, &wrong_key, ts, Rules::Loopback).unwrap_err();
        assert_eq!(refused.code, "AuthFailure.SignatureFailure");
    }
}
