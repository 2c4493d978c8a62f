//! API Gateway trigger: the request event an API with an SCF backend sends, and the integrated
//! response the function answers with (docs/events.md, "API Gateway").

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::lenient;

/// A header or query value as API Gateway sends it: usually one string, a list when the client
/// repeated the name.
///
/// Reading is lenient: numbers, booleans and `null` become text (`null` is ""), and a list may
/// hold them too. Written back, one value is a string and several are a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiValue {
    /// A single value.
    One(String),
    /// A repeated name's values, in order.
    Many(Vec<String>),
}

impl MultiValue {
    /// The first value (`None` only for an empty list).
    pub fn first(&self) -> Option<&str> {
        match self {
            MultiValue::One(s) => Some(s),
            MultiValue::Many(v) => v.first().map(String::as_str),
        }
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            MultiValue::One(s) => std::slice::from_ref(s),
            MultiValue::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }
}

impl Default for MultiValue {
    fn default() -> Self {
        MultiValue::One(String::new())
    }
}

impl From<&str> for MultiValue {
    fn from(s: &str) -> Self {
        MultiValue::One(s.to_owned())
    }
}

impl From<String> for MultiValue {
    fn from(s: String) -> Self {
        MultiValue::One(s)
    }
}

impl From<Vec<String>> for MultiValue {
    fn from(v: Vec<String>) -> Self {
        MultiValue::Many(v)
    }
}

impl Serialize for MultiValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MultiValue::One(v) => s.serialize_str(v),
            MultiValue::Many(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MultiValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if let Value::Array(items) = v {
            return items
                .into_iter()
                .map(|item| {
                    let kind = lenient::kind(&item);
                    lenient::scalar_text(item).ok_or_else(|| {
                        D::Error::custom(format!("expected a list of strings, found {kind} in it"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(MultiValue::Many);
        }
        let kind = lenient::kind(&v);
        lenient::scalar_text(v)
            .map(MultiValue::One)
            .ok_or_else(|| D::Error::custom(format!("expected a string or a list, found {kind}")))
    }
}

fn multi_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, MultiValue>, D::Error> {
    lenient::null_default(d)
}

/// The API Gateway trigger's event: the client's request as API Gateway passes it to an SCF
/// backend ("integration request").
///
/// Source: Tencent's SCF docs, "Trigger Event Message Structure Summary" (触发器事件消息结构汇总)
/// and "API Gateway Trigger", and the API Gateway doc "API 网关传递给后端的结构体"
/// (docs/events.md lists the URLs). Every field may be missing or `null`; it then has its default.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiGatewayRequest {
    /// Which API service, API and stage took the request, and from where.
    #[serde(deserialize_with = "lenient::null_default")]
    pub request_context: RequestContext,
    /// The request's headers, all of them (names as the gateway spells them).
    #[serde(deserialize_with = "multi_map")]
    pub headers: BTreeMap<String, MultiValue>,
    /// The request body as text; base64 of the bytes when [`is_base64_encoded`] is true. `None`
    /// when there is none.
    ///
    /// [`is_base64_encoded`]: ApiGatewayRequest::is_base64_encoded
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub body: Option<String>,
    /// The path parameters declared on the API (`/user/{id}`), with their values.
    #[serde(deserialize_with = "lenient::string_map")]
    pub path_parameters: BTreeMap<String, String>,
    /// The query parameters declared on the API, with their values.
    #[serde(deserialize_with = "lenient::string_map")]
    pub query_string_parameters: BTreeMap<String, String>,
    /// The header parameters declared on the API, with their values.
    #[serde(deserialize_with = "lenient::string_map")]
    pub header_parameters: BTreeMap<String, String>,
    /// The stage's variables.
    #[serde(deserialize_with = "lenient::string_map")]
    pub stage_variables: BTreeMap<String, String>,
    /// The path the client requested (`/test/value`), without the query.
    #[serde(deserialize_with = "lenient::string")]
    pub path: String,
    /// The whole query of the request, decoded; a repeated name has a list of values.
    #[serde(deserialize_with = "multi_map")]
    pub query_string: BTreeMap<String, MultiValue>,
    /// The request's HTTP method (`GET`, `POST`, ...).
    #[serde(deserialize_with = "lenient::string")]
    pub http_method: String,
    /// Whether `body` is the base64 of the request's bytes (API Gateway's "Base64 encoding"
    /// option, for binary uploads).
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_base64_encoded: bool,
}

impl ApiGatewayRequest {
    /// The first value of header `name`, compared without regard to ASCII case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
    }

    /// The first value of query parameter `name` (case matters, as in URLs).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_string.get(name).and_then(MultiValue::first)
    }

    /// The body's bytes: base64-decoded when `is_base64_encoded`, else the text's bytes; empty
    /// when there is no body.
    ///
    /// # Errors
    ///
    /// When `is_base64_encoded` is true and the body is not valid base64.
    pub fn body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        match &self.body {
            None => Ok(Vec::new()),
            Some(b) if self.is_base64_encoded => BASE64.decode(b.trim()),
            Some(b) => Ok(b.as_bytes().to_vec()),
        }
    }
}

/// `requestContext` of an [`ApiGatewayRequest`]: the API that took the request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestContext {
    /// The API Gateway service's id (`service-xxxxxxxx`).
    #[serde(deserialize_with = "lenient::string")]
    pub service_id: String,
    /// The API's path as configured, with its parameters (`/test/{path}`).
    #[serde(deserialize_with = "lenient::string")]
    pub path: String,
    /// The API's configured method (`ANY` for an API that takes every method).
    #[serde(deserialize_with = "lenient::string")]
    pub http_method: String,
    /// API Gateway's id of this request.
    #[serde(deserialize_with = "lenient::string")]
    pub request_id: String,
    /// How the caller authenticated; empty for an API without authentication.
    #[serde(deserialize_with = "lenient::null_default")]
    pub identity: Identity,
    /// The client's IP address.
    #[serde(deserialize_with = "lenient::string")]
    pub source_ip: String,
    /// The environment the API is published in: `test`, `prepub` or `release`.
    #[serde(deserialize_with = "lenient::string")]
    pub stage: String,
}

/// `requestContext.identity`: the caller's credentials, when the API requires any.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Identity {
    /// The secret id of an API key pair (key-pair authentication).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_string"
    )]
    pub secret_id: Option<String>,
    /// Any other field the gateway sends (other authentication methods), as JSON.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The integrated response ("集成响应"): what a function behind API Gateway returns so that
/// the gateway answers the client with this status, these headers and this body.
///
/// Source: Tencent's SCF docs, "API Gateway Trigger", section on integrated responses
/// (docs/events.md lists the URL). Serialized as
/// `{"isBase64Encoded","statusCode","headers","body"}`; a body that is not text is sent as
/// base64 with `isBase64Encoded` true. Reading one back is lenient like the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiGatewayResponse {
    /// Whether `body` is the base64 of the bytes the client gets.
    #[serde(deserialize_with = "lenient::boolean")]
    pub is_base64_encoded: bool,
    /// The HTTP status the client gets.
    #[serde(deserialize_with = "lenient::number")]
    pub status_code: u16,
    /// The response's headers; one value per name (repeated values joined with `, `).
    #[serde(deserialize_with = "lenient::string_map")]
    pub headers: BTreeMap<String, String>,
    /// The body: text, or base64 when `is_base64_encoded`.
    #[serde(deserialize_with = "lenient::string")]
    pub body: String,
}

impl Default for ApiGatewayResponse {
    fn default() -> Self {
        ApiGatewayResponse::new(200)
    }
}

impl ApiGatewayResponse {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        ApiGatewayResponse {
            is_base64_encoded: false,
            status_code: status,
            headers: BTreeMap::new(),
            body: String::new(),
        }
    }

    /// A text response: `body` as it is, `Content-Type: text/plain; charset=utf-8`.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let mut r = ApiGatewayResponse::new(status);
        r.body = body.into();
        r.with_header("Content-Type", "text/plain; charset=utf-8")
    }

    /// A JSON response: `value` serialized, `Content-Type: application/json`.
    ///
    /// # Errors
    ///
    /// When `value` cannot be serialized (a map with non-string keys, a failing `Serialize`).
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> serde_json::Result<Self> {
        let mut r = ApiGatewayResponse::new(status);
        r.body = serde_json::to_string(value)?;
        Ok(r.with_header("Content-Type", "application/json"))
    }

    /// A binary response: `body` base64-encoded with `isBase64Encoded` true, and
    /// `content_type`.
    pub fn binary(status: u16, content_type: &str, body: &[u8]) -> Self {
        let mut r = ApiGatewayResponse::new(status);
        r.is_base64_encoded = true;
        r.body = BASE64.encode(body);
        r.with_header("Content-Type", content_type)
    }

    /// The same response with header `name` set to `value` (replacing a value of that name,
    /// compared without regard to ASCII case).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.headers.insert(name.to_owned(), value.into());
        self
    }

    /// The body's bytes: base64-decoded when `is_base64_encoded`, else the text's bytes.
    ///
    /// # Errors
    ///
    /// When `is_base64_encoded` is true and the body is not valid base64.
    pub fn body_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        if self.is_base64_encoded {
            BASE64.decode(self.body.trim())
        } else {
            Ok(self.body.as_bytes().to_vec())
        }
    }
}
