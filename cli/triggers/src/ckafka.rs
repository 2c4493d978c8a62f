//! The CKafka trigger's event (docs/triggers.md, "CKafka").

use serde_json::{Value, json};

/// What a CKafka event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CkafkaOptions {
    /// The topic (`topic`).
    pub topic: String,
    /// The messages' values, one record each (see `count`).
    pub messages: Vec<String>,
    /// How many records; the messages repeat in order to fill them. `None`: one per message.
    pub count: Option<usize>,
    /// The messages' key (`msgKey`).
    pub key: String,
    /// The partition the messages come from (`partition`).
    pub partition: u32,
    /// The offset of the first message; the next ones follow (`offset`).
    pub offset: u64,
}

impl Default for CkafkaOptions {
    /// One `Hello from CKafka!` on topic `scfrt-topic`, partition 0 from offset 0, empty key.
    fn default() -> Self {
        CkafkaOptions {
            topic: "scfrt-topic".into(),
            messages: Vec::new(),
            count: None,
            key: String::new(),
            partition: 0,
            offset: 0,
        }
    }
}

/// The default message value.
pub const DEFAULT_MESSAGE: &str = "Hello from CKafka!";

/// The event a CKafka trigger sends: `{"Records": [{"Ckafka": {...}}, ...]}`.
pub fn event(opts: &CkafkaOptions) -> Value {
    let n = opts.count.unwrap_or(opts.messages.len().max(1));
    let records: Vec<Value> = crate::cycle(&opts.messages, n, DEFAULT_MESSAGE)
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "Ckafka": {
                    "topic": opts.topic,
                    "partition": opts.partition,
                    "offset": opts.offset + i as u64,
                    "msgKey": opts.key,
                    "msgBody": body,
                }
            })
        })
        .collect();
    json!({ "Records": records })
}
