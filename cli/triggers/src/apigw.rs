//! API Gateway's integration request: the event an API Gateway trigger sends an event function
//! for one HTTP request (docs/triggers.md, "API Gateway", which gives the source of every rule
//! below).

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// One HTTP request as API Gateway hands it to an event function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApigwRequest {
    /// The request method, `GET`.
    pub method: String,
    /// The request path without the query, `/users/42`.
    pub path: String,
    /// The query's parameters, decoded, in order, repeated keys kept.
    pub query: Vec<(String, String)>,
    /// The request headers as received (name, value), in order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The request body (empty: none).
    pub body: Vec<u8>,
    /// The API's path template, `/users/{id}` (`requestContext.path`).
    pub route: String,
    /// The values of the template's parameters, `("id", "42")` (`pathParameters`).
    pub path_parameters: Vec<(String, String)>,
    /// The environment the API is published in: `release`, `prepub` or `test`.
    pub stage: String,
    /// The client's address (`requestContext.sourceIp`).
    pub source_ip: String,
    /// API Gateway's id of the request (`requestContext.requestId`).
    pub request_id: String,
    /// The API Gateway service's id, `service-xxxxxxxx` (`requestContext.serviceId`).
    pub service_id: String,
}

/// The service id [`ApigwRequest::default`] uses: the platform's `service-` and eight
/// lowercase letters or digits.
pub const DEFAULT_SERVICE_ID: &str = "service-scfrt000";

impl Default for ApigwRequest {
    /// `GET /` on route `/` with no query, headers or body, in stage `release`, from
    /// `127.0.0.1`, with a fresh request id (a UUID) and [`DEFAULT_SERVICE_ID`].
    fn default() -> Self {
        ApigwRequest {
            method: "GET".into(),
            path: "/".into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            route: "/".into(),
            path_parameters: Vec::new(),
            stage: "release".into(),
            source_ip: "127.0.0.1".into(),
            request_id: uuid::Uuid::new_v4().to_string(),
            service_id: DEFAULT_SERVICE_ID.into(),
        }
    }
}

/// The event API Gateway sends for `req` (a binary body: base64 with isBase64Encoded true).
///
/// A body that is valid UTF-8 is passed as it is and the event has no `isBase64Encoded`; any
/// other body is base64 (standard alphabet, padded) with `"isBase64Encoded": true`. An empty
/// body leaves `body` out. `headers` has lowercase names, a repeated header's values joined by
/// `", "`; `queryString` has every query key, a repeated key's values as an array in order;
/// `queryStringParameters` and `headerParameters` hold every query key (its last value) and
/// every header (its name as sent), as if the API declared them all.
pub fn event(req: &ApigwRequest) -> Value {
    let mut headers = Map::new();
    let mut header_parameters = Map::new();
    for (name, value) in &req.headers {
        let joined = match headers.get(&name.to_ascii_lowercase()) {
            Some(Value::String(prev)) => format!("{prev}, {value}"),
            _ => value.clone(),
        };
        headers.insert(name.to_ascii_lowercase(), Value::String(joined.clone()));
        header_parameters.retain(|k: &String, _| !k.eq_ignore_ascii_case(name));
        header_parameters.insert(name.clone(), Value::String(joined));
    }

    let mut query_string = Map::new();
    let mut query_parameters = Map::new();
    for (key, value) in &req.query {
        let v = Value::String(value.clone());
        match query_string.get_mut(key) {
            Some(Value::Array(values)) => values.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
            None => {
                query_string.insert(key.clone(), v);
            }
        }
        query_parameters.insert(key.clone(), Value::String(value.clone()));
    }

    let path_parameters: Map<String, Value> = req
        .path_parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();

    let mut event = json!({
        "requestContext": {
            "serviceId": req.service_id,
            "path": req.route,
            "httpMethod": req.method,
            "requestId": req.request_id,
            "identity": {},
            "sourceIp": req.source_ip,
            "stage": req.stage,
        },
        "headers": headers,
        "pathParameters": path_parameters,
        "queryStringParameters": query_parameters,
        "headerParameters": header_parameters,
        "stageVariables": { "stage": req.stage },
        "path": req.path,
        "queryString": query_string,
        "httpMethod": req.method,
    });
    if !req.body.is_empty() {
        let obj = event.as_object_mut().expect("built as an object above");
        match std::str::from_utf8(&req.body) {
            Ok(text) => {
                obj.insert("body".into(), Value::String(text.to_owned()));
            }
            Err(_) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&req.body);
                obj.insert("body".into(), Value::String(encoded));
                obj.insert("isBase64Encoded".into(), Value::Bool(true));
            }
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn default_request_is_get_root_in_release() {
        let req = ApigwRequest::default();
        let ev = event(&req);
        assert_eq!(ev["httpMethod"], "GET");
        assert_eq!(ev["path"], "/");
        assert_eq!(ev["requestContext"]["path"], "/");
        assert_eq!(ev["requestContext"]["stage"], "release");
        assert_eq!(ev["stageVariables"]["stage"], "release");
        assert_eq!(ev["requestContext"]["serviceId"], DEFAULT_SERVICE_ID);
        assert_eq!(ev["requestContext"]["identity"], json!({}));
        assert!(uuid::Uuid::parse_str(ev["requestContext"]["requestId"].as_str().unwrap()).is_ok());
        assert!(ev.get("body").is_none(), "no body, no `body` key");
        assert!(ev.get("isBase64Encoded").is_none());
        assert_ne!(req.request_id, ApigwRequest::default().request_id);
    }

    #[test]
    fn text_body_is_passed_as_is() {
        let req = ApigwRequest {
            method: "POST".into(),
            body: br#"{"a":1}"#.to_vec(),
            ..ApigwRequest::default()
        };
        let ev = event(&req);
        assert_eq!(ev["body"], r#"{"a":1}"#);
        assert!(ev.get("isBase64Encoded").is_none());
    }

    #[test]
    fn binary_body_is_base64_with_the_flag() {
        let body = vec![0u8, 0xff, 0xfe, b'x', 0x80];
        let req = ApigwRequest {
            method: "PUT".into(),
            body: body.clone(),
            ..ApigwRequest::default()
        };
        let ev = event(&req);
        assert_eq!(ev["isBase64Encoded"], true);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(ev["body"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, body);
    }

    #[test]
    fn repeated_query_keys_become_arrays_in_order() {
        let req = ApigwRequest {
            query: pairs(&[("a", "1"), ("b", "x y"), ("a", "2"), ("a", "3"), ("c", "")]),
            ..ApigwRequest::default()
        };
        let ev = event(&req);
        assert_eq!(
            ev["queryString"],
            json!({"a": ["1", "2", "3"], "b": "x y", "c": ""})
        );
        assert_eq!(
            ev["queryStringParameters"],
            json!({"a": "3", "b": "x y", "c": ""})
        );
    }

    #[test]
    fn headers_are_lowercased_and_repeats_joined() {
        let req = ApigwRequest {
            headers: pairs(&[
                ("Content-Type", "text/plain"),
                ("X-Tag", "a"),
                ("x-tag", "b"),
            ]),
            ..ApigwRequest::default()
        };
        let ev = event(&req);
        assert_eq!(
            ev["headers"],
            json!({"content-type": "text/plain", "x-tag": "a, b"})
        );
        assert_eq!(
            ev["headerParameters"],
            json!({"Content-Type": "text/plain", "x-tag": "a, b"})
        );
    }

    #[test]
    fn path_parameters_and_route() {
        let req = ApigwRequest {
            path: "/users/42/books/7".into(),
            route: "/users/{id}/books/{book}".into(),
            path_parameters: pairs(&[("id", "42"), ("book", "7")]),
            stage: "test".into(),
            ..ApigwRequest::default()
        };
        let ev = event(&req);
        assert_eq!(ev["path"], "/users/42/books/7");
        assert_eq!(ev["requestContext"]["path"], "/users/{id}/books/{book}");
        assert_eq!(ev["pathParameters"], json!({"id": "42", "book": "7"}));
        assert_eq!(ev["requestContext"]["stage"], "test");
    }
}

/// The values of `route`'s `{name}` parameters in `path`, segment by segment
/// (`/users/{id}` and `/users/42`: `[("id", "42")]`), or `None` when `path` does not match
/// `route` (another segment count or another literal segment).
pub fn path_parameters(route: &str, path: &str) -> Option<Vec<(String, String)>> {
    let r: Vec<&str> = route.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if r.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (tmpl, seg) in r.iter().zip(&p) {
        match tmpl.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) if !seg.is_empty() => params.push((name.to_owned(), (*seg).to_owned())),
            Some(_) => return None,
            None if tmpl == seg => {}
            None => return None,
        }
    }
    Some(params)
}

#[cfg(test)]
mod route_tests {
    use super::path_parameters;

    #[test]
    fn route_templates_match_segment_by_segment() {
        let got = path_parameters("/users/{id}/books/{book}", "/users/42/books/7").unwrap();
        assert_eq!(
            got,
            [
                ("id".to_string(), "42".to_string()),
                ("book".into(), "7".into())
            ]
        );
        assert_eq!(path_parameters("/", "/"), Some(vec![]));
        assert_eq!(path_parameters("/users/{id}", "/users"), None);
        assert_eq!(path_parameters("/users/{id}", "/groups/42"), None);
    }
}
