//! The CMQ topic trigger's event (docs/triggers.md, "CMQ").

use serde_json::{Value, json};

/// What a CMQ topic event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmqOptions {
    /// The topic's name (`topicName`).
    pub topic: String,
    /// The subscription that delivered the messages (`subscriptionName`).
    pub subscription: String,
    /// The messages' bodies, one record each (see `count`).
    pub messages: Vec<String>,
    /// How many records; the messages repeat in order to fill them. `None`: one per message.
    pub count: Option<usize>,
    /// The messages' tags (`msgTag`, joined by `", "`).
    pub tags: Vec<String>,
    /// The topic owner's account id (`topicOwner`).
    pub owner: u64,
}

impl Default for CmqOptions {
    /// One `Hello from CMQ!` on topic `scfrt-topic`, subscription `scfrt-sub`, owner
    /// 100000000001, no tags.
    fn default() -> Self {
        CmqOptions {
            topic: "scfrt-topic".into(),
            subscription: "scfrt-sub".into(),
            messages: Vec::new(),
            count: None,
            tags: Vec::new(),
            owner: 100_000_000_001,
        }
    }
}

/// The default message body.
pub const DEFAULT_MESSAGE: &str = "Hello from CMQ!";

/// The event a CMQ topic trigger sends: `{"Records": [{"CMQ": {...}}, ...]}`.
pub fn event(opts: &CmqOptions) -> Value {
    let n = opts.count.unwrap_or(opts.messages.len().max(1));
    let now = crate::utc_iso8601(crate::unix_now());
    let base = u64::from(uuid::Uuid::new_v4().as_u128() as u32);
    let records: Vec<Value> = crate::cycle(&opts.messages, n, DEFAULT_MESSAGE)
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "CMQ": {
                    "type": "topic",
                    "topicOwner": opts.owner,
                    "topicName": opts.topic,
                    "subscriptionName": opts.subscription,
                    "publishTime": now,
                    "msgId": (base + i as u64).to_string(),
                    "requestId": (base * 7 + i as u64).to_string(),
                    "msgBody": body,
                    "msgTag": opts.tags.join(", "),
                }
            })
        })
        .collect();
    json!({ "Records": records })
}
