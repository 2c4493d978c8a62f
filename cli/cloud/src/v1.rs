//! Signature method v1 of TencentCloud API 3.0 (`HmacSHA1`, `HmacSHA256`): every parameter,
//! the common ones included, form-encoded in the query string (GET) or in an
//! `application/x-www-form-urlencoded` body (POST), and signed over
//! `METHOD + Host + Path + "?" + key=value&...` (keys sorted, raw values, `Signature` left out).
//! The TencentCloud SDKs still offer it (`signMethod`); see docs/platform.md section 7.

use base64::Engine;
use hmac::{Hmac, Mac};

use crate::api::ApiError;
use crate::tc3::MAX_SKEW_SECS;

/// `SignatureMethod=HmacSHA1`, the method when none is named.
pub const HMAC_SHA1: &str = "HmacSHA1";
/// `SignatureMethod=HmacSHA256`.
pub const HMAC_SHA256: &str = "HmacSHA256";
/// Largest form body of a v1-signed POST (the platform's limit: 1 MB).
pub const MAX_POST_BYTES: usize = 1024 * 1024;
/// Largest query string of a GET request (the platform's limit: 32 KB).
pub const MAX_GET_BYTES: usize = 32 * 1024;

/// The common parameters of a v1 request: the request's envelope, not the action's input.
pub const COMMON_PARAMS: [&str; 11] = [
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Token",
    "Language",
    "RequestClient",
];

/// Form-decoded `key=value` pairs, in the order given.
///
/// # Errors
/// `InvalidParameter` when a key is given twice (the request would be ambiguous).
pub fn decode_form(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(ApiError::new(
                "InvalidParameter",
                format!("The parameter `{k}` is given more than once."),
            ));
        }
        pairs.push((k.into_owned(), v.into_owned()));
    }
    Ok(pairs)
}

/// The value of `name` in `params`.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The string a v1 request is signed over: `METHOD Host Path ? k=v&...`, every parameter but
/// `Signature`, keys with `_` written as `.` and sorted by their bytes, values as decoded.
pub fn string_to_sign(method: &str, host: &str, path: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, &str)> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (k.replace('_', "."), v.as_str()))
        .collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method}{host}{path}?{}", query.join("&"))
}

fn mac_of(secret_key: &str, method: &str, msg: &str) -> Result<Vec<u8>, ApiError> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let key = secret_key.as_bytes();
    match method {
        HMAC_SHA1 => {
            let mut mac =
                <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            mac.update(msg.as_bytes());
            Ok(mac.finalize().into_bytes().to_vec())
        }
        HMAC_SHA256 => {
            let mut mac =
                <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            mac.update(msg.as_bytes());
            Ok(mac.finalize().into_bytes().to_vec())
        }
        other => Err(ApiError::new(
            "AuthFailure.SignatureFailure",
            format!(
                "The provided credentials could not be validated: SignatureMethod `{other}` is not {HMAC_SHA1} or {HMAC_SHA256}."
            ),
        )),
    }
}

/// The base64 signature of `string_to_sign` with `secret_key` by `method` (what a client sends
/// as `Signature`).
///
/// # Errors
/// `AuthFailure.SignatureFailure` for a method other than [`HMAC_SHA1`] and [`HMAC_SHA256`].
pub fn sign(secret_key: &str, method: &str, string_to_sign: &str) -> Result<String, ApiError> {
    let mac = mac_of(secret_key, method, string_to_sign)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(mac))
}

/// A v1-signed request: where it was sent and all its parameters.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The `Host` header, as sent (with the port when the client gave one).
    pub host: &'a str,
    /// The path, `/` for the API.
    pub path: &'a str,
    /// Every parameter, the common ones included.
    pub params: &'a [(String, String)],
}

/// Verifies a v1 signature: a known `SecretId`, a `Timestamp` within [`MAX_SKEW_SECS`] of `now`,
/// a `Nonce`, and `Signature` equal to the HMAC of [`string_to_sign`] by `SignatureMethod`
/// (default [`HMAC_SHA1`]).
///
/// # Errors
/// `AuthFailure` (neither `SecretId` nor `Signature`: not signed), `MissingParameter`,
/// `AuthFailure.SecretIdNotFound`, `AuthFailure.SignatureExpire`,
/// `AuthFailure.SignatureFailure` (unknown method, wrong key or content).
pub fn verify(
    req: &SignedRequest<'_>,
    secret_key_of: &dyn Fn(&str) -> Option<String>,
    now: i64,
) -> Result<(), ApiError> {
    let get = |name| param(req.params, name).filter(|v| !v.is_empty());
    let (secret_id, signature) = match (get("SecretId"), get("Signature")) {
        (Some(id), Some(sig)) => (id, sig),
        (None, None) => {
            return Err(ApiError::new(
                "AuthFailure",
                "The request is not signed: no Authorization header (TC3-HMAC-SHA256) and no \
                 SecretId/Signature parameters (HmacSHA1, HmacSHA256)",
            ));
        }
        (None, Some(_)) => return Err(ApiError::missing("SecretId")),
        (Some(_), None) => return Err(ApiError::missing("Signature")),
    };
    let Some(secret_key) = secret_key_of(secret_id) else {
        return Err(ApiError::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    };
    let Some(timestamp) = get("Timestamp").and_then(|t| t.trim().parse::<i64>().ok()) else {
        return Err(ApiError::missing("Timestamp"));
    };
    if (now - timestamp).abs() > MAX_SKEW_SECS {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp date is {timestamp}, server date is {now} (more than {MAX_SKEW_SECS} s apart)."
            ),
        ));
    }
    if get("Nonce").is_none() {
        return Err(ApiError::missing("Nonce"));
    }
    let method = get("SignatureMethod").unwrap_or(HMAC_SHA1);
    let to_sign = string_to_sign(req.method, req.host, req.path, req.params);
    let expected = mac_of(&secret_key, method, &to_sign)?;
    let failure = || {
        ApiError::new(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated: please check your signature is correct.",
        )
    };
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| failure())?;
    // Compared in constant time, as the HMAC crate's verify does.
    if given.len() != expected.len()
        || given
            .iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
    {
        return Err(failure());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn string_to_sign_sorts_keys_and_leaves_out_the_signature() {
        let p = pairs(&[
            ("Version", "2018-04-16"),
            ("Action", "GetFunction"),
            ("Signature", "x"),
            ("Code_ZipFile", "a b"),
        ]);
        assert_eq!(
            string_to_sign("POST", "127.0.0.1:9000", "/", &p),
            "POST127.0.0.1:9000/?Action=GetFunction&Code.ZipFile=a b&Version=2018-04-16"
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        assert_eq!(decode_form(b"A=1&B=2").unwrap().len(), 2);
        assert_eq!(
            decode_form(b"A=1&A=2").unwrap_err().code,
            "InvalidParameter"
        );
    }
}
