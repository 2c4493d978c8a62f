//! Timer trigger schedules: SCF's cron expressions (docs/triggers.md, "Timer schedules").
//!
//! The platform's form has seven fields, `second minute hour day month week year`; the older
//! five-field form (`minute hour day month week`, as TCSAM templates write it) fires at second 0.
//! Week days are 0-6 or `SUN`-`SAT` with 0 for Sunday; months 1-12 or `JAN`-`DEC`; each field
//! takes `,` `-` `*` `/` (`1/10` too: from 1, every 10); the day takes `?` `L` `W`, the week `?`,
//! `nL` (the last such week day of the month) and `n#k` (the k-th). Parsing and matching are the
//! `croner` crate's; this module fixes its options to SCF's form and translates `nL`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed timer schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
}

/// Why a cron expression was refused: the expression and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron expression `{}`: {}", self.expression, self.reason)
    }
}

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// Parses SCF's seven-field form or the older five-field one.
    ///
    /// # Errors
    /// Another number of fields, or a field croner refuses (the reason names it).
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let refuse = |reason: String| ScheduleError {
            expression: expression.to_owned(),
            reason,
        };
        let mut fields: Vec<String> = expression.split_whitespace().map(str::to_owned).collect();
        let (seconds, year, week) = match fields.len() {
            7 => (Seconds::Required, Year::Required, 5),
            5 => (Seconds::Disallowed, Year::Disallowed, 4),
            n => {
                return Err(refuse(format!(
                    "it has {n} fields; SCF's has 7 (second minute hour day month week year), \
                     or 5 in the older form (minute hour day month week)"
                )));
            }
        };
        // SCF writes the last Friday of the month `5L`; croner writes it `5#L`.
        fields[week] = fields[week]
            .split(',')
            .map(|part| match part.strip_suffix(['L', 'l']) {
                Some(day) if !day.is_empty() && !day.contains('#') => format!("{day}#L"),
                _ => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let cron = CronParser::builder()
            .seconds(seconds)
            .year(year)
            .sloppy_ranges(true)
            .build()
            .parse(&fields.join(" "))
            .map_err(|e| refuse(e.to_string()))?;
        Ok(Schedule {
            expression: expression.to_owned(),
            cron,
        })
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first time after `after` that the schedule fires, read in UTC; `None` when it
    /// never fires again (a year in the past).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let since = after.duration_since(UNIX_EPOCH).ok()?;
        let secs = i64::try_from(since.as_secs()).ok()?;
        let start: DateTime<Utc> = DateTime::from_timestamp(secs, since.subsec_nanos())?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let next_secs = u64::try_from(next.timestamp()).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(next_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the epoch of a UTC date and time.
    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> SystemTime {
        let t = chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("a valid date")
            .and_utc()
            .timestamp();
        UNIX_EPOCH + Duration::from_secs(u64::try_from(t).expect("after 1970"))
    }

    fn next(expr: &str, after: SystemTime) -> SystemTime {
        Schedule::parse(expr)
            .expect("parses")
            .next_after(after)
            .expect("fires")
    }

    #[test]
    fn seven_fields_fire_on_the_second() {
        let t = at(2026, 12, 5, 8, 0, 0);
        assert_eq!(next("* * * * * * *", t), at(2026, 12, 5, 8, 0, 1));
        assert_eq!(next("*/5 * * * * * *", t), at(2026, 12, 5, 8, 0, 5));
        // SCF's own example: from the first minute, every ten.
        assert_eq!(
            next("0 1/10 * * * * *", at(2026, 12, 5, 8, 2, 0)),
            at(2026, 12, 5, 8, 11, 0)
        );
        assert_eq!(next("0 0 2 1 * * *", t), at(2027, 1, 1, 2, 0, 0));
        // A year field.
        assert_eq!(next("0 0 0 1 1 * 2030", t), at(2030, 1, 1, 0, 0, 0));
        assert!(
            Schedule::parse("0 0 0 1 1 * 2020")
                .expect("parses")
                .next_after(t)
                .is_none()
        );
    }

    #[test]
    fn week_days_count_from_sunday_and_take_names_l_and_hash() {
        // 2026-12-05 is a Saturday.
        let t = at(2026, 12, 5, 8, 0, 0);
        assert_eq!(next("0 0 9 * * 0 *", t), at(2026, 12, 6, 9, 0, 0));
        assert_eq!(next("0 0 9 ? * MON *", t), at(2026, 12, 7, 9, 0, 0));
        assert_eq!(next("0 0 9 ? * SUN-MON *", t), at(2026, 12, 6, 9, 0, 0));
        // The last Friday of December 2026 is the 25th.
        assert_eq!(next("0 0 9 ? * 5L *", t), at(2026, 12, 25, 9, 0, 0));
        // The second Tuesday of January 2027 is the 12th.
        assert_eq!(next("0 0 9 ? JAN 2#2 *", t), at(2027, 1, 12, 9, 0, 0));
        // The last day of the month.
        assert_eq!(next("0 0 0 L * ? *", t), at(2026, 12, 31, 0, 0, 0));
    }

    #[test]
    fn five_fields_are_minutes_and_fire_at_second_zero() {
        let t = at(2026, 12, 5, 8, 0, 30);
        assert_eq!(next("*/5 * * * *", t), at(2026, 12, 5, 8, 5, 0));
        assert_eq!(next("30 2 * * *", t), at(2026, 12, 6, 2, 30, 0));
    }

    #[test]
    fn bad_expressions_name_what_is_wrong() {
        let e = Schedule::parse("* * * * * *").expect_err("six fields");
        assert!(e.to_string().contains("has 6 fields; SCF's has 7"), "{e}");
        assert_eq!(e.expression, "* * * * * *");
        for bad in [
            "61 * * * * * *",
            "* * 25 * * * *",
            "* * * * 13 * *",
            "* * * * * 9 *",
            "x * * * * * *",
            "",
        ] {
            let e = Schedule::parse(bad).expect_err(bad);
            assert!(
                e.to_string()
                    .starts_with(&format!("cron expression `{bad}`: ")),
                "{e}"
            );
        }
    }
}
