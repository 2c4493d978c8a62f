//! The CLS trigger's event: the logs as base64 of gzip of JSON (docs/triggers.md, "CLS").

use std::io::Write as _;

use base64::Engine as _;
use serde_json::{Value, json};

/// What a CLS event carries: one log topic's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClsOptions {
    /// The log topic's name (`topic_name`).
    pub topic: String,
    /// The log topic's id (`topic_id`); `None`: a fresh UUID.
    pub topic_id: Option<String>,
    /// The log lines, one record each (`records[].content`).
    pub messages: Vec<String>,
}

impl Default for ClsOptions {
    /// One log line `Hello from CLS!` in topic `scfrt-topic`.
    fn default() -> Self {
        ClsOptions {
            topic: "scfrt-topic".into(),
            topic_id: None,
            messages: Vec::new(),
        }
    }
}

/// The default log line.
pub const DEFAULT_MESSAGE: &str = "Hello from CLS!";

/// The logs the event carries, before compression:
/// `{"topic_id", "topic_name", "records": [{"timestamp": "<microseconds>", "content"}]}`.
pub fn logs(opts: &ClsOptions) -> Value {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let n = opts.messages.len().max(1);
    let records: Vec<Value> = crate::cycle(&opts.messages, n, DEFAULT_MESSAGE)
        .into_iter()
        .map(|content| json!({ "timestamp": micros.to_string(), "content": content }))
        .collect();
    let topic_id = opts
        .topic_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    json!({ "topic_id": topic_id, "topic_name": opts.topic, "records": records })
}

/// The event a CLS trigger sends for `logs`: `{"clslogs": {"data": base64(gzip(JSON))}}`.
pub fn event_of(logs: &Value) -> Value {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(logs.to_string().as_bytes());
    let compressed = gz.finish().unwrap_or_default();
    let data = base64::engine::general_purpose::STANDARD.encode(compressed);
    json!({ "clslogs": { "data": data } })
}

/// The event a CLS trigger sends: [`event_of`] the [`logs`] of `opts`.
pub fn event(opts: &ClsOptions) -> Value {
    event_of(&logs(opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn data_is_base64_of_gzip_of_the_logs() {
        let opts = ClsOptions {
            messages: vec!["one".into(), "two".into()],
            ..ClsOptions::default()
        };
        let logs = logs(&opts);
        let ev = event_of(&logs);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(ev["clslogs"]["data"].as_str().unwrap())
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), logs);
        assert_eq!(logs["records"][1]["content"], "two");
    }
}
