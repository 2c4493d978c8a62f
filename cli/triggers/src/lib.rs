//! `scf-triggers`: what SCF's triggers do, as data, for `scfrt` to run on one machine
//! (docs/triggers.md): the event each trigger sends a function, the project files that declare
//! functions and their triggers, and the schedules of timer triggers. Nothing here runs a
//! function or listens on a port; `scf-emulator` and `scf-serve` do.
//!
//! The event builders, one module per trigger, each return the event as a [`serde_json::Value`]
//! in the shape docs/triggers.md describes: [`apigw`] (API Gateway's integration request),
//! [`timer`], [`cos`], [`cmq`], [`ckafka`] and [`cls`].
#![warn(missing_docs)]

pub mod apigw;
pub mod ckafka;
pub mod cls;
pub mod cmq;
pub mod cos;
pub mod project;
pub mod schedule;
pub mod timer;
pub mod timers;

/// The triggers whose events this crate builds, by the names `scfrt event` takes.
pub const TRIGGERS: [&str; 6] = ["apigw", "timer", "cos", "cmq", "ckafka", "cls"];

/// Seconds since the Unix epoch, now (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form of the timer event's `Time` and CMQ's `publishTime`
/// (docs/triggers.md).
pub fn utc_iso8601(timestamp: i64) -> String {
    format!(
        "{}Z",
        scf_cloud::tc3::utc_datetime(timestamp).replacen(' ', "T", 1)
    )
}

/// Whether `s` has the form of [`utc_iso8601`]: `YYYY-MM-DDTHH:MM:SSZ`, digits where digits go.
pub fn is_utc_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `n` records from `messages`, cycling through them in order (`n` is at least one per message
/// when the caller passes `messages.len()`); an empty list yields `n` copies of `default`.
pub(crate) fn cycle<'a>(messages: &'a [String], n: usize, default: &'a str) -> Vec<&'a str> {
    (0..n)
        .map(|i| {
            if messages.is_empty() {
                default
            } else {
                messages[i % messages.len()].as_str()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_of_known_instants() {
        assert_eq!(utc_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_iso8601(1_550_749_740), "2019-02-21T11:49:00Z");
        assert!(is_utc_iso8601(&utc_iso8601(unix_now())));
        assert!(!is_utc_iso8601("2019-02-21 11:49:00Z"));
        assert!(!is_utc_iso8601("2019-02-21T11:49:00"));
    }

    #[test]
    fn cycle_repeats_messages_in_order() {
        let m = vec!["a".to_string(), "b".to_string()];
        assert_eq!(cycle(&m, 3, "x"), ["a", "b", "a"]);
        assert_eq!(cycle(&[], 2, "x"), ["x", "x"]);
    }
}
