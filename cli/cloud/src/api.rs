//! TencentCloud API 3.0 envelopes: `{"Response":{..,"RequestId":..}}` and its error form.

use serde_json::{Map, Value, json};

/// An API error as the platform reports it: a dotted code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// E.g. `AuthFailure.SignatureFailure`, `ResourceNotFound.Function`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `MissingParameter` for the parameter `name`.
    pub fn missing(name: &str) -> ApiError {
        ApiError::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{name}`."),
        )
    }

    /// `InvalidParameterValue.<suffix>` with `message`.
    pub fn invalid(suffix: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(format!("InvalidParameterValue.{suffix}"), message)
    }

    /// The error envelope: `{"Response":{"Error":{"Code":..,"Message":..},"RequestId":..}}`.
    pub fn envelope(&self, request_id: &str) -> String {
        json!({
            "Response": {
                "Error": { "Code": self.code, "Message": self.message },
                "RequestId": request_id,
            }
        })
        .to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The success envelope: `fields` plus `RequestId`, inside `{"Response":..}`.
pub fn success_envelope(fields: Map<String, Value>, request_id: &str) -> String {
    let mut fields = fields;
    fields.insert("RequestId".into(), Value::from(request_id));
    let mut outer = Map::new();
    outer.insert("Response".into(), Value::Object(fields));
    Value::Object(outer).to_string()
}

/// The request's parameters (the JSON body, an object).
#[derive(Debug, Clone)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// Parses a JSON object body.
    ///
    /// # Errors
    /// `InvalidParameter` when the body is not a JSON object. An empty body is no parameters.
    pub fn parse(body: &[u8]) -> Result<Params, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(_) => Err(ApiError::new(
                "InvalidParameter",
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::new(
                "InvalidParameter",
                format!("The request body is not valid JSON: {e}"),
            )),
        }
    }

    /// Parameters given as form pairs (a GET's query string, a form body): the SDKs flatten
    /// structures into dotted keys (`Code.ZipFile`, `Environment.Variables.0.Key`), which become
    /// nested objects again, and arrays where every key of a level is an index. Values stay
    /// strings ([`opt_int`](Self::opt_int) reads digits).
    ///
    /// # Errors
    /// `InvalidParameter` when a key is both a value and a structure (`A=1&A.B=2`) or has an
    /// empty segment.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Params, ApiError> {
        let conflict = |key: &str| {
            ApiError::new(
                "InvalidParameter",
                format!("The parameter `{key}` is given both as a value and as a structure."),
            )
        };
        let mut root = Map::new();
        for (key, value) in pairs {
            let segments: Vec<&str> = key.split('.').collect();
            if segments.iter().any(|s| s.is_empty()) {
                return Err(ApiError::new(
                    "InvalidParameter",
                    format!("The parameter name `{key}` has an empty part."),
                ));
            }
            let (last, parents) = segments.split_last().ok_or_else(|| conflict(key))?;
            let mut node = &mut root;
            for seg in parents {
                let child = node
                    .entry((*seg).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                node = match child {
                    Value::Object(m) => m,
                    _ => return Err(conflict(key)),
                };
            }
            if node.contains_key(*last) {
                return Err(conflict(key));
            }
            node.insert((*last).to_owned(), Value::String(value.clone()));
        }
        Ok(Params(
            root.into_iter()
                .map(|(k, v)| (k, indexed_to_arrays(v)))
                .collect(),
        ))
    }

    /// The raw value of `name`, if present and not null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// An optional string parameter; `code_suffix` names the `InvalidParameterValue.*` error.
    ///
    /// # Errors
    /// When present but not a string.
    pub fn opt_str(&self, name: &str, code_suffix: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(
                code_suffix,
                format!("`{name}` must be a string."),
            )),
        }
    }

    /// A required string parameter.
    ///
    /// # Errors
    /// `MissingParameter` when absent or empty; `InvalidParameterValue.*` when not a string.
    pub fn req_str(&self, name: &str, code_suffix: &str) -> Result<&str, ApiError> {
        match self.opt_str(name, code_suffix)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(name)),
        }
    }

    /// An optional integer parameter (numbers, or strings of digits as some clients send).
    ///
    /// # Errors
    /// `InvalidParameterValue.*` (or `code` when it contains a dot) when not an integer.
    pub fn opt_int(&self, name: &str, code: &str) -> Result<Option<i64>, ApiError> {
        let err = || {
            let code = if code.contains('.') {
                code.to_owned()
            } else {
                format!("InvalidParameterValue.{code}")
            };
            ApiError::new(code, format!("`{name}` must be an integer."))
        };
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(err),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| err()),
            Some(_) => Err(err()),
        }
    }
}

/// Objects whose keys are all indexes (`0`, `1`, ...) become arrays in index order.
fn indexed_to_arrays(v: Value) -> Value {
    let Value::Object(map) = v else {
        return v;
    };
    let indexed: Option<Vec<(usize, Value)>> = map
        .iter()
        .map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v.clone())))
        .collect();
    match indexed {
        Some(mut items) if !items.is_empty() => {
            items.sort_by_key(|(i, _)| *i);
            Value::Array(
                items
                    .into_iter()
                    .map(|(_, v)| indexed_to_arrays(v))
                    .collect(),
            )
        }
        _ => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, indexed_to_arrays(v)))
                .collect(),
        ),
    }
}

/// SCF's regions, the values `X-TC-Region` (v1: `Region`) may take (docs/platform.md section 4
/// names the sources).
pub const SCF_REGIONS: [&str; 21] = [
    "ap-bangkok",
    "ap-beijing",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-hongkong",
    "ap-jakarta",
    "ap-mumbai",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-tokyo",
    "eu-frankfurt",
    "eu-moscow",
    "na-ashburn",
    "na-siliconvalley",
    "na-toronto",
    "sa-saopaulo",
];

/// A request's region, when it names one, must be one of [`SCF_REGIONS`]: else
/// `UnsupportedRegion`, the API's common error for a region a product does not serve.
///
/// # Errors
/// `UnsupportedRegion` naming the region and listing SCF's.
pub fn check_region(region: Option<&str>) -> Result<(), ApiError> {
    match region.map(str::trim) {
        None | Some("") => Ok(()),
        Some(r) if SCF_REGIONS.contains(&r) => Ok(()),
        Some(r) => Err(ApiError::new(
            "UnsupportedRegion",
            format!(
                "The region `{r}` is not one of SCF's regions: {}.",
                SCF_REGIONS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_shape() {
        let e = ApiError::new("ResourceNotFound.Function", "no \"such\" function");
        let v: Value = serde_json::from_str(&e.envelope("rid")).unwrap();
        assert_eq!(
            v,
            json!({"Response":{"Error":{"Code":"ResourceNotFound.Function","Message":"no \"such\" function"},"RequestId":"rid"}})
        );
    }

    #[test]
    fn params() {
        let p = Params::parse(br#"{"A":"x","N":3,"S":"4","Z":null,"B":true}"#).unwrap();
        assert_eq!(p.req_str("A", "A").unwrap(), "x");
        assert_eq!(p.req_str("Z", "Z").unwrap_err().code, "MissingParameter");
        assert_eq!(
            p.opt_str("N", "N").unwrap_err().code,
            "InvalidParameterValue.N"
        );
        assert_eq!(p.opt_int("N", "N").unwrap(), Some(3));
        assert_eq!(p.opt_int("S", "S").unwrap(), Some(4));
        assert_eq!(
            p.opt_int("B", "LimitExceeded.Timeout").unwrap_err().code,
            "LimitExceeded.Timeout"
        );
        assert_eq!(Params::parse(b"[]").unwrap_err().code, "InvalidParameter");
        assert!(Params::parse(b"").unwrap().0.is_empty());
    }

    #[test]
    fn form_pairs_become_structures() {
        let pairs: Vec<(String, String)> = [
            ("FunctionName", "f"),
            ("Code.ZipFile", "UEsD"),
            ("Environment.Variables.1.Key", "B"),
            ("Environment.Variables.0.Key", "A"),
            ("Environment.Variables.0.Value", "1"),
            ("MemorySize", "256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let p = Params::from_pairs(&pairs).unwrap();
        assert_eq!(
            Value::Object(p.0.clone()),
            json!({"FunctionName": "f", "Code": {"ZipFile": "UEsD"}, "MemorySize": "256",
                   "Environment": {"Variables": [{"Key": "A", "Value": "1"}, {"Key": "B"}]}})
        );
        assert_eq!(p.opt_int("MemorySize", "MemorySize").unwrap(), Some(256));
        let clash = [
            ("A".to_owned(), "1".to_owned()),
            ("A.B".to_owned(), "2".to_owned()),
        ];
        assert_eq!(
            Params::from_pairs(&clash).unwrap_err().code,
            "InvalidParameter"
        );
        let empty = [("A..B".to_owned(), "1".to_owned())];
        assert_eq!(
            Params::from_pairs(&empty).unwrap_err().code,
            "InvalidParameter"
        );
    }
}
