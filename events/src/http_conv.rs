//! API Gateway events as `http` types (feature `http`; docs/events.md, "The http feature").

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use crate::{ApiGatewayRequest, ApiGatewayResponse, RequestContext};

/// A response body for [`ApiGatewayResponse`]'s `From<http::Response<B>>`.
///
/// Text is sent as it is. Bytes are sent as text when the response's `Content-Type` is a text
/// type (`text/*`, JSON, XML, JavaScript, form data) and they are UTF-8; otherwise as base64
/// with `isBase64Encoded` true.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A text body.
    Text(String),
    /// A byte body.
    Binary(Vec<u8>),
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::Empty
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::Text(s)
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body::Text(s.to_owned())
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Binary(b)
    }
}

impl From<&[u8]> for Body {
    fn from(b: &[u8]) -> Self {
        Body::Binary(b.to_vec())
    }
}

/// The API's path parameters (`pathParameters`), in the extensions of a request converted
/// from an [`ApiGatewayRequest`] (beside its [`RequestContext`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathParameters(pub BTreeMap<String, String>);

/// Why an [`ApiGatewayRequest`] could not become an `http::Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpConversionError {
    /// `httpMethod` is not an HTTP method.
    Method(String),
    /// `path` and `queryString` do not make a URI.
    Uri(String),
    /// A header's name or value is not valid in HTTP.
    Header(String),
    /// `isBase64Encoded` is true and `body` is not base64.
    Body(String),
}

impl fmt::Display for HttpConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpConversionError::Method(m) => write!(f, "httpMethod {m:?} is not an HTTP method"),
            HttpConversionError::Uri(e) => write!(f, "path and queryString make no URI: {e}"),
            HttpConversionError::Header(e) => write!(f, "invalid header: {e}"),
            HttpConversionError::Body(e) => write!(f, "isBase64Encoded body is not base64: {e}"),
        }
    }
}

impl std::error::Error for HttpConversionError {}

/// Bytes a URI path may hold as they are; the rest is percent-encoded (and `%` is kept, as the
/// gateway's path may already be encoded).
fn path_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    if !path.starts_with('/') {
        out.push('/');
    }
    for &b in path.as_bytes() {
        if path_byte_ok(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TryFrom<ApiGatewayRequest> for http::Request<Vec<u8>> {
    type Error = HttpConversionError;

    /// The request the client sent: `httpMethod`; a URI of `path` and `queryString`
    /// (re-encoded; a repeated name once per value); every header (a list of values as repeated
    /// headers); the body, base64-decoded when `isBase64Encoded`. The extensions hold the
    /// [`RequestContext`] and the [`PathParameters`].
    fn try_from(req: ApiGatewayRequest) -> Result<Self, Self::Error> {
        let body = req
            .body_bytes()
            .map_err(|e| HttpConversionError::Body(e.to_string()))?;
        let method = http::Method::from_bytes(req.http_method.as_bytes())
            .map_err(|_| HttpConversionError::Method(req.http_method.clone()))?;
        let mut uri = encode_path(&req.path);
        if !req.query_string.is_empty() {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, values) in &req.query_string {
                for value in values.iter() {
                    query.append_pair(name, value);
                }
            }
            uri.push('?');
            uri.push_str(&query.finish());
        }
        let uri: http::Uri = uri
            .parse()
            .map_err(|e: http::uri::InvalidUri| HttpConversionError::Uri(e.to_string()))?;
        let mut out = http::Request::new(body);
        *out.method_mut() = method;
        *out.uri_mut() = uri;
        for (name, values) in &req.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpConversionError::Header(format!("name {name:?}")))?;
            for value in values.iter() {
                let value = HeaderValue::from_bytes(value.as_bytes())
                    .map_err(|_| HttpConversionError::Header(format!("{name}: {value:?}")))?;
                out.headers_mut().append(header.clone(), value);
            }
        }
        out.extensions_mut()
            .insert::<RequestContext>(req.request_context);
        out.extensions_mut()
            .insert(PathParameters(req.path_parameters));
        Ok(out)
    }
}

/// Whether a `Content-Type` names text: `text/*`, JSON, XML, JavaScript or form data.
fn is_text_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
        )
}

impl<B: Into<Body>> From<http::Response<B>> for ApiGatewayResponse {
    /// The integrated response for `resp`: its status; its headers, a repeated name's values
    /// joined with `, ` (header names in lower case, as `http` keeps them); a text body as it
    /// is, a binary one as base64 with `isBase64Encoded` true (see [`Body`]).
    fn from(resp: http::Response<B>) -> Self {
        let (parts, body) = resp.into_parts();
        let mut headers = BTreeMap::new();
        for name in parts.headers.keys() {
            let joined = parts
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            headers.insert(name.as_str().to_owned(), joined);
        }
        let text_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_text_type);
        let (is_base64_encoded, body) = match body.into() {
            Body::Empty => (false, String::new()),
            Body::Text(text) => (false, text),
            Body::Binary(bytes) if text_type => match String::from_utf8(bytes) {
                Ok(text) => (false, text),
                Err(e) => (true, BASE64.encode(e.as_bytes())),
            },
            Body::Binary(bytes) => (true, BASE64.encode(bytes)),
        };
        ApiGatewayResponse {
            is_base64_encoded,
            status_code: parts.status.as_u16(),
            headers,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> ApiGatewayRequest {
        serde_json::from_str(json).expect("sample event")
    }

    #[test]
    fn a_text_request_keeps_method_path_query_headers_and_body() {
        let req = event(
            r#"{"httpMethod":"POST","path":"/shop/items",
                "queryString":{"q":"red shoes","page":2,"tag":["a","b&c"]},
                "headers":{"Content-Type":"application/json","X-Multi":["one","two"]},
                "body":"{\"n\":1}","isBase64Encoded":false,
                "requestContext":{"serviceId":"service-abc","stage":"release"},
                "pathParameters":{"id":"7"}}"#,
        );
        let req: http::Request<Vec<u8>> = req.try_into().expect("converts");
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().path(), "/shop/items");
        assert_eq!(
            req.uri().query(),
            Some("page=2&q=red+shoes&tag=a&tag=b%26c")
        );
        assert_eq!(req.headers()["content-type"], "application/json");
        let multi: Vec<_> = req.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, ["one", "two"]);
        assert_eq!(req.body(), br#"{"n":1}"#);
        let ctx = req.extensions().get::<RequestContext>().expect("context");
        assert_eq!(
            (ctx.service_id.as_str(), ctx.stage.as_str()),
            ("service-abc", "release")
        );
        let params = req
            .extensions()
            .get::<PathParameters>()
            .expect("path parameters");
        assert_eq!(params.0.get("id").map(String::as_str), Some("7"));
    }

    #[test]
    fn a_base64_request_body_is_decoded_and_odd_paths_are_encoded() {
        let req = event(
            r#"{"httpMethod":"PUT","path":"/files/a b/é","body":"AAH/gA==","isBase64Encoded":true}"#,
        );
        let req = http::Request::<Vec<u8>>::try_from(req).expect("converts");
        assert_eq!(req.body(), &[0u8, 1, 255, 128]);
        assert_eq!(req.uri().path(), "/files/a%20b/%C3%A9");
        assert_eq!(req.uri().query(), None);
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let bad_body =
            event(r#"{"httpMethod":"GET","path":"/","body":"@@@","isBase64Encoded":true}"#);
        assert!(matches!(
            http::Request::<Vec<u8>>::try_from(bad_body),
            Err(HttpConversionError::Body(_))
        ));
        let bad_method = event(r#"{"httpMethod":"GE T","path":"/"}"#);
        let err = http::Request::<Vec<u8>>::try_from(bad_method).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"httpMethod "GE T" is not an HTTP method"#
        );
        let bad_header = event(r#"{"httpMethod":"GET","path":"/","headers":{"a b":"1"}}"#);
        assert!(matches!(
            http::Request::<Vec<u8>>::try_from(bad_header),
            Err(HttpConversionError::Header(_))
        ));
    }

    #[test]
    fn text_responses_stay_text_and_repeated_headers_are_joined() {
        let resp = http::Response::builder()
            .status(201)
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .body("<p>café</p>")
            .expect("response");
        let out = ApiGatewayResponse::from(resp);
        assert_eq!(out.status_code, 201);
        assert!(!out.is_base64_encoded);
        assert_eq!(out.body, "<p>café</p>");
        assert_eq!(out.headers["set-cookie"], "a=1, b=2");
        assert_eq!(out.headers["content-type"], "text/html; charset=utf-8");
        let json = serde_json::to_value(&out).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"isBase64Encoded": false, "statusCode": 201, "body": "<p>café</p>",
                "headers": {"content-type": "text/html; charset=utf-8", "set-cookie": "a=1, b=2"}})
        );
    }

    #[test]
    fn binary_responses_are_base64_unless_their_type_is_text() {
        let png = http::Response::builder()
            .header("content-type", "image/png")
            .body(vec![0x89u8, b'P', b'N', b'G', 0, 0xff])
            .expect("response");
        let out = ApiGatewayResponse::from(png);
        assert!(out.is_base64_encoded);
        assert_eq!(out.body, "iVBORwD/");
        assert_eq!(
            out.body_bytes().expect("base64"),
            [0x89u8, b'P', b'N', b'G', 0, 0xff]
        );

        let json_bytes = http::Response::builder()
            .header("content-type", "application/json")
            .body(br#"{"ok":true}"#.to_vec())
            .expect("response");
        let out = ApiGatewayResponse::from(json_bytes);
        assert!(!out.is_base64_encoded);
        assert_eq!(out.body, r#"{"ok":true}"#);

        let not_utf8 = http::Response::builder()
            .header("content-type", "text/plain")
            .body(vec![0xffu8, 0xfe])
            .expect("response");
        let out = ApiGatewayResponse::from(not_utf8);
        assert!(out.is_base64_encoded);
        assert_eq!(out.body, "//4=");

        let untyped = ApiGatewayResponse::from(http::Response::new(b"abc".to_vec()));
        assert!(
            untyped.is_base64_encoded,
            "bytes without a text type are binary"
        );
        let empty = ApiGatewayResponse::from(http::Response::new(()));
        assert_eq!(
            (
                empty.status_code,
                empty.body.as_str(),
                empty.is_base64_encoded
            ),
            (200, "", false)
        );
    }
}
