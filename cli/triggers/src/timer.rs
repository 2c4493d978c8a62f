//! The timer trigger's event (docs/triggers.md, "Timer").

use serde_json::{Value, json};

/// What a timer event says: the trigger's name, its message and when it fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerOptions {
    /// The trigger's name (`TriggerName`).
    pub name: String,
    /// The message configured on the trigger (`Message`; empty when none was set).
    pub message: String,
    /// When it fired, `YYYY-MM-DDTHH:MM:SSZ` in UTC (`Time`); `None`: now.
    pub time: Option<String>,
}

impl Default for TimerOptions {
    /// Trigger `scfrt-timer`, no message, fired now.
    fn default() -> Self {
        TimerOptions {
            name: "scfrt-timer".into(),
            message: String::new(),
            time: None,
        }
    }
}

/// The event a timer trigger sends: `{"Type": "Timer", "TriggerName", "Time", "Message"}`.
pub fn event(opts: &TimerOptions) -> Value {
    let time = opts
        .time
        .clone()
        .unwrap_or_else(|| crate::utc_iso8601(crate::unix_now()));
    json!({
        "Type": "Timer",
        "TriggerName": opts.name,
        "Time": time,
        "Message": opts.message,
    })
}
