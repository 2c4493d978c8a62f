//! CKafka trigger (docs/events.md, "CKafka").

use serde::{Deserialize, Serialize};

use crate::lenient;

/// The CKafka trigger's event: a batch of messages the platform consumed from a topic.
///
/// Source: Tencent's SCF docs, "Trigger Event Message Structure Summary" (触发器事件消息结构汇总)
/// and "CKafka Trigger" (docs/events.md lists the URLs). Every field may be missing or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CkafkaEvent {
    /// One record per message (1 up to the trigger's maximum batch size).
    #[serde(rename = "Records", deserialize_with = "lenient::null_default")]
    pub records: Vec<CkafkaRecord>,
}

/// One record of a [`CkafkaEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CkafkaRecord {
    /// The message.
    #[serde(rename = "Ckafka", deserialize_with = "lenient::null_default")]
    pub ckafka: CkafkaMessage,
}

/// `Records[].Ckafka`: one Kafka message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CkafkaMessage {
    /// The topic.
    #[serde(deserialize_with = "lenient::string")]
    pub topic: String,
    /// The partition.
    #[serde(deserialize_with = "lenient::number")]
    pub partition: i32,
    /// The message's offset in its partition.
    #[serde(deserialize_with = "lenient::number")]
    pub offset: i64,
    /// The message's key as text (the platform writes `None` for a message without one).
    #[serde(deserialize_with = "lenient::string")]
    pub msg_key: String,
    /// The message's value as text.
    #[serde(deserialize_with = "lenient::string")]
    pub msg_body: String,
}
