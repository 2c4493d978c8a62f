//! CMQ topic trigger (docs/events.md, "CMQ").

use serde::{Deserialize, Serialize};

use crate::lenient;

/// The CMQ topic trigger's event: messages published to a topic the function subscribes to.
///
/// Source: Tencent's SCF docs, "Trigger Event Message Structure Summary" (触发器事件消息结构汇总)
/// and "CMQ Topic Trigger" (docs/events.md lists the URLs). Every field may be missing or
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CmqEvent {
    /// One record per message.
    #[serde(rename = "Records", deserialize_with = "lenient::null_default")]
    pub records: Vec<CmqRecord>,
}

/// One record of a [`CmqEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CmqRecord {
    /// The message.
    #[serde(rename = "CMQ", deserialize_with = "lenient::null_default")]
    pub cmq: CmqMessage,
}

/// `Records[].CMQ`: one message of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CmqMessage {
    /// Always `topic`.
    #[serde(deserialize_with = "lenient::string")]
    pub r#type: String,
    /// The topic owner's account id.
    #[serde(deserialize_with = "lenient::number")]
    pub topic_owner: u64,
    /// The topic's name.
    #[serde(deserialize_with = "lenient::string")]
    pub topic_name: String,
    /// The subscription's name.
    #[serde(deserialize_with = "lenient::string")]
    pub subscription_name: String,
    /// When the message was published (UTC, RFC 3339 with milliseconds).
    #[serde(deserialize_with = "lenient::string")]
    pub publish_time: String,
    /// The message's id.
    #[serde(deserialize_with = "lenient::string")]
    pub msg_id: String,
    /// The id of the publishing request.
    #[serde(deserialize_with = "lenient::string")]
    pub request_id: String,
    /// The message's body.
    #[serde(deserialize_with = "lenient::string")]
    pub msg_body: String,
    /// The message's filter tags: a list on the wire, or one comma-separated string.
    #[serde(deserialize_with = "lenient::string_list")]
    pub msg_tag: Vec<String>,
}
