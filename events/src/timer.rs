//! Timer trigger (docs/events.md, "Timer").

use serde::{Deserialize, Serialize};

use crate::lenient;

/// The timer trigger's event, sent when a timer trigger's schedule fires.
///
/// Source: Tencent's SCF docs, "Trigger Event Message Structure Summary" (触发器事件消息结构汇总)
/// and "Timer Trigger" (docs/events.md lists the URLs). Every field may be missing or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TimerEvent {
    /// Always `Timer`.
    #[serde(deserialize_with = "lenient::string")]
    pub r#type: String,
    /// The trigger's name.
    #[serde(deserialize_with = "lenient::string")]
    pub trigger_name: String,
    /// When it fired, as the platform writes it (UTC, RFC 3339: `2019-02-21T11:49:00Z`).
    #[serde(deserialize_with = "lenient::string")]
    pub time: String,
    /// The trigger's additional information ("附加信息"), as configured; empty when none.
    #[serde(deserialize_with = "lenient::string")]
    pub message: String,
}
