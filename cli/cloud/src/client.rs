//! A TencentCloud API 3.0 client for the SCF service: JSON over HTTPS, TC3-HMAC-SHA256 signed with
//! [`crate::tc3`] (the code `scfrt serve` verifies with), used by `scfrt deploy` and
//! `scfrt remote-invoke`.
//!
//! ```no_run
//! use scf_cloud::client::{Client, Credentials, Endpoint};
//!
//! let creds = Credentials::from_env().expect("TENCENTCLOUD_SECRET_ID / _KEY");
//! let endpoint = Endpoint::parse("127.0.0.1:9000").expect("a loopback endpoint");
//! let client = Client::new(endpoint, "ap-guangzhou", creds);
//! let response = client.call("ListFunctions", &serde_json::json!({"Namespace": "default"}));
//! ```
//!
//! Secrets never leave this module except inside the HMAC chain and, for a session token, the
//! `X-TC-Token` header: [`Secret`] and [`Credentials`] print as `***` in `Debug` output, and no
//! error message contains them.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::tc3;

/// The SCF API service name (the credential scope's service and the default host's first label).
pub const SERVICE: &str = "scf";
/// The SCF API version.
pub const API_VERSION: &str = "2018-04-16";
/// The public SCF API endpoint.
pub const DEFAULT_HOST: &str = "scf.tencentcloudapi.com";
/// Largest API response read (an Invoke result is at most 6 MB plus 4 KB of log).
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// How long one API call may take, end to end (Invoke waits for the function: up to 900 s).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(960);
/// How long connecting to the endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A secret string (SecretKey, session token) that never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// API credentials: a SecretId, its SecretKey and an optional session token (temporary
/// credentials, sent as `X-TC-Token`).
#[derive(Clone)]
pub struct Credentials {
    secret_id: String,
    secret_key: Secret,
    token: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// Credentials from their parts; an empty token counts as none.
    pub fn new(secret_id: impl Into<String>, secret_key: Secret, token: Option<Secret>) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key,
            token: token.filter(|t| !t.0.is_empty()),
        }
    }

    /// `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and `TENCENTCLOUD_SESSION_TOKEN` (the
    /// SDK's own variables).
    ///
    /// # Errors
    /// [`CloudError::Usage`] when the id or the key is missing or empty.
    pub fn from_env() -> Result<Credentials, CloudError> {
        Credentials::resolve(None, None)
    }

    /// `id` and `key` when both are given (from the command line), else [`Credentials::from_env`].
    /// The session token always comes from `TENCENTCLOUD_SESSION_TOKEN`.
    ///
    /// # Errors
    /// [`CloudError::Usage`] when no complete pair is found.
    pub fn resolve(id: Option<&str>, key: Option<&Secret>) -> Result<Credentials, CloudError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = var("TENCENTCLOUD_SESSION_TOKEN").map(Secret);
        match (id, key) {
            (Some(id), Some(key)) if !id.is_empty() && !key.0.is_empty() => {
                return Ok(Credentials::new(id, key.clone(), token));
            }
            (None, None) => {}
            _ => {
                return Err(CloudError::Usage(
                    "--secret-id and --secret-key go together (and must not be empty)".into(),
                ));
            }
        }
        match (
            var("TENCENTCLOUD_SECRET_ID"),
            var("TENCENTCLOUD_SECRET_KEY"),
        ) {
            (Some(id), Some(key)) => Ok(Credentials::new(id, Secret(key), token)),
            _ => Err(CloudError::Usage(
                "no credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and \
                 TENCENTCLOUD_SESSION_TOKEN for temporary credentials), or pass --secret-id and \
                 --secret-key"
                    .into(),
            )),
        }
    }

    /// The SecretId (not secret: it is sent in every `Authorization` header).
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }
}

/// Where API requests go: `https://<host>` or, for a loopback host only, `http://<host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `true` for plain http (loopback hosts only).
    pub plain_http: bool,
    /// `host` or `host:port`, lower-case, as sent in `Host` and signed.
    pub host: String,
}

impl Default for Endpoint {
    fn default() -> Endpoint {
        Endpoint {
            plain_http: false,
            host: DEFAULT_HOST.to_owned(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.plain_http { "http" } else { "https" };
        write!(f, "{scheme}://{}", self.host)
    }
}

impl Endpoint {
    /// Parses `HOST[:PORT]`, `http://HOST[:PORT]` or `https://HOST[:PORT]` (a trailing `/` is
    /// allowed). Without a scheme a loopback host (`127.0.0.0/8`, `::1`, `localhost`) is reached
    /// over plain http, so `127.0.0.1:9000` names a local `scfrt serve`; any other host over https.
    ///
    /// # Errors
    /// [`CloudError::Usage`] for `http://` to a host that is not loopback (credentials-signed
    /// requests would cross the network in clear text), an empty host, a path, or another scheme.
    pub fn parse(text: &str) -> Result<Endpoint, CloudError> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) => (Some(s.to_ascii_lowercase()), rest),
            None => (None, text),
        };
        let host = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
        let bad = |why: &str| CloudError::Usage(format!("--endpoint `{text}`: {why}"));
        if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad(
                "expected HOST[:PORT], e.g. scf.tencentcloudapi.com or 127.0.0.1:9000",
            ));
        }
        let loopback = is_loopback(&host);
        let plain_http = match scheme.as_deref() {
            None => loopback,
            Some("https") => false,
            Some("http") if loopback => true,
            Some("http") => {
                return Err(bad(
                    "plain http is only allowed to a loopback host (127.0.0.1, ::1, localhost); \
                     use https:// (or no scheme) for anything else",
                ));
            }
            Some(other) => return Err(bad(&format!("unknown scheme `{other}`; use https"))),
        };
        Ok(Endpoint { plain_http, host })
    }

    fn url(&self) -> String {
        format!("{self}/")
    }
}

/// Whether `host` (`name`, `name:port`, `[v6]:port` or a bare IP) is a loopback host.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or("")
    } else {
        host
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// The API answered with an error envelope (`{"Response":{"Error":{..}}}`).
    #[error("{code}: {message} (RequestId {request_id})")]
    Api {
        /// Tencent's error code, e.g. `AuthFailure.SignatureFailure`.
        code: String,
        /// The message that came with it.
        message: String,
        /// The request's id, for support.
        request_id: String,
    },
    /// The endpoint could not be reached, or the connection failed.
    #[error("cannot reach {endpoint}: {message}")]
    Network {
        /// The endpoint, e.g. `https://scf.tencentcloudapi.com`.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The endpoint answered with something that is not an API 3.0 response.
    #[error("unexpected answer from {endpoint} to {action}: {message}")]
    BadResponse {
        /// The endpoint.
        endpoint: String,
        /// The action called.
        action: String,
        /// What was wrong with it.
        message: String,
    },
    /// Bad usage (credentials, endpoint, arguments, package); nothing was sent.
    #[error("{0}")]
    Usage(String),
}

impl CloudError {
    /// The API error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A signed TencentCloud API 3.0 client for one endpoint, region and set of credentials.
pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    region: String,
    creds: Credentials,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("creds", &self.creds)
            .finish_non_exhaustive()
    }
}

/// A request ready to send: its body and every header, `Authorization` included.
#[derive(Clone)]
pub struct PreparedRequest {
    /// Header names and values, in sending order.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("PreparedRequest")
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl PreparedRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// A client for `endpoint` in `region`. Proxies from the environment (`HTTPS_PROXY`, ...) are
    /// used for remote endpoints, never for a loopback one.
    pub fn new(endpoint: Endpoint, region: &str, creds: Credentials) -> Client {
        Client::build(endpoint, region, creds, None)
    }

    /// [`Client::new`] trusting only the CA certificates in the PEM file `ca` for https (e.g.
    /// the `ca.pem` of `scfrt serve --tls`) instead of the public roots.
    ///
    /// # Errors
    /// [`CloudError::Usage`] when the file cannot be read or holds no PEM certificate.
    pub fn with_ca_file(
        endpoint: Endpoint,
        region: &str,
        creds: Credentials,
        ca: &std::path::Path,
    ) -> Result<Client, CloudError> {
        let pem = std::fs::read(ca)
            .map_err(|e| CloudError::Usage(format!("cannot read {}: {e}", ca.display())))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(CloudError::Usage(format!(
                "{} holds no PEM certificate",
                ca.display()
            )));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build();
        Ok(Client::build(endpoint, region, creds, Some(tls)))
    }

    fn build(
        endpoint: Endpoint,
        region: &str,
        creds: Credentials,
        tls: Option<ureq::tls::TlsConfig>,
    ) -> Client {
        let loopback = is_loopback(&endpoint.host);
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .https_only(!endpoint.plain_http)
            .user_agent(concat!("scfrt/", env!("CARGO_PKG_VERSION")));
        if loopback {
            cfg = cfg.proxy(None);
        }
        if let Some(tls) = tls {
            cfg = cfg.tls_config(tls);
        }
        Client {
            agent: cfg.build().into(),
            endpoint,
            region: region.to_owned(),
            creds,
        }
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Builds the signed request for `action` with `params` at Unix time `timestamp`.
    ///
    /// # Errors
    /// [`CloudError::Usage`] when `params` cannot be serialised (never for `serde_json::Value`).
    pub fn prepare(
        &self,
        action: &str,
        params: &Value,
        timestamp: i64,
    ) -> Result<PreparedRequest, CloudError> {
        let body = serde_json::to_vec(params)
            .map_err(|e| CloudError::Usage(format!("cannot encode {action} parameters: {e}")))?;
        let content_type = "application/json";
        let host = self.endpoint.host.as_str();
        let lookup = |name: &str| match name {
            "content-type" => Some(content_type),
            "host" => Some(host),
            _ => None,
        };
        let signed = tc3::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            header: &lookup,
            body: &body,
        };
        let auth = tc3::authorization(
            &self.creds.secret_id,
            self.creds.secret_key.expose(),
            SERVICE,
            timestamp,
            &signed,
        );
        let mut headers = vec![
            ("Host".to_owned(), host.to_owned()),
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("X-TC-Action".to_owned(), action.to_owned()),
            ("X-TC-Version".to_owned(), API_VERSION.to_owned()),
            ("X-TC-Timestamp".to_owned(), timestamp.to_string()),
            ("X-TC-Region".to_owned(), self.region.clone()),
            (
                "X-TC-RequestClient".to_owned(),
                concat!("scfrt/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
        ];
        if let Some(token) = &self.creds.token {
            headers.push(("X-TC-Token".to_owned(), token.expose().to_owned()));
        }
        headers.push(("Authorization".to_owned(), auth));
        Ok(PreparedRequest { headers, body })
    }

    /// Calls `action` with `params` and returns the `Response` object (with `RequestId`).
    ///
    /// # Errors
    /// [`CloudError::Api`] for an error envelope, [`CloudError::Network`] when the endpoint
    /// cannot be reached, [`CloudError::BadResponse`] for a non-200 status or a body that is not
    /// an API 3.0 response.
    pub fn call(&self, action: &str, params: &Value) -> Result<Value, CloudError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let req = self.prepare(action, params, now)?;
        self.send(action, req)
    }

    /// Sends a prepared request (see [`Client::prepare`]) and parses the answer as
    /// [`Client::call`] does.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn send(&self, action: &str, req: PreparedRequest) -> Result<Value, CloudError> {
        let endpoint = self.endpoint.to_string();
        let mut builder = self.agent.post(self.endpoint.url());
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let network = |e: ureq::Error| CloudError::Network {
            endpoint: endpoint.clone(),
            message: e.to_string(),
        };
        let mut resp = builder.send(&req.body[..]).map_err(network)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(network)?;
        let bad = |message: String| CloudError::BadResponse {
            endpoint: endpoint.clone(),
            action: action.to_owned(),
            message,
        };
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let response = parsed.as_ref().and_then(|v| v.get("Response"));
        if let Some(err) = response.and_then(|r| r.get("Error")) {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
            return Err(CloudError::Api {
                code: text(err.get("Code")),
                message: text(err.get("Message")),
                request_id: text(response.and_then(|r| r.get("RequestId"))),
            });
        }
        if status != 200 {
            return Err(bad(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )));
        }
        match response {
            Some(r @ Value::Object(_)) => Ok(r.clone()),
            _ => Err(bad(format!(
                "not a {{\"Response\":{{..}}}} JSON document: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("127.0.0.1:9000").unwrap();
        assert!(e.plain_http && e.host == "127.0.0.1:9000");
        assert_eq!(e.to_string(), "http://127.0.0.1:9000");
        assert!(Endpoint::parse("http://localhost:1/").unwrap().plain_http);
        assert!(Endpoint::parse("[::1]:80").unwrap().plain_http);
        let e = Endpoint::parse("scf.ap-shanghai.tencentcloudapi.com").unwrap();
        assert!(!e.plain_http);
        assert!(!Endpoint::parse("https://127.0.0.1:9").unwrap().plain_http);
        let err = Endpoint::parse("http://10.0.0.1:9000").unwrap_err();
        assert!(
            err.to_string().contains("only allowed to a loopback"),
            "{err}"
        );
        assert!(Endpoint::parse("http://example.com").is_err());
        assert!(Endpoint::parse("ftp://127.0.0.1").is_err());
        assert!(Endpoint::parse("").is_err());
        assert!(Endpoint::parse("host/path").is_err());
        assert_eq!(
            Endpoint::default().to_string(),
            "https://scf.tencentcloudapi.com"
        );
    }

    #[test]
    fn secrets_do_not_show() {
        let c = Credentials::new(
            "AKIDx",
            Secret::new("topsecretkey"),
            Some(Secret::new("sessiontok")),
        );
        let shown = format!("{c:?} {:?}", Secret::new("topsecretkey"));
        assert!(
            !shown.contains("topsecretkey") && !shown.contains("sessiontok"),
            "{shown}"
        );
        let client = Client::new(Endpoint::default(), "ap-guangzhou", c);
        let req = client.prepare("Invoke", &serde_json::json!({}), 1).unwrap();
        let shown = format!("{client:?} {req:?}");
        assert!(
            !shown.contains("topsecretkey") && !shown.contains("sessiontok"),
            "{shown}"
        );
        assert_eq!(req.header("x-tc-token"), Some("sessiontok"));
        assert!(
            !req.header("authorization")
                .unwrap()
                .contains("topsecretkey")
        );
    }
}
