//! COS trigger (docs/events.md, "COS").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lenient;

/// The COS trigger's event: objects created or removed in a bucket.
///
/// Source: Tencent's SCF docs, "Trigger Event Message Structure Summary" (触发器事件消息结构汇总)
/// and "COS Trigger" (docs/events.md lists the URLs). Every field may be missing or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CosEvent {
    /// One record per object event (usually one).
    #[serde(rename = "Records", deserialize_with = "lenient::null_default")]
    pub records: Vec<CosRecord>,
}

/// One record of a [`CosEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CosRecord {
    /// The bucket and the object.
    #[serde(deserialize_with = "lenient::null_default")]
    pub cos: CosEntity,
    /// What happened, when and through which request.
    #[serde(deserialize_with = "lenient::null_default")]
    pub event: CosEventInfo,
}

/// `Records[].cos`: the bucket and the object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CosEntity {
    /// The notification schema's version (`1.0`).
    #[serde(deserialize_with = "lenient::string")]
    pub cos_schema_version: String,
    /// The object.
    #[serde(deserialize_with = "lenient::null_default")]
    pub cos_object: CosObject,
    /// The bucket.
    #[serde(deserialize_with = "lenient::null_default")]
    pub cos_bucket: CosBucket,
    /// The notification's id.
    #[serde(deserialize_with = "lenient::string")]
    pub cos_notification_id: String,
}

/// `Records[].cos.cosObject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CosObject {
    /// The object's URL.
    #[serde(deserialize_with = "lenient::string")]
    pub url: String,
    /// The object's metadata: `Content-Type`, `x-cos-request-id`, `x-cos-meta-*`, ...
    #[serde(deserialize_with = "lenient::string_map")]
    pub meta: BTreeMap<String, String>,
    /// The version id (empty when the bucket has no versioning).
    #[serde(deserialize_with = "lenient::string")]
    pub vid: String,
    /// The object's key, written `/<appid>/<bucket>/<key>`.
    #[serde(deserialize_with = "lenient::string")]
    pub key: String,
    /// The object's size in bytes.
    #[serde(deserialize_with = "lenient::number")]
    pub size: u64,
}

/// `Records[].cos.cosBucket`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CosBucket {
    /// The bucket's region, as COS abbreviates it (`gz`, `cd`, ...).
    #[serde(deserialize_with = "lenient::string")]
    pub region: String,
    /// The bucket's name (without the appid).
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// The owner's appid (a number or a string on the wire; text here).
    #[serde(deserialize_with = "lenient::string")]
    pub appid: String,
}

/// `Records[].event`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CosEventInfo {
    /// The event type, e.g. `cos:ObjectCreated:Put`, `cos:ObjectRemove:Delete`.
    #[serde(deserialize_with = "lenient::string")]
    pub event_name: String,
    /// The event schema's version.
    #[serde(deserialize_with = "lenient::string")]
    pub event_version: String,
    /// When it happened, in seconds since the Unix epoch.
    #[serde(deserialize_with = "lenient::number")]
    pub event_time: i64,
    /// Always `qcs::cos`.
    #[serde(deserialize_with = "lenient::string")]
    pub event_source: String,
    /// The request that caused the event.
    #[serde(deserialize_with = "lenient::null_default")]
    pub request_parameters: CosRequestParameters,
    /// The function the event was queued for (a `qcs:` resource name).
    #[serde(deserialize_with = "lenient::string")]
    pub event_queue: String,
    /// Reserved by the platform.
    #[serde(deserialize_with = "lenient::string")]
    pub reserved_info: String,
    /// COS's id of the request.
    #[serde(deserialize_with = "lenient::number")]
    pub reqid: u64,
}

/// `Records[].event.requestParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CosRequestParameters {
    /// The client's IP address.
    #[serde(rename = "requestSourceIP", deserialize_with = "lenient::string")]
    pub request_source_ip: String,
    /// The request's headers (e.g. `Authorization`).
    #[serde(rename = "requestHeaders", deserialize_with = "lenient::string_map")]
    pub request_headers: BTreeMap<String, String>,
}
